import { defineConfig } from 'prisma/config';

// The CLI is used only for `prisma generate` and `prisma validate`; migrations run
// through scripts/db.ts (the WebAssembly schema engine over a driver adapter).
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
});

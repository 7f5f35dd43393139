import { describe, expect, it } from 'vitest';
import { diffMigrationsToSchema } from '../src/db/migrate.ts';
import { MIGRATIONS_DIR, readSchema } from '../src/db/schema-engine.ts';

// The drift check compares schema.prisma with the migrations on throw-away in-memory
// databases whatever database the server uses, so it runs in one project only.
describe('the drift check', () => {
  it('passes when schema.prisma and the migrations agree', async () => {
    expect(await diffMigrationsToSchema()).toBe('');
  }, 120_000);

  it('fails with the missing SQL when schema.prisma has a change no migration applies', async () => {
    const changed = (await readSchema()).replace(
      'model Organization {',
      'model Organization {\n  plan String? @db.VarChar(20)',
    );
    const sql = await diffMigrationsToSchema(MIGRATIONS_DIR, changed);
    expect(sql).toMatch(/ALTER TABLE "organizations" ADD COLUMN\s+"plan" VARCHAR\(20\)/);
  }, 120_000);
});

// Runs `prisma generate` (the Prisma client and the Pothos types) on install and
// before type-checking. The CLI insists on locating its native schema engine even
// though generating needs none; pointing it at any existing file satisfies that
// check without a download. Migrations use the WebAssembly engine instead
// (src/db/schema-engine.ts).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const cli = require.resolve('prisma/build/index.js');
const env = { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: '1' };
env.PRISMA_SCHEMA_ENGINE_BINARY ||= process.execPath;
// The Pothos generator is found on PATH, as npm scripts would set it.
env.PATH = [path.resolve('node_modules/.bin'), env.PATH].join(path.delimiter);
const run = spawnSync(process.execPath, [cli, 'generate'], { stdio: 'inherit', env });
process.exit(run.status ?? 1);

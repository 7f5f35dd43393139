import { readFile, readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import {
  bindMigrationAwareSqlAdapterFactory,
  type SqlMigrationAwareDriverAdapterFactory,
} from '@prisma/driver-adapter-utils';
import type * as Engine from '@prisma/schema-engine-wasm';
import { PROJECT_ROOT } from '../paths.ts';

// Prisma's migration engine, compiled to WebAssembly, driven over a driver adapter:
// the native engine binary is not needed (and cannot be downloaded everywhere).
//
// The package's own entry point imports the .wasm file as an ES module, which Node 20
// only allows behind --experimental-wasm-modules. Instantiating it here from its
// JavaScript glue keeps every entry point (server, scripts, tests) free of that flag.

const ROOT = PROJECT_ROOT;
export const MIGRATIONS_DIR = path.join(ROOT, 'prisma/migrations');
export const SCHEMA_PATH = path.join(ROOT, 'prisma/schema.prisma');

type Glue = typeof import('@prisma/schema-engine-wasm/schema_engine_bg') & {
  __wbg_set_wasm(exports: WebAssembly.Exports): void;
};

let glue: Promise<Glue> | undefined;

function loadGlue(): Promise<Glue> {
  glue ??= (async () => {
    const gluePath = createRequire(import.meta.url).resolve('@prisma/schema-engine-wasm/schema_engine_bg');
    const wasmPath = path.join(path.dirname(gluePath), 'schema_engine_bg.wasm');
    const js = (await import('@prisma/schema-engine-wasm/schema_engine_bg')) as Glue;
    const { instance } = await WebAssembly.instantiate(await readFile(wasmPath), {
      './schema_engine_bg.js': js as unknown as WebAssembly.ModuleImports,
    });
    js.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
    return js;
  })();
  return glue;
}

export type SchemaEngine = Engine.SchemaEngine;

/** Opens the engine on a database reached through a migration-aware driver adapter. */
export async function openSchemaEngine(
  factory: SqlMigrationAwareDriverAdapterFactory,
  schema?: string,
): Promise<SchemaEngine> {
  const { SchemaEngine } = await loadGlue();
  const datamodels: [string, string][] | undefined = schema ? [[SCHEMA_PATH, schema]] : undefined;
  const log = (line: string) => {
    if (process.env.SCHEMA_ENGINE_DEBUG) process.stderr.write(`${line}\n`);
  };
  return SchemaEngine.new({ datamodels }, log, bindMigrationAwareSqlAdapterFactory(factory));
}

export const NO_FILTERS: Engine.SchemaFilter = { externalTables: [], externalEnums: [] };

/** The names of the migration folders in prisma/migrations, in the order they apply. */
export async function migrationNames(dir = MIGRATIONS_DIR): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

/** Reads prisma/migrations in the shape the engine expects. */
export async function readMigrations(dir = MIGRATIONS_DIR): Promise<Engine.MigrationList> {
  const folders = await migrationNames(dir);
  const migrationDirectories: Engine.MigrationDirectory[] = [];
  for (const name of folders) {
    const file = path.join(dir, name, 'migration.sql');
    const content = await readFile(file, 'utf8').then(
      (value): Engine.JsResult<string, string> => ({ tag: 'ok', value }),
      (err: Error): Engine.JsResult<string, string> => ({ tag: 'error', value: err.message }),
    );
    migrationDirectories.push({ path: name, migrationFile: { path: 'migration.sql', content } });
  }
  const lockPath = path.join(dir, 'migration_lock.toml');
  const lock = await readFile(lockPath, 'utf8').catch(() => null);
  return {
    baseDir: dir,
    lockfile: { path: 'migration_lock.toml', content: lock },
    shadowDbInitScript: '',
    migrationDirectories,
  };
}

export async function readSchema(): Promise<string> {
  return readFile(SCHEMA_PATH, 'utf8');
}

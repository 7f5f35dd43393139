import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DriverAdapterError, type SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import {
  MIGRATIONS_DIR,
  NO_FILTERS,
  migrationNames,
  SCHEMA_PATH,
  openSchemaEngine,
  readMigrations,
  readSchema,
} from './schema-engine.ts';

/** Runs one SQL statement and returns its rows; how the database is reached is the caller's. */
export type RawQuery = (sql: string) => Promise<Record<string, unknown>[]>;

/**
 * Names of the migrations in prisma/migrations that the database has not applied.
 * Answers without loading the schema engine, so that a start with nothing to apply
 * costs one query.
 */
export async function pendingMigrations(query: RawQuery, dir = MIGRATIONS_DIR): Promise<string[]> {
  // The folders' names only: reading every script too took a tenth of a cold start.
  const wanted = await migrationNames(dir);
  let applied: Set<string>;
  try {
    const rows = await query(
      'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
    );
    applied = new Set(rows.map((r) => String(r.migration_name)));
  } catch (err) {
    // 42P01: no migrations table yet, so nothing is applied.
    if ((err as { code?: string }).code === '42P01') applied = new Set();
    else throw err;
  }
  return wanted.filter((name) => !applied.has(name));
}

/** A database to migrate. */
export interface MigrationTarget {
  /** The driver adapter Prisma's migration engine works through. */
  factory: SqlMigrationAwareDriverAdapterFactory;
  /** A query for the bookkeeping (which migrations are applied). */
  query: RawQuery;
  /**
   * Runs a script of many statements sent at once (PostgreSQL's simple query protocol:
   * one implicit transaction, so a script that fails leaves nothing half applied).
   */
  runScript(script: string): Promise<unknown>;
}

/**
 * The target's factory, with every migration script run by the target's `runScript`.
 * The adapters' own would not do: node-postgres's cuts a script at each semicolon,
 * which cuts a function body apart, and PGlite's does not wait for its script, so a
 * migration that fails would be recorded as applied. Errors reach the engine as an
 * adapter's own would.
 */
function runningScriptsWhole({ factory, runScript }: MigrationTarget): SqlMigrationAwareDriverAdapterFactory {
  const executeScript = async (script: string) => {
    try {
      await runScript(script);
    } catch (err) {
      const e = err as { code?: unknown; severity?: string; message: string; detail?: string; column?: string; hint?: string };
      if (typeof e.code !== 'string') throw err;
      throw new DriverAdapterError({
        kind: 'postgres',
        code: e.code,
        severity: e.severity ?? 'ERROR',
        message: e.message,
        detail: e.detail,
        column: e.column,
        hint: e.hint,
      });
    }
  };
  // Methods are bound to the wrapped object, whose private state a proxy does not have.
  const wrap = <T extends object>(target: T, replace: Record<string | symbol, unknown>): T =>
    new Proxy(target, {
      get(t, prop) {
        if (prop in replace) return replace[prop];
        const value = Reflect.get(t, prop) as unknown;
        return typeof value === 'function' ? value.bind(t) : value;
      },
    });
  return wrap(factory, { connect: async () => wrap(await factory.connect(), { executeScript }) });
}

/**
 * Applies pending migrations through Prisma's migration engine: the same engine,
 * the same `_prisma_migrations` bookkeeping and the same checks (edited or failed
 * migrations are refused) as `prisma migrate deploy`.
 */
export async function applyMigrations(target: MigrationTarget, dir = MIGRATIONS_DIR): Promise<string[]> {
  if ((await pendingMigrations(target.query, dir)).length === 0) return [];
  const engine = await openSchemaEngine(runningScriptsWhole(target));
  try {
    const { appliedMigrationNames } = await engine.applyMigrations({
      migrationsList: await readMigrations(dir),
      filters: NO_FILTERS,
    });
    return appliedMigrationNames;
  } finally {
    engine.free();
  }
}

/**
 * The SQL that would bring a database built from the migrations up to schema.prisma;
 * empty when they agree. Computed by the engine on throw-away in-memory databases,
 * so no server is needed.
 */
export async function diffMigrationsToSchema(
  dir = MIGRATIONS_DIR,
  schema?: string,
): Promise<string> {
  const content = schema ?? (await readSchema());
  const pglite = new PGlite();
  const engine = await openSchemaEngine(new PrismaPGlite(pglite), content);
  try {
    const migrations = await readMigrations(dir);
    const result = await engine.diff({
      from: migrations.migrationDirectories.length
        ? { tag: 'migrations', ...migrations }
        : { tag: 'empty' },
      to: { tag: 'schemaDatamodel', files: [{ path: SCHEMA_PATH, content }] },
      script: true,
      exitCode: true,
      filters: NO_FILTERS,
    });
    return result.exitCode === 2 ? (result.stdout ?? '') : '';
  } finally {
    engine.free();
    await pglite.close();
  }
}

/** Writes a new migration folder in Prisma's layout; returns its name, or null when nothing changed. */
export async function createMigration(name: string, dir = MIGRATIONS_DIR): Promise<string | null> {
  if (!/^[a-z0-9_]{1,80}$/.test(name)) {
    throw new Error('A migration name is 1 to 80 characters of a-z, 0-9 and _.');
  }
  const sql = await diffMigrationsToSchema(dir);
  if (!sql.trim()) return null;
  const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
  const folder = `${stamp}_${name}`;
  await mkdir(path.join(dir, folder), { recursive: true });
  await writeFile(path.join(dir, folder, 'migration.sql'), sql);
  await writeFile(
    path.join(dir, 'migration_lock.toml'),
    '# Please do not edit this file manually\n# It should be added in your version-control system (e.g., Git)\nprovider = "postgresql"\n',
  );
  return folder;
}

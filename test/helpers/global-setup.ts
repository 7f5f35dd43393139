import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { build, isFresh } from '../../scripts/build.mjs';
import { loadConfig } from '../../src/config.ts';
import { openDatabase } from '../../src/db.ts';
import { readMigrations } from '../../src/db/schema-engine.ts';
import { TEST_APP_ROLE, testDatabaseUrl } from './postgres-url.ts';

// Migrates once per run: a PostgreSQL template database, or a PGlite snapshot, named
// after a hash of the migrations so an unchanged set is reused across runs. Builds
// dist/ when a source is newer, once for the whole run: tests that start programs run
// them as their npm scripts do, from the build.

async function migrationsHash(): Promise<string> {
  const list = await readMigrations();
  const h = createHash('sha256');
  for (const m of list.migrationDirectories) {
    h.update(m.path);
    h.update(m.migrationFile.content.tag === 'ok' ? m.migrationFile.content.value : '');
  }
  return h.digest('hex').slice(0, 12);
}

async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: testDatabaseUrl('postgres'), connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Drops the per-worker databases of the runs `which` selects (by the run's pid). */
async function dropRunDatabases(which: (pid: number) => boolean) {
  const admin = new pg.Client({ connectionString: testDatabaseUrl('postgres') });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'igs\\_run\\_%'");
    for (const { datname } of rows) {
      const pid = Number(/^igs_run_(\d+)_/.exec(datname)?.[1]);
      if (pid && which(pid)) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    }
  } finally {
    await admin.end();
  }
}

export default async function setup({ provide }: { provide: (key: string, value: unknown) => void }) {
  if (!isFresh()) await build();
  const hash = await migrationsHash();
  const withPostgres = await postgresReachable();
  if (withPostgres) {
    const template = `igs_template_${hash}`;
    const admin = new pg.Client({ connectionString: testDatabaseUrl('postgres') });
    await admin.connect();
    try {
      await admin.query('SELECT pg_advisory_lock(4242)');
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [template]);
      if (exists.rowCount === 0) {
        await admin.query(`DROP DATABASE IF EXISTS "${template}_tmp"`);
        await admin.query(`CREATE DATABASE "${template}_tmp"`);
        const db = await openDatabase(loadConfig({ DATABASE_URL: testDatabaseUrl(`${template}_tmp`) }), { migrate: true });
        await db.close();
        await admin.query(`ALTER DATABASE "${template}_tmp" RENAME TO "${template}"`);
      }
      const role = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [TEST_APP_ROLE]);
      if (role.rowCount === 0) await admin.query(`CREATE ROLE ${TEST_APP_ROLE} LOGIN IN ROLE identity_graph_app`);
    } finally {
      await admin.query('SELECT pg_advisory_unlock(4242)');
      await admin.end();
    }
    provide('postgresTemplate', template);
    await dropRunDatabases((pid) => {
      // Leftovers of runs that were killed before their teardown.
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    });
  }
  {
    const dir = path.join(os.tmpdir(), 'identity-graph-tests');
    const file = path.join(dir, `pglite-${hash}.tar.gz`);
    try {
      await readFile(file);
    } catch {
      await mkdir(dir, { recursive: true });
      const pglite = await PGlite.create();
      const db = await openDatabase(loadConfig({}), { pglite });
      await db.close();
      const dump = await pglite.dumpDataDir('gzip');
      await writeFile(`${file}.${process.pid}`, Buffer.from(await dump.arrayBuffer()));
      await rename(`${file}.${process.pid}`, file);
      await pglite.close();
    }
    provide('pgliteSnapshot', file);
    // A migrated data folder, copied by tests that start a server on the embedded
    // database for something other than its first start (test/helpers/server-process.ts).
    const folder = path.join(dir, `pglite-folder-${hash}`);
    if (!existsSync(folder)) {
      const building = `${folder}.${process.pid}`;
      const db = await openDatabase(loadConfig({ PGLITE_DATA_DIR: building }));
      await db.close();
      await rename(building, folder).catch(async (err) => {
        // Another run made it meanwhile.
        if (!existsSync(folder)) throw err;
        await rm(building, { recursive: true, force: true });
      });
      await rm(`${building}.lock`, { force: true });
    }
    provide('pgliteFolder', folder);
  }
  return async function teardown() {
    if (withPostgres) await dropRunDatabases((pid) => pid === process.pid);
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    postgresTemplate: string;
    pgliteSnapshot: string;
    pgliteFolder: string;
  }
}

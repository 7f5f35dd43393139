import { readFile } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, inject } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { type Database, openDatabase, useDatabase } from '../../src/db.ts';
import { testAppDatabaseUrl, testDatabaseUrl, workerDatabaseName } from './postgres-url.ts';
import { engineCounts } from '../../src/modules/shared/engine/index.ts';
import { recordQuery } from './sql-count.ts';

// Runs before every test file: opens this worker's database and empties it before
// each test, so every test starts from nothing and owns the data it creates.

export const TEST_DATABASE = process.env.TEST_DATABASE as 'postgres' | 'embedded';
let db: Database;
/** Empties the tables before each test: as the owner, since the server's role may not truncate. */
let empty: (sql: string) => Promise<Record<string, unknown>[]>;

async function openPostgres(): Promise<Database> {
  const template = inject('postgresTemplate');
  const name = workerDatabaseName(template);
  const admin = new pg.Client({ connectionString: testDatabaseUrl('postgres') });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
  } finally {
    await admin.end();
  }
  const owner = new pg.Client({ connectionString: testDatabaseUrl(name) });
  await owner.connect();
  empty = async (sql) => (await owner.query(sql)).rows;
  const opened = await openDatabase(loadConfig({ DATABASE_URL: testAppDatabaseUrl(name), DATABASE_POOL_SIZE: '10' }), {
    onQuery: recordQuery,
  });
  const close = opened.close;
  return { ...opened, close: async () => { await close(); await owner.end(); } };
}

/**
 * One embedded database per worker, restored from the snapshot for its first file and
 * handed to each later file emptied: starting PGlite costs about a second of CPU, paid
 * once per worker instead of once per file. The files of a worker run one after another.
 */
const shared = globalThis as typeof globalThis & { embeddedForFiles?: Promise<PGlite> };

async function openEmbedded(): Promise<Database> {
  let first = false;
  shared.embeddedForFiles ??= (async () => {
    first = true;
    return PGlite.create({ loadDataDir: new Blob([await readFile(inject('pgliteSnapshot'))]) });
  })();
  const pglite = await shared.embeddedForFiles;
  if (!first) {
    // What an earlier file left beyond the tables emptied before each test: session
    // settings and listeners, and the webhook queue's jobs.
    await pglite.exec('DISCARD ALL');
    await pglite.exec(`DO $$ BEGIN IF to_regclass('pgboss.job') IS NOT NULL THEN DELETE FROM pgboss.job; END IF; END $$`);
  }
  const opened = await openDatabase(loadConfig({}), { pglite, onQuery: recordQuery });
  empty = (sql) => opened.query(sql);
  return opened;
}

beforeAll(async () => {
  db = TEST_DATABASE === 'postgres' ? await openPostgres() : await openEmbedded();
  useDatabase(db);
});

/**
 * Empties every table of the schema but the migrations' record. Deleting from tables
 * of a few rows costs far less than TRUNCATE, which makes new files for every table and
 * index; with triggers off (`session_replication_role`, a superuser's setting) the
 * history triggers and foreign keys are not run for rows about to go anyway. An owner
 * who is not a superuser truncates instead.
 */
let clear: string | undefined;
const TRUNCATE = 'TRUNCATE "organizations", "users", "audit_events" CASCADE';

async function clearStatement(): Promise<string> {
  const [row] = (await empty(
    `SELECT string_agg(format('DELETE FROM %I;', c.relname), ' ') AS deletes, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser
     FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND c.relname <> '_prisma_migrations'`,
  )) as { deletes: string; superuser: boolean }[];
  return row!.superuser ? `DO $$ BEGIN PERFORM set_config('session_replication_role', 'replica', true); ${row!.deletes} END $$` : TRUNCATE;
}

beforeEach(async () => {
  clear ??= await clearStatement();
  await empty(clear);
});

afterAll(async () => {
  await db?.close();
});

/**
 * A compiled statement that fails leaves the read to the general path, which answers
 * the same: only the count tells. Every test fails on one, except where a test stops
 * the database on purpose (`expectCompiledFailures`).
 */
let failuresExpected = false;
export const expectCompiledFailures = () => {
  failuresExpected = true;
};
beforeEach(() => {
  engineCounts.failed.clear();
  failuresExpected = false;
});
afterEach(() => {
  const failed = [...engineCounts.failed].map(([field, n]) => `${field} (${n})`);
  if (failed.length && !failuresExpected) throw new Error(`compiled statements failed and the general path answered: ${failed.join(', ')}`);
});

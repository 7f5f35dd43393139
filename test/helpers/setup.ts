import { readFile } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, inject } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { type Database, openDatabase, useDatabase } from '../../src/db.ts';
import { testAppDatabaseUrl, testDatabaseUrl, workerDatabaseName } from './postgres-url.ts';
import { recordQuery } from './sql-count.ts';

// Runs before every test file: opens this worker's database and empties it before
// each test, so every test starts from nothing and owns the data it creates.

export const TEST_DATABASE = process.env.TEST_DATABASE as 'postgres' | 'embedded';
let db: Database;
/** Empties the tables before each test: as the owner, since the server's role may not truncate. */
let empty: (sql: string) => Promise<unknown>;

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
  empty = (sql) => owner.query(sql);
  const opened = await openDatabase(loadConfig({ DATABASE_URL: testAppDatabaseUrl(name), DATABASE_POOL_SIZE: '10' }), {
    onQuery: recordQuery,
  });
  const close = opened.close;
  return { ...opened, close: async () => { await close(); await owner.end(); } };
}

async function openEmbedded(): Promise<Database> {
  const snapshot = new Blob([await readFile(inject('pgliteSnapshot'))]);
  const pglite = await PGlite.create({ loadDataDir: snapshot });
  const opened = await openDatabase(loadConfig({}), { pglite, onQuery: recordQuery });
  empty = (sql) => opened.query(sql);
  const close = opened.close;
  return { ...opened, close: async () => { await close(); await pglite.close(); } };
}

beforeAll(async () => {
  db = TEST_DATABASE === 'postgres' ? await openPostgres() : await openEmbedded();
  useDatabase(db);
});

const TABLES = ['organizations', 'users', 'audit_events'];

beforeEach(async () => {
  // Every other table hangs off organizations or users by cascading foreign keys.
  await empty(`TRUNCATE ${TABLES.map((t) => `"${t}"`).join(', ')} CASCADE`);
});

afterAll(async () => {
  await db?.close();
});

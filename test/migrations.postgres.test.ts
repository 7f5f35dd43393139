import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db.ts';
import { readMigrations } from '../src/db/schema-engine.ts';
import { testDatabaseUrl } from './helpers/postgres-url.ts';
import { startServer } from './helpers/server-process.ts';

// PostgreSQL only: the embedded database has no statement timeout.
describe('migrating PostgreSQL on start', () => {
  it('applies scripts that run longer than the statement timeout, which still bounds every other query', async () => {
    const name = `igs_mig_${randomUUID().slice(0, 8)}`;
    const admin = new pg.Client({ connectionString: testDatabaseUrl('postgres') });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
    try {
      // 1 ms: the first migration alone takes far longer as one script.
      const db = await openDatabase(loadConfig({ DATABASE_URL: testDatabaseUrl(name), STATEMENT_TIMEOUT_MS: '1' }), { migrate: true });
      try {
        expect(db.appliedMigrations).toEqual((await readMigrations()).migrationDirectories.map((d) => d.path));
        await expect(db.query('SELECT pg_sleep(0.2)')).rejects.toThrow(/statement timeout/);
      } finally {
        await db.close();
      }
    } finally {
      await admin.query(`DROP DATABASE "${name}" WITH (FORCE)`);
      await admin.end();
    }
  });
});

describe('starting on a PostgreSQL database that is not migrated', () => {
  it('refuses to start and says to run npm run db:migrate', async () => {
    const name = `igs_unmigrated_${randomUUID().slice(0, 8)}`;
    const admin = new pg.Client({ connectionString: testDatabaseUrl('postgres') });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
    try {
      const started = startServer({ DATABASE_URL: testDatabaseUrl(name) });
      await expect(started).rejects.toThrow(/exited with 1[\s\S]*lacks \d+ migration\(s\)[\s\S]*npm run db:migrate/);
      // Nothing was created in it: the server wrote no table.
      const db = new pg.Client({ connectionString: testDatabaseUrl(name) });
      await db.connect();
      const { rows } = await db.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'");
      await db.end();
      expect(rows[0].n).toBe(0);
    } finally {
      await admin.query(`DROP DATABASE "${name}" WITH (FORCE)`);
      await admin.end();
    }
  });
});

import { randomUUID } from 'node:crypto';
import { cp, mkdtemp, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { afterAll, describe, expect, it } from 'vitest';
import { applyMigrations, pendingMigrations, type RawQuery } from '../src/db/migrate.ts';
import { MIGRATIONS_DIR, readMigrations } from '../src/db/schema-engine.ts';
import { testDatabaseUrl } from './helpers/postgres-url.ts';
import { TEST_DATABASE } from './helpers/setup.ts';

// Each test here gets a database of its own, empty, of the kind this project runs on.
async function emptyDatabase() {
  if (TEST_DATABASE === 'postgres') {
    const name = `igs_mig_${randomUUID().slice(0, 8)}`;
    const admin = new pg.Client({ connectionString: testDatabaseUrl('postgres') });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
    const pool = new pg.Pool({ connectionString: testDatabaseUrl(name), max: 2 });
    return {
      factory: new PrismaPg(pool),
      query: (async (sql) => (await pool.query(sql)).rows) as RawQuery,
      runScript: (script: string) => pool.query(script),
      async drop() {
        await pool.end();
        await admin.query(`DROP DATABASE "${name}"`);
        await admin.end();
      },
    };
  }
  const pglite = await PGlite.create();
  return {
    factory: new PrismaPGlite(pglite),
    query: (async (sql) => (await pglite.query<Record<string, unknown>>(sql)).rows) as RawQuery,
    runScript: (script: string) => pglite.exec(script),
    drop: () => pglite.close(),
  };
}

const tmpDirs: string[] = [];
afterAll(async () => {
  for (const d of tmpDirs) await rm(d, { recursive: true, force: true });
});

/**
 * An empty database migrated from a copy of prisma/migrations in a folder of its own,
 * and a way to add a migration to that copy.
 */
/**
 * A folder of the migrations that come before `name`: the database as it stood before
 * that migration (later ones may build on it).
 */
async function migrationsBefore(name: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'igs-migrations-'));
  tmpDirs.push(dir);
  await cp(MIGRATIONS_DIR, dir, { recursive: true });
  for (const later of (await readdir(dir)).filter((m) => m >= name && m !== 'migration_lock.toml')) {
    await rm(path.join(dir, later), { recursive: true });
  }
  return dir;
}

async function migratedCopy() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'igs-migrations-'));
  tmpDirs.push(dir);
  await cp(MIGRATIONS_DIR, dir, { recursive: true });
  const db = await emptyDatabase();
  await applyMigrations(db, dir);
  const add = async (name: string, sql: string) => {
    await mkdir(path.join(dir, name));
    await writeFile(path.join(dir, name, 'migration.sql'), sql);
  };
  return { db, dir, add };
}

// Each test migrates a fresh database from nothing, which takes far longer than
// the default test timeout allows when the machine is busy.
describe('migrations', { timeout: 120_000 }, () => {
  it('apply every migration to an empty database, then nothing on a second run', async () => {
    const db = await emptyDatabase();
    try {
      const all = (await readMigrations()).migrationDirectories.map((m) => m.path);
      expect(await pendingMigrations(db.query)).toEqual(all);
      expect(await applyMigrations(db)).toEqual(all);
      expect(await pendingMigrations(db.query)).toEqual([]);
      expect(await applyMigrations(db)).toEqual([]);
      const tables = await db.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1",
      );
      expect(tables.map((t) => t.table_name)).toEqual(
        expect.arrayContaining(['organizations', 'users', 'members', 'identifiers', 'identities', '_prisma_migrations']),
      );
    } finally {
      await db.drop();
    }
  });

  it('apply a new migration added after the first run, and only that one', async () => {
    const { db, dir, add } = await migratedCopy();
    try {
      await add('29990101000000_extra', 'CREATE TABLE "extra" ("id" INT PRIMARY KEY);');
      expect(await applyMigrations(db, dir)).toEqual(['29990101000000_extra']);
      expect(await db.query('SELECT count(*)::int AS n FROM "extra"')).toEqual([{ n: 0 }]);
    } finally {
      await db.drop();
    }
  });

  it('apply a migration with a function body whole, and none of a migration that fails part way', async () => {
    const { db, dir, add } = await migratedCopy();
    try {
      await add(
        '29990101000000_function',
        `CREATE FUNCTION "twice"(n int) RETURNS int LANGUAGE plpgsql AS $$
         BEGIN
           n := n * 2;
           RETURN n;
         END;
         $$;
         CREATE TABLE "after_function" ("id" INT PRIMARY KEY);`,
      );
      expect(await applyMigrations(db, dir)).toEqual(['29990101000000_function']);
      expect(await db.query('SELECT "twice"(21) AS n')).toEqual([{ n: 42 }]);

      await add('29990102000000_broken', 'CREATE TABLE "half" ("id" INT PRIMARY KEY); SELECT no_such_function();');
      await expect(applyMigrations(db, dir)).rejects.toThrow(/no_such_function/);
      expect(await db.query("SELECT to_regclass('half') IS NULL AS gone")).toEqual([{ gone: true }]);
    } finally {
      await db.drop();
    }
  });

  it('give identifiers already stored, and those a merge kept to restore, their value kind and normalised value', async () => {
    const name = '20261204184026_identifier_value_kinds';
    const dir = await migrationsBefore(name);
    const db = await emptyDatabase();
    try {
      await applyMigrations(db, dir);
      const [org] = await db.query("INSERT INTO organizations (slug, name) VALUES ('a', 'A') RETURNING id");
      const [a] = await db.query("INSERT INTO users (email) VALUES ('a@example.com') RETURNING id");
      const [b] = await db.query("INSERT INTO users (email) VALUES ('b@example.com') RETURNING id");
      const [source] = await db.query(`INSERT INTO integration_sources (organization_id, kind, key, name) VALUES ('${org!.id}', 'INTEGRATION', 'crm', 'CRM') RETURNING id`);
      const values = [['email', 'Shared.Person@Corp.test'], ['phone', '+1 (555) 000-2222'], ['owner_id', '005XYZ'], ['work_phone', '(415) 500-0042']];
      for (const [k, v] of values) {
        await db.query(`INSERT INTO identifiers (organization_id, user_id, source_id, identifier_key, identifier_value, discovery_method)
          VALUES ('${org!.id}', '${a!.id}', '${source!.id}', '${k}', '${v}', 'MANUAL')`);
      }
      const [kept] = await db.query(`SELECT to_jsonb(i) AS row FROM identifiers i WHERE identifier_key = 'email'`);
      await db.query(`INSERT INTO merges (survivor_id, merged_id, organization_ids, before, after)
        VALUES ('${a!.id}', '${b!.id}', ARRAY['${org!.id}']::uuid[], '${JSON.stringify({ identifiers: [kept!.row] })}', '{"identifiers": []}')`);

      await cp(path.join(MIGRATIONS_DIR, name), path.join(dir, name), { recursive: true });
      expect(await applyMigrations(db, dir)).toEqual([name]);
      const rows = await db.query('SELECT identifier_key, identifier_value, value_kind::text, normalized_value FROM identifiers ORDER BY identifier_key');
      expect(rows).toEqual([
        { identifier_key: 'email', identifier_value: 'Shared.Person@Corp.test', value_kind: 'EMAIL', normalized_value: 'shared.person@corp.test' },
        { identifier_key: 'owner_id', identifier_value: '005XYZ', value_kind: 'OTHER', normalized_value: '005XYZ' },
        { identifier_key: 'phone', identifier_value: '+1 (555) 000-2222', value_kind: 'PHONE', normalized_value: '+15550002222' },
        // No region yet: a national number keeps its digits, as the server stores it without one.
        { identifier_key: 'work_phone', identifier_value: '(415) 500-0042', value_kind: 'PHONE', normalized_value: '4155000042' },
      ]);
      const [merge] = await db.query("SELECT before->'identifiers'->0 AS row FROM merges");
      expect(merge!.row).toMatchObject({ identifier_value: 'Shared.Person@Corp.test', value_kind: 'EMAIL', normalized_value: 'shared.person@corp.test' });
    } finally {
      await db.drop();
    }
  });

  it('turn the history kept with closing periods into versions only ever added, a deletion becoming a version of its own', async () => {
    const name = '20261205012837_row_history_append_only';
    const dir = await migrationsBefore(name);
    const db = await emptyDatabase();
    try {
      await applyMigrations(db, dir);
      const [kept] = await db.query("INSERT INTO users (email) VALUES ('kept@example.com') RETURNING id");
      const [gone] = await db.query("INSERT INTO users (email) VALUES ('gone@example.com') RETURNING id");
      await db.query(`UPDATE users SET name = 'Kept' WHERE id = '${kept!.id}'`);
      await db.query(`DELETE FROM users WHERE id = '${gone!.id}'`);
      const [closed] = await db.query(`SELECT valid_to FROM users_history WHERE id = '${gone!.id}'`);

      await cp(path.join(MIGRATIONS_DIR, name), path.join(dir, name), { recursive: true });
      expect(await applyMigrations(db, dir)).toEqual([name]);
      const rows = await db.query(`SELECT id, name, deleted, valid_from FROM users_history WHERE id IN ('${kept!.id}', '${gone!.id}') ORDER BY email, valid_from`);
      expect(rows.map((r) => [r.id, r.name, r.deleted])).toEqual([
        [gone!.id, null, false],
        [gone!.id, null, true],
        [kept!.id, null, false],
        [kept!.id, 'Kept', false],
      ]);
      expect(new Date(rows[1]!.valid_from as string)).toEqual(new Date(closed!.valid_to as string));
    } finally {
      await db.drop();
    }
  });

  it('enforce the CHECK constraints the schema cannot express', async () => {
    const db = await emptyDatabase();
    try {
      await applyMigrations(db);
      await expect(db.query("INSERT INTO users (email) VALUES ('Upper@Example.com')")).rejects.toThrow(/users_email_lower_case/);
      const [org] = await db.query("INSERT INTO organizations (slug, name) VALUES ('a', 'A') RETURNING id");
      const [user] = await db.query("INSERT INTO users (email) VALUES ('a@example.com') RETURNING id");
      const [source] = await db.query(
        `INSERT INTO integration_sources (organization_id, kind, key, name) VALUES ('${org!.id}', 'INTEGRATION', 'crm', 'CRM') RETURNING id`,
      );
      await expect(
        db.query(
          `INSERT INTO identifiers (organization_id, user_id, source_id, identifier_key, identifier_value, normalized_value, discovery_method, confidence_score)
           VALUES ('${org!.id}', '${user!.id}', '${source!.id}', 'k', 'v', 'v', 'MANUAL', 1.5)`,
        ),
      ).rejects.toThrow(/identifiers_confidence_score_range/);
    } finally {
      await db.drop();
    }
  });
});


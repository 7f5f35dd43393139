import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { globalId, tokenFor } from './helpers/app.ts';
import { createPrivatePostgres, type PrivatePostgres } from './helpers/private-postgres.ts';
import { startServer, type ServerProcess } from './helpers/server-process.ts';

// The server as a real process on loopback, on a PostgreSQL server of this test's own
// that the test stops and starts. Load loops are bounded in time.

let db: PrivatePostgres;
let server: ServerProcess;
let orgId: string;
let userId: string;
let asked = 0;
let token: string;

beforeAll(async () => {
  db = await createPrivatePostgres();
  server = await startServer({
    DATABASE_URL: db.url,
    MIGRATE_ON_START: 'true',
    DATABASE_POOL_SIZE: '4',
    DATABASE_POOL_TIMEOUT_MS: '1000',
    STATEMENT_TIMEOUT_MS: '1000',
    RATE_LIMIT_PER_CREDENTIAL: '0',
    RATE_LIMIT_PER_ORGANIZATION: '0',
  });
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const org = await client.query("INSERT INTO organizations (slug, name) VALUES ('faults', 'Faults') RETURNING id");
  orgId = org.rows[0].id;
  const user = await client.query(
    `WITH u AS (INSERT INTO users (email, auth_subject) VALUES ('faults@example.com', 'faults') RETURNING id)
     INSERT INTO members (organization_id, user_id, role, state) SELECT $1, id, 'ANALYST', 'ACTIVE' FROM u RETURNING user_id`,
    [orgId],
  );
  userId = user.rows[0].user_id;
  await client.end();
  token = await tokenFor('faults');
}, 120_000);

afterAll(async () => {
  await server?.stop();
  db?.destroy();
});

interface Sample {
  started: number;
  ms: number;
  ok: boolean;
  code?: string;
}

/** Every other request is a compiled read (node of a user, the organization named in the header), whose credential the server remembers. */
async function ask(): Promise<Sample> {
  const started = performance.now();
  const compiled = asked++ % 2 === 1;
  try {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...(compiled && { 'x-organization-id': orgId }) },
      body: JSON.stringify({ query: `{ node(id: "${compiled ? globalId('User', userId) : globalId('Organization', orgId)}") { id } }` }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json()) as { data?: { node?: { id: string } }; errors?: { extensions?: { code?: string } }[] };
    return { started, ms: performance.now() - started, ok: !!body.data?.node, code: body.errors?.[0]?.extensions?.code };
  } catch (err) {
    return { started, ms: performance.now() - started, ok: false, code: `transport:${(err as Error).name}` };
  }
}

/** `workers` loops asking until `until()` is true, recording into `samples`. */
async function load(workers: number, until: () => boolean, samples: Sample[] = []): Promise<Sample[]> {
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (!until()) samples.push(await ask());
    }),
  );
  return samples;
}

describe('a PostgreSQL restart under load', () => {
  it('fails requests fast with SERVICE_UNAVAILABLE during the outage and recovers within 10 s, without a restart of the server', async () => {
    let phase: 'before' | 'down' | 'after' | 'done' = 'before';
    let downAt = 0;
    let backAt = 0;
    const samples: Sample[] = [];
    const running = load(4, () => phase === 'done', samples);
    // Serve normally first (at least 20 answers, however slow the machine is).
    for (let i = 0; i < 200 && samples.filter((s) => s.ok).length < 20; i++) await new Promise((r) => setTimeout(r, 100));
    phase = 'down';
    downAt = performance.now();
    db.stop();
    await new Promise((r) => setTimeout(r, 3000));
    db.start();
    backAt = performance.now();
    phase = 'after';
    await new Promise((r) => setTimeout(r, 10_000));
    phase = 'done';
    await running;

    const before = samples.filter((s) => s.started + s.ms < downAt);
    expect(before.length).toBeGreaterThanOrEqual(20);
    expect(before.every((s) => s.ok)).toBe(true);

    // While the database is down: refused quickly, with the documented code.
    const during = samples.filter((s) => s.started > downAt + 500 && s.started < backAt);
    expect(during.length).toBeGreaterThan(0);
    expect(during.filter((s) => !s.ok).map((s) => s.code)).toEqual(during.filter((s) => !s.ok).map(() => 'SERVICE_UNAVAILABLE'));
    expect(Math.max(...during.map((s) => s.ms))).toBeLessThan(3000);

    // Back: the first success comes within 10 s, and from then on at least 99 % succeed.
    const after = samples.filter((s) => s.started >= backAt);
    const firstOk = after.find((s) => s.ok);
    expect(firstOk).toBeDefined();
    expect(firstOk!.started + firstOk!.ms - backAt).toBeLessThan(10_000);
    const settled = after.filter((s) => s.started >= firstOk!.started);
    expect(settled.filter((s) => s.ok).length / settled.length).toBeGreaterThanOrEqual(0.99);

    expect(server.child.exitCode).toBeNull();
    // A compiled read the database could not serve answered SERVICE_UNAVAILABLE: none
    // counts as a failed statement handed to the general path.
    const metrics = await (await fetch(new URL('/metrics', server.url))).text();
    expect(metrics).toMatch(/graphql_compiled_reads_total\{field="node",outcome="compiled"\} [1-9]/);
    expect(metrics).not.toMatch(/outcome="failed"\} [1-9]/);
    console.info(
      `restart under load: ${before.length} before, ${during.length} during (slowest ${Math.round(Math.max(...during.map((s) => s.ms)))} ms), ` +
        `first success ${Math.round(firstOk!.started + firstOk!.ms - backAt)} ms after the database was back, ` +
        `${settled.filter((s) => s.ok).length}/${settled.length} succeeded from then on`,
    );
  }, 60_000);
});

describe('pool exhaustion and runaway SQL', () => {
  it('end statements at the statement timeout and refuse requests beyond the pool after a bounded wait, then serve again', async () => {
    // Another client locks the users table: every request's credential lookup blocks,
    // holding one of the server's 4 pooled connections. Blocked statements end at the
    // statement timeout (1 s); requests that find no free connection give up after the
    // pool timeout (1 s). Nothing hangs.
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE users IN ACCESS EXCLUSIVE MODE');
    const started = performance.now();
    const burst = await Promise.all(Array.from({ length: 16 }, () => ask()));
    const elapsed = performance.now() - started;
    await locker.query('ROLLBACK');
    await locker.end();

    expect(burst.map((s) => s.code)).toEqual(burst.map(() => 'SERVICE_UNAVAILABLE'));
    expect(Math.max(...burst.map((s) => s.ms))).toBeLessThan(4000);
    console.info(`pool exhaustion: 16 requests refused in ${Math.round(elapsed)} ms (slowest ${Math.round(Math.max(...burst.map((s) => s.ms)))} ms)`);

    const again = await Promise.all(Array.from({ length: 10 }, () => ask()));
    expect(again.every((s) => s.ok)).toBe(true);
    expect(server.child.exitCode).toBeNull();
  }, 60_000);
});

describe('a connection killed in the middle of a multi-row mutation', () => {
  it('leaves no partial rows, and a retry succeeds', async () => {
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query(`INSERT INTO integration_sources (organization_id, kind, key, name) VALUES ($1, 'INTEGRATION', 'crm', 'CRM')`, [orgId]);
    const items = Array.from({ length: 500 }, (_, i) => ({
      userEmail: 'faults@example.com',
      sourceKey: 'crm',
      identifierKey: `key_${i}`,
      identifierValue: `value-${i}`,
      discoveryMethod: 'MCP_TOOL',
    }));
    const mutation = JSON.stringify({
      query: `mutation ($input: UpsertIdentifiersInput!) { upsertIdentifiers(input: $input) { __typename ... on UpsertIdentifiersSuccess { createdCount } } }`,
      variables: { input: { organizationId: orgId, items } },
    });
    const send = () =>
      fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: mutation,
        signal: AbortSignal.timeout(20_000),
      }).then((r) => r.json() as Promise<{ data?: { upsertIdentifiers?: { createdCount?: number } }; errors?: { extensions?: { code?: string } }[] }>);

    // Hold the source row so the insert's foreign-key check waits: the mutation's
    // statement is then in flight, inside its transaction, when its backend is killed.
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query("SELECT 1 FROM integration_sources WHERE key = 'crm' FOR UPDATE");
    const pending = send();
    let killed = 0;
    for (let i = 0; i < 100 && !killed; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const { rows } = await admin.query(
        `SELECT pg_terminate_backend(pid) AS t FROM pg_stat_activity
         WHERE wait_event_type = 'Lock' AND query ILIKE '%identifiers%' AND pid <> pg_backend_pid()`,
      );
      killed = rows.length;
    }
    await holder.query('ROLLBACK');
    await holder.end();
    expect(killed).toBe(1);
    const failed = await pending;
    expect(failed.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
    expect((await admin.query('SELECT count(*)::int AS n FROM identifiers')).rows[0].n).toBe(0);

    const retried = await send();
    expect(retried.data?.upsertIdentifiers?.createdCount).toBe(500);
    expect((await admin.query('SELECT count(*)::int AS n FROM identifiers')).rows[0].n).toBe(500);
    await admin.end();
  }, 60_000);
});

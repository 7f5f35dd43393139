import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { openDatabase, useDatabase, type Database } from '../src/db.ts';
import { globalId, tokenFor } from './helpers/app.ts';
import { aMember, aTenantWithMember, aUser } from './helpers/factories.ts';
import { startRoundRobinProxy } from './helpers/replica-proxy.ts';
import { replicaUnavailable, startReplicaPair, type ReplicaPair } from './helpers/replica.ts';
import { nextResults, sseEvents, subscribeToGraphChanges } from './helpers/sse.ts';
import { startServer, type ServerProcess } from './helpers/server-process.ts';

// A server on a PostgreSQL primary with one streaming replica, both this file's own.
// Reads of queries land on the replica, writes and what must be current on the
// primary; a consistency token, or a write of the same credential moments before,
// keeps a read from answering an older state; a replica that stops is left out and
// taken back when it returns.

const unavailable = replicaUnavailable();
if (unavailable) console.warn(`\n  Read replica tests skipped: ${unavailable}.\n`);

let pair: ReplicaPair;
let db: Database;
let servers: ServerProcess[] = [];
let server: ServerProcess;
const RATE_LIMIT = 60;

beforeAll(async () => {
  if (unavailable) return;
  pair = await startReplicaPair();
  // Test data is written to this primary (the factories use the process's database).
  db = await openDatabase(loadConfig({ DATABASE_URL: pair.primary.url, NODE_ENV: 'test' }), { migrate: true });
  useDatabase(db);
  const env = {
    DATABASE_URL: pair.primary.url,
    DATABASE_REPLICA_URLS: pair.replica.url,
    REPLICA_CHECK_MS: '100',
    // Replay is paused for seconds below: a lag limit that tolerates it.
    REPLICA_MAX_LAG_MS: '60000',
    // Longer than any wait between a write and the same credential's read below, on a busy machine.
    READ_YOUR_WRITES_MS: '60000',
    REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    RATE_LIMIT_PER_CREDENTIAL: String(RATE_LIMIT),
    // Subscriptions stay open through a workload that may outlast the default on a busy machine.
    HTTP_REQUEST_TIMEOUT_MS: '120000',
  };
  servers = await Promise.all([0, 1].map(() => startServer(env)));
  server = servers[0]!;
}, 120_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await db?.close();
  pair?.destroy();
});

const READ = `query ($id: ID!) { organization(id: $id) { name } }`;
const RENAME = `mutation ($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) { __typename ... on Error { code } }
}`;

interface Answer {
  data?: Record<string, any>;
  errors?: { message: string; extensions?: { code?: string } }[];
  extensions?: { consistencyToken?: string; readDiagnostics?: { inRecovery: boolean } };
}

async function call(subject: string, orgId: string, query: string, variables: Record<string, unknown>, token?: string, url = server.url) {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${await tokenFor(subject)}`,
      'x-organization-id': uuidOf.get(orgId)!,
      'x-read-diagnostics': '1',
      ...(token ? { 'x-consistency-token': token } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as Answer;
  return { body, header: response.headers.get('x-consistency-token') };
}

// X-Organization-ID takes the UUID of an organization a test names by global id.
const uuidOf = new Map<string, string>();

async function tenant() {
  const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
  const reader = await aUser();
  await aMember(organization.id, reader.id, { role: 'ANALYST' });
  await pair.replica.catchUp();
  uuidOf.set(globalId('Organization', organization.id), organization.id);
  return { orgId: globalId('Organization', organization.id), admin: admin.authSubject!, reader: reader.authSubject! };
}

const read = async (subject: string, orgId: string, token?: string) => {
  const { body } = await call(subject, orgId, READ, { id: orgId }, token);
  expect(body.errors).toBeUndefined();
  return { name: body.data!.organization.name as string, inRecovery: body.extensions!.readDiagnostics!.inRecovery };
};

async function rename(subject: string, orgId: string, name: string) {
  const { body, header } = await call(subject, orgId, RENAME, { input: { id: orgId, name } });
  expect(body.data?.updateOrganization.__typename).toBe('UpdateOrganizationSuccess');
  expect(body.extensions?.readDiagnostics?.inRecovery).toBe(false);
  expect(body.extensions?.consistencyToken).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
  expect(header).toBe(body.extensions!.consistencyToken);
  return header!;
}

async function eventually<T>(probe: () => Promise<T>, done: (value: T) => boolean, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > until) return value;
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe.skipIf(!!unavailable)('read replicas', () => {
  it('serve reads of queries, while mutations run on the primary', async () => {
    const t = await tenant();
    expect(await read(t.reader, t.orgId)).toMatchObject({ inRecovery: true });
    await rename(t.admin, t.orgId, 'Renamed');
    await pair.replica.catchUp();
    expect(await read(t.reader, t.orgId)).toEqual({ name: 'Renamed', inRecovery: true });
    const metrics = await (await fetch(server.url.replace(/\/graphql$/, '/metrics'))).text();
    expect(metrics).toMatch(/^database_replica_healthy\{replica="[^"]+"\} 1$/m);
    expect(metrics).toMatch(/^database_replica_lag_milliseconds\{replica="[^"]+"\} \d/m);
  });

  it('answer a read carrying the token of a write the replica has not replayed from the primary', async () => {
    const t = await tenant();
    const before = (await read(t.reader, t.orgId)).name;
    await pair.replica.query('SELECT pg_wal_replay_pause()');
    try {
      const token = await rename(t.admin, t.orgId, 'After the pause');
      // Without the token, another credential reads the replica's older state...
      expect(await read(t.reader, t.orgId)).toEqual({ name: before, inRecovery: true });
      // ...with it, the current one.
      expect(await read(t.reader, t.orgId, token)).toEqual({ name: 'After the pause', inRecovery: false });
      // The credential that wrote reads its write without the token (READ_YOUR_WRITES_MS).
      expect(await read(t.admin, t.orgId)).toEqual({ name: 'After the pause', inRecovery: false });
    } finally {
      await pair.replica.query('SELECT pg_wal_replay_resume()');
    }
    // Once the replica has replayed the write, the token's reads go to it again.
    await pair.replica.catchUp();
    const { body } = await call(t.reader, t.orgId, READ, { id: t.orgId });
    expect(body.extensions?.readDiagnostics?.inRecovery).toBe(true);
  });

  it('leave out a replica further behind than REPLICA_MAX_LAG_MS until it catches up', async () => {
    const config = loadConfig({ DATABASE_URL: pair.primary.url, DATABASE_REPLICA_URLS: pair.replica.url, REPLICA_MAX_LAG_MS: '300', REPLICA_CHECK_MS: '100', NODE_ENV: 'test' });
    const watched = await openDatabase(config);
    const replicas = watched.replicas!;
    try {
      expect(replicas.choose()).toBe(replicas.replicas[0]);
      await pair.replica.query('SELECT pg_wal_replay_pause()');
      try {
        await aUser();
        await eventually(async () => replicas.choose(), (r) => r === null);
        expect(replicas.replicas[0]!.healthy).toBe(false);
        expect(replicas.choose()).toBeNull();
      } finally {
        await pair.replica.query('SELECT pg_wal_replay_resume()');
      }
      expect(await eventually(async () => replicas.choose(), (r) => r !== null)).toBe(replicas.replicas[0]);
    } finally {
      await watched.close();
    }
  });

  it('refuse a malformed consistency token', async () => {
    const t = await tenant();
    const { body } = await call(t.reader, t.orgId, READ, { id: t.orgId }, 'not-a-position');
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('go on reading from the primary while the replica is down, and use it again once it is back', async () => {
    const t = await tenant();
    expect((await read(t.reader, t.orgId)).inRecovery).toBe(true);
    pair.replica.stop();
    try {
      // The first read after the stop meets the closed connections, and runs again on the primary.
      for (let i = 0; i < 5; i++) expect(await read(t.reader, t.orgId)).toMatchObject({ inRecovery: false });
      await rename(t.admin, t.orgId, 'While down');
      expect((await read(t.reader, t.orgId)).name).toBe('While down');
    } finally {
      pair.replica.start();
    }
    // Back once it has replayed the write made while it was down: until then it may
    // serve the older name, within REPLICA_MAX_LAG_MS.
    await pair.replica.catchUp();
    const back = await eventually(() => read(t.reader, t.orgId), (r) => r.inRecovery);
    expect(back).toEqual({ name: 'While down', inRecovery: true });
  });

  it('two server processes behind one address: a mixed workload reads no stale state, fails nothing, and shares subscriptions and rate limits', async () => {
    const proxy = await startRoundRobinProxy(servers.map((s) => s.url));
    const abort = new AbortController();
    try {
      const clients = await Promise.all([0, 1, 2, 3].map(() => tenant()));
      // Both processes publish every change of the first client's organization to their subscribers.
      const streams = await Promise.all(
        servers.map(async (s) => sseEvents((await subscribeToGraphChanges(clients[0]!.orgId, clients[0]!.admin, abort.signal, s.url)).body!)),
      );
      const ROUNDS = 8;
      // Read while the workload runs, so nothing waits on a stream left unread.
      const received = streams.map((stream) => nextResults(stream, ROUNDS));
      received.forEach((p) => p.catch(() => {}));
      let stale = 0;
      let failed = 0;
      let onReplica = 0;
      // Replay is paused for the first half, so a token read answers the current state only if routed right.
      await pair.replica.query('SELECT pg_wal_replay_pause()');
      let resumed: Promise<unknown> | undefined;
      await Promise.all(
        clients.map(async (c, n) => {
          for (let round = 0; round < ROUNDS; round++) {
            if (round === ROUNDS / 2) resumed ??= pair.replica.query('SELECT pg_wal_replay_resume()');
            const name = `client ${n} round ${round}`;
            const written = await call(c.admin, c.orgId, RENAME, { input: { id: c.orgId, name } }, undefined, proxy.url);
            if (written.body.errors || written.body.data?.updateOrganization.__typename !== 'UpdateOrganizationSuccess') failed++;
            // Another credential of the organization reads with the token, through either process.
            for (let r = 0; r < 2; r++) {
              const { body } = await call(c.reader, c.orgId, READ, { id: c.orgId }, written.header!, proxy.url);
              if (body.errors) failed++;
              else if (body.data!.organization.name !== name) stale++;
              if (body.extensions?.readDiagnostics?.inRecovery) onReplica++;
            }
            // And without it, the writer's own read follows its write.
            const own = await call(c.admin, c.orgId, READ, { id: c.orgId }, undefined, proxy.url);
            if (own.body.errors) failed++;
            else if (own.body.data!.organization.name !== name) stale++;
          }
        }),
      );
      await resumed;
      expect({ stale, failed }).toEqual({ stale: 0, failed: 0 });
      // Both processes served, and once replay resumed, token reads went to the replica again.
      expect(proxy.counts.every((n) => n > ROUNDS)).toBe(true);
      expect(onReplica).toBeGreaterThan(0);
      for (const results of received) {
        const names = (await results).map((e) => e.data.identityGraphChanged.changes.name.after);
        expect(names).toEqual([...Array(ROUNDS).keys()].map((round) => `client 0 round ${round}`));
      }
      // One credential's requests count once, whichever process serves them.
      const user = await aUser();
      const token = await tokenFor(user.authSubject!);
      const codes: string[] = [];
      for (let i = 0; i <= RATE_LIMIT; i++) {
        const response = await fetch(proxy.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: '{ viewer { id } }' }),
        });
        const body = (await response.json()) as Answer;
        codes.push(body.errors?.[0]?.extensions?.code ?? 'OK');
      }
      expect(codes.filter((c) => c === 'OK')).toHaveLength(RATE_LIMIT);
      expect(codes.at(-1)).toBe('RATE_LIMITED');
    } finally {
      abort.abort();
      await pair.replica.query('SELECT pg_wal_replay_resume()');
      await proxy.close();
    }
  }, 120_000);
});

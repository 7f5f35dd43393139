import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { tokenFor } from './helpers/app.ts';
import { aUser } from './helpers/factories.ts';
import { testDatabaseUrl, workerDatabaseName } from './helpers/postgres-url.ts';
import { startServer, type ServerProcess } from './helpers/server-process.ts';

// Two server processes started with REDIS_URL count one credential's requests
// together: the limit holds for the deployment, not for each process.

let servers: ServerProcess[] = [];

beforeAll(async () => {
  const env = {
    DATABASE_URL: testDatabaseUrl(workerDatabaseName(inject('postgresTemplate'))),
    REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    RATE_LIMIT_PER_CREDENTIAL: '4',
  };
  servers = await Promise.all([0, 1].map(() => startServer(env)));
}, 90_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

describe('rate limits across server processes', () => {
  it('share one counter per credential through Redis', async () => {
    const user = await aUser();
    const token = await tokenFor(user.authSubject!);
    const codes: unknown[] = [];
    for (const server of [servers[0]!, servers[1]!, servers[0]!, servers[1]!, servers[0]!, servers[1]!]) {
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: '{ viewer { id } }' }),
      });
      const body = (await response.json()) as { errors?: { extensions?: { code?: string } }[] };
      codes.push(body.errors?.[0]?.extensions?.code ?? 'OK');
    }
    expect(codes).toEqual(['OK', 'OK', 'OK', 'OK', 'RATE_LIMITED', 'RATE_LIMITED']);
  });
});

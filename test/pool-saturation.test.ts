import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { database, openDatabase, statement, useDatabase, type Database } from '../src/db.ts';
import { app, globalId, tokenFor } from './helpers/app.ts';
import { aMember, anIdentifier, anOrganization, aSource, aUser } from './helpers/factories.ts';
import { testDatabaseUrl, workerDatabaseName } from './helpers/postgres-url.ts';
import { TEST_DATABASE } from './helpers/setup.ts';
import { withSqlLog } from './helpers/sql-count.ts';

// `nodes` of many ids is a read: one statement per type of node, no transaction. And a
// pool with every connection busy answers SERVICE_UNAVAILABLE with Retry-After, never
// INTERNAL_SERVER_ERROR: with 2 connections and a 250 ms wait for one, concurrent
// requests of 48 nodes each get their data or that answer.

const NODES = `query ($ids: [ID!]!) { nodes(ids: $ids) { id ... on User { email } ... on Identifier { identifierValue } } }`;

async function aTenantOf24() {
  const organization = await anOrganization();
  const source = await aSource(organization.id);
  const admin = await aUser();
  await aMember(organization.id, admin.id, { role: 'ORGANIZATION_ADMIN' });
  const ids: string[] = [];
  for (let i = 0; i < 24; i++) {
    const user = await aUser();
    await aMember(organization.id, user.id);
    const identifier = await anIdentifier(organization.id, user.id, source.id, { identifierKey: 'owner_id', identifierValue: `005-${i}` });
    ids.push(globalId('User', user.id), globalId('Identifier', identifier.id));
  }
  return { organization, admin, ids };
}

async function post(token: string, ids: string[]) {
  const response = await app.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: NODES, variables: { ids } }),
  });
  const body = (await response.json()) as { data?: { nodes: unknown[] } | null; errors?: { extensions?: { code?: string } }[] };
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body };
}

describe('nodes and a saturated pool', () => {
  it('reads 48 nodes with one statement per type and no transaction', async () => {
    const { admin, ids } = await aTenantOf24();
    const token = await tokenFor(admin.authSubject!);
    const { result, statements } = await withSqlLog(() => post(token, ids));
    expect(result.body.errors).toBeUndefined();
    expect(result.body.data!.nodes.every((n) => n !== null)).toBe(true);
    expect(statements.filter((s) => /^(BEGIN|COMMIT)/.test(s))).toEqual([]);
    // The viewer with their memberships, then users and identifiers in one statement each.
    expect(statements.length).toBeLessThanOrEqual(4);
  });

  describe.runIf(TEST_DATABASE === 'postgres')('with 2 connections', () => {
    let shared: Database;
    let small: Database;
    beforeAll(() => {
      shared = database!;
    });
    afterAll(async () => {
      useDatabase(shared);
      await small?.close();
    });

    it('answers every request with its data or SERVICE_UNAVAILABLE and Retry-After', async () => {
      const { admin, ids } = await aTenantOf24();
      const token = await tokenFor(admin.authSubject!);
      small = await openDatabase(loadConfig({ DATABASE_URL: testDatabaseUrl(workerDatabaseName(inject('postgresTemplate'))), DATABASE_POOL_SIZE: '2', DATABASE_POOL_TIMEOUT_MS: '250' }));
      useDatabase(small);
      // Both connections of each pool (Prisma's, and the prepared reads') are held for
      // 600 ms: the first wave waits past 250 ms for one. The second wave comes once they
      // are free, and queues for 2 connections.
      const sleep = statement('pool_saturation_sleep', 'SELECT pg_sleep(0.6)');
      const held = Promise.all([small.query('SELECT pg_sleep(0.6)'), small.query('SELECT pg_sleep(0.6)'), small.run(sleep, []), small.run(sleep, [])]);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const first = await Promise.all(Array.from({ length: 50 }, () => post(token, ids)));
      await held;
      const second = await Promise.all(Array.from({ length: 100 }, () => post(token, ids)));
      const answers = [...first, ...second];
      expect(first.filter((a) => a.body.errors).length).toBeGreaterThan(0);
      expect(second.filter((a) => !a.body.errors).length).toBeGreaterThan(0);
      const unavailable = answers.filter((a) => a.body.errors);
      for (const a of unavailable) {
        expect(a.body.errors!.map((e) => e.extensions?.code)).toEqual(a.body.errors!.map(() => 'SERVICE_UNAVAILABLE'));
        expect(a.retryAfter).toBe('1');
      }
      for (const a of answers.filter((x) => !x.body.errors)) {
        expect(a.body.data!.nodes).toHaveLength(48);
        expect(a.body.data!.nodes.every((n) => n !== null)).toBe(true);
      }
      // The pool was saturated, and still served.
      expect(unavailable.length).toBeGreaterThan(0);
      expect(unavailable.length).toBeLessThan(answers.length);
    });
  });
});

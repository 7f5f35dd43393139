import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { expectNoErrors, globalId, gql, tokenFor } from './helpers/app.ts';
import { aTenantWithMember } from './helpers/factories.ts';
import { testDatabaseUrl, workerDatabaseName } from './helpers/postgres-url.ts';
import { startServer, type ServerProcess } from './helpers/server-process.ts';
import { nextResults, sseEvents, subscribeToGraphChanges } from './helpers/sse.ts';

// Scale-out: several server processes share one PostgreSQL database. A change made
// through any of them reaches the subscribers of every one of them (LISTEN/NOTIFY),
// once each and in commit order.

let servers: ServerProcess[] = [];

beforeAll(async () => {
  const url = testDatabaseUrl(workerDatabaseName(inject('postgresTemplate')));
  servers = await Promise.all([0, 1].map(() => startServer({ DATABASE_URL: url })));
}, 90_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

const RENAME = `mutation ($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) { __typename ... on Error { code } }
}`;

async function renameThrough(server: ServerProcess, authSubject: string, id: string, name: string) {
  const response = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${await tokenFor(authSubject)}` },
    body: JSON.stringify({ query: RENAME, variables: { input: { id, name } } }),
  });
  const body = (await response.json()) as { data?: { updateOrganization: { __typename: string } } };
  expect(body.data?.updateOrganization.__typename).toBe('UpdateOrganizationSuccess');
}

describe('identityGraphChanged across server processes', () => {
  it('two processes on one database each deliver every event, whichever process (or neither) made the change', async () => {
    const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const other = await aTenantWithMember('ORGANIZATION_ADMIN');
    const orgId = globalId('Organization', organization.id);
    const abort = new AbortController();
    const deadline = setTimeout(() => abort.abort(), 30_000);
    try {
      const streams = await Promise.all(
        servers.map(async (s) => sseEvents((await subscribeToGraphChanges(orgId, admin.authSubject!, abort.signal, s.url)).body!)),
      );
      // Through the first process, the second, this test's own process, and another
      // organization's change that no subscriber may see.
      await renameThrough(servers[0]!, admin.authSubject!, orgId, 'One');
      await renameThrough(servers[1]!, admin.authSubject!, orgId, 'Two');
      await renameThrough(servers[0]!, other.user.authSubject!, globalId('Organization', other.organization.id), 'Not yours');
      expectNoErrors(await gql(RENAME, { asUser: admin, variables: { input: { id: orgId, name: 'Three' } } }));
      const committed = await prisma.auditEvent.findMany({
        where: { organizationId: organization.id },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      });
      expect(committed).toHaveLength(3);
      const expected = committed.map((e) => globalId('AuditEvent', e.id));
      for (const stream of streams) {
        const received = (await nextResults(stream, 3)).map((r) => r.data.identityGraphChanged);
        expect(received.map((e) => e.id)).toEqual(expected);
        expect(received.map((e) => e.changes.name.after)).toEqual(['One', 'Two', 'Three']);
      }
      // Nothing more arrives: each event came once, and the other organization's never.
      await renameThrough(servers[1]!, admin.authSubject!, orgId, 'Four');
      for (const stream of streams) {
        const [next] = (await nextResults(stream, 1)).map((r) => r.data.identityGraphChanged);
        expect(next.changes.name.after).toBe('Four');
        await stream.return(undefined);
      }
    } finally {
      clearTimeout(deadline);
      abort.abort();
    }
  });
});

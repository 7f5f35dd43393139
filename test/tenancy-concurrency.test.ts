import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { globalId, gql, TEST_JWT_SECRET, type GqlResult } from './helpers/app.ts';
import { aToken } from './helpers/auth.ts';
import { aMember, anIdentifier, anIdentity, anOrganization, aSource, aUser } from './helpers/factories.ts';

// Two tenants with identical source keys, identifier keys and values, read and
// written by 200 interleaved requests through every kind of credential: no response
// carries a single row of the other tenant.

const HS = { alg: 'HS256' as const, secret: TEST_JWT_SECRET };
const USERS = 8;

async function aTenant(slug: string) {
  const organization = await anOrganization({ slug });
  const source = await aSource(organization.id, { key: 'salesforce' });
  const users = [];
  const identifiers = [];
  for (let i = 0; i < USERS; i++) {
    const user = await aUser();
    await aMember(organization.id, user.id, { role: i === 0 ? 'ORGANIZATION_ADMIN' : 'ANALYST' });
    users.push(user);
    identifiers.push(await anIdentifier(organization.id, user.id, source.id, { identifierKey: 'owner_id', identifierValue: `005-${i}` }));
    // Identities with the same keys and emails in both tenants too.
    await anIdentity(organization.id, { identifierKey: `person-${i}`, email: `person-${i}@example.com`, userId: user.id });
  }
  const admin = users[0]!;
  const key = await gql(`mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { ... on CreateApiKeySuccess { secret } } }`, {
    asUser: admin,
    variables: { input: { organizationId: organization.id, name: 'job', role: 'ANALYST' } },
  });
  const credentials: Record<string, string>[] = [
    { authorization: `Bearer ${await aToken(HS, {}, { subject: admin.authSubject! })}` },
    { authorization: `Bearer ${await aToken(HS, {}, { subject: users[1]!.authSubject! })}`, 'x-organization-id': organization.id },
    { authorization: `Bearer ${await aToken(HS, { org_id: organization.id }, { subject: users[2]!.authSubject! })}` },
    { 'x-api-key': key.data!.createApiKey.secret },
  ];
  return { organization, source, users, identifiers, credentials };
}

type Tenant = Awaited<ReturnType<typeof aTenant>>;

/** Every id in the database that belongs to `tenant` (as raw UUIDs). */
async function idsOf(tenant: Tenant): Promise<Set<string>> {
  const organizationId = tenant.organization.id;
  const [identifiers, identities, sources, members, keys] = await Promise.all([
    prisma.identifier.findMany({ where: { organizationId }, select: { id: true } }),
    prisma.identity.findMany({ where: { organizationId }, select: { id: true } }),
    prisma.integrationSource.findMany({ where: { organizationId }, select: { id: true } }),
    prisma.member.findMany({ where: { organizationId }, select: { id: true, userId: true } }),
    prisma.apiKey.findMany({ where: { organizationId }, select: { id: true } }),
  ]);
  return new Set([
    organizationId,
    ...identifiers.map((r) => r.id),
    ...identities.map((r) => r.id),
    ...sources.map((r) => r.id),
    ...members.flatMap((r) => [r.id, r.userId]),
    ...keys.map((r) => r.id),
  ]);
}

/** The UUIDs behind every global id anywhere in a response. */
function idsIn(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') {
    const decoded = Buffer.from(value, 'base64').toString();
    const m = /^[A-Za-z]+:([0-9a-f-]{36})$/.exec(decoded);
    if (m) out.push(m[1]!);
  } else if (value && typeof value === 'object') {
    for (const v of Object.values(value)) idsIn(v, out);
  }
  return out;
}

const READ = `query ($org: ID!, $value: String!, $probe: ID!) {
  organizations { totalCount edges { node { id } } }
  node(id: $org) {
    ... on Organization {
      identifiers(identifierKey: "owner_id", identifierValue: $value) {
        totalCount
        edges { node { id identifierValue organization { id } user { id memberships { id organization { id } } } source { id key } } }
      }
      members(first: 20) { totalCount edges { node { id user { id identifiers { totalCount edges { node { id } } } } } } }
      sources { totalCount edges { node { id } } }
      identities(first: 20) { totalCount edges { node { id email user { id } } } }
    }
  }
  probe: node(id: $probe) { id }
}`;

const UPSERT = `mutation ($input: UpsertIdentifierInput!) {
  upsertIdentifier(input: $input) {
    __typename
    ... on UpsertIdentifierSuccess { identifier { id organization { id } source { id } user { id } } }
    ... on Error { code }
  }
}`;

describe('tenant isolation under concurrency', () => {
  it('returns zero rows of the other tenant across 200 interleaved requests with identical keys and values', async () => {
    const tenants = [await aTenant('tenant-a'), await aTenant('tenant-b')] as const;
    const requests: { tenant: number; run: () => Promise<GqlResult> }[] = [];
    for (let i = 0; i < 200; i++) {
      const t = i % 2;
      const own = tenants[t]!;
      const other = tenants[1 - t]!;
      const headers = own.credentials[Math.floor(i / 2) % own.credentials.length]!;
      const n = i % USERS;
      if (i % 5 === 4) {
        // Writes with the same natural key in both tenants.
        requests.push({
          tenant: t,
          run: () =>
            gql(UPSERT, {
              headers,
              variables: {
                input: {
                  organizationId: own.organization.id,
                  userId: own.users[n]!.id,
                  sourceKey: 'salesforce',
                  identifierKey: 'owner_id',
                  identifierValue: `005-${n}`,
                  discoveryMethod: 'MCP_TOOL',
                  confidenceScore: (i % 10) / 10,
                },
              },
            }),
        });
      } else {
        requests.push({
          tenant: t,
          run: () =>
            gql(READ, {
              headers,
              variables: {
                org: globalId('Organization', own.organization.id),
                value: `005-${n}`,
                // Asks for an object of the other tenant by its global id.
                probe: globalId('Identifier', other.identifiers[n]!.id),
              },
            }),
        });
      }
    }

    const results = await Promise.all(requests.map((r) => r.run()));
    const ids = [await idsOf(tenants[0]), await idsOf(tenants[1])];
    let rows = 0;
    let foreign = 0;
    for (const [i, result] of results.entries()) {
      expect(result.errors, `request ${i}: ${JSON.stringify(result.errors)}`).toBeUndefined();
      const seen = idsIn(result.data);
      rows += seen.length;
      foreign += seen.filter((id) => ids[1 - requests[i]!.tenant]!.has(id)).length;
      if ('probe' in (result.data ?? {})) expect(result.data?.probe).toBeNull();
    }
    console.log(`${results.length} requests, ${rows} ids in responses, ${foreign} of the other tenant`);
    expect(foreign).toBe(0);
    // The reads did return rows: the check above is not vacuous.
    expect(rows).toBeGreaterThan(200 * 5);

    // Each tenant still has exactly its own identifiers, written in place.
    for (const tenant of tenants) {
      const stored = await prisma.identifier.findMany({ where: { organizationId: tenant.organization.id }, select: { sourceId: true, userId: true } });
      expect(stored).toHaveLength(USERS);
      expect(stored.every((r) => r.sourceId === tenant.source.id && tenant.users.some((u) => u.id === r.userId))).toBe(true);
    }
  }, 120_000);
});

import { describe, expect, it } from 'vitest';
import { createContext, type Viewer } from '../src/context.ts';
import { prisma } from '../src/db.ts';
import type { MemberRole, MembershipState } from '../src/generated/prisma/client.ts';
import { expectNoErrors, globalId, gql, TEST_JWT_SECRET, type GqlResult } from './helpers/app.ts';
import { aToken, rowCounts } from './helpers/auth.ts';
import { aMember, anIdentifier, anIdentity, anOrganization, aSource, aTenantWithMember, aUser } from './helpers/factories.ts';

// Tenancy and roles: which organization a request acts in, what each role may do
// there, and that nothing of another tenant shows through any path.

const HS = { alg: 'HS256' as const, secret: TEST_JWT_SECRET };
const NIL = '00000000-0000-4000-8000-000000000000';

const codes = (result: GqlResult) => (result.errors ?? []).map((e) => e.extensions?.code);
/** A result without the parts that name the input (error messages may quote it). */
const strip = (result: GqlResult) => JSON.parse(JSON.stringify(result).replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, 'ID'));
const upsert = (organizationId: string, userId: string) => ({
  organizationId,
  userId,
  identifierKey: 'owner_id',
  identifierValue: 'same',
  discoveryMethod: 'MANUAL',
});

const UPSERT = `mutation ($input: UpsertIdentifierInput!) {
  upsertIdentifier(input: $input) { __typename ... on Error { code } }
}`;
const UPSERT_IDENTITY = `mutation ($input: UpsertIdentityInput!) {
  upsertIdentity(input: $input) { __typename ... on Error { code } }
}`;
const CREATE_KEY = `mutation ($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { __typename ... on Error { code } }
}`;
const READ = `query ($id: ID!) {
  node(id: $id) {
    ... on Organization {
      slug
      members { totalCount }
      identifiers { totalCount }
      sources { totalCount }
    }
  }
}`;

/** An organization with a source, a member and an identifier: something to read and write. */
async function aPopulatedOrganization() {
  const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
  const source = await aSource(organization.id, { key: 'salesforce' });
  const identifier = await anIdentifier(organization.id, user.id, source.id, { identifierKey: 'owner_id', identifierValue: '005' });
  return { organization, admin: user, source, identifier };
}

describe('the organization a request acts in', () => {
  it('is FORBIDDEN to a viewer who is not an ACTIVE member, the same whether or not the organization exists, writing nothing', async () => {
    const { organization, source } = await aPopulatedOrganization();
    const viewers: { label: string; userId: string }[] = [];
    for (const state of ['PENDING', 'SUSPENDED'] as MembershipState[]) {
      const user = await aUser();
      await aMember(organization.id, user.id, { role: 'ORGANIZATION_ADMIN', state });
      viewers.push({ label: state, userId: user.id });
    }
    viewers.push({ label: 'non-member', userId: (await aUser()).id });
    const input = { sourceKey: source.key, identifierKey: 'email', identifierValue: 'x@example.com', discoveryMethod: 'MANUAL' };
    const before = await rowCounts();
    for (const { label, userId } of viewers) {
      const user = await prisma.user.findUniqueOrThrow({ where: { id: userId } });
      const answers = [];
      for (const [header, id] of [
        ['x-organization-id', organization.id],
        ['x-tenant-id', organization.id],
        ['x-organization-id', NIL],
      ] as const) {
        const result = await gql(UPSERT, { asUser: user, headers: { [header]: id }, variables: { input: { ...input, userId: user.id } } });
        expect(codes(result), `${label} ${header} ${id}`).toEqual(['FORBIDDEN']);
        answers.push(JSON.stringify({ status: result.status, data: result.data, errors: result.errors }));
      }
      expect(new Set(answers).size, label).toBe(1);
    }
    expect(await rowCounts()).toEqual(before);
  });

  it('is open to a system admin in any organization, named by X-Organization-ID or X-Tenant-ID', async () => {
    const { organization } = await aPopulatedOrganization();
    const admin = await aUser({ isSystemAdmin: true });
    for (const header of ['x-organization-id', 'x-tenant-id']) {
      const result = await gql(READ, { asUser: admin, headers: { [header]: organization.id }, variables: { id: globalId('Organization', organization.id) } });
      expectNoErrors(result);
      expect(result.data?.node).toMatchObject({ slug: organization.slug, identifiers: { totalCount: 1 } });
    }
  });

  it('answers TENANT_MISMATCH when the header and the arguments name different organizations, writing nothing', async () => {
    const a = await aPopulatedOrganization();
    const b = await anOrganization();
    await aMember(b.id, a.admin.id, { role: 'ORGANIZATION_ADMIN' });
    const before = await rowCounts();
    const result = await gql(CREATE_KEY, {
      asUser: a.admin,
      organizationId: a.organization.id,
      variables: { input: { organizationId: globalId('Organization', b.id), name: 'x' } },
    });
    expect(codes(result)).toEqual(['TENANT_MISMATCH']);
    expect(await rowCounts()).toEqual(before);
  });

  it('binds a token with an organization claim to that organization: another one is TENANT_MISMATCH, even for a system admin', async () => {
    const a = await aPopulatedOrganization();
    const b = await aPopulatedOrganization();
    const both = await aUser({ isSystemAdmin: true });
    await aMember(a.organization.id, both.id, { role: 'ORGANIZATION_ADMIN' });
    await aMember(b.organization.id, both.id, { role: 'ORGANIZATION_ADMIN' });
    const token = await aToken(HS, { org_id: a.organization.id }, { subject: both.authSubject! });
    const before = await rowCounts();

    const byHeader = await gql(CREATE_KEY, { token, organizationId: b.organization.id, variables: { input: { name: 'x' } } });
    expect(codes(byHeader)).toEqual(['TENANT_MISMATCH']);
    const byArgument = await gql(CREATE_KEY, { token, variables: { input: { organizationId: b.organization.id, name: 'x' } } });
    expect(codes(byArgument)).toEqual(['TENANT_MISMATCH']);
    const upsert = await gql(UPSERT, {
      token,
      variables: {
        input: {
          organizationId: globalId('Organization', b.organization.id),
          userId: both.id,
          sourceKey: 'salesforce',
          identifierKey: 'k',
          identifierValue: 'v',
          discoveryMethod: 'MANUAL',
        },
      },
    });
    expect(codes(upsert)).toEqual(['TENANT_MISMATCH']);
    expect(await rowCounts()).toEqual(before);

    // Reads of the other organization answer as if it did not exist.
    const other = await gql(READ, { token, variables: { id: globalId('Organization', b.organization.id) } });
    expect(other).toMatchObject({ data: { node: null } });
    const own = await gql(READ, { token, variables: { id: globalId('Organization', a.organization.id) } });
    expect(own.data?.node).toMatchObject({ slug: a.organization.slug });
    // Without the claim the same user reaches both.
    const unbound = await aToken(HS, {}, { subject: both.authSubject! });
    expect((await gql(READ, { token: unbound, variables: { id: globalId('Organization', b.organization.id) } })).data?.node).not.toBeNull();
  });
});

describe('roles', () => {
  type Who = { label: string; headers: () => Promise<Record<string, string>> };
  type Expect = { read: boolean; write: boolean; admin: boolean };

  async function aViewer(organizationId: string, role: MemberRole, state: MembershipState = 'ACTIVE') {
    const user = await aUser();
    await aMember(organizationId, user.id, { role, state });
    return { authorization: `Bearer ${await aToken(HS, {}, { subject: user.authSubject! })}` };
  }

  async function aKey(organizationId: string, role: 'ANALYST' | 'ORGANIZATION_ADMIN', adminHeaders: Record<string, string>) {
    const made = await gql(`mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { ... on CreateApiKeySuccess { secret } } }`, {
      headers: adminHeaders,
      variables: { input: { organizationId, name: `${role} key`, role } },
    });
    return { 'x-api-key': made.data!.createApiKey.secret as string };
  }

  it('grants SYSTEM_ADMIN and ORGANIZATION_ADMIN everything, ANALYST reads and writes identifiers and identities, PENDING and SUSPENDED nothing', async () => {
    const { organization, admin, source } = await aPopulatedOrganization();
    const adminHeaders = { authorization: `Bearer ${await aToken(HS, {}, { subject: admin.authSubject! })}` };
    const systemAdmin = await aUser({ isSystemAdmin: true });
    const subject = (await prisma.user.findFirstOrThrow({ where: { id: admin.id } })).id;
    const cases: [Who, Expect][] = [
      [{ label: 'system admin', headers: async () => ({ authorization: `Bearer ${await aToken(HS, {}, { subject: systemAdmin.authSubject! })}` }) }, { read: true, write: true, admin: true }],
      [{ label: 'ORGANIZATION_ADMIN', headers: () => aViewer(organization.id, 'ORGANIZATION_ADMIN') }, { read: true, write: true, admin: true }],
      [{ label: 'ANALYST', headers: () => aViewer(organization.id, 'ANALYST') }, { read: true, write: true, admin: false }],
      [{ label: 'PENDING admin', headers: () => aViewer(organization.id, 'ORGANIZATION_ADMIN', 'PENDING') }, { read: false, write: false, admin: false }],
      [{ label: 'SUSPENDED admin', headers: () => aViewer(organization.id, 'ORGANIZATION_ADMIN', 'SUSPENDED') }, { read: false, write: false, admin: false }],
      [{ label: 'ORGANIZATION_ADMIN API key', headers: () => aKey(organization.id, 'ORGANIZATION_ADMIN', adminHeaders) }, { read: true, write: true, admin: true }],
      [{ label: 'ANALYST API key', headers: () => aKey(organization.id, 'ANALYST', adminHeaders) }, { read: true, write: true, admin: false }],
    ];
    for (const [who, allowed] of cases) {
      const headers = await who.headers();
      const before = await rowCounts();
      const read = await gql(READ, { headers, variables: { id: globalId('Organization', organization.id) } });
      if (allowed.read) expect(read.data?.node, who.label).toMatchObject({ slug: organization.slug, identifiers: { totalCount: expect.any(Number) } });
      else expect(read, who.label).toMatchObject({ data: { node: null } });

      const write = await gql(UPSERT, {
        headers,
        variables: {
          input: {
            organizationId: organization.id,
            userId: subject,
            sourceKey: source.key,
            identifierKey: `key-${who.label}`,
            identifierValue: 'v',
            discoveryMethod: 'MCP_TOOL',
          },
        },
      });
      if (allowed.write) expect(write.data?.upsertIdentifier.__typename, who.label).toBe('UpsertIdentifierSuccess');
      else expect(codes(write), who.label).toEqual(['FORBIDDEN']);

      const identity = await gql(UPSERT_IDENTITY, {
        headers,
        variables: { input: { organizationId: organization.id, identifierKey: `identity-${who.label}`, identityType: 'USER', name: who.label } },
      });
      if (allowed.write) expect(identity.data?.upsertIdentity.__typename, who.label).toBe('UpsertIdentitySuccess');
      else expect(codes(identity), who.label).toEqual(['FORBIDDEN']);

      const administer = await gql(CREATE_KEY, { headers, variables: { input: { organizationId: organization.id, name: `by ${who.label}` } } });
      if (allowed.admin) expect(administer.data?.createApiKey.__typename, who.label).toBe('CreateApiKeySuccess');
      else expect(codes(administer), who.label).toEqual(['FORBIDDEN']);

      const after = await rowCounts();
      expect(after.identifiers - before.identifiers, who.label).toBe(allowed.write ? 1 : 0);
      expect(after.identities - before.identities, who.label).toBe(allowed.write ? 1 : 0);
      expect(after.apiKeys - before.apiKeys, who.label).toBe(allowed.admin ? 1 : 0);
    }
  });
});

describe('isolation', () => {
  /** Two tenants with the same source key, identifier key and value, and a user in both. */
  async function twoTenants() {
    const a = await aPopulatedOrganization();
    const b = await aPopulatedOrganization();
    const shared = await aUser();
    await aMember(a.organization.id, shared.id);
    await aMember(b.organization.id, shared.id);
    const sharedA = await anIdentifier(a.organization.id, shared.id, a.source.id, { identifierKey: 'owner_id', identifierValue: 'same' });
    const sharedB = await anIdentifier(b.organization.id, shared.id, b.source.id, { identifierKey: 'owner_id', identifierValue: 'same' });
    // Identities with the same key and email in both, linked to the shared user.
    await anIdentity(a.organization.id, { identifierKey: 'ada', email: 'ada@example.com', userId: shared.id });
    const identityB = await anIdentity(b.organization.id, { identifierKey: 'ada', email: 'ada@example.com', userId: shared.id });
    await gql(`mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { __typename } }`, {
      asUser: b.admin,
      variables: { input: { organizationId: b.organization.id, name: 'b key' } },
    });
    const keyB = (await prisma.apiKey.findFirstOrThrow({ where: { organizationId: b.organization.id } })).id;
    const memberB = await prisma.member.findFirstOrThrow({ where: { organizationId: b.organization.id, userId: b.admin.id } });
    return { a, b, shared, sharedA, sharedB, identityB, keyB, memberB };
  }

  it('keeps lists and their counts to the tenant, whatever the filters', async () => {
    const { a } = await twoTenants();
    const result = await gql(
      `query ($id: ID!) {
        organizations { totalCount edges { node { id } } }
        node(id: $id) {
          ... on Organization {
            members { totalCount edges { node { user { id } } } }
            identifiers(identifierValue: "same") { totalCount edges { node { organization { id } } } }
            sources { totalCount edges { node { key organization { id } } } }
            identities { totalCount edges { node { identifierKey organization { id } } } }
            apiKeys { totalCount }
          }
        }
      }`,
      { asUser: a.admin, variables: { id: globalId('Organization', a.organization.id) } },
    );
    expectNoErrors(result);
    const own = globalId('Organization', a.organization.id);
    expect(result.data?.organizations).toEqual({ totalCount: 1, edges: [{ node: { id: own } }] });
    const node = result.data?.node;
    expect(node.members.totalCount).toBe(2);
    expect(node.identifiers).toEqual({ totalCount: 1, edges: [{ node: { organization: { id: own } } }] });
    expect(node.sources).toEqual({ totalCount: 1, edges: [{ node: { key: 'salesforce', organization: { id: own } } }] });
    expect(node.identities).toEqual({ totalCount: 1, edges: [{ node: { identifierKey: 'ada', organization: { id: own } } }] });
    expect(node.apiKeys).toEqual({ totalCount: 0 });
  });

  it("answers node(id) for another tenant's objects exactly like a random id", async () => {
    const { a, b, sharedB, identityB, keyB, memberB } = await twoTenants();
    const query = `query ($id: ID!, $ids: [ID!]!) { node(id: $id) { id __typename } nodes(ids: $ids) { id } }`;
    const foreign = {
      Organization: b.organization.id,
      User: b.admin.id,
      Member: memberB.id,
      IntegrationSource: b.source.id,
      Identifier: sharedB.id,
      Identity: identityB.id,
      ApiKey: keyB,
    };
    const random = await gql(query, { asUser: a.admin, variables: { id: globalId('Identifier', NIL), ids: [globalId('Identifier', NIL)] } });
    expect(random).toEqual({ status: 200, data: { node: null, nodes: [null] } });
    for (const [type, id] of Object.entries(foreign)) {
      const gid = globalId(type, id);
      const variants: Record<string, string>[] = [{}, { 'x-organization-id': a.organization.id }];
      for (const headers of variants) {
        expect(await gql(query, { asUser: a.admin, headers, variables: { id: gid, ids: [gid] } }), type).toEqual(random);
      }
    }
  });

  it('shows of a user who belongs to two organizations only what the viewer may read', async () => {
    const { a, b, shared, sharedA } = await twoTenants();
    const query = `query ($id: ID!) {
      node(id: $id) {
        ... on User {
          memberships { organization { id } }
          identifiers { totalCount edges { node { id organization { id } } } }
          identities { totalCount edges { node { organization { id } } } }
        }
      }
    }`;
    const variables = { id: globalId('User', shared.id) };
    const ownA = globalId('Organization', a.organization.id);
    const fromA = await gql(query, { asUser: a.admin, variables });
    expectNoErrors(fromA);
    expect(fromA.data?.node).toEqual({
      memberships: [{ organization: { id: ownA } }],
      identifiers: { totalCount: 1, edges: [{ node: { id: globalId('Identifier', sharedA.id), organization: { id: ownA } } }] },
      identities: { totalCount: 1, edges: [{ node: { organization: { id: ownA } } }] },
    });

    // A viewer in both organizations who names one in X-Organization-ID sees that one only.
    const both = await aUser();
    await aMember(a.organization.id, both.id);
    await aMember(b.organization.id, both.id);
    const narrowed = await gql(query, { asUser: both, organizationId: a.organization.id, variables });
    expect(narrowed.data?.node).toEqual(fromA.data?.node);
    const wide = await gql(query, { asUser: both, variables });
    expect(wide.data?.node.identifiers.totalCount).toBe(2);
    expect(wide.data?.node.identities.totalCount).toBe(2);
  });

  it("answers mutations aimed at another tenant's ids and natural keys exactly as for ids that do not exist, changing nothing", async () => {
    const { a, b, sharedB, identityB, keyB, memberB } = await twoTenants();
    const snapshot = async () =>
      JSON.stringify({
        identifiers: await prisma.identifier.findMany({ where: { organizationId: b.organization.id }, orderBy: { id: 'asc' } }),
        identities: await prisma.identity.findMany({ where: { organizationId: b.organization.id }, orderBy: { id: 'asc' } }),
        keys: await prisma.apiKey.findMany({ where: { organizationId: b.organization.id }, orderBy: { id: 'asc' } }),
        members: await prisma.member.findMany({ where: { organizationId: b.organization.id }, orderBy: { id: 'asc' } }),
        sources: await prisma.integrationSource.findMany({ where: { organizationId: b.organization.id }, orderBy: { id: 'asc' } }),
      });
    const before = await snapshot();
    const counts = await rowCounts();
    // Each attack, the same mutation aimed at an id that does not exist, and the code
    // both get: NOT_FOUND.
    const attacks: [string, string, Record<string, unknown>, Record<string, unknown>, string?][] = [
      [
        'revokeApiKey',
        `mutation ($input: RevokeApiKeyInput!) { revokeApiKey(input: $input) { ... on Error { code message } } }`,
        { id: globalId('ApiKey', keyB) },
        { id: globalId('ApiKey', NIL) },
      ],
      [
        'updateIdentifier',
        `mutation ($input: UpdateIdentifierInput!) { updateIdentifier(input: $input) { ... on Error { code message } } }`,
        { id: globalId('Identifier', sharedB.id), identifierValue: 'hijacked' },
        { id: globalId('Identifier', NIL), identifierValue: 'hijacked' },
      ],
      [
        'deleteIdentifier',
        `mutation ($input: DeleteIdentifierInput!) { deleteIdentifier(input: $input) { ... on Error { code message } } }`,
        { id: globalId('Identifier', sharedB.id) },
        { id: globalId('Identifier', NIL) },
      ],
      [
        'updateIdentity',
        `mutation ($input: UpdateIdentityInput!) { updateIdentity(input: $input) { ... on Error { code message } } }`,
        { id: globalId('Identity', identityB.id), name: 'hijacked' },
        { id: globalId('Identity', NIL), name: 'hijacked' },
      ],
      [
        'deleteIdentity',
        `mutation ($input: DeleteIdentityInput!) { deleteIdentity(input: $input) { ... on Error { code message } } }`,
        { id: globalId('Identity', identityB.id) },
        { id: globalId('Identity', NIL) },
      ],
      [
        'updateIntegrationSource',
        `mutation ($input: UpdateIntegrationSourceInput!) { updateIntegrationSource(input: $input) { ... on Error { code message } } }`,
        { id: globalId('IntegrationSource', b.source.id), name: 'hijacked' },
        { id: globalId('IntegrationSource', NIL), name: 'hijacked' },
      ],
      [
        'removeMember',
        `mutation ($input: RemoveMemberInput!) { removeMember(input: $input) { ... on Error { code message } } }`,
        { id: globalId('Member', memberB.id) },
        { id: globalId('Member', NIL) },
      ],
      [
        "upsertIdentifier naming the other tenant's source",
        UPSERT,
        { ...upsert(a.organization.id, a.admin.id), sourceId: globalId('IntegrationSource', b.source.id) },
        { ...upsert(a.organization.id, a.admin.id), sourceId: globalId('IntegrationSource', NIL) },
      ],
      [
        "upsertIdentifier for the other tenant's user",
        UPSERT,
        { ...upsert(a.organization.id, b.admin.id), sourceKey: 'salesforce' },
        { ...upsert(a.organization.id, NIL), sourceKey: 'salesforce' },
      ],
    ];
    for (const [label, mutation, input, nowhere, code = 'NOT_FOUND'] of attacks) {
      const result = await gql(mutation, { asUser: a.admin, variables: { input } });
      const control = await gql(mutation, { asUser: a.admin, variables: { input: nowhere } });
      const found = [...codes(result), ...[...JSON.stringify(result.data ?? {}).matchAll(/"code":"(\w+)"/g)].map((m) => m[1])];
      expect(found, `${label}: ${JSON.stringify(result)}`).toEqual([code]);
      expect(strip(result), label).toEqual(strip(control));
    }
    expect(await snapshot()).toBe(before);
    expect(await rowCounts()).toEqual(counts);
  });
});

describe('per-request DataLoaders', () => {
  it('gives every request its own loaders, so nothing one request loaded is served to another', async () => {
    const viewer: Viewer = { kind: 'user', userId: NIL, isSystemAdmin: false, boundOrganizationId: null };
    const first = createContext({ viewer, requestedOrganizationId: null, requestId: '1' });
    const second = createContext({ viewer, requestedOrganizationId: null, requestId: '2' });
    const batch = async (keys: readonly string[]) => keys.map((k) => k);
    expect(first.loader('users', batch)).toBe(first.loader('users', batch));
    expect(first.loader('users', batch)).not.toBe(second.loader('users', batch));
    expect(first.access).not.toBe(second.access);
  });
});

import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { expectErrorCode, expectNoErrors, globalId, gql } from './helpers/app.ts';
import { expectRejectedCredential, rowCounts } from './helpers/auth.ts';
import { aMember, anApiKey, anOrganization, aTenantWithMember, aUser } from './helpers/factories.ts';

// Organization API keys: created by an organization admin with a role, shown once,
// stored as a hash and a display prefix, revocable, with their last use recorded.

const CREATE = `mutation ($input: CreateApiKeyInput!) {
  createApiKey(input: $input) {
    __typename
    ... on CreateApiKeySuccess { secret apiKey { id name role prefix active lastUsedAt revokedAt organization { id } } }
    ... on Error { code message }
    ... on ValidationError { issues { path message } }
  }
}`;

const REVOKE = `mutation ($id: ID!) {
  revokeApiKey(input: { id: $id }) {
    __typename
    ... on RevokeApiKeySuccess { apiKey { id active revokedAt } }
    ... on Error { code }
  }
}`;

const KEYS = `query ($id: ID!, $includeRevoked: Boolean) {
  node(id: $id) {
    ... on Organization {
      apiKeys(includeRevoked: $includeRevoked) { totalCount edges { node { id name prefix active } } }
    }
  }
}`;

/** An organization with an admin, and an API key the admin created through the API. */
async function anOrganizationWithAKey(role: 'ANALYST' | 'ORGANIZATION_ADMIN' = 'ANALYST') {
  const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
  const created = await gql(CREATE, {
    asUser: admin,
    variables: { input: { organizationId: globalId('Organization', organization.id), name: 'discovery job', role } },
  });
  expectNoErrors(created);
  const { secret, apiKey } = created.data!.createApiKey as { secret: string; apiKey: { id: string } };
  return { organization, admin, secret, apiKey };
}

describe('createApiKey', () => {
  it('returns the secret once and stores only its SHA-256 and a display prefix', async () => {
    const { organization, admin, secret, apiKey } = await anOrganizationWithAKey();
    expect(secret).toMatch(/^igk_[A-Za-z0-9_-]{43}$/);
    const row = await prisma.apiKey.findFirstOrThrow();
    expect(row).toMatchObject({
      organizationId: organization.id,
      createdById: admin.id,
      name: 'discovery job',
      role: 'ANALYST',
      prefix: secret.slice(0, 12),
      secretHash: createHash('sha256').update(secret).digest('hex'),
      lastUsedAt: null,
      revokedAt: null,
    });
    expect(JSON.stringify(row)).not.toContain(secret.slice(12));
    // Listed from now on, without the secret.
    const listed = await gql(KEYS, { asUser: admin, variables: { id: globalId('Organization', organization.id) } });
    expect(listed.data?.node.apiKeys).toEqual({
      totalCount: 1,
      edges: [{ node: { id: apiKey.id, name: 'discovery job', prefix: secret.slice(0, 12), active: true } }],
    });
    expect(JSON.stringify(listed)).not.toContain(secret.slice(12));
  });

  it('takes the organization from X-Organization-ID when the input names none', async () => {
    const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const result = await gql(CREATE, { asUser: user, organizationId: organization.id, variables: { input: { name: 'mcp', role: 'ORGANIZATION_ADMIN' } } });
    expect(result.data?.createApiKey.apiKey).toMatchObject({ role: 'ORGANIZATION_ADMIN', organization: { id: globalId('Organization', organization.id) } });
  });

  it('answers BAD_USER_INPUT for a blank name or no organization, and refuses a SYSTEM_ADMIN key, writing nothing', async () => {
    const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const blank = await gql(CREATE, { asUser: user, variables: { input: { organizationId: organization.id, name: '  ' } } });
    expectErrorCode(blank, 'BAD_USER_INPUT');
    expect(blank.data?.createApiKey.issues).toEqual([{ path: 'input.name', message: 'must not be blank' }]);
    const nowhere = await gql(CREATE, { asUser: user, variables: { input: { name: 'x' } } });
    expectErrorCode(nowhere, 'BAD_USER_INPUT');
    // SYSTEM_ADMIN is not an ApiKeyRole: the request is refused before anything runs.
    const systemRole = await gql(CREATE, { asUser: user, variables: { input: { organizationId: organization.id, name: 'x', role: 'SYSTEM_ADMIN' } } });
    expect(systemRole.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(systemRole.data ?? null).toBeNull();
    expect(await prisma.apiKey.count()).toBe(0);
  });

  it('is refused to analysts, pending and suspended admins and non-members (FORBIDDEN), writing nothing', async () => {
    const organization = await anOrganization();
    const variables = { input: { organizationId: organization.id, name: 'x' } };
    const viewers = [
      await aMember(organization.id, (await aUser()).id, { role: 'ANALYST' }),
      await aMember(organization.id, (await aUser()).id, { role: 'ORGANIZATION_ADMIN', state: 'PENDING' }),
      await aMember(organization.id, (await aUser()).id, { role: 'ORGANIZATION_ADMIN', state: 'SUSPENDED' }),
    ].map((m) => m.userId);
    const stranger = await aUser();
    for (const userId of [...viewers, stranger.id]) {
      const user = await prisma.user.findUniqueOrThrow({ where: { id: userId } });
      const result = await gql(CREATE, { asUser: user, variables });
      expect(result.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    }
    // The same answer when the organization does not exist.
    const missing = await gql(CREATE, {
      asUser: stranger,
      variables: { input: { organizationId: '00000000-0000-4000-8000-000000000000', name: 'x' } },
    });
    expect(missing.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    expect(missing.errors?.[0]?.message).toBe((await gql(CREATE, { asUser: stranger, variables })).errors?.[0]?.message);
    expect(await prisma.apiKey.count()).toBe(0);
  });

  it('lets a system admin create keys anywhere, and answers NOT_FOUND for an organization that does not exist', async () => {
    const admin = await aUser({ isSystemAdmin: true });
    const organization = await anOrganization();
    const made = await gql(CREATE, { asUser: admin, variables: { input: { organizationId: organization.id, name: 'ops' } } });
    expect(made.data?.createApiKey.__typename).toBe('CreateApiKeySuccess');
    const missing = await gql(CREATE, {
      asUser: admin,
      variables: { input: { organizationId: '00000000-0000-4000-8000-000000000000', name: 'ops' } },
    });
    expectErrorCode(missing, 'NOT_FOUND');
    expect(await prisma.apiKey.count()).toBe(1);
  });
});

describe('signing in with an API key', () => {
  const MEMBERS = `query ($id: ID!) { node(id: $id) { ... on Organization { slug } } }`;

  it('authenticates as X-API-Key or as a bearer token, acting in its organization, and records the last use', async () => {
    const { organization, secret, apiKey } = await anOrganizationWithAKey();
    const id = globalId('Organization', organization.id);
    const credentials: Record<string, string>[] = [{ 'x-api-key': secret }, { authorization: `Bearer ${secret}` }];
    for (const headers of credentials) {
      const result = await gql(MEMBERS, { headers, variables: { id } });
      expectNoErrors(result);
      expect(result.data?.node).toEqual({ slug: organization.slug });
    }
    const row = await prisma.apiKey.findFirstOrThrow();
    expect(globalId('ApiKey', row.id)).toBe(apiKey.id);
    expect(row.lastUsedAt).toBeInstanceOf(Date);
    expect(Date.now() - row.lastUsedAt!.getTime()).toBeLessThan(60_000);
  });

  it('grants its role and no more: an ANALYST key cannot create keys, an ORGANIZATION_ADMIN key can', async () => {
    const analyst = await anOrganizationWithAKey('ANALYST');
    const refused = await gql(CREATE, { headers: { 'x-api-key': analyst.secret }, variables: { input: { name: 'more' } } });
    expect(refused.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    expect(await prisma.apiKey.count()).toBe(1);

    const admin = await anOrganizationWithAKey('ORGANIZATION_ADMIN');
    const made = await gql(CREATE, { headers: { 'x-api-key': admin.secret }, variables: { input: { name: 'more' } } });
    expect(made.data?.createApiKey.apiKey.organization.id).toBe(globalId('Organization', admin.organization.id));
    expect((await prisma.apiKey.findFirstOrThrow({ where: { name: 'more' } })).createdById).toBeNull();
  });

  it('answers UNAUTHENTICATED for an unknown, malformed or revoked key, the same as for a bad token', async () => {
    const { organization, admin, secret, apiKey } = await anOrganizationWithAKey();
    expectNoErrors(await gql(REVOKE, { asUser: admin, variables: { id: apiKey.id } }));
    await anApiKey(organization.id, createHash('sha256').update('igk_unused').digest('hex'));
    const before = await rowCounts();
    const variables = { input: { organizationId: organization.id, name: 'x' } };
    for (const [label, headers] of [
      ['revoked', { 'x-api-key': secret }],
      ['revoked, as bearer', { authorization: `Bearer ${secret}` }],
      ['unknown', { 'x-api-key': `igk_${'A'.repeat(43)}` }],
      ['too short', { 'x-api-key': 'igk_unused' }],
      ['empty', { 'x-api-key': '' }],
      ['one character changed', { 'x-api-key': `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}` }],
    ] as const) {
      expectRejectedCredential(await gql(CREATE, { headers, variables }), label);
    }
    expect(await rowCounts()).toEqual(before);
  });

  it('answers TENANT_MISMATCH when a key is used for another organization, writing nothing', async () => {
    const { secret } = await anOrganizationWithAKey('ORGANIZATION_ADMIN');
    const other = await anOrganization();
    const before = await rowCounts();
    const byHeader = await gql(CREATE, { headers: { 'x-api-key': secret }, organizationId: other.id, variables: { input: { name: 'x' } } });
    expect(byHeader.errors?.map((e) => e.extensions?.code)).toEqual(['TENANT_MISMATCH']);
    const byArgument = await gql(CREATE, {
      headers: { 'x-api-key': secret },
      variables: { input: { organizationId: globalId('Organization', other.id), name: 'x' } },
    });
    expect(byArgument.errors?.map((e) => e.extensions?.code)).toEqual(['TENANT_MISMATCH']);
    const missing = await gql(CREATE, {
      headers: { 'x-api-key': secret },
      variables: { input: { organizationId: '00000000-0000-4000-8000-000000000000', name: 'x' } },
    });
    expect(missing.errors?.map((e) => e.extensions?.code)).toEqual(['TENANT_MISMATCH']);
    expect(await rowCounts()).toEqual(before);
  });
});

describe('revokeApiKey', () => {
  it('stops the key at once; revoking again changes nothing', async () => {
    const { organization, admin, secret, apiKey } = await anOrganizationWithAKey();
    const id = globalId('Organization', organization.id);
    expectNoErrors(await gql('query ($id: ID!) { node(id: $id) { id } }', { headers: { 'x-api-key': secret }, variables: { id } }));
    const first = await gql(REVOKE, { asUser: admin, variables: { id: apiKey.id } });
    expect(first.data?.revokeApiKey.apiKey).toMatchObject({ id: apiKey.id, active: false });
    const revokedAt = first.data?.revokeApiKey.apiKey.revokedAt;
    expect(revokedAt).toBeTruthy();
    expectRejectedCredential(await gql('query ($id: ID!) { node(id: $id) { id } }', { headers: { 'x-api-key': secret }, variables: { id } }));
    const again = await gql(REVOKE, { asUser: admin, variables: { id: apiKey.id } });
    expect(again.data?.revokeApiKey.apiKey.revokedAt).toBe(revokedAt);
    // Listed only when asked for.
    const active = await gql(KEYS, { asUser: admin, variables: { id } });
    expect(active.data?.node.apiKeys.totalCount).toBe(0);
    const all = await gql(KEYS, { asUser: admin, variables: { id, includeRevoked: true } });
    expect(all.data?.node.apiKeys.edges.map((e: { node: { active: boolean } }) => e.node.active)).toEqual([false]);
  });

  it("answers NOT_FOUND for another tenant's key, exactly as for a key that does not exist, and changes nothing", async () => {
    const victim = await anOrganizationWithAKey();
    const { user: attacker } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const foreign = await gql(REVOKE, { asUser: attacker, variables: { id: victim.apiKey.id } });
    const nothing = await gql(REVOKE, { asUser: attacker, variables: { id: globalId('ApiKey', '00000000-0000-4000-8000-000000000000') } });
    expectErrorCode(foreign, 'NOT_FOUND');
    expect(foreign.data).toEqual(nothing.data);
    expect((await prisma.apiKey.findFirstOrThrow()).revokedAt).toBeNull();
    // Also through another organization's admin key.
    const attackerKey = await anOrganizationWithAKey('ORGANIZATION_ADMIN');
    expectErrorCode(await gql(REVOKE, { headers: { 'x-api-key': attackerKey.secret }, variables: { id: victim.apiKey.id } }), 'NOT_FOUND');
    expect(await prisma.apiKey.count({ where: { revokedAt: { not: null } } })).toBe(0);
  });

  it('is FORBIDDEN to an analyst of the organization, changing nothing', async () => {
    const { organization, apiKey } = await anOrganizationWithAKey();
    const analyst = await aUser();
    await aMember(organization.id, analyst.id, { role: 'ANALYST' });
    expect((await gql(REVOKE, { asUser: analyst, variables: { id: apiKey.id } })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await prisma.apiKey.findFirstOrThrow()).revokedAt).toBeNull();
  });
});

describe('who sees keys', () => {
  it("shows keys to the organization's admins only: analysts get FORBIDDEN on the list and null for a key's id", async () => {
    const { organization, apiKey } = await anOrganizationWithAKey();
    const analyst = await aUser();
    await aMember(organization.id, analyst.id, { role: 'ANALYST' });
    const list = await gql(KEYS, { asUser: analyst, variables: { id: globalId('Organization', organization.id) } });
    expect(list.data?.node).toEqual({ apiKeys: null });
    expectErrorCode(list, 'FORBIDDEN');
    const node = await gql('query ($id: ID!) { node(id: $id) { id } }', { asUser: analyst, variables: { id: apiKey.id } });
    expect(node).toMatchObject({ data: { node: null } });
    expect(node.errors).toBeUndefined();
  });
});

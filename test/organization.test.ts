import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { expectErrorCode, expectNoErrors, globalId, gql } from './helpers/app.ts';
import {
  anApiKey,
  anIdentifier,
  anIdentity,
  aMember,
  anOrganization,
  aSource,
  aTenantWithMember,
  aUser,
} from './helpers/factories.ts';

const CREATE = `mutation ($input: CreateOrganizationInput!) {
  createOrganization(input: $input) {
    __typename
    ... on CreateOrganizationSuccess { organization { id slug name } }
    ... on Error { code message }
    ... on ValidationError { issues { path message } }
    ... on ConflictError { fields }
  }
}`;

describe('createOrganization', () => {
  it('creates the organization and makes the creator its active ORGANIZATION_ADMIN', async () => {
    const user = await aUser();
    const result = await gql(CREATE, { variables: { input: { slug: 'acme', name: ' Acme ' } }, asUser: user });
    expectNoErrors(result);
    expect(result.data?.createOrganization).toMatchObject({
      __typename: 'CreateOrganizationSuccess',
      organization: { slug: 'acme', name: 'Acme' },
    });
    const member = await prisma.member.findFirstOrThrow({ where: { userId: user.id } });
    expect(member).toMatchObject({ role: 'ORGANIZATION_ADMIN', state: 'ACTIVE' });
  });

  it('answers BAD_USER_INPUT naming each invalid field and writes nothing', async () => {
    const user = await aUser();
    const result = await gql(CREATE, { variables: { input: { slug: 'Not A Slug', name: '' } }, asUser: user });
    expectErrorCode(result, 'BAD_USER_INPUT');
    expect(result.data?.createOrganization.issues.map((i: { path: string }) => i.path)).toEqual(['input.slug', 'input.name']);
    expect(await prisma.organization.count()).toBe(0);
  });

  it('answers CONFLICT on a taken slug, also when two requests race for it', async () => {
    const user = await aUser();
    await anOrganization({ slug: 'taken' });
    const taken = await gql(CREATE, { variables: { input: { slug: 'taken', name: 'X' } }, asUser: user });
    expectErrorCode(taken, 'CONFLICT');
    expect(taken.data?.createOrganization.fields).toEqual(['input.slug']);

    const racers = await Promise.all(
      Array.from({ length: 8 }, () => gql(CREATE, { variables: { input: { slug: 'raced', name: 'R' } }, asUser: user })),
    );
    const outcomes = racers.map((r) => r.data?.createOrganization.__typename).sort();
    expect(outcomes).toEqual([...Array(7).fill('ConflictError'), 'CreateOrganizationSuccess']);
    expect(await prisma.organization.count({ where: { slug: 'raced' } })).toBe(1);
  });

  it('answers UNAUTHENTICATED without a credential and writes nothing', async () => {
    const result = await gql(CREATE, { variables: { input: { slug: 'anon', name: 'Anon' } } });
    expectErrorCode(result, 'UNAUTHENTICATED');
    expect(await prisma.organization.count()).toBe(0);
  });
});

const ORGANIZATION = `query ($id: ID, $slug: String) { organization(id: $id, slug: $slug) { id slug name } }`;

describe('organization(id | slug)', () => {
  it('returns the organization by id or by slug to an active member', async () => {
    const { organization, user } = await aTenantWithMember('ANALYST');
    const byId = await gql(ORGANIZATION, { variables: { id: globalId('Organization', organization.id) }, asUser: user });
    expectNoErrors(byId);
    expect(byId.data?.organization).toMatchObject({ slug: organization.slug, name: organization.name });
    const bySlug = await gql(ORGANIZATION, { variables: { slug: organization.slug }, asUser: user });
    expect(bySlug.data?.organization.id).toBe(globalId('Organization', organization.id));
    const byUuid = await gql(ORGANIZATION, { variables: { id: organization.id }, asUser: user });
    expect(byUuid.data?.organization.slug).toBe(organization.slug);
  });

  it('answers FORBIDDEN to a non-member, the same whether or not the organization exists', async () => {
    const organization = await anOrganization();
    const outsider = await aUser();
    const existing = await gql(ORGANIZATION, { variables: { id: globalId('Organization', organization.id) }, asUser: outsider });
    const missing = await gql(ORGANIZATION, { variables: { id: globalId('Organization', randomUUID()) }, asUser: outsider });
    const missingSlug = await gql(ORGANIZATION, { variables: { slug: 'no-such-org' }, asUser: outsider });
    for (const result of [existing, missing, missingSlug]) {
      expectErrorCode(result, 'FORBIDDEN');
      expect(result.data?.organization).toBeNull();
    }
    expect(existing.errors?.[0]?.message).toBe(missing.errors?.[0]?.message);
  });

  it('answers FORBIDDEN to PENDING and SUSPENDED members', async () => {
    const organization = await anOrganization();
    for (const state of ['PENDING', 'SUSPENDED'] as const) {
      const user = await aUser();
      await aMember(organization.id, user.id, { role: 'ORGANIZATION_ADMIN', state });
      expectErrorCode(await gql(ORGANIZATION, { variables: { slug: organization.slug }, asUser: user }), 'FORBIDDEN');
    }
  });

  it('lets a system admin read any organization, and answers null for one that does not exist', async () => {
    const organization = await anOrganization();
    const admin = await aUser({ isSystemAdmin: true });
    const found = await gql(ORGANIZATION, { variables: { slug: organization.slug }, asUser: admin });
    expect(found.data?.organization.slug).toBe(organization.slug);
    const missing = await gql(ORGANIZATION, { variables: { id: randomUUID() }, asUser: admin });
    expectNoErrors(missing);
    expect(missing.data?.organization).toBeNull();
  });

  it('answers BAD_USER_INPUT for neither or both of id and slug, or a malformed one', async () => {
    const { organization, user } = await aTenantWithMember();
    for (const variables of [{}, { id: organization.id, slug: organization.slug }, { id: 'nope' }, { slug: 'Not A Slug' }]) {
      expectErrorCode(await gql(ORGANIZATION, { variables, asUser: user }), 'BAD_USER_INPUT');
    }
    const wrongType = await gql(ORGANIZATION, { variables: { id: globalId('User', user.id) }, asUser: user });
    expectErrorCode(wrongType, 'BAD_USER_INPUT');
  });

  it('answers TENANT_MISMATCH when the request is narrowed to another organization', async () => {
    const { organization, user } = await aTenantWithMember();
    const other = await anOrganization();
    await aMember(other.id, user.id);
    const result = await gql(ORGANIZATION, { variables: { id: organization.id }, asUser: user, organizationId: other.id });
    expectErrorCode(result, 'TENANT_MISMATCH');
  });

  it('answers UNAUTHENTICATED without a credential', async () => {
    const organization = await anOrganization();
    expectErrorCode(await gql(ORGANIZATION, { variables: { slug: organization.slug } }), 'UNAUTHENTICATED');
  });

  it('answers node(id) with null for an organization the viewer may not read', async () => {
    const organization = await anOrganization();
    const outsider = await aUser();
    const result = await gql(`query ($id: ID!) { node(id: $id) { id } }`, {
      variables: { id: globalId('Organization', organization.id) },
      asUser: outsider,
    });
    expectNoErrors(result);
    expect(result.data?.node).toBeNull();
  });
});

const ORGANIZATIONS = `query ($first: Int, $after: String) {
  organizations(first: $first, after: $after) { totalCount edges { cursor node { slug } } pageInfo { hasNextPage endCursor } }
}`;

describe('organizations', () => {
  it('lists the organizations the viewer is an active member of, oldest first, with totalCount', async () => {
    const user = await aUser();
    const mine = [];
    for (let i = 0; i < 3; i++) {
      const organization = await anOrganization({ slug: `mine-${i}` });
      // Later creation times than the ones before, so the expected order does not hang on the clock.
      await prisma.organization.update({ where: { id: organization.id }, data: { createdAt: new Date(Date.UTC(2030, 0, 1 + i)) } });
      await aMember(organization.id, user.id);
      mine.push(organization);
    }
    const pending = await anOrganization({ slug: 'pending' });
    await aMember(pending.id, user.id, { state: 'PENDING' });
    await anOrganization({ slug: 'not-mine' });

    const first = await gql(ORGANIZATIONS, { variables: { first: 2 }, asUser: user });
    expectNoErrors(first);
    expect(first.data?.organizations.totalCount).toBe(3);
    expect(first.data?.organizations.edges.map((e: any) => e.node.slug)).toEqual(['mine-0', 'mine-1']);
    expect(first.data?.organizations.pageInfo.hasNextPage).toBe(true);
    const next = await gql(ORGANIZATIONS, {
      variables: { first: 2, after: first.data?.organizations.pageInfo.endCursor },
      asUser: user,
    });
    expect(next.data?.organizations.edges.map((e: any) => e.node.slug)).toEqual(['mine-2']);
    expect(next.data?.organizations.pageInfo.hasNextPage).toBe(false);
  });

  it('lists every organization to a system admin', async () => {
    await anOrganization();
    await anOrganization();
    const admin = await aUser({ isSystemAdmin: true });
    const result = await gql(ORGANIZATIONS, { asUser: admin });
    expect(result.data?.organizations.totalCount).toBe(2);
  });

  it('answers UNAUTHENTICATED without a credential', async () => {
    expectErrorCode(await gql(ORGANIZATIONS), 'UNAUTHENTICATED');
  });
});

const UPDATE = `mutation ($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) {
    __typename
    ... on UpdateOrganizationSuccess { organization { id slug name } }
    ... on Error { code message }
    ... on ValidationError { issues { path message } }
    ... on ConflictError { fields }
  }
}`;

describe('updateOrganization', () => {
  it('changes only the fields given', async () => {
    const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const renamed = await gql(UPDATE, { variables: { input: { id: globalId('Organization', organization.id), name: ' New name ' } }, asUser: user });
    expectNoErrors(renamed);
    expect(renamed.data?.updateOrganization.organization).toMatchObject({ slug: organization.slug, name: 'New name' });
    const reslugged = await gql(UPDATE, { variables: { input: { id: organization.id, slug: 'new-slug' } }, asUser: user });
    expect(reslugged.data?.updateOrganization.organization).toMatchObject({ slug: 'new-slug', name: 'New name' });
  });

  it('answers BAD_USER_INPUT naming each invalid field and writes nothing', async () => {
    const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const cases: [Record<string, unknown>, string[]][] = [
      [{ slug: 'Bad Slug', name: ' ' }, ['input.slug', 'input.name']],
      [{ slug: null, name: null }, ['input.slug', 'input.name']],
      [{ name: 'x'.repeat(201) }, ['input.name']],
      [{ slug: 'x'.repeat(64) }, ['input.slug']],
    ];
    for (const [fields, paths] of cases) {
      const result = await gql(UPDATE, { variables: { input: { id: organization.id, ...fields } }, asUser: user });
      expectErrorCode(result, 'BAD_USER_INPUT');
      expect(result.data?.updateOrganization.issues.map((i: { path: string }) => i.path)).toEqual(paths);
    }
    const badId = await gql(UPDATE, { variables: { input: { id: 'not-an-id', name: 'X' } }, asUser: user });
    expect(badId.data?.updateOrganization.issues).toEqual([{ path: 'input.id', message: 'must be the id of a Organization' }]);
    expect(await prisma.organization.findUniqueOrThrow({ where: { id: organization.id } })).toMatchObject({
      slug: organization.slug,
      name: organization.name,
    });
  });

  it('answers CONFLICT on a taken slug, also when two requests race for it', async () => {
    const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
    await anOrganization({ slug: 'taken' });
    const taken = await gql(UPDATE, { variables: { input: { id: organization.id, slug: 'taken' } }, asUser: user });
    expectErrorCode(taken, 'CONFLICT');
    expect(taken.data?.updateOrganization.fields).toEqual(['input.slug']);

    const second = await anOrganization();
    await aMember(second.id, user.id, { role: 'ORGANIZATION_ADMIN' });
    const racers = await Promise.all(
      [organization, second].map((o) => gql(UPDATE, { variables: { input: { id: o.id, slug: 'raced' } }, asUser: user })),
    );
    expect(racers.map((r) => r.data?.updateOrganization.__typename).sort()).toEqual(['ConflictError', 'UpdateOrganizationSuccess']);
    expect(await prisma.organization.count({ where: { slug: 'raced' } })).toBe(1);
  });

  it('answers FORBIDDEN to an ANALYST and to a non-member, whether or not the organization exists, and writes nothing', async () => {
    const { organization, user: analyst } = await aTenantWithMember('ANALYST');
    const outsider = await aUser();
    for (const [user, id] of [
      [analyst, organization.id],
      [outsider, organization.id],
      [outsider, randomUUID()],
    ] as const) {
      expectErrorCode(await gql(UPDATE, { variables: { input: { id, name: 'Hacked' } }, asUser: user }), 'FORBIDDEN');
    }
    expect((await prisma.organization.findUniqueOrThrow({ where: { id: organization.id } })).name).toBe(organization.name);
  });

  it('answers NOT_FOUND to a system admin for an organization that does not exist', async () => {
    const admin = await aUser({ isSystemAdmin: true });
    const result = await gql(UPDATE, { variables: { input: { id: randomUUID(), name: 'X' } }, asUser: admin });
    expectErrorCode(result, 'NOT_FOUND');
  });

  it('answers TENANT_MISMATCH when the request is narrowed to another organization', async () => {
    const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const other = await anOrganization();
    await aMember(other.id, user.id, { role: 'ORGANIZATION_ADMIN' });
    const result = await gql(UPDATE, { variables: { input: { id: organization.id, name: 'X' } }, asUser: user, organizationId: other.id });
    expectErrorCode(result, 'TENANT_MISMATCH');
    expect((await prisma.organization.findUniqueOrThrow({ where: { id: organization.id } })).name).toBe(organization.name);
  });

  it('answers UNAUTHENTICATED without a credential', async () => {
    const organization = await anOrganization();
    expectErrorCode(await gql(UPDATE, { variables: { input: { id: organization.id, name: 'X' } } }), 'UNAUTHENTICATED');
  });
});

const DELETE = `mutation ($input: DeleteOrganizationInput!) {
  deleteOrganization(input: $input) {
    __typename
    ... on DeleteOrganizationSuccess { deletedId }
    ... on Error { code message }
    ... on ValidationError { issues { path message } }
  }
}`;

describe('deleteOrganization', () => {
  it('removes the organization and all its tenant data, and nothing of another organization', async () => {
    const admin = await aUser({ isSystemAdmin: true });
    const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const source = await aSource(organization.id);
    const provider = await aSource(organization.id, { kind: 'IDENTITY_PROVIDER' });
    await anIdentifier(organization.id, user.id, source.id);
    const identity = await anIdentity(organization.id, { userId: user.id });
    await prisma.identity.update({ where: { id: identity.id }, data: { sourceId: provider.id, externalId: 'ext-1' } });
    await prisma.identityProperty.create({
      data: { organizationId: organization.id, identityId: identity.id, key: 'team', type: 'STRING', value: 'blue' },
    });
    await anApiKey(organization.id, 'a'.repeat(64));
    const kept = await aTenantWithMember();
    await anIdentifier(kept.organization.id, kept.user.id, (await aSource(kept.organization.id)).id);

    const result = await gql(DELETE, { variables: { input: { id: globalId('Organization', organization.id) } }, asUser: admin });
    expectNoErrors(result);
    expect(result.data?.deleteOrganization).toEqual({
      __typename: 'DeleteOrganizationSuccess',
      deletedId: globalId('Organization', organization.id),
    });
    const where = { organizationId: organization.id };
    expect(await prisma.organization.count({ where: { id: organization.id } })).toBe(0);
    const left = await Promise.all([
      prisma.member.count({ where }),
      prisma.integrationSource.count({ where }),
      prisma.identifier.count({ where }),
      prisma.identity.count({ where }),
      prisma.identityProperty.count({ where }),
      prisma.apiKey.count({ where }),
    ]);
    expect(left).toEqual([0, 0, 0, 0, 0, 0]);
    expect(await prisma.user.count({ where: { id: user.id } })).toBe(1);
    expect(await prisma.identifier.count({ where: { organizationId: kept.organization.id } })).toBe(1);
  });

  it('answers FORBIDDEN to the organization\'s own ORGANIZATION_ADMIN and writes nothing', async () => {
    const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
    expectErrorCode(await gql(DELETE, { variables: { input: { id: organization.id } }, asUser: user }), 'FORBIDDEN');
    expect(await prisma.organization.count()).toBe(1);
  });

  it('answers NOT_FOUND to a system admin for an organization that does not exist', async () => {
    const admin = await aUser({ isSystemAdmin: true });
    expectErrorCode(await gql(DELETE, { variables: { input: { id: randomUUID() } }, asUser: admin }), 'NOT_FOUND');
  });

  it('answers BAD_USER_INPUT for a malformed id', async () => {
    const admin = await aUser({ isSystemAdmin: true });
    const result = await gql(DELETE, { variables: { input: { id: 'nope' } }, asUser: admin });
    expectErrorCode(result, 'BAD_USER_INPUT');
    expect(result.data?.deleteOrganization.issues[0].path).toBe('input.id');
  });

  it('answers TENANT_MISMATCH to a system admin whose request is narrowed to another organization', async () => {
    const admin = await aUser({ isSystemAdmin: true });
    const organization = await anOrganization();
    const other = await anOrganization();
    const result = await gql(DELETE, { variables: { input: { id: organization.id } }, asUser: admin, organizationId: other.id });
    expectErrorCode(result, 'TENANT_MISMATCH');
    expect(await prisma.organization.count()).toBe(2);
  });

  it('answers UNAUTHENTICATED without a credential', async () => {
    const organization = await anOrganization();
    expectErrorCode(await gql(DELETE, { variables: { input: { id: organization.id } } }), 'UNAUTHENTICATED');
    expect(await prisma.organization.count()).toBe(1);
  });
});

describe('nodes(ids)', () => {
  it('resolves organizations, users, members and sources in order, with null for what the viewer may not see', async () => {
    const { organization, user, member } = await aTenantWithMember('ANALYST');
    const source = await aSource(organization.id);
    const foreign = await aTenantWithMember();
    const foreignSource = await aSource(foreign.organization.id);
    const ids = [
      globalId('Organization', organization.id),
      globalId('User', user.id),
      globalId('Member', member.id),
      globalId('IntegrationSource', source.id),
      globalId('Organization', foreign.organization.id),
      globalId('User', foreign.user.id),
      globalId('Member', foreign.member.id),
      globalId('IntegrationSource', foreignSource.id),
    ];
    const result = await gql(`query ($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }`, { variables: { ids }, asUser: user });
    expectNoErrors(result);
    expect(result.data?.nodes).toEqual([
      { __typename: 'Organization', id: ids[0] },
      { __typename: 'User', id: ids[1] },
      { __typename: 'Member', id: ids[2] },
      { __typename: 'IntegrationSource', id: ids[3] },
      null,
      null,
      null,
      null,
    ]);
  });
});

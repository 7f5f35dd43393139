import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { expectErrorCode, expectNoErrors, globalId, gql } from './helpers/app.ts';
import { anIdentifier, anIdentity, aMember, anOrganization, aSource, aTenantWithMember, aUser } from './helpers/factories.ts';

const SOURCES = `query ($id: ID!, $kind: SourceKind, $first: Int, $after: String) {
  organization(id: $id) {
    sources(kind: $kind, first: $first, after: $after) {
      totalCount
      edges { node { id kind key name organization { id } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;

const keys = (result: { data?: any }) => result.data?.organization.sources.edges.map((e: any) => e.node.key);

/** Sources created with increasing creation times, so their order is known. */
async function sourcesIn(organizationId: string, specs: { key: string; kind?: 'INTEGRATION' | 'IDENTITY_PROVIDER' }[]) {
  for (const [i, spec] of specs.entries()) {
    const source = await aSource(organizationId, spec);
    await prisma.integrationSource.update({ where: { id: source.id }, data: { createdAt: new Date(Date.UTC(2030, 0, 1 + i)) } });
  }
}

describe('Organization.sources', () => {
  it('lists integration sources and identity providers oldest first, filtered by kind, with totalCount', async () => {
    const { organization, user } = await aTenantWithMember('ANALYST');
    await sourcesIn(organization.id, [{ key: 'salesforce' }, { key: 'okta', kind: 'IDENTITY_PROVIDER' }, { key: 'slack' }]);
    await aSource((await anOrganization()).id, { key: 'elsewhere' });

    const all = await gql(SOURCES, { variables: { id: organization.id }, asUser: user });
    expectNoErrors(all);
    expect(keys(all)).toEqual(['salesforce', 'okta', 'slack']);
    expect(all.data?.organization.sources.totalCount).toBe(3);
    const providers = await gql(SOURCES, { variables: { id: organization.id, kind: 'IDENTITY_PROVIDER' }, asUser: user });
    expect(keys(providers)).toEqual(['okta']);
    expect(providers.data?.organization.sources.totalCount).toBe(1);
    const page = await gql(SOURCES, { variables: { id: organization.id, kind: 'INTEGRATION', first: 1 }, asUser: user });
    const next = await gql(SOURCES, {
      variables: { id: organization.id, kind: 'INTEGRATION', first: 1, after: page.data?.organization.sources.pageInfo.endCursor },
      asUser: user,
    });
    expect([...keys(page), ...keys(next)]).toEqual(['salesforce', 'slack']);
  });

  it('answers FORBIDDEN to an outsider, the same whether or not the organization exists', async () => {
    const organization = await anOrganization();
    await aSource(organization.id);
    const outsider = await aUser();
    for (const id of [organization.id, randomUUID()]) {
      expectErrorCode(await gql(SOURCES, { variables: { id }, asUser: outsider }), 'FORBIDDEN');
    }
  });
});

describe('node(id) for an IntegrationSource', () => {
  it('resolves for readers of its organization and is null for anyone else', async () => {
    const { organization, user } = await aTenantWithMember('ANALYST');
    const source = await aSource(organization.id, { key: 'hubspot' });
    const query = `query ($id: ID!) { node(id: $id) { ... on IntegrationSource { key kind } } }`;
    const variables = { id: globalId('IntegrationSource', source.id) };
    expect((await gql(query, { variables, asUser: user })).data?.node).toEqual({ key: 'hubspot', kind: 'INTEGRATION' });
    const pending = await aUser();
    await aMember(organization.id, pending.id, { state: 'PENDING' });
    for (const viewer of [await aUser(), pending]) {
      const hidden = await gql(query, { variables, asUser: viewer });
      expectNoErrors(hidden);
      expect(hidden.data?.node).toBeNull();
    }
  });
});

const CREATE = `mutation ($input: CreateIntegrationSourceInput!) {
  createIntegrationSource(input: $input) {
    __typename
    ... on CreateIntegrationSourceSuccess { source { id kind key name organization { id } } }
    ... on Error { code message }
    ... on ValidationError { issues { path message } }
    ... on ConflictError { fields }
  }
}`;

describe('createIntegrationSource', () => {
  it('creates the source in the organization X-Organization-ID names when the input names none', async () => {
    const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const result = await gql(CREATE, { variables: { input: { kind: 'INTEGRATION', key: 'hubspot', name: 'HubSpot' } }, asUser: user, organizationId: organization.id });
    expectNoErrors(result);
    expect(result.data?.createIntegrationSource.source).toMatchObject({ key: 'hubspot', organization: { id: globalId('Organization', organization.id) } });
    const neither = await gql(CREATE, { variables: { input: { kind: 'INTEGRATION', key: 'zendesk', name: 'Zendesk' } }, asUser: user });
    expect(neither.data?.createIntegrationSource).toMatchObject({ code: 'BAD_USER_INPUT', issues: [expect.objectContaining({ path: 'input.organizationId' })] });
  });

  it('creates an integration or an identity provider', async () => {
    const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const result = await gql(CREATE, {
      variables: { input: { organizationId: globalId('Organization', organization.id), kind: 'IDENTITY_PROVIDER', key: 'okta', name: ' Okta ' } },
      asUser: user,
    });
    expectNoErrors(result);
    expect(result.data?.createIntegrationSource.source).toMatchObject({
      kind: 'IDENTITY_PROVIDER',
      key: 'okta',
      name: 'Okta',
      organization: { id: globalId('Organization', organization.id) },
    });
  });

  it('answers BAD_USER_INPUT naming each invalid field and writes nothing', async () => {
    const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const cases: [Record<string, unknown>, string[]][] = [
      [{ organizationId: organization.id, key: 'Sales Force', name: '' }, ['input.key', 'input.name']],
      [{ organizationId: organization.id, key: 'k'.repeat(64), name: 'x'.repeat(201) }, ['input.key', 'input.name']],
      [{ organizationId: organization.id, key: '-leading', name: 'X' }, ['input.key']],
      [{ organizationId: 'nope', key: 'ok', name: 'X' }, ['input.organizationId']],
    ];
    for (const [fields, paths] of cases) {
      const result = await gql(CREATE, { variables: { input: { kind: 'INTEGRATION', ...fields } }, asUser: user });
      expectErrorCode(result, 'BAD_USER_INPUT');
      expect(result.data?.createIntegrationSource.issues.map((i: { path: string }) => i.path)).toEqual(paths);
    }
    expect(await prisma.integrationSource.count()).toBe(0);
  });

  it('answers CONFLICT on a key the organization already has, also when two requests race; another organization may reuse it', async () => {
    const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
    await aSource(organization.id, { key: 'salesforce' });
    const input = { organizationId: organization.id, kind: 'INTEGRATION', key: 'salesforce', name: 'SF' };
    const taken = await gql(CREATE, { variables: { input }, asUser: user });
    expectErrorCode(taken, 'CONFLICT');
    expect(taken.data?.createIntegrationSource.fields).toEqual(['input.key']);

    const racers = await Promise.all(
      Array.from({ length: 5 }, () => gql(CREATE, { variables: { input: { ...input, key: 'raced' } }, asUser: user })),
    );
    expect(racers.map((r) => r.data?.createIntegrationSource.__typename).sort()).toEqual([
      ...Array(4).fill('ConflictError'),
      'CreateIntegrationSourceSuccess',
    ]);
    expect(await prisma.integrationSource.count({ where: { key: 'raced' } })).toBe(1);

    const other = await anOrganization();
    await aMember(other.id, user.id, { role: 'ORGANIZATION_ADMIN' });
    const reused = await gql(CREATE, { variables: { input: { ...input, organizationId: other.id } }, asUser: user });
    expect(reused.data?.createIntegrationSource.__typename).toBe('CreateIntegrationSourceSuccess');
  });

  it('answers FORBIDDEN to an ANALYST and to a non-member, whether or not the organization exists, and writes nothing', async () => {
    const { organization, user: analyst } = await aTenantWithMember('ANALYST');
    const outsider = await aUser();
    for (const [user, organizationId] of [
      [analyst, organization.id],
      [outsider, organization.id],
      [outsider, randomUUID()],
    ] as const) {
      const result = await gql(CREATE, { variables: { input: { organizationId, kind: 'INTEGRATION', key: 'k', name: 'K' } }, asUser: user });
      expectErrorCode(result, 'FORBIDDEN');
    }
    expect(await prisma.integrationSource.count()).toBe(0);
  });

  it('answers NOT_FOUND to a system admin for an organization that does not exist', async () => {
    const admin = await aUser({ isSystemAdmin: true });
    const result = await gql(CREATE, { variables: { input: { organizationId: randomUUID(), kind: 'INTEGRATION', key: 'k', name: 'K' } }, asUser: admin });
    expectErrorCode(result, 'NOT_FOUND');
  });

  it('answers TENANT_MISMATCH when the request is narrowed to another organization', async () => {
    const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const other = await anOrganization();
    await aMember(other.id, user.id, { role: 'ORGANIZATION_ADMIN' });
    const result = await gql(CREATE, {
      variables: { input: { organizationId: organization.id, kind: 'INTEGRATION', key: 'k', name: 'K' } },
      asUser: user,
      organizationId: other.id,
    });
    expectErrorCode(result, 'TENANT_MISMATCH');
    expect(await prisma.integrationSource.count()).toBe(0);
  });

  it('answers UNAUTHENTICATED without a credential', async () => {
    const organization = await anOrganization();
    const result = await gql(CREATE, { variables: { input: { organizationId: organization.id, kind: 'INTEGRATION', key: 'k', name: 'K' } } });
    expectErrorCode(result, 'UNAUTHENTICATED');
  });
});

const UPDATE = `mutation ($input: UpdateIntegrationSourceInput!) {
  updateIntegrationSource(input: $input) {
    __typename
    ... on UpdateIntegrationSourceSuccess { source { id kind key name } }
    ... on Error { code message }
    ... on ValidationError { issues { path message } }
    ... on ConflictError { fields }
  }
}`;

describe('updateIntegrationSource', () => {
  it('changes only the fields given', async () => {
    const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const source = await aSource(organization.id, { key: 'sf', name: 'SF' });
    const id = globalId('IntegrationSource', source.id);
    const renamed = await gql(UPDATE, { variables: { input: { id, name: 'Salesforce' } }, asUser: user });
    expectNoErrors(renamed);
    expect(renamed.data?.updateIntegrationSource.source).toEqual({ id, kind: 'INTEGRATION', key: 'sf', name: 'Salesforce' });
    const rekeyed = await gql(UPDATE, { variables: { input: { id, key: 'salesforce' } }, asUser: user });
    expect(rekeyed.data?.updateIntegrationSource.source).toEqual({ id, kind: 'INTEGRATION', key: 'salesforce', name: 'Salesforce' });
  });

  it('answers BAD_USER_INPUT naming each invalid field and writes nothing', async () => {
    const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const source = await aSource(organization.id);
    const cases: [Record<string, unknown>, string[]][] = [
      [{ key: null, name: null }, ['input.key', 'input.name']],
      [{ key: 'Bad Key', name: ' ' }, ['input.key', 'input.name']],
      [{ id: 'nope', name: 'X' }, ['input.id']],
    ];
    for (const [fields, paths] of cases) {
      const result = await gql(UPDATE, { variables: { input: { id: source.id, ...fields } }, asUser: user });
      expectErrorCode(result, 'BAD_USER_INPUT');
      expect(result.data?.updateIntegrationSource.issues.map((i: { path: string }) => i.path)).toEqual(paths);
    }
    expect(await prisma.integrationSource.findUniqueOrThrow({ where: { id: source.id } })).toEqual(source);
  });

  it('answers CONFLICT on a key another source of the organization has', async () => {
    const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
    await aSource(organization.id, { key: 'taken' });
    const source = await aSource(organization.id, { key: 'mine' });
    const result = await gql(UPDATE, { variables: { input: { id: source.id, key: 'taken' } }, asUser: user });
    expectErrorCode(result, 'CONFLICT');
    expect(result.data?.updateIntegrationSource.fields).toEqual(['input.key']);
    expect((await prisma.integrationSource.findUniqueOrThrow({ where: { id: source.id } })).key).toBe('mine');
  });

  it('answers FORBIDDEN to an ANALYST of the organization, and NOT_FOUND to another organization\'s admin exactly as for a source that does not exist', async () => {
    const { organization, user: analyst } = await aTenantWithMember('ANALYST');
    const source = await aSource(organization.id, { name: 'Original' });
    const { user: otherAdmin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    for (const [user, id, code] of [
      [analyst, source.id, 'FORBIDDEN'],
      [otherAdmin, source.id, 'NOT_FOUND'],
      [otherAdmin, randomUUID(), 'NOT_FOUND'],
    ] as const) {
      expectErrorCode(await gql(UPDATE, { variables: { input: { id, name: 'Changed' } }, asUser: user }), code);
    }
    expect((await prisma.integrationSource.findUniqueOrThrow({ where: { id: source.id } })).name).toBe('Original');
  });

  it('answers NOT_FOUND to a system admin for a source that does not exist', async () => {
    const admin = await aUser({ isSystemAdmin: true });
    expectErrorCode(await gql(UPDATE, { variables: { input: { id: randomUUID(), name: 'X' } }, asUser: admin }), 'NOT_FOUND');
  });

  it('answers UNAUTHENTICATED without a credential', async () => {
    const source = await aSource((await anOrganization()).id);
    expectErrorCode(await gql(UPDATE, { variables: { input: { id: source.id, name: 'X' } } }), 'UNAUTHENTICATED');
  });
});

const DELETE = `mutation ($input: DeleteIntegrationSourceInput!) {
  deleteIntegrationSource(input: $input) {
    __typename
    ... on DeleteIntegrationSourceSuccess { deletedId }
    ... on Error { code message }
    ... on ValidationError { issues { path message } }
    ... on InUseError { entity references { entity count } }
  }
}`;

/** A source used by two identifiers and one identity. */
async function aUsedSource() {
  const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
  const source = await aSource(organization.id, { kind: 'IDENTITY_PROVIDER' });
  await anIdentifier(organization.id, user.id, source.id, { identifierKey: 'subject' });
  await anIdentifier(organization.id, user.id, source.id, { identifierKey: 'login' });
  const identity = await anIdentity(organization.id);
  await prisma.identity.update({ where: { id: identity.id }, data: { sourceId: source.id, externalId: 'ext-1' } });
  const unrelated = await anIdentity(organization.id);
  return { organization, user, source, unrelated };
}

describe('deleteIntegrationSource', () => {
  it('deletes a source nothing uses', async () => {
    const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const source = await aSource(organization.id);
    const result = await gql(DELETE, { variables: { input: { id: globalId('IntegrationSource', source.id) } }, asUser: user });
    expectNoErrors(result);
    expect(result.data?.deleteIntegrationSource).toEqual({
      __typename: 'DeleteIntegrationSourceSuccess',
      deletedId: globalId('IntegrationSource', source.id),
    });
    expect(await prisma.integrationSource.count()).toBe(0);
  });

  it('refuses with CONFLICT while identifiers or identities use the source, saying how many, and deletes nothing', async () => {
    const { user, source } = await aUsedSource();
    const result = await gql(DELETE, { variables: { input: { id: source.id } }, asUser: user });
    expectErrorCode(result, 'CONFLICT');
    expect(result.data?.deleteIntegrationSource).toMatchObject({
      __typename: 'InUseError',
      entity: 'IntegrationSource',
      references: [
        { entity: 'Identifier', count: 2 },
        { entity: 'Identity', count: 1 },
      ],
    });
    expect(await prisma.integrationSource.count()).toBe(1);
    expect(await prisma.identifier.count()).toBe(2);
    expect(await prisma.identity.count()).toBe(2);
  });

  it('with cascade, deletes the source with the identifiers and identities that use it, and nothing else', async () => {
    const { user, source, unrelated } = await aUsedSource();
    const result = await gql(DELETE, { variables: { input: { id: source.id, cascade: true } }, asUser: user });
    expectNoErrors(result);
    expect(result.data?.deleteIntegrationSource.__typename).toBe('DeleteIntegrationSourceSuccess');
    expect(await prisma.integrationSource.count()).toBe(0);
    expect(await prisma.identifier.count()).toBe(0);
    expect(await prisma.identity.findMany({ select: { id: true } })).toEqual([{ id: unrelated.id }]);
  });

  it('answers FORBIDDEN to an ANALYST of the organization, and NOT_FOUND to another organization\'s admin exactly as for a source that does not exist', async () => {
    const { organization, user: analyst } = await aTenantWithMember('ANALYST');
    const source = await aSource(organization.id);
    const { user: otherAdmin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    for (const [user, id, code] of [
      [analyst, source.id, 'FORBIDDEN'],
      [otherAdmin, source.id, 'NOT_FOUND'],
      [otherAdmin, randomUUID(), 'NOT_FOUND'],
    ] as const) {
      expectErrorCode(await gql(DELETE, { variables: { input: { id, cascade: true } }, asUser: user }), code);
    }
    expect(await prisma.integrationSource.count()).toBe(1);
  });

  it('answers NOT_FOUND to a system admin and BAD_USER_INPUT for a malformed id', async () => {
    const admin = await aUser({ isSystemAdmin: true });
    expectErrorCode(await gql(DELETE, { variables: { input: { id: randomUUID() } }, asUser: admin }), 'NOT_FOUND');
    const bad = await gql(DELETE, { variables: { input: { id: 'nope' } }, asUser: admin });
    expectErrorCode(bad, 'BAD_USER_INPUT');
    expect(bad.data?.deleteIntegrationSource.issues[0].path).toBe('input.id');
  });

  it('answers UNAUTHENTICATED without a credential', async () => {
    const source = await aSource((await anOrganization()).id);
    expectErrorCode(await gql(DELETE, { variables: { input: { id: source.id } } }), 'UNAUTHENTICATED');
    expect(await prisma.integrationSource.count()).toBe(1);
  });
});

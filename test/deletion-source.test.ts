import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { expectErrorCode, globalId, gql } from './helpers/app.ts';
import { aMember, anIdentifier, anIdentity, aSource, aTenantWithMember, aUser } from './helpers/factories.ts';

const DELETE = `mutation ($input: DeleteIntegrationSourceInput!) {
  deleteIntegrationSource(input: $input) { __typename ... on Error { code message } }
}`;
const RESTORE = `mutation ($id: ID!) {
  restoreIntegrationSource(input: { id: $id }) {
    __typename
    ... on RestoreIntegrationSourceSuccess { source { id key identifiers(first: 10) { totalCount } } }
    ... on Error { code message }
    ... on RestoreBlockedError { fields holderId missing }
  }
}`;
const CREATE = `mutation ($input: CreateIntegrationSourceInput!) {
  createIntegrationSource(input: $input) { __typename ... on CreateIntegrationSourceSuccess { source { id } } ... on Error { code } }
}`;
const ITEMS = `query ($id: ID!) { organization(id: $id) { deletedItems(first: 10) { totalCount edges { node { entityType entityId label reason } } } } }`;

async function world() {
  const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
  const source = await aSource(organization.id, { key: 'crm', name: 'CRM' });
  const person = await aUser();
  await aMember(organization.id, person.id);
  const identifier = await anIdentifier(organization.id, person.id, source.id, { identifierKey: 'owner_id', identifierValue: 'x-1' });
  const identity = await anIdentity(organization.id, { name: 'At CRM', sourceId: source.id, externalId: 'crm-1', userId: person.id });
  await prisma.identityProperty.create({ data: { organizationId: organization.id, identityId: identity.id, key: 'tier', type: 'STRING', value: 'gold' } });
  const as = { asUser: admin, organizationId: organization.id };
  return { organization, admin, source, person, identifier, identity, as, id: globalId('IntegrationSource', source.id), orgId: globalId('Organization', organization.id) };
}

const snapshot = async (organizationId: string) => ({
  sources: await prisma.$queryRawUnsafe<object[]>('SELECT * FROM integration_sources WHERE organization_id = $1::uuid ORDER BY id', organizationId),
  identifiers: await prisma.$queryRawUnsafe<object[]>('SELECT * FROM identifiers WHERE organization_id = $1::uuid ORDER BY id', organizationId),
  identities: await prisma.$queryRawUnsafe<object[]>('SELECT * FROM identities WHERE organization_id = $1::uuid ORDER BY id', organizationId),
  properties: await prisma.$queryRawUnsafe<object[]>('SELECT * FROM identity_properties WHERE organization_id = $1::uuid ORDER BY id', organizationId),
});

describe('deleting and restoring an integration source', () => {
  it('keeps what a cascade deleted with it, and a restore brings all of it back as it was', async () => {
    const w = await world();
    const before = await snapshot(w.organization.id);
    expectErrorCode(await gql(DELETE, { variables: { input: { id: w.id } }, ...w.as }), 'CONFLICT');
    const deleted = await gql(DELETE, { variables: { input: { id: w.id, cascade: true, reason: 'contract ended' } }, ...w.as });
    expect(deleted.data?.deleteIntegrationSource.__typename).toBe('DeleteIntegrationSourceSuccess');
    expect(await snapshot(w.organization.id)).toEqual({ sources: [], identifiers: [], identities: [], properties: [] });
    const items = await gql(ITEMS, { variables: { id: w.orgId }, ...w.as });
    expect(items.data?.organization.deletedItems).toEqual({
      totalCount: 1,
      edges: [{ node: { entityType: 'IntegrationSource', entityId: w.id, label: 'crm (CRM)', reason: 'contract ended' } }],
    });

    const restored = await gql(RESTORE, { variables: { id: w.id }, ...w.as });
    expect(restored.data?.restoreIntegrationSource).toMatchObject({
      __typename: 'RestoreIntegrationSourceSuccess',
      source: { id: w.id, key: 'crm', identifiers: { totalCount: 1 } },
    });
    expect(await snapshot(w.organization.id)).toEqual(before);
  });

  it('lets its key be used again; restoring it then answers CONFLICT naming the new source; an identity deleted before it waits for it', async () => {
    const w = await world();
    await gql(`mutation ($id: ID!) { deleteIdentity(input: { id: $id }) { __typename } }`, { variables: { id: globalId('Identity', w.identity.id) }, ...w.as });
    await gql(DELETE, { variables: { input: { id: w.id, cascade: true } }, ...w.as });
    const blockedIdentity = await gql(`mutation ($id: ID!) { restoreIdentity(input: { id: $id }) { __typename ... on RestoreBlockedError { code missing } } }`, {
      variables: { id: globalId('Identity', w.identity.id) },
      ...w.as,
    });
    expect(blockedIdentity.data?.restoreIdentity).toEqual({ __typename: 'RestoreBlockedError', code: 'CONFLICT', missing: 'IntegrationSource' });

    const created = await gql(CREATE, { variables: { input: { key: 'crm', name: 'New CRM', kind: 'INTEGRATION' } }, ...w.as });
    const holder = created.data?.createIntegrationSource.source.id;
    expect(holder).toBeTruthy();
    const blocked = await gql(RESTORE, { variables: { id: w.id }, ...w.as });
    expect(blocked.data?.restoreIntegrationSource).toMatchObject({ __typename: 'RestoreBlockedError', code: 'CONFLICT', fields: ['key'], holderId: holder });
    expect(await prisma.identifier.count({ where: { organizationId: w.organization.id } })).toBe(0);

    // Once the new source goes, the old one and then its identity come back.
    await gql(DELETE, { variables: { input: { id: holder } }, ...w.as });
    expect((await gql(RESTORE, { variables: { id: w.id }, ...w.as })).data?.restoreIntegrationSource.__typename).toBe('RestoreIntegrationSourceSuccess');
    const identity = await gql(`mutation ($id: ID!) { restoreIdentity(input: { id: $id }) { __typename ... on RestoreIdentitySuccess { identity { properties { key value } } } } }`, {
      variables: { id: globalId('Identity', w.identity.id) },
      ...w.as,
    });
    expect(identity.data?.restoreIdentity).toEqual({ __typename: 'RestoreIdentitySuccess', identity: { properties: [{ key: 'tier', value: 'gold' }] } });
  });
});

import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { expectErrorCode, expectNoErrors, globalId, gql } from './helpers/app.ts';
import { aMember, anIdentity, aSource, aTenantWithMember, aUser } from './helpers/factories.ts';

const DELETE = `mutation ($input: DeleteIdentityInput!) {
  deleteIdentity(input: $input) { __typename ... on Error { code message } }
}`;
const RESTORE = `mutation ($id: ID!) {
  restoreIdentity(input: { id: $id }) {
    __typename
    ... on RestoreIdentitySuccess { identity { id name email externalId user { id } source { key } properties { key type value } } }
    ... on Error { code message }
    ... on RestoreBlockedError { fields holderId missing }
  }
}`;
const LOOKUP = `query ($externalId: String!) { identity(sourceKey: "okta", externalId: $externalId) { id } }`;
const BY_EMAIL = `query ($email: String!) { identity(email: $email) { id } }`;
const USER_IDENTITIES = `query ($id: ID!) { node(id: $id) { ... on User { identities(first: 10) { totalCount edges { node { id } } } } } }`;
const GRAPH = `query ($from: ID!) { graph(from: $from, depth: 2) { nodes { id } } }`;
const UPSERT_PROPS = `mutation ($input: UpsertIdentityPropertiesInput!) { upsertIdentityProperties(input: $input) { __typename } }`;
const CREATE = `mutation ($input: CreateIdentityInput!) { createIdentity(input: $input) { __typename ... on CreateIdentitySuccess { identity { id } } ... on Error { code } } }`;

/** An organization with an admin, an Okta account linked to a member, with two properties. */
async function world() {
  const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
  const okta = await aSource(organization.id, { key: 'okta', kind: 'IDENTITY_PROVIDER' });
  const person = await aUser();
  await aMember(organization.id, person.id);
  const row = await anIdentity(organization.id, { name: 'Ada at Okta', email: 'ada@example.com', userId: person.id, sourceId: okta.id, externalId: 'okta-1' });
  const as = { asUser: admin, organizationId: organization.id };
  const id = globalId('Identity', row.id);
  expectNoErrors(await gql(UPSERT_PROPS, {
    variables: { input: { identityId: id, properties: [{ key: 'tier', type: 'STRING', value: 'gold' }, { key: 'seats', type: 'NUMBER', value: 3 }] } },
    ...as,
  }));
  return { organization, admin, okta, person, row, id, as };
}

const rowsOf = async (id: string) => ({
  identity: await prisma.$queryRawUnsafe<object[]>('SELECT * FROM identities WHERE id = $1::uuid', id),
  properties: await prisma.$queryRawUnsafe<object[]>('SELECT * FROM identity_properties WHERE identity_id = $1::uuid ORDER BY key', id),
});

describe('deleting and restoring an identity', () => {
  it('takes it and its properties out of every read, and brings them back with the same id, columns and link', async () => {
    const w = await world();
    const before = await rowsOf(w.row.id);
    expect(before.properties).toHaveLength(2);
    const userId = globalId('User', w.person.id);
    expect((await gql(GRAPH, { variables: { from: userId }, ...w.as })).data?.graph.nodes.map((n: { id: string }) => n.id)).toContain(w.id);

    expect((await gql(DELETE, { variables: { input: { id: w.id, reason: 'left the company' } }, ...w.as })).data?.deleteIdentity.__typename).toBe('DeleteIdentitySuccess');
    expect(await rowsOf(w.row.id)).toEqual({ identity: [], properties: [] });
    expect((await gql(`query ($id: ID!) { node(id: $id) { id } }`, { variables: { id: w.id }, ...w.as })).data?.node).toBeNull();
    expect((await gql(LOOKUP, { variables: { externalId: 'okta-1' }, ...w.as })).data?.identity).toBeNull();
    expect((await gql(USER_IDENTITIES, { variables: { id: userId }, ...w.as })).data?.node.identities.totalCount).toBe(0);
    const graph = await gql(GRAPH, { variables: { from: userId }, ...w.as });
    expectNoErrors(graph);
    expect(graph.data?.graph.nodes.map((n: { id: string }) => n.id)).not.toContain(w.id);

    const restored = await gql(RESTORE, { variables: { id: w.id }, ...w.as });
    expect(restored.data?.restoreIdentity).toMatchObject({
      __typename: 'RestoreIdentitySuccess',
      identity: { id: w.id, name: 'Ada at Okta', email: 'ada@example.com', externalId: 'okta-1', user: { id: userId }, source: { key: 'okta' } },
    });
    expect(await rowsOf(w.row.id)).toEqual(before);
    expect((await gql(LOOKUP, { variables: { externalId: 'okta-1' }, ...w.as })).data?.identity).toEqual({ id: w.id });
    expect((await gql(USER_IDENTITIES, { variables: { id: userId }, ...w.as })).data?.node.identities.totalCount).toBe(1);
    const actions = (await prisma.auditEvent.findMany({ where: { entityId: w.row.id }, orderBy: { createdAt: 'asc' } })).map((e) => e.action);
    expect(actions.slice(-2)).toEqual(['DELETE', 'RESTORE']);
  });

  it('lets its email be used again, and a restore into it answers CONFLICT naming the holder, writing nothing', async () => {
    const w = await world();
    await gql(DELETE, { variables: { input: { id: w.id } }, ...w.as });
    const taken = await gql(CREATE, { variables: { input: { identifierKey: 'other', identityType: 'USER', name: 'Other', email: 'ADA@example.com' } }, ...w.as });
    const holder = taken.data?.createIdentity.identity.id;
    expect(holder).toBeTruthy();
    const blocked = await gql(RESTORE, { variables: { id: w.id }, ...w.as });
    expect(blocked.data?.restoreIdentity).toMatchObject({ __typename: 'RestoreBlockedError', code: 'CONFLICT', fields: ['email'], holderId: holder });
    expect(await rowsOf(w.row.id)).toEqual({ identity: [], properties: [] });
    expect((await gql(BY_EMAIL, { variables: { email: 'ada@example.com' }, ...w.as })).data?.identity).toEqual({ id: holder });
    expect(await prisma.deletedItem.count()).toBe(1);
  });

  it('no longer keeps its source in use, and a restore after the source is gone answers CONFLICT naming it', async () => {
    const w = await world();
    await gql(DELETE, { variables: { input: { id: w.id } }, ...w.as });
    const gone = await gql(`mutation ($input: DeleteIntegrationSourceInput!) { deleteIntegrationSource(input: $input) { __typename ... on Error { code } } }`, {
      variables: { input: { id: globalId('IntegrationSource', w.okta.id) } },
      ...w.as,
    });
    expect(gone.data?.deleteIntegrationSource.__typename).toBe('DeleteIntegrationSourceSuccess');
    const blocked = await gql(RESTORE, { variables: { id: w.id }, ...w.as });
    expect(blocked.data?.restoreIdentity).toMatchObject({ __typename: 'RestoreBlockedError', code: 'CONFLICT', missing: 'IntegrationSource', holderId: null });
    expectErrorCode(blocked, 'CONFLICT');
  });
});

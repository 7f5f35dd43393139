import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { expectErrorCode, globalId, gql } from './helpers/app.ts';
import { aMember, anIdentifier, aSource, aTenantWithMember, aUser } from './helpers/factories.ts';

const REMOVE = `mutation ($input: RemoveMemberInput!) { removeMember(input: $input) { __typename ... on Error { code message } } }`;
const RESTORE = `mutation ($id: ID!) {
  restoreMember(input: { id: $id }) {
    __typename
    ... on RestoreMemberSuccess { member { id role state user { id } } }
    ... on Error { code message }
    ... on RestoreBlockedError { fields holderId missing }
  }
}`;
const ADD = `mutation ($input: AddMemberInput!) { addMember(input: $input) { __typename ... on AddMemberSuccess { member { id } } ... on Error { code } } }`;
const MEMBERS = `query ($id: ID!) { organization(id: $id) { members(first: 10) { totalCount } } }`;

async function world() {
  const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
  const person = await aUser();
  const member = await aMember(organization.id, person.id, { role: 'ANALYST' });
  const orgId = globalId('Organization', organization.id);
  return { organization, admin, person, member, orgId, id: globalId('Member', member.id), as: { asUser: admin, organizationId: organization.id } };
}

const rowOf = (id: string) => prisma.$queryRawUnsafe<object[]>('SELECT * FROM members WHERE id = $1::uuid', id);

describe('removing and restoring a member', () => {
  it('ends the membership for every read and access, and a restore brings it back with the same id, role and state', async () => {
    const w = await world();
    const before = await rowOf(w.member.id);
    expect((await gql(MEMBERS, { variables: { id: w.orgId }, asUser: w.person })).data?.organization.members.totalCount).toBe(2);
    expect((await gql(REMOVE, { variables: { input: { id: w.id, reason: 'left' } }, ...w.as })).data?.removeMember.__typename).toBe('RemoveMemberSuccess');
    expect(await rowOf(w.member.id)).toEqual([]);
    expect((await gql(MEMBERS, { variables: { id: w.orgId }, ...w.as })).data?.organization.members.totalCount).toBe(1);
    // The removed user no longer sees the organization.
    expect((await gql(MEMBERS, { variables: { id: w.orgId }, asUser: w.person })).data?.organization).toBeNull();
    expectErrorCode(await gql(RESTORE, { variables: { id: w.id }, asUser: w.person }), 'NOT_FOUND');

    const restored = await gql(RESTORE, { variables: { id: w.id }, ...w.as });
    expect(restored.data?.restoreMember).toMatchObject({
      __typename: 'RestoreMemberSuccess',
      member: { id: w.id, role: 'ANALYST', state: 'ACTIVE', user: { id: globalId('User', w.person.id) } },
    });
    expect(await rowOf(w.member.id)).toEqual(before);
    expect((await gql(MEMBERS, { variables: { id: w.orgId }, asUser: w.person })).data?.organization.members.totalCount).toBe(2);
  });

  it('lets the user be added again; restoring the old membership then answers CONFLICT naming the new one', async () => {
    const w = await world();
    await gql(REMOVE, { variables: { input: { id: w.id } }, ...w.as });
    const added = await gql(ADD, { variables: { input: { organizationId: w.orgId, email: w.person.email, role: 'ORGANIZATION_ADMIN' } }, ...w.as });
    const holder = added.data?.addMember.member.id;
    expect(holder).toBeTruthy();
    const blocked = await gql(RESTORE, { variables: { id: w.id }, ...w.as });
    expect(blocked.data?.restoreMember).toMatchObject({ __typename: 'RestoreBlockedError', code: 'CONFLICT', fields: ['userId'], holderId: holder });
    expect(await rowOf(w.member.id)).toEqual([]);
  });
});

describe('identifiers of a removed member', () => {
  it('cannot be restored while the user is not a member, and can once the membership is restored', async () => {
    const w = await world();
    const source = await aSource(w.organization.id, { key: 'crm' });
    const identifier = await anIdentifier(w.organization.id, w.person.id, source.id);
    const id = globalId('Identifier', identifier.id);
    await gql(`mutation ($id: ID!) { deleteIdentifier(input: { id: $id }) { __typename } }`, { variables: { id }, ...w.as });
    await gql(REMOVE, { variables: { input: { id: w.id } }, ...w.as });
    const RESTORE_IDENTIFIER = `mutation ($id: ID!) { restoreIdentifier(input: { id: $id }) { __typename ... on RestoreBlockedError { code missing fields } } }`;
    const blocked = await gql(RESTORE_IDENTIFIER, { variables: { id }, ...w.as });
    expect(blocked.data?.restoreIdentifier).toEqual({ __typename: 'RestoreBlockedError', code: 'CONFLICT', missing: 'Member', fields: ['userId'] });
    expect(await prisma.identifier.count()).toBe(0);
    expect((await gql(RESTORE, { variables: { id: w.id }, ...w.as })).data?.restoreMember.__typename).toBe('RestoreMemberSuccess');
    expect((await gql(RESTORE_IDENTIFIER, { variables: { id }, ...w.as })).data?.restoreIdentifier.__typename).toBe('RestoreIdentifierSuccess');
  });
});

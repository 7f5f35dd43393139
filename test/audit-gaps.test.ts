import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { expectNoErrors, globalId, gql } from './helpers/app.ts';
import { aMember, anIdentifier, anOrganization, aSource, aUser } from './helpers/factories.ts';

// Audit trails that used to miss things: a deleted object's history by its id, the
// survivor's profile in a merge's events, and a user's profile change in every
// organization the user belongs to.

const TRAIL = `query ($id: ID!, $filter: AuditEventFilter) {
  node(id: $id) { ... on Organization { auditEvents(filter: $filter) { totalCount edges { node { action entityType entityId changes } } } } }
}`;
const trail = async (asUser: { authSubject: string | null }, organizationId: string, filter: object) => {
  const result = await gql(TRAIL, { asUser, variables: { id: globalId('Organization', organizationId), filter } });
  expectNoErrors(result);
  return result.data!.node.auditEvents.edges.map((e: { node: unknown }) => e.node) as { action: string; entityType: string; entityId: string; changes: Record<string, unknown> }[];
};

describe('audit trail gaps', () => {
  it("a deleted identifier's history is found by its global id or UUID, and by nothing else", async () => {
    const admin = await aUser();
    const org = await anOrganization();
    await aMember(org.id, admin.id, { role: 'ORGANIZATION_ADMIN' });
    const crm = await aSource(org.id, { key: 'crm' });
    const kept = await anIdentifier(org.id, admin.id, crm.id, { identifierKey: 'owner_id', identifierValue: '005K' });
    const gone = await anIdentifier(org.id, admin.id, crm.id, { identifierKey: 'email', identifierValue: 'gone@corp.test' });
    for (const id of [kept.id, gone.id]) {
      expectNoErrors(
        await gql(`mutation ($input: UpdateIdentifierInput!) { updateIdentifier(input: $input) { __typename } }`, {
          asUser: admin,
          variables: { input: { id: globalId('Identifier', id), identifierValue: `${id}-2` } },
        }),
      );
    }
    expectNoErrors(
      await gql(`mutation ($input: DeleteIdentifierInput!) { deleteIdentifier(input: $input) { __typename } }`, {
        asUser: admin,
        variables: { input: { id: globalId('Identifier', gone.id) } },
      }),
    );
    const byGlobalId = await trail(admin, org.id, { entityId: globalId('Identifier', gone.id) });
    expect(byGlobalId.map((e) => e.action)).toEqual(['DELETE', 'UPDATE']);
    expect(byGlobalId.every((e) => e.entityId === globalId('Identifier', gone.id) && e.entityType === 'Identifier')).toBe(true);
    expect(await trail(admin, org.id, { entityId: gone.id })).toEqual(byGlobalId);
    // A global id of another type, or a type filter that disagrees, matches nothing.
    expect(await trail(admin, org.id, { entityId: globalId('Member', gone.id) })).toEqual([]);
    expect(await trail(admin, org.id, { entityId: globalId('Identifier', gone.id), entityType: 'Member' })).toEqual([]);
    expect(await trail(admin, org.id, { entityId: 'not-an-id' })).toEqual([]);
  });

  it("a merge and its unmerge record the survivor's profile changes with before and after", async () => {
    const admin = await aUser();
    const org = await anOrganization();
    await aMember(org.id, admin.id, { role: 'ORGANIZATION_ADMIN' });
    const a = await aUser({ name: 'Ada' });
    const b = await prisma.user.create({ data: { email: 'ada.l@example.com', authSubject: 'auth|ada-l', name: 'Ada Lovelace', nickname: 'countess' } });
    await aMember(org.id, a.id);
    await aMember(org.id, b.id);
    const merged = await gql(
      `mutation ($input: MergeUsersInput!) { mergeUsers(input: $input) { __typename ... on MergeUsersSuccess { merge { id } } } }`,
      { asUser: admin, variables: { input: { survivorId: a.id, mergedId: b.id, choices: [{ key: 'profile:name', keep: 'MERGED' }] } } },
    );
    expectNoErrors(merged);
    const [mergeEvent] = await trail(admin, org.id, { entityId: globalId('User', a.id), action: 'MERGE' });
    expect(mergeEvent!.changes).toMatchObject({
      name: { before: 'Ada', after: 'Ada Lovelace' },
      nickname: { before: null, after: 'countess' },
    });
    expectNoErrors(
      await gql(`mutation ($input: UnmergeUserInput!) { unmergeUser(input: $input) { __typename } }`, {
        asUser: admin,
        variables: { input: { mergeId: merged.data!.mergeUsers.merge.id } },
      }),
    );
    const [unmergeEvent] = await trail(admin, org.id, { entityId: globalId('User', a.id), action: 'UNMERGE' });
    expect(unmergeEvent!.changes).toMatchObject({
      name: { before: 'Ada Lovelace', after: 'Ada' },
      nickname: { before: 'countess', after: null },
    });
  });

  it("a user's profile change shows in the trail of each organization the user belongs to, and no other", async () => {
    const user = await aUser({ name: 'Old Name' });
    const [one, two, other] = [await anOrganization(), await anOrganization(), await anOrganization()];
    await aMember(one.id, user.id, { role: 'ORGANIZATION_ADMIN' });
    await aMember(two.id, user.id, { role: 'ANALYST' });
    const outsider = await aUser();
    await aMember(other.id, outsider.id, { role: 'ORGANIZATION_ADMIN' });
    expectNoErrors(
      await gql(`mutation ($input: UpdateUserInput!) { updateUser(input: $input) { __typename } }`, {
        asUser: user,
        variables: { input: { id: globalId('User', user.id), name: 'New Name' } },
      }),
    );
    for (const org of [one, two]) {
      expect(await trail(user, org.id, { entityId: globalId('User', user.id) })).toEqual([
        { action: 'UPDATE', entityType: 'User', entityId: globalId('User', user.id), changes: { name: { before: 'Old Name', after: 'New Name' } } },
      ]);
    }
    expect(await trail(outsider, other.id, { entityType: 'User' })).toEqual([]);
  });
});

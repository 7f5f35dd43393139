import { describe, expect, it } from 'vitest';
import { expectNoErrors, globalId, gql } from './helpers/app.ts';
import { aMember, anIdentifier, anOrganization, aSource, aUser } from './helpers/factories.ts';

// A merge that touched two organizations shows each organization's admin only the
// parts of the merge record in their own organization.

const MERGE = `mutation ($input: MergeUsersInput!) { mergeUsers(input: $input) { __typename ... on MergeUsersSuccess { merge { id } } } }`;
const READ = `query ($user: ID!, $merge: ID!) {
  user: node(id: $user) { ... on User { merges { id organizationIds conflicts { organizationId survivorValue mergedValue } } } }
  merge: node(id: $merge) { ... on UserMerge { organizationIds conflicts { organizationId survivorValue mergedValue } } }
}`;

describe('a merge record', () => {
  it('shows each organization admin only the parts in organizations they may read; a system admin sees all', async () => {
    const a = await anOrganization();
    const b = await anOrganization();
    const survivor = await aUser();
    const merged = await aUser();
    const adminA = await aUser();
    const adminB = await aUser();
    const system = await aUser({ isSystemAdmin: true });
    for (const [org, admin] of [[a, adminA], [b, adminB]] as const) {
      await aMember(org.id, admin.id, { role: 'ORGANIZATION_ADMIN' });
      await aMember(org.id, survivor.id, { role: 'ANALYST' });
      await aMember(org.id, merged.id, { role: 'ORGANIZATION_ADMIN' });
      const source = await aSource(org.id, { key: 'crm' });
      await anIdentifier(org.id, survivor.id, source.id, { identifierKey: 'owner_id', identifierValue: `secret-${org.slug}-s` });
      await anIdentifier(org.id, merged.id, source.id, { identifierKey: 'owner_id', identifierValue: `secret-${org.slug}-m` });
    }
    const done = await gql(MERGE, { asUser: system, variables: { input: { survivorId: globalId('User', survivor.id), mergedId: globalId('User', merged.id) } } });
    expectNoErrors(done);
    const mergeId = done.data!.mergeUsers.merge.id;
    const variables = { user: globalId('User', survivor.id), merge: mergeId };
    const all = await gql(READ, { asUser: system, variables });
    expectNoErrors(all);
    expect(all.data!.merge.organizationIds).toHaveLength(2);
    for (const [own, other, admin] of [[a, b, adminA], [b, a, adminB]] as const) {
      const seen = await gql(READ, { asUser: admin, variables });
      expectNoErrors(seen);
      const text = JSON.stringify(seen.data);
      expect(text).not.toContain(other.slug);
      expect(text).not.toContain(globalId('Organization', other.id));
      expect(text).not.toContain(other.id);
      expect(seen.data!.merge.organizationIds).toEqual([globalId('Organization', own.id)]);
      expect(seen.data!.user.merges).toEqual([{ id: mergeId, ...seen.data!.merge }]);
      // Everything of its own organization in the record is still there.
      const ownConflicts = all.data!.merge.conflicts.filter((c: { organizationId: string | null }) => c.organizationId !== globalId('Organization', other.id));
      expect(seen.data!.merge.conflicts).toEqual(ownConflicts);
    }
    // A reader of neither organization sees no record.
    const stranger = await aUser();
    const nothing = await gql(READ, { asUser: stranger, variables });
    expect(nothing.data?.merge ?? null).toBeNull();
  });
});

import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { ANONYMOUS } from '../src/context.ts';
import { purgeExpired, startPurging } from '../src/modules/deletion/service.ts';
import { expectErrorCode, expectNoErrors, globalId, gql } from './helpers/app.ts';
import { aMember, anIdentifier, aSource, aTenantWithMember, aUser } from './helpers/factories.ts';

const DELETE = `mutation ($input: DeleteIdentifierInput!) {
  deleteIdentifier(input: $input) { __typename ... on DeleteIdentifierSuccess { deletedId } ... on Error { code message } }
}`;
const RESTORE = `mutation ($id: ID!) {
  restoreIdentifier(input: { id: $id }) {
    __typename
    ... on RestoreIdentifierSuccess { identifier { id identifierKey identifierValue user { id } source { key } } }
    ... on Error { code message }
    ... on RestoreBlockedError { fields holderId missing }
  }
}`;
const PURGE = `mutation ($id: ID!) {
  purgeDeletedItem(input: { id: $id }) { __typename ... on PurgeDeletedItemSuccess { purgedId } ... on Error { code message } }
}`;
const ITEMS = `query ($id: ID!, $filter: DeletedItemFilter) {
  organization(id: $id) {
    deletedItems(first: 10, filter: $filter) {
      totalCount
      edges { node { entityType entityId label reason deletedAt deletedById purgeAfter } }
    }
  }
}`;
const RESOLVE = `query ($value: String!, $asOf: DateTime) {
  resolve(input: { identifier: { sourceKey: "crm", identifierKey: "owner_id", identifierValue: $value } }, asOf: $asOf) { user { id } }
}`;
const NODE = `query ($id: ID!) { node(id: $id) { id } }`;
const UPSERT = `mutation ($input: UpsertIdentifierInput!) {
  upsertIdentifier(input: $input) { __typename ... on UpsertIdentifierSuccess { identifier { id } } ... on Error { code } }
}`;

/** An organization with an admin, an analyst, a source `crm` and a member with one identifier. */
async function world() {
  const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
  const analyst = await aUser();
  await aMember(organization.id, analyst.id, { role: 'ANALYST' });
  const source = await aSource(organization.id, { key: 'crm' });
  const person = await aUser();
  await aMember(organization.id, person.id);
  const row = await anIdentifier(organization.id, person.id, source.id, { identifierKey: 'owner_id', identifierValue: 'v-1', confidenceScore: 0.7 });
  return { organization, admin, analyst, source, person, row, id: globalId('Identifier', row.id), orgId: globalId('Organization', organization.id) };
}

const rowOf = (id: string) => prisma.$queryRawUnsafe<object[]>('SELECT * FROM identifiers WHERE id = $1::uuid', id);
const moment = async () => {
  await new Promise((r) => setTimeout(r, 3));
  const at = new Date();
  await new Promise((r) => setTimeout(r, 3));
  return at;
};

describe('deleting and restoring an identifier', () => {
  it('leaves every read, is listed for admins with who, when and why, and comes back with the same id, columns and history', async () => {
    const w = await world();
    const before = await rowOf(w.row.id);
    const beforeDelete = await moment();
    const deleted = await gql(DELETE, { variables: { input: { id: w.id, reason: 'asked to' } }, asUser: w.analyst });
    expect(deleted.data?.deleteIdentifier).toMatchObject({ __typename: 'DeleteIdentifierSuccess', deletedId: w.id });

    // Gone from reads, resolve and node.
    expect((await gql(NODE, { variables: { id: w.id }, asUser: w.admin })).data?.node).toBeNull();
    const gone = await gql(RESOLVE, { variables: { value: 'v-1' }, asUser: w.admin, organizationId: w.organization.id });
    expectNoErrors(gone);
    expect(gone.data?.resolve?.user ?? null).toBeNull();
    expect(await rowOf(w.row.id)).toEqual([]);
    // The past still answers as it was.
    const past = await gql(RESOLVE, { variables: { value: 'v-1', asOf: beforeDelete.toISOString() }, asUser: w.admin, organizationId: w.organization.id });
    expect(past.data?.resolve.user.id).toBe(globalId('User', w.person.id));

    // Listed for the organization's admins only.
    const listed = await gql(ITEMS, { variables: { id: w.orgId }, asUser: w.admin });
    expectNoErrors(listed);
    const [item] = listed.data?.organization.deletedItems.edges.map((e: { node: object }) => e.node);
    expect(item).toMatchObject({ entityType: 'Identifier', entityId: w.id, label: 'owner_id = v-1', reason: 'asked to', deletedById: globalId('User', w.analyst.id) });
    expect(new Date(item.purgeAfter).getTime() - new Date(item.deletedAt).getTime()).toBe(30 * 86_400_000);
    const asAnalyst = await gql(ITEMS, { variables: { id: w.orgId }, asUser: w.analyst });
    expectErrorCode(asAnalyst, 'FORBIDDEN');
    expect(asAnalyst.data?.organization.deletedItems).toBeNull();
    expectErrorCode(await gql(RESTORE, { variables: { id: w.id }, asUser: w.analyst }), 'FORBIDDEN');

    // Restored: the same row, every column, readable and resolvable again.
    const restored = await gql(RESTORE, { variables: { id: w.id }, asUser: w.admin });
    expect(restored.data?.restoreIdentifier).toMatchObject({
      __typename: 'RestoreIdentifierSuccess',
      identifier: { id: w.id, identifierKey: 'owner_id', identifierValue: 'v-1', user: { id: globalId('User', w.person.id) }, source: { key: 'crm' } },
    });
    expect(await rowOf(w.row.id)).toEqual(before);
    expect((await gql(RESOLVE, { variables: { value: 'v-1' }, asUser: w.admin, organizationId: w.organization.id })).data?.resolve.user.id).toBe(globalId('User', w.person.id));
    expect((await gql(NODE, { variables: { id: w.id }, asUser: w.admin })).data?.node).toEqual({ id: w.id });
    expect((await gql(ITEMS, { variables: { id: w.orgId }, asUser: w.admin })).data?.organization.deletedItems.totalCount).toBe(0);
    // History: live, deleted, live again; the moment before the delete still answers.
    const versions = await prisma.$queryRawUnsafe<{ deleted: boolean }[]>(
      'SELECT deleted FROM identifiers_history WHERE id = $1::uuid ORDER BY valid_from', w.row.id);
    expect(versions.map((v) => v.deleted)).toEqual([false, true, false]);
    const again = await gql(RESOLVE, { variables: { value: 'v-1', asOf: beforeDelete.toISOString() }, asUser: w.admin, organizationId: w.organization.id });
    expect(again.data?.resolve.user.id).toBe(globalId('User', w.person.id));
    // Audited: DELETE then RESTORE.
    const events = await prisma.auditEvent.findMany({ where: { entityId: w.row.id }, orderBy: { createdAt: 'asc' } });
    expect(events.map((e) => e.action)).toEqual(['DELETE', 'RESTORE']);
    // Restoring twice finds nothing to restore.
    expectErrorCode(await gql(RESTORE, { variables: { id: w.id }, asUser: w.admin }), 'NOT_FOUND');
  });

  it('lets the key be used again, and a restore into the taken key answers CONFLICT naming the holder, writing nothing', async () => {
    const w = await world();
    await gql(DELETE, { variables: { input: { id: w.id } }, asUser: w.analyst });
    const reused = await gql(UPSERT, {
      variables: { input: { organizationId: w.orgId, userId: w.person.id, sourceKey: 'crm', identifierKey: 'owner_id', identifierValue: 'v-2', discoveryMethod: 'MANUAL' } },
      asUser: w.analyst,
    });
    expect(reused.data?.upsertIdentifier.__typename).toBe('UpsertIdentifierSuccess');
    const holder = reused.data?.upsertIdentifier.identifier.id;
    expect(holder).not.toBe(w.id);
    const events = await prisma.auditEvent.count();
    const blocked = await gql(RESTORE, { variables: { id: w.id }, asUser: w.admin });
    expect(blocked.data?.restoreIdentifier).toMatchObject({
      __typename: 'RestoreBlockedError',
      code: 'CONFLICT',
      holderId: holder,
      fields: ['userId', 'sourceId', 'identifierKey'],
      missing: null,
    });
    expect(blocked.data?.restoreIdentifier.message).toContain(holder);
    expect(await rowOf(w.row.id)).toEqual([]);
    expect(await prisma.deletedItem.count()).toBe(1);
    expect(await prisma.auditEvent.count()).toBe(events);
  });

  it('answers CONFLICT naming what is missing when the user it belonged to is gone', async () => {
    const w = await world();
    await gql(DELETE, { variables: { input: { id: w.id } }, asUser: w.analyst });
    await prisma.user.delete({ where: { id: w.person.id } });
    const blocked = await gql(RESTORE, { variables: { id: w.id }, asUser: w.admin });
    expect(blocked.data?.restoreIdentifier).toMatchObject({ __typename: 'RestoreBlockedError', code: 'CONFLICT', missing: 'User', holderId: null, fields: ['userId'] });
    expect(await prisma.deletedItem.count()).toBe(1);
  });

  it('is invisible to another organization: its admin lists nothing and cannot restore or purge it', async () => {
    const w = await world();
    await gql(DELETE, { variables: { input: { id: w.id } }, asUser: w.analyst });
    const other = await aTenantWithMember('ORGANIZATION_ADMIN');
    const listed = await gql(ITEMS, { variables: { id: globalId('Organization', other.organization.id) }, asUser: other.user });
    expect(listed.data?.organization.deletedItems.totalCount).toBe(0);
    expect((await gql(ITEMS, { variables: { id: w.orgId }, asUser: other.user })).data?.organization).toBeNull();
    expectErrorCode(await gql(RESTORE, { variables: { id: w.id }, asUser: other.user }), 'NOT_FOUND');
    expectErrorCode(await gql(PURGE, { variables: { id: w.id }, asUser: other.user }), 'NOT_FOUND');
    expect(await prisma.deletedItem.count()).toBe(1);
  });

  it('purges one at once for an admin, after which it cannot be restored', async () => {
    const w = await world();
    await gql(DELETE, { variables: { input: { id: w.id } }, asUser: w.analyst });
    expectErrorCode(await gql(PURGE, { variables: { id: w.id }, asUser: w.analyst }), 'FORBIDDEN');
    const purged = await gql(PURGE, { variables: { id: w.id }, asUser: w.admin });
    expect(purged.data?.purgeDeletedItem).toEqual({ __typename: 'PurgeDeletedItemSuccess', purgedId: w.id });
    expect(await prisma.deletedItem.count()).toBe(0);
    expect(await prisma.auditEvent.count({ where: { entityId: w.row.id, action: 'PURGE' } })).toBe(1);
    expectErrorCode(await gql(RESTORE, { variables: { id: w.id }, asUser: w.admin }), 'NOT_FOUND');
    expectErrorCode(await gql(PURGE, { variables: { id: 'nonsense' }, asUser: w.admin }), 'BAD_USER_INPUT');
  });
});

describe('the purge of deleted objects past retention', () => {
  it('purges only what is past its organization\'s retention, once, with two purges running at once', async () => {
    const w = await world();
    const second = await anIdentifier(w.organization.id, w.person.id, w.source.id, { identifierKey: 'k2' });
    const third = await anIdentifier(w.organization.id, w.person.id, w.source.id, { identifierKey: 'k3' });
    for (const id of [w.row.id, second.id, third.id]) {
      expect((await gql(DELETE, { variables: { input: { id } }, asUser: w.analyst })).data?.deleteIdentifier.__typename).toBe('DeleteIdentifierSuccess');
    }
    const setting = await gql(`mutation ($input: UpdateOrganizationInput!) { updateOrganization(input: $input) { __typename ... on UpdateOrganizationSuccess { organization { deletedRetentionDays } } } }`, {
      variables: { input: { id: w.orgId, deletedRetentionDays: 7 } },
      asUser: w.admin,
    });
    expect(setting.data?.updateOrganization.organization.deletedRetentionDays).toBe(7);
    expectErrorCode(await gql(`mutation ($input: UpdateOrganizationInput!) { updateOrganization(input: $input) { __typename ... on Error { code } } }`, {
      variables: { input: { id: w.orgId, deletedRetentionDays: 0 } },
      asUser: w.admin,
    }), 'BAD_USER_INPUT');
    // Two deleted 8 days ago (past 7), one 6 days ago.
    await prisma.$executeRawUnsafe(`UPDATE deleted_items SET deleted_at = now() - interval '8 days' WHERE entity_id = ANY($1::uuid[])`, [w.row.id, second.id]);
    await prisma.$executeRawUnsafe(`UPDATE deleted_items SET deleted_at = now() - interval '6 days' WHERE entity_id = $1::uuid`, third.id);
    const counts = await Promise.all([purgeExpired(ANONYMOUS), purgeExpired(ANONYMOUS)]);
    expect(counts[0]! + counts[1]!).toBe(2);
    expect((await prisma.deletedItem.findMany()).map((d) => d.entityId)).toEqual([third.id]);
    expect(await prisma.auditEvent.count({ where: { action: 'PURGE', actorType: 'SYSTEM' } })).toBe(2);
    expect(await purgeExpired(ANONYMOUS)).toBe(0);
  });

  it('runs on its own every interval once started, until stopped', async () => {
    const w = await world();
    await gql(DELETE, { variables: { input: { id: w.id } }, asUser: w.analyst });
    await prisma.$executeRawUnsafe(`UPDATE deleted_items SET deleted_at = now() - interval '31 days'`);
    const errors: unknown[] = [];
    const purging = startPurging(ANONYMOUS, 1, (err) => errors.push(err));
    try {
      await expect.poll(() => prisma.deletedItem.count(), { timeout: 5000, interval: 100 }).toBe(0);
    } finally {
      purging.stop();
    }
    expect(errors).toEqual([]);
  });
});

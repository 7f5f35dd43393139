import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { expectErrorCode, expectNoErrors, globalId, gql, tokenFor } from './helpers/app.ts';
import { aMember, anIdentifier, anIdentity, anOrganization, aSource, aUser } from './helpers/factories.ts';
import { withSqlLog } from './helpers/sql-count.ts';

// Merging duplicate users and undoing it: the preview lists what the merge then does,
// each conflict rule and field choice, authorization across organizations, the
// tombstone on every read path, and unmerge as an exact round trip.

const MERGE = `mutation ($input: MergeUsersInput!) {
  mergeUsers(input: $input) {
    __typename
    ... on MergeUsersSuccess { merge { id mergedUserId survivor { id } conflicts { key kind keep chosen } } }
    ... on ValidationError { code issues { path message } }
    ... on Error { code message }
  }
}`;
const UNMERGE = `mutation ($input: UnmergeUserInput!) {
  unmergeUser(input: $input) {
    __typename
    ... on UnmergeUserSuccess { merge { id undoneAt } }
    ... on MergeChangedError { code changedIds }
    ... on Error { code message }
  }
}`;
const PREVIEW = `query ($s: ID!, $m: ID!, $choices: [MergeChoiceInput!]) {
  previewMergeUsers(survivorId: $s, mergedId: $m, choices: $choices) {
    organizations { id }
    profileChanges
    movedMemberships { id } removedMemberships { id }
    movedIdentifiers { id } removedIdentifiers { id } identifiersKeptBeside { id }
    relinkedIdentities { id }
    conflicts { key kind field survivorValue mergedValue keep chosen }
  }
}`;

const uid = (id: string) => globalId('User', id);
const sorted = <T extends { id: string }>(list: T[]) => list.map((x) => x.id).sort();

/** Every row of the tables a merge may touch, as PostgreSQL holds them, in id order. */
async function dump() {
  const out: Record<string, unknown[]> = {};
  for (const table of ['users', 'members', 'identifiers', 'identities', 'identity_properties', 'link_suggestions']) {
    const rows = await prisma.$queryRawUnsafe<{ row: unknown }[]>(`SELECT to_jsonb(t) AS row FROM ${table} t ORDER BY id`);
    out[table] = rows.map((r) => r.row);
  }
  return out;
}

/**
 * Two organizations and two people who are the same person: `a` (survivor) and `b`
 * (merged), with clashing memberships, identifiers, profiles and linked identities,
 * plus a user `c` merged into `b` earlier (a tombstone) and bystanders.
 */
async function richDuplicates() {
  const admin = await aUser({ name: 'Admin' });
  const org1 = await anOrganization();
  const org2 = await anOrganization();
  await aMember(org1.id, admin.id, { role: 'ORGANIZATION_ADMIN' });
  await aMember(org2.id, admin.id, { role: 'ORGANIZATION_ADMIN' });
  const a = await prisma.user.create({ data: { email: 'ada@example.com', authSubject: 'auth|ada', name: 'Ada L', givenName: null, nickname: 'ada' } });
  const b = await prisma.user.create({
    data: { email: 'ada.lovelace@example.com', authSubject: 'auth|ada2', name: 'Ada Lovelace', givenName: 'Ada', nickname: 'countess', picture: 'https://example.com/ada.png' },
  });
  const c = await prisma.user.create({ data: { email: 'old-ada@example.com', authSubject: 'auth|ada3', mergedIntoId: b.id } });
  const bystander = await aUser();
  const aMember1 = await aMember(org1.id, a.id, { role: 'ANALYST' });
  const bMember1 = await aMember(org1.id, b.id, { role: 'ORGANIZATION_ADMIN' });
  const bMember2 = await aMember(org2.id, b.id, { role: 'ANALYST', state: 'PENDING' });
  await aMember(org1.id, bystander.id);
  const crm = await aSource(org1.id, { key: 'crm' });
  const chat = await aSource(org1.id, { key: 'chat' });
  const hr = await aSource(org2.id, { key: 'hr' });
  // Same natural key on both sides: b's is more confident, so b's survives.
  const aOwner = await anIdentifier(org1.id, a.id, crm.id, { identifierKey: 'owner_id', identifierValue: '005A', confidenceScore: 0.6 });
  const bOwner = await anIdentifier(org1.id, b.id, crm.id, { identifierKey: 'owner_id', identifierValue: '005B', confidenceScore: 0.9 });
  // Same key, same confidence: the newer (a's, written later) survives.
  const bSlack = await anIdentifier(org1.id, b.id, chat.id, { identifierKey: 'member_id', identifierValue: 'U1', confidenceScore: 0.5 });
  const aSlack = await anIdentifier(org1.id, a.id, chat.id, { identifierKey: 'member_id', identifierValue: 'U2', confidenceScore: 0.5 });
  await prisma.identifier.update({ where: { id: aSlack.id }, data: { updatedAt: new Date(Date.now() + 1000) } });
  // Only b has these: they move.
  const bEmployee = await anIdentifier(org2.id, b.id, hr.id, { identifierKey: 'employee_id', identifierValue: 'E7', confidenceScore: null });
  const bEmail = await anIdentifier(org1.id, b.id, crm.id, { identifierKey: 'email', identifierValue: 'ada.lovelace@example.com' });
  const bIdentity = await anIdentity(org1.id, { userId: b.id, linkedBy: 'MANUAL', email: 'ada.lovelace@example.com', phoneNumber: '+15555550100' });
  const bIdentity2 = await anIdentity(org2.id, { userId: b.id, linkedBy: 'SCIM' });
  await prisma.identityProperty.create({ data: { organizationId: org1.id, identityId: bIdentity.id, key: 'tier', type: 'STRING', value: 'gold' } });
  const aIdentity = await anIdentity(org1.id, { userId: a.id });
  return {
    admin, org1, org2, a, b, c, bystander, aMember1, bMember1, bMember2, crm, chat, hr,
    aOwner, bOwner, aSlack, bSlack, bEmployee, bEmail, bIdentity, bIdentity2, aIdentity,
  };
}

describe('mergeUsers and unmergeUser', () => {
  it('previews exactly what the merge then does, applying every default rule', async () => {
    const d = await richDuplicates();
    const before = await dump();
    const preview = await gql(PREVIEW, { asUser: d.admin, variables: { s: uid(d.a.id), m: uid(d.b.id) } });
    expectNoErrors(preview);
    expect(await dump()).toEqual(before); // a preview writes nothing
    const p = preview.data!.previewMergeUsers;
    expect(sorted(p.organizations)).toEqual([globalId('Organization', d.org1.id), globalId('Organization', d.org2.id)].sort());
    expect(sorted(p.movedMemberships)).toEqual([globalId('Member', d.bMember2.id)]);
    expect(sorted(p.removedMemberships)).toEqual([globalId('Member', d.bMember1.id)]);
    expect(sorted(p.movedIdentifiers)).toEqual([d.bOwner, d.bEmployee, d.bEmail, d.bSlack].map((i) => globalId('Identifier', i.id)).sort());
    expect(p.removedIdentifiers).toEqual([]);
    // The losing side of each identifier conflict stays, beside the value kept.
    expect(sorted(p.identifiersKeptBeside)).toEqual([d.aOwner, d.bSlack].map((i) => globalId('Identifier', i.id)).sort());
    expect(sorted(p.relinkedIdentities)).toEqual([d.bIdentity, d.bIdentity2].map((i) => globalId('Identity', i.id)).sort());
    // Profile: the survivor's non-null values stay; its nulls take the merged user's.
    expect(p.profileChanges).toEqual({ givenName: 'Ada', picture: 'https://example.com/ada.png' });
    const byKey = Object.fromEntries(p.conflicts.map((c: { key: string }) => [c.key, c]));
    expect(Object.keys(byKey).sort()).toEqual(
      [
        'profile:givenName', 'profile:name', 'profile:nickname', 'profile:picture',
        `membership:${d.org1.id}`,
        `identifier:${d.org1.id}:${d.crm.id}:owner_id`,
        `identifier:${d.org1.id}:${d.chat.id}:member_id`,
      ].sort(),
    );
    expect(byKey['profile:name']).toMatchObject({ kind: 'PROFILE', survivorValue: 'Ada L', mergedValue: 'Ada Lovelace', keep: 'SURVIVOR', chosen: false });
    expect(byKey['profile:givenName']).toMatchObject({ survivorValue: null, mergedValue: 'Ada', keep: 'MERGED' });
    // Memberships: the stronger role wins.
    expect(byKey[`membership:${d.org1.id}`]).toMatchObject({
      kind: 'MEMBERSHIP',
      survivorValue: { role: 'ANALYST', state: 'ACTIVE' },
      mergedValue: { role: 'ORGANIZATION_ADMIN', state: 'ACTIVE' },
      keep: 'MERGED',
    });
    // Identifiers: higher confidence, then newer.
    expect(byKey[`identifier:${d.org1.id}:${d.crm.id}:owner_id`]).toMatchObject({ kind: 'IDENTIFIER', field: 'owner_id', keep: 'MERGED' });
    expect(byKey[`identifier:${d.org1.id}:${d.chat.id}:member_id`]).toMatchObject({ keep: 'SURVIVOR' });

    const merged = await gql(MERGE, { asUser: d.admin, variables: { input: { survivorId: d.a.id, mergedId: uid(d.b.id) } } });
    expectNoErrors(merged);
    expect(merged.data!.mergeUsers.__typename).toBe('MergeUsersSuccess');
    expect(merged.data!.mergeUsers.merge.conflicts).toEqual(p.conflicts.map((c: Record<string, unknown>) => ({ key: c.key, kind: c.kind, keep: c.keep, chosen: c.chosen })));

    // What the preview listed is what happened.
    const identifiers = await prisma.identifier.findMany({ where: { userId: { in: [d.a.id, d.b.id] } } });
    expect(identifiers.every((i) => i.userId === d.a.id)).toBe(true);
    expect(identifiers.map((i) => [i.id, i.mergeSlot]).sort()).toEqual(
      [[d.aSlack.id, 0], [d.bSlack.id, 1], [d.bOwner.id, 0], [d.aOwner.id, 1], [d.bEmployee.id, 0], [d.bEmail.id, 0]].sort(),
    );
    const members = await prisma.member.findMany({ where: { userId: { in: [d.a.id, d.b.id] } } });
    expect(members.map((m) => [m.id, m.userId, m.role, m.state]).sort()).toEqual(
      [
        [d.aMember1.id, d.a.id, 'ORGANIZATION_ADMIN', 'ACTIVE'],
        [d.bMember2.id, d.a.id, 'ANALYST', 'PENDING'],
      ].sort(),
    );
    const identities = await prisma.identity.findMany({ where: { id: { in: [d.bIdentity.id, d.bIdentity2.id] } } });
    expect(identities.map((i) => [i.userId, i.linkedBy]).sort()).toEqual([[d.a.id, 'MANUAL'], [d.a.id, 'SCIM']]);
    const survivor = await prisma.user.findUniqueOrThrow({ where: { id: d.a.id } });
    expect(survivor).toMatchObject({ name: 'Ada L', givenName: 'Ada', nickname: 'ada', picture: 'https://example.com/ada.png', email: 'ada@example.com', mergedIntoId: null });
    // The merged user and its own earlier tombstone point to the survivor.
    const tombstones = await prisma.user.findMany({ where: { id: { in: [d.b.id, d.c.id] } } });
    expect(tombstones.map((t) => t.mergedIntoId)).toEqual([d.a.id, d.a.id]);
  });

  it('unmerge restores exactly the state before the merge, row for row, and records both as events', async () => {
    const d = await richDuplicates();
    const before = await dump();
    const merged = await gql(MERGE, {
      asUser: d.admin,
      variables: { input: { survivorId: uid(d.a.id), mergedId: uid(d.b.id), choices: [{ key: 'profile:name', keep: 'MERGED' }] } },
    });
    expectNoErrors(merged);
    const mergeId = merged.data!.mergeUsers.merge.id;
    expect(await dump()).not.toEqual(before);

    const undone = await gql(UNMERGE, { asUser: d.admin, variables: { input: { mergeId } } });
    expectNoErrors(undone);
    expect(undone.data!.unmergeUser.__typename).toBe('UnmergeUserSuccess');
    expect(undone.data!.unmergeUser.merge.undoneAt).toEqual(expect.any(String));
    expect(await dump()).toEqual(before);

    const events = await prisma.auditEvent.findMany({ where: { action: { in: ['MERGE', 'UNMERGE'] }, entityType: 'User' } });
    const summary = events.map((e) => [e.action, e.entityId, e.organizationId]);
    for (const action of ['MERGE', 'UNMERGE']) {
      expect(summary).toContainEqual([action, d.b.id, null]);
      expect(summary).toContainEqual([action, d.a.id, d.org1.id]);
      expect(summary).toContainEqual([action, d.a.id, d.org2.id]);
    }
    const bOwnerEvents = await prisma.auditEvent.findMany({ where: { entityId: d.bOwner.id }, orderBy: { createdAt: 'asc' } });
    expect(bOwnerEvents.map((e) => [e.action, e.changes])).toEqual([
      ['MERGE', { userId: { before: d.b.id, after: d.a.id } }],
      ['UNMERGE', { userId: { before: d.a.id, after: d.b.id } }],
    ]);

    const again = await gql(UNMERGE, { asUser: d.admin, variables: { input: { mergeId } } });
    expectErrorCode(again, 'CONFLICT');
    expect(await dump()).toEqual(before);
  });

  it('field choices pick the side of each conflict; an unknown choice writes nothing', async () => {
    const d = await richDuplicates();
    const choices = [
      { key: 'profile:nickname', keep: 'MERGED' },
      { key: `membership:${d.org1.id}`, keep: 'SURVIVOR' },
      { key: `identifier:${d.org1.id}:${d.crm.id}:owner_id`, keep: 'SURVIVOR' },
    ];
    const preview = await gql(PREVIEW, { asUser: d.admin, variables: { s: uid(d.a.id), m: uid(d.b.id), choices } });
    expectNoErrors(preview);
    const keep = Object.fromEntries(preview.data!.previewMergeUsers.conflicts.map((c: { key: string; keep: string; chosen: boolean }) => [c.key, [c.keep, c.chosen]]));
    expect(keep['profile:nickname']).toEqual(['MERGED', true]);
    expect(keep[`membership:${d.org1.id}`]).toEqual(['SURVIVOR', true]);
    expect(keep['profile:name']).toEqual(['SURVIVOR', false]);

    const before = await dump();
    const bad = await gql(MERGE, {
      asUser: d.admin,
      variables: { input: { survivorId: uid(d.a.id), mergedId: uid(d.b.id), choices: [...choices, { key: 'profile:email', keep: 'MERGED' }] } },
    });
    expectErrorCode(bad, 'BAD_USER_INPUT');
    expect(bad.data!.mergeUsers.issues).toEqual([{ path: 'input.choices[3].key', message: 'is not a conflict of this merge' }]);
    expect(await dump()).toEqual(before);

    // Keeping the survivor's ANALYST role is allowed: org1 keeps another active admin.
    const lastAdmin = await gql(MERGE, { asUser: d.admin, variables: { input: { survivorId: uid(d.a.id), mergedId: uid(d.b.id), choices } } });
    expectNoErrors(lastAdmin);
    expect(lastAdmin.data!.mergeUsers.__typename).toBe('MergeUsersSuccess'); // the admin is still there
    const survivor = await prisma.user.findUniqueOrThrow({ where: { id: d.a.id } });
    expect(survivor.nickname).toBe('countess');
    expect(await prisma.member.findUniqueOrThrow({ where: { id: d.aMember1.id } })).toMatchObject({ role: 'ANALYST', userId: d.a.id });
    expect(await prisma.identifier.findUnique({ where: { id: d.aOwner.id } })).toMatchObject({ userId: d.a.id, identifierValue: '005A', mergeSlot: 0 });
    expect(await prisma.identifier.findUnique({ where: { id: d.bOwner.id } })).toMatchObject({ userId: d.a.id, identifierValue: '005B', mergeSlot: 1 });
  });

  it('refuses to take the last active admin away from an organization', async () => {
    const org = await anOrganization();
    const sys = await aUser({ isSystemAdmin: true });
    const a = await aUser();
    const b = await aUser();
    await aMember(org.id, a.id, { role: 'ANALYST' });
    await aMember(org.id, b.id, { role: 'ORGANIZATION_ADMIN' });
    const before = await dump();
    const result = await gql(MERGE, {
      asUser: sys,
      variables: { input: { survivorId: a.id, mergedId: b.id, choices: [{ key: `membership:${org.id}`, keep: 'SURVIVOR' }] } },
    });
    expectErrorCode(result, 'CONFLICT');
    expect(result.data!.mergeUsers.__typename).toBe('LastOrganizationAdminError');
    expect(await dump()).toEqual(before);
  });

  it('is refused across organizations the viewer does not administer; users it cannot see are NOT_FOUND', async () => {
    const d = await richDuplicates();
    const admin1 = await aUser();
    await aMember(d.org1.id, admin1.id, { role: 'ORGANIZATION_ADMIN' });
    const analyst = await aUser();
    await aMember(d.org1.id, analyst.id, { role: 'ANALYST' });
    await aMember(d.org2.id, analyst.id, { role: 'ANALYST' });
    const stranger = await aUser();
    const strangerOrg = await anOrganization();
    await aMember(strangerOrg.id, stranger.id, { role: 'ORGANIZATION_ADMIN' });
    const before = await dump();
    const forbidden = await gql(MERGE, { asUser: admin1, variables: { input: { survivorId: d.a.id, mergedId: d.b.id } } });
    expectErrorCode(forbidden, 'FORBIDDEN');
    const preview = await gql(PREVIEW, { asUser: admin1, variables: { s: d.a.id, m: d.b.id } });
    expectErrorCode(preview, 'FORBIDDEN');

    expectErrorCode(await gql(MERGE, { asUser: analyst, variables: { input: { survivorId: d.a.id, mergedId: d.b.id } } }), 'FORBIDDEN');

    const notFound = await gql(MERGE, { asUser: stranger, variables: { input: { survivorId: d.a.id, mergedId: d.b.id } } });
    expectErrorCode(notFound, 'NOT_FOUND');
    const missing = await gql(MERGE, { asUser: d.admin, variables: { input: { survivorId: d.a.id, mergedId: '00000000-0000-4000-8000-000000000000' } } });
    expectErrorCode(missing, 'NOT_FOUND');
    // Scoped to one organization by X-Organization-ID, the other one is not administered here.
    const scoped = await gql(MERGE, { asUser: d.admin, organizationId: d.org1.id, variables: { input: { survivorId: d.a.id, mergedId: d.b.id } } });
    expectErrorCode(scoped, 'FORBIDDEN');
    expect(await dump()).toEqual(before);

    const merged = await gql(MERGE, { asUser: d.admin, variables: { input: { survivorId: d.a.id, mergedId: d.b.id } } });
    expectNoErrors(merged);
    const mergeId = merged.data!.mergeUsers.merge.id;
    expectErrorCode(await gql(UNMERGE, { asUser: admin1, variables: { input: { mergeId } } }), 'FORBIDDEN');
    expectErrorCode(await gql(UNMERGE, { asUser: stranger, variables: { input: { mergeId } } }), 'NOT_FOUND');
    // Merging the tombstone again is a conflict, not a second merge.
    expectErrorCode(await gql(MERGE, { asUser: d.admin, variables: { input: { survivorId: d.bystander.id, mergedId: d.b.id } } }), 'CONFLICT');
  });

  it('refuses an unmerge that would overwrite later changes, naming the changed rows', async () => {
    const d = await richDuplicates();
    const merged = await gql(MERGE, { asUser: d.admin, variables: { input: { survivorId: d.a.id, mergedId: d.b.id } } });
    const mergeId = merged.data!.mergeUsers.merge.id;
    const identifier = await gql(
      `mutation ($input: UpdateIdentifierInput!) { updateIdentifier(input: $input) { __typename } }`,
      { asUser: d.admin, variables: { input: { id: globalId('Identifier', d.bEmployee.id), identifierValue: 'E8' } } },
    );
    expectNoErrors(identifier);
    const afterChange = await dump();
    const refused = await gql(UNMERGE, { asUser: d.admin, variables: { input: { mergeId } } });
    expectErrorCode(refused, 'CONFLICT');
    expect(refused.data!.unmergeUser.__typename).toBe('MergeChangedError');
    expect(refused.data!.unmergeUser.changedIds).toEqual([globalId('Identifier', d.bEmployee.id)]);
    expect(await dump()).toEqual(afterChange);
  });

  it('an unmerge racing a merge into the same survivor: both run, one after the other, nothing is lost', async () => {
    const d = await richDuplicates();
    const first = await gql(MERGE, { asUser: d.admin, variables: { input: { survivorId: d.a.id, mergedId: d.b.id } } });
    const mergeId = first.data!.mergeUsers.merge.id;
    const third = await aUser();
    await aMember(d.org1.id, third.id);
    const thirdId = await anIdentifier(d.org1.id, third.id, d.crm.id, { identifierKey: 'third_key' });
    const [undo, merge] = await Promise.all([
      gql(UNMERGE, { asUser: d.admin, variables: { input: { mergeId } } }),
      gql(MERGE, { asUser: d.admin, variables: { input: { survivorId: d.a.id, mergedId: third.id } } }),
    ]);
    expect(undo.data!.unmergeUser.__typename).toBe('UnmergeUserSuccess');
    expect(merge.data!.mergeUsers.__typename).toBe('MergeUsersSuccess');
    expect((await prisma.user.findUniqueOrThrow({ where: { id: d.b.id } })).mergedIntoId).toBeNull();
    expect((await prisma.identifier.findUniqueOrThrow({ where: { id: d.bOwner.id } })).userId).toBe(d.b.id);
    expect((await prisma.identifier.findUniqueOrThrow({ where: { id: thirdId.id } })).userId).toBe(d.a.id);
  });

  it('two merges of the same pair at once: one wins, the other is refused, nothing is lost', async () => {
    const d = await richDuplicates();
    const results = await Promise.all([
      gql(MERGE, { asUser: d.admin, variables: { input: { survivorId: d.a.id, mergedId: d.b.id } } }),
      gql(MERGE, { asUser: d.admin, variables: { input: { survivorId: d.b.id, mergedId: d.a.id } } }),
    ]);
    const types = results.map((r) => r.data?.mergeUsers?.__typename).sort();
    expect(types).toEqual(['ConflictError', 'MergeUsersSuccess']);
    expect(await prisma.merge.count()).toBe(1);
    const users = await prisma.user.findMany({ where: { id: { in: [d.a.id, d.b.id] } } });
    expect(users.filter((u) => u.mergedIntoId === null)).toHaveLength(1);
    expect(await prisma.identifier.count({ where: { userId: { in: [d.a.id, d.b.id] } } })).toBe(6); // every identifier kept
  });

  it('a merge and its unmerge cost the same number of statements for 4 moved rows or 120', async () => {
    const counts: number[] = [];
    const undoCounts: number[] = [];
    for (const n of [1, 30]) {
      const org = await anOrganization();
      const sys = await aUser({ isSystemAdmin: true });
      const a = await aUser();
      const b = await aUser();
      await aMember(org.id, a.id);
      await aMember(org.id, b.id, { role: 'ORGANIZATION_ADMIN' });
      const src = await aSource(org.id);
      for (let i = 0; i < n; i++) {
        await anIdentifier(org.id, a.id, src.id, { identifierKey: `k${i}` });
        await anIdentifier(org.id, b.id, src.id, { identifierKey: `k${i}` }); // all clash
        await anIdentifier(org.id, b.id, src.id, { identifierKey: `only-b-${i}` });
        await anIdentity(org.id, { userId: b.id });
      }
      const started = performance.now();
      const { result, statements } = await withSqlLog(() =>
        gql(MERGE, { asUser: sys, variables: { input: { survivorId: a.id, mergedId: b.id } } }),
      );
      const mergeMs = performance.now() - started;
      expectNoErrors(result);
      expect(result.data!.mergeUsers.__typename).toBe('MergeUsersSuccess');
      counts.push(statements.length);
      const undoStarted = performance.now();
      const undo = await withSqlLog(() => gql(UNMERGE, { asUser: sys, variables: { input: { mergeId: result.data!.mergeUsers.merge.id } } }));
      const undoMs = performance.now() - undoStarted;
      expect(undo.result.data!.unmergeUser.__typename).toBe('UnmergeUserSuccess');
      undoCounts.push(undo.statements.length);
      console.info(`n=${n}: mergeUsers ${mergeMs.toFixed(0)} ms, unmergeUser ${undoMs.toFixed(0)} ms`);
    }
    console.info(`mergeUsers: ${counts[0]} SQL statements with 4 moved rows, ${counts[1]} with 120; unmergeUser: ${undoCounts[0]} and ${undoCounts[1]}`);
    expect(counts[1]).toBe(counts[0]);
    expect(counts[0]).toBeLessThanOrEqual(30);
    expect(undoCounts[1]).toBe(undoCounts[0]);
    expect(undoCounts[0]).toBeLessThanOrEqual(30);
  });
});

describe('a merged user is a tombstone that leads to its survivor', () => {
  async function mergedPair() {
    const d = await richDuplicates();
    const result = await gql(MERGE, { asUser: d.admin, variables: { input: { survivorId: d.a.id, mergedId: d.b.id } } });
    expectNoErrors(result);
    return d;
  }

  it('node, nodes, user(id) and user(email) answer the survivor, following chains', async () => {
    const d = await mergedPair();
    const node = await gql(`query ($id: ID!) { node(id: $id) { id ... on User { email } } }`, { asUser: d.admin, variables: { id: uid(d.b.id) } });
    expect(node.data!.node).toEqual({ id: uid(d.a.id), email: 'ada@example.com' });
    const chained = await gql(`query ($id: ID!) { node(id: $id) { id } }`, { asUser: d.admin, variables: { id: uid(d.c.id) } });
    expect(chained.data!.node).toEqual({ id: uid(d.a.id) });
    const nodes = await gql(`query ($ids: [ID!]!) { nodes(ids: $ids) { id } }`, {
      asUser: d.admin,
      variables: { ids: [uid(d.bystander.id), uid(d.b.id), globalId('Organization', d.org1.id), uid(d.c.id)] },
    });
    expect(nodes.data!.nodes).toEqual([{ id: uid(d.bystander.id) }, { id: uid(d.a.id) }, { id: globalId('Organization', d.org1.id) }, { id: uid(d.a.id) }]);
    const byId = await gql(`query ($id: ID!) { user(id: $id) { id } }`, { asUser: d.admin, variables: { id: uid(d.b.id) } });
    expect(byId.data!.user).toEqual({ id: uid(d.a.id) });
    const byEmail = await gql(`{ user(email: "Ada.Lovelace@example.com") { id } }`, { asUser: d.admin });
    expect(byEmail.data!.user).toEqual({ id: uid(d.a.id) });
    const malformed = await gql(`query ($id: ID!) { node(id: $id) { id } }`, { asUser: d.admin, variables: { id: globalId('User', 'not-a-uuid') } });
    expect(malformed).toMatchObject({ data: { node: null } });
    expect(malformed.errors).toBeUndefined();
    const merge = await prisma.merge.findFirstOrThrow();
    const mergeNode = await gql(`query ($id: ID!) { node(id: $id) { ... on UserMerge { mergedUserId survivor { id } } } }`, {
      asUser: d.admin,
      variables: { id: globalId('UserMerge', merge.id) },
    });
    expect(mergeNode.data!.node).toEqual({ mergedUserId: uid(d.b.id), survivor: { id: uid(d.a.id) } });
    // Still invisible to a stranger, tombstone or not.
    const stranger = await aUser();
    const hidden = await gql(`query ($id: ID!) { node(id: $id) { id } }`, { asUser: stranger, variables: { id: uid(d.b.id) } });
    expect(hidden.data!.node).toBeNull();
    const hiddenMerge = await gql(`query ($id: ID!) { node(id: $id) { id } }`, { asUser: stranger, variables: { id: globalId('UserMerge', merge.id) } });
    expect(hiddenMerge.data!.node).toBeNull();
    // Tombstones are listed nowhere: the organization's members are the survivor's.
    const members = await gql(`query ($id: ID!) { organization(id: $id) { members(first: 50) { totalCount edges { node { user { id } } } } } }`, {
      asUser: d.admin,
      variables: { id: d.org1.id },
    });
    const ids = members.data!.organization.members.edges.map((e: { node: { user: { id: string } } }) => e.node.user.id);
    expect(ids).not.toContain(uid(d.b.id));
    expect(ids).toContain(uid(d.a.id));
  });

  it('resolve and resolveMany by the merged email or moved identifiers answer the survivor', async () => {
    const d = await mergedPair();
    const result = await gql(
      `query ($org: ID!) {
        byEmail: resolve(organizationId: $org, input: { email: "ada.lovelace@example.com" }) { user { id } }
        byOldEmail: resolve(organizationId: $org, input: { email: "old-ada@example.com" }) { user { id } }
        many: resolveMany(organizationId: $org, inputs: [{ identifier: { source: "crm", identifierKey: "owner_id", identifierValue: "005B" } }, { email: "ada.lovelace@example.com" }]) { user { id } ambiguous }
      }`,
      { asUser: d.admin, variables: { org: d.org1.id } },
    );
    expectNoErrors(result);
    expect(result.data!.byEmail.user).toEqual({ id: uid(d.a.id) });
    expect(result.data!.byOldEmail.user).toEqual({ id: uid(d.a.id) });
    expect(result.data!.many).toEqual([
      { user: { id: uid(d.a.id) }, ambiguous: false },
      { user: { id: uid(d.a.id) }, ambiguous: false },
    ]);
  });

  it('graph and explainLink start from the survivor; the survivor lists its merges', async () => {
    const d = await mergedPair();
    const result = await gql(
      `query ($org: ID!, $b: ID!, $slack: ID!) {
        graph(organizationId: $org, from: $b) { nodes { id } }
        explainLink(organizationId: $org, a: $b, b: $slack) { length }
        user(id: $b) { id merges { mergedUserId undoneAt survivor { id } } }
      }`,
      { asUser: d.admin, variables: { org: d.org1.id, b: uid(d.b.id), slack: globalId('Identifier', d.aSlack.id) } },
    );
    expectNoErrors(result);
    expect(result.data!.graph.nodes[0]).toEqual({ id: uid(d.a.id) });
    expect(result.data!.explainLink).toEqual({ length: 1 });
    expect(result.data!.user).toEqual({ id: uid(d.a.id), merges: [{ mergedUserId: uid(d.b.id), undoneAt: null, survivor: { id: uid(d.a.id) } }] });
  });

  it('federation references of the merged user resolve to the survivor', async () => {
    const d = await mergedPair();
    const result = await gql(
      `{ _entities(representations: [{ __typename: "User", id: "${uid(d.b.id)}" }, { __typename: "User", id: "${uid(d.bystander.id)}" }]) { ... on User { id } } }`,
      { asUser: d.admin },
    );
    expectNoErrors(result);
    expect(result.data!._entities).toEqual([{ id: uid(d.a.id) }, { id: uid(d.bystander.id) }]);
  });

  it('writes naming the merged user by id or email, or a user merged into it, land on the survivor', async () => {
    const d = await mergedPair();
    const UPSERT = `mutation ($input: UpsertIdentifiersInput!) {
      upsertIdentifiers(input: $input) { __typename ... on UpsertIdentifiersSuccess { results { identifier { identifierKey user { id } } } } }
    }`;
    const item = (ref: Record<string, string>, identifierKey: string) => ({ ...ref, sourceKey: 'crm', identifierKey, identifierValue: 'x', discoveryMethod: 'MCP_TOOL' });
    const result = await gql(UPSERT, {
      asUser: d.admin,
      variables: {
        input: {
          organizationId: d.org1.id,
          items: [item({ userId: d.b.id }, 'by_id'), item({ userEmail: 'Ada.Lovelace@example.com' }, 'by_email'), item({ userId: d.c.id }, 'chained')],
        },
      },
    });
    expectNoErrors(result);
    expect(result.data!.upsertIdentifiers.results.map((r: { identifier: { identifierKey: string; user: { id: string } } }) => [r.identifier.identifierKey, r.identifier.user.id])).toEqual([
      ['by_id', uid(d.a.id)],
      ['by_email', uid(d.a.id)],
      ['chained', uid(d.a.id)],
    ]);
    // A user merged into someone who is no member of the organization names nobody there.
    const stranger = await aUser();
    const org3 = await anOrganization();
    await aMember(org3.id, d.admin.id, { role: 'ORGANIZATION_ADMIN' });
    await aSource(org3.id, { key: 'crm' });
    await prisma.user.update({ where: { id: stranger.id }, data: { mergedIntoId: d.a.id } });
    const elsewhere = await gql(UPSERT, {
      asUser: d.admin,
      variables: { input: { organizationId: org3.id, items: [item({ userId: stranger.id }, 'k')] } },
    });
    expect(elsewhere.data!.upsertIdentifiers.__typename).toBe('NotFoundError');
  });

  it('signing in with the merged user\'s subject acts as the survivor', async () => {
    const d = await mergedPair();
    const result = await gql(`{ viewer { id email } }`, { token: await tokenFor('auth|ada2') });
    expect(result.data!.viewer).toEqual({ id: uid(d.a.id), email: 'ada@example.com' });
    const byEmail = await gql(`{ viewer { id } }`, {
      token: await tokenFor('auth|new-provider', { email: 'old-ada@example.com', email_verified: true }),
    });
    expect(byEmail.data!.viewer).toEqual({ id: uid(d.a.id) });
  });
});

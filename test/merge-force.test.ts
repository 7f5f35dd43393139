import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { expectErrorCode, expectNoErrors, globalId, gql } from './helpers/app.ts';
import { aMember, anIdentifier, anIdentity, anOrganization, aSource, aUser } from './helpers/factories.ts';

// Unmerge after later edits: values compare, not timestamps, and an admin may force an
// unmerge that restores what it can and reports and audits what changed since.

const MERGE = `mutation ($input: MergeUsersInput!) {
  mergeUsers(input: $input) { __typename ... on MergeUsersSuccess { merge { id } } ... on Error { code message } }
}`;
const UNMERGE = `mutation ($input: UnmergeUserInput!) {
  unmergeUser(input: $input) {
    __typename
    ... on UnmergeUserSuccess { merge { id undoneAt changedSinceMerge { id entity changes deleted restored } } }
    ... on MergeChangedError { code changedIds }
    ... on Error { code message }
  }
}`;
const UPDATE_IDENTIFIER = `mutation ($input: UpdateIdentifierInput!) { updateIdentifier(input: $input) { __typename ... on Error { code message } } }`;
const DELETE_IDENTIFIER = `mutation ($input: DeleteIdentifierInput!) { deleteIdentifier(input: $input) { __typename ... on Error { code message } } }`;

/** Every row of the tables a merge may touch, as PostgreSQL holds them, in id order. */
async function dump() {
  const out: Record<string, unknown[]> = {};
  for (const table of ['users', 'members', 'identifiers', 'identities', 'link_suggestions']) {
    const rows = await prisma.$queryRawUnsafe<{ row: unknown }[]>(`SELECT to_jsonb(t) AS row FROM ${table} t ORDER BY id`);
    out[table] = rows.map((r) => r.row);
  }
  return out;
}

/** Two duplicates in one organization, with an admin and an analyst, merged: `b` into `a`. */
async function merged() {
  const admin = await aUser();
  const analyst = await aUser();
  const sys = await aUser({ isSystemAdmin: true });
  const org = await anOrganization();
  await aMember(org.id, admin.id, { role: 'ORGANIZATION_ADMIN' });
  await aMember(org.id, analyst.id, { role: 'ANALYST' });
  const a = await aUser({ name: 'Ada' });
  const b = await aUser({ name: 'Ada Lovelace' });
  await aMember(org.id, a.id);
  await aMember(org.id, b.id);
  const crm = await aSource(org.id, { key: 'crm' });
  const hr = await aSource(org.id, { key: 'hr' });
  await anIdentifier(org.id, a.id, crm.id, { identifierKey: 'owner_id', identifierValue: '005A' });
  const employee = await anIdentifier(org.id, b.id, hr.id, { identifierKey: 'employee_id', identifierValue: 'E7' });
  const email = await anIdentifier(org.id, b.id, crm.id, { identifierKey: 'email', identifierValue: 'ada@corp.test' });
  await anIdentity(org.id, { userId: b.id });
  const before = await dump();
  const result = await gql(MERGE, { asUser: admin, variables: { input: { survivorId: a.id, mergedId: b.id } } });
  expectNoErrors(result);
  return { admin, analyst, sys, org, a, b, employee, email, before, mergeId: result.data!.mergeUsers.merge.id as string };
}

const editValue = async (asUser: { authSubject: string | null }, id: string, identifierValue: string) =>
  expectNoErrors(await gql(UPDATE_IDENTIFIER, { asUser, variables: { input: { id: globalId('Identifier', id), identifierValue } } }));

describe('unmergeUser after later edits', () => {
  it('a row edited and edited back does not block the unmerge, which restores every row as before the merge', async () => {
    const d = await merged();
    await editValue(d.admin, d.employee.id, 'E8');
    await editValue(d.admin, d.employee.id, 'E7');
    const undone = await gql(UNMERGE, { asUser: d.admin, variables: { input: { mergeId: d.mergeId } } });
    expectNoErrors(undone);
    expect(undone.data!.unmergeUser.__typename).toBe('UnmergeUserSuccess');
    expect(undone.data!.unmergeUser.merge.changedSinceMerge).toEqual([]);
    expect(await dump()).toEqual(d.before);
  });

  it('a real change still refuses a plain unmerge; force needs an admin, restores, reports and audits the change', async () => {
    const d = await merged();
    await editValue(d.admin, d.employee.id, 'E8');
    const refused = await gql(UNMERGE, { asUser: d.admin, variables: { input: { mergeId: d.mergeId } } });
    expectErrorCode(refused, 'CONFLICT');
    expect(refused.data!.unmergeUser.changedIds).toEqual([globalId('Identifier', d.employee.id)]);
    const afterChange = await dump();
    expectErrorCode(await gql(UNMERGE, { asUser: d.analyst, variables: { input: { mergeId: d.mergeId, force: true } } }), 'FORBIDDEN');
    expect(await dump()).toEqual(afterChange);

    const forced = await gql(UNMERGE, { asUser: d.admin, variables: { input: { mergeId: d.mergeId, force: true } } });
    expectNoErrors(forced);
    const drift = forced.data!.unmergeUser.merge.changedSinceMerge;
    expect(drift).toHaveLength(1);
    expect(drift[0]).toMatchObject({ id: globalId('Identifier', d.employee.id), entity: 'Identifier', deleted: false, restored: true });
    expect(drift[0].changes.identifier_value).toEqual({ before: 'E7', after: 'E8' });
    expect(Object.keys(drift[0].changes)).not.toContain('updated_at');
    // The forced unmerge put back the value before the merge: every row as it was.
    expect(await dump()).toEqual(d.before);
    const events = await prisma.auditEvent.findMany({ where: { entityId: d.employee.id, action: 'FORCED_UNMERGE' } });
    expect(events).toHaveLength(1);
    expect(events[0]!.organizationId).toBe(d.org.id);
    expect(events[0]!.actorUserId).toBe(d.admin.id);
    expect((events[0]!.changes as Record<string, unknown>).identifier_value).toEqual({ before: 'E7', after: 'E8' });
  });

  it('force leaves a row deleted since the merge deleted, and restores the rest', async () => {
    const d = await merged();
    expectNoErrors(await gql(DELETE_IDENTIFIER, { asUser: d.admin, variables: { input: { id: globalId('Identifier', d.email.id) } } }));
    const forced = await gql(UNMERGE, { asUser: d.sys, variables: { input: { mergeId: d.mergeId, force: true } } });
    expectNoErrors(forced);
    expect(forced.data!.unmergeUser.merge.changedSinceMerge).toEqual([
      { id: globalId('Identifier', d.email.id), entity: 'Identifier', changes: {}, deleted: true, restored: false },
    ]);
    const now = await dump();
    expect(now.identifiers).toEqual(d.before.identifiers!.filter((r) => (r as { id: string }).id !== d.email.id));
    expect({ ...now, identifiers: [] }).toEqual({ ...d.before, identifiers: [] });
    expect(await prisma.auditEvent.count({ where: { entityId: d.email.id, action: 'FORCED_UNMERGE' } })).toBe(1);
  });
});

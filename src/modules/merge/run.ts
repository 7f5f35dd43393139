import { randomUUID } from 'node:crypto';
import type { Access } from '../../context.ts';
import { Prisma, prisma } from '../../db.ts';
import { ConflictError, forbidden, LastOrganizationAdminError, NotFoundError } from '../../errors.ts';
import type { Merge } from '../../generated/prisma/client.ts';
import { recordAudit } from '../audit/service.ts';
import { isSystemAdmin } from '../shared/authorize.ts';
import { columnName, onFirstUse, rowKeys, sqlNames } from '../shared/sql-names.ts';
import { Issues } from '../shared/validate.ts';
import { visibleUsersWhere } from '../user/service.ts';
import { survivorsOf } from '../user/tombstones.ts';
import { mergeEvents } from './events.ts';
import { type MergeChoice, type MergePlan, planMerge, profileColumns, type Row, type Snapshot } from './plan.ts';
import { currentRows, type Db, emptyTables, loadSnapshot, type Table } from './rows.ts';

// Merging one user into another: the checks before and inside the transaction, and the
// statements that apply a plan.

/** The two users of a merge request, checked and redirected, before any transaction. */
export interface MergeParties {
  survivorId: string;
  mergedId: string;
  /** Organizations the viewer administers, fetched before the transaction ('all' for a system admin). */
  adminOrganizations: string[] | 'all';
}

/**
 * Checks the ids of a merge: both name users the viewer can see (NOT_FOUND otherwise,
 * as for ids that do not exist). A survivor that is itself a tombstone stands for its
 * survivor; a merged user that is one was merged already (CONFLICT).
 */
export async function mergeParties(
  access: Access,
  input: { survivorId: string; mergedId: string },
  paths = { survivorId: 'input.survivorId', mergedId: 'input.mergedId' },
): Promise<MergeParties> {
  const issues = new Issues();
  const survivorRaw = issues.id(paths.survivorId, input.survivorId, 'User');
  const mergedId = issues.id(paths.mergedId, input.mergedId, 'User');
  if (survivorRaw && survivorRaw === mergedId) issues.add(paths.mergedId, 'must be another user than the survivor');
  issues.throwIfAny();
  const finals = await survivorsOf([survivorRaw!, mergedId!]);
  const survivorId = finals.get(survivorRaw!);
  const merged = finals.get(mergedId!);
  // Visibility is decided on where the ids lead, as reads of them do.
  const visible = await prisma.user.findMany({
    where: { id: { in: [survivorId, merged].filter((id): id is string => !!id) }, ...(await visibleUsersWhere(access)) },
    select: { id: true },
  });
  if (!survivorId || !visible.some((u) => u.id === survivorId)) throw new NotFoundError('User', `${paths.survivorId}: no such user.`);
  if (!merged || !visible.some((u) => u.id === merged)) throw new NotFoundError('User', `${paths.mergedId}: no such user.`);
  if (merged !== mergedId || survivorId === mergedId) {
    throw new ConflictError([paths.mergedId], 'This user was merged already (into the user its id now leads to).');
  }
  return { survivorId, mergedId: mergedId!, adminOrganizations: await access.organizationIdsWith('admin') };
}

/** FORBIDDEN unless the viewer administers every organization of `ids`. */
export function requireAdminOfAll(parties: { adminOrganizations: string[] | 'all' }, ids: readonly string[]) {
  const admin = parties.adminOrganizations;
  if (admin === 'all') return;
  const missing = ids.filter((id) => !admin.includes(id));
  if (missing.length) {
    throw forbidden('Merging these users touches organizations you do not administer: you must be ORGANIZATION_ADMIN in every one.');
  }
}

/** The checks a merge makes on the locked rows: still mergeable, and the viewer may merge them. */
export function checkMergeable(access: Access, parties: MergeParties, snapshot: Snapshot, plan: MergePlan) {
  const survivor = snapshot.users.find((u) => u.id === parties.survivorId);
  const merged = snapshot.users.find((u) => u.id === parties.mergedId);
  if (!survivor || !merged) throw new NotFoundError('User');
  const { mergedIntoId, isSystemAdmin: systemAdmin } = USER_KEYS();
  if (survivor[mergedIntoId] !== null || merged[mergedIntoId] !== null) {
    throw new ConflictError(['input.mergedId'], 'One of the users was merged meanwhile; look them up again.');
  }
  if ((survivor[systemAdmin] || merged[systemAdmin]) && !isSystemAdmin(access.viewer)) {
    throw forbidden('Only a system admin can merge a system admin.');
  }
  requireAdminOfAll(parties, plan.organizationIds);
}

// Rows are keyed by column (Row); statements name tables and columns through the datamodel.
const USER_KEYS = rowKeys('User');
const MEMBER_KEYS = rowKeys('Member');
const USER = sqlNames('User');
const MEMBER = sqlNames('Member');
const IDENTIFIER = sqlNames('Identifier');
const IDENTITY = sqlNames('Identity');
const LINK_SUGGESTION = sqlNames('LinkSuggestion');
/** The SET list copying the profile columns from a row `r`. */
const SET_PROFILE = onFirstUse(() =>
  Prisma.raw(profileColumns().map(([f]) => `${columnName('User', f)} = r.${columnName('User', f)}`).join(', ')),
);

export interface MergeResult {
  merge: Merge;
  plan: MergePlan;
}

/**
 * Merges inside the caller's transaction: locks and reads both users' rows, plans,
 * checks, applies the plan set-based, and records the merge and its audit events.
 * `also` changes more rows in the same transaction (an approved suggestion); they are
 * restored by an unmerge like the rest.
 */
export async function runMerge(
  tx: Db,
  access: Access,
  parties: MergeParties,
  choices: readonly MergeChoice[],
  also?: { table: Table; id: string; apply: (mergeId: string) => Promise<void> },
): Promise<MergeResult> {
  const snapshot = await loadSnapshot(tx, parties.survivorId, parties.mergedId, true);
  const plan = planMerge(snapshot, parties.survivorId, parties.mergedId, choices);
  checkMergeable(access, parties, snapshot, plan);
  const { survivorId, mergedId } = plan;
  const mergeId = randomUUID();
  const byId = new Map([...snapshot.users, ...snapshot.members, ...snapshot.identifiers, ...snapshot.identities].map((r) => [r.id, r]));

  // The rows the merge changes or deletes, as they are now.
  const touched: Record<Table, string[]> = {
    users: [...(Object.keys(plan.profile).length ? [survivorId] : []), mergedId, ...plan.tombstones],
    members: [...plan.members.moved, ...plan.members.deleted, ...plan.members.updated.map((u) => u.id)],
    identifiers: [...new Set([...plan.identifiers.moved, ...plan.identifiers.slots.map((s) => s.id)])],
    identities: plan.identities.moved,
    link_suggestions: [],
  };
  const before = emptyTables<Row>();
  for (const table of ['users', 'members', 'identifiers', 'identities'] as const) {
    before[table] = touched[table].map((id) => byId.get(id)!);
  }
  if (also) {
    const l = LINK_SUGGESTION();
    const [row] = await tx.$queryRaw<{ row: Row }[]>`
      SELECT to_jsonb(s) AS row FROM ${l.$table} s WHERE s.${l.id} = ${also.id}::uuid FOR UPDATE`;
    if (row) {
      before[also.table].push(row.row);
      touched[also.table].push(also.id);
    }
  }

  // Admins leaving: a membership that stops being an active ORGANIZATION_ADMIN needs another one.
  const mk = MEMBER_KEYS();
  const activeAdmin = (r: Row) => r[mk.role] === 'ORGANIZATION_ADMIN' && r[mk.state] === 'ACTIVE';
  const losing = plan.members.updated
    .filter((u) => u.role !== 'ORGANIZATION_ADMIN' || u.state !== 'ACTIVE')
    .map((u) => byId.get(u.id)!)
    .filter(activeAdmin)
    .map((s) => s[mk.organizationId] as string);
  const keptSurvivor = plan.conflicts.filter((c) => c.kind === 'MEMBERSHIP' && c.keep === 'SURVIVOR');
  for (const c of keptSurvivor) {
    const m = byId.get(c.mergedRowId!)!;
    const s = byId.get(c.survivorRowId!)!;
    if (activeAdmin(m) && !activeAdmin(s)) {
      losing.push(c.organizationId!);
    }
  }
  const [u, m, i, d] = [USER(), MEMBER(), IDENTIFIER(), IDENTITY()];
  if (losing.length) {
    const kept = await tx.$queryRaw<Record<string, string>[]>`
      SELECT DISTINCT ${m.organizationId}::text FROM ${m.$table}
      WHERE ${m.organizationId} = ANY(${losing}::uuid[]) AND ${m.role} = 'ORGANIZATION_ADMIN' AND ${m.state} = 'ACTIVE'
        AND ${m.userId} <> ALL(${[survivorId, mergedId]}::uuid[])`;
    if (losing.some((o) => !kept.some((k) => k[mk.organizationId] === o))) throw new LastOrganizationAdminError();
  }

  // Apply, one statement per kind of change.
  if (Object.keys(plan.profile).length) {
    const next = { ...byId.get(survivorId)!, ...plan.profile };
    await tx.$executeRaw`
      UPDATE ${u.$table} u SET ${SET_PROFILE()}, ${u.updatedAt} = now()
      FROM jsonb_populate_record(NULL::${u.$table}, ${JSON.stringify(next)}::jsonb) r WHERE u.${u.id} = r.${u.id}`;
  }
  await tx.$executeRaw`
    UPDATE ${u.$table} SET ${u.mergedIntoId} = ${survivorId}::uuid, ${u.updatedAt} = now() WHERE ${u.id} = ANY(${[mergedId, ...plan.tombstones]}::uuid[])`;
  if (plan.members.deleted.length) {
    await tx.$executeRaw`DELETE FROM ${m.$table} WHERE ${m.id} = ANY(${plan.members.deleted}::uuid[])`;
  }
  if (plan.members.updated.length) {
    const up = plan.members.updated;
    await tx.$executeRaw`
      UPDATE ${m.$table} m SET ${m.role} = v.role::"MemberRole", ${m.state} = v.state::"MembershipState", ${m.updatedAt} = now()
      FROM unnest(${up.map((x) => x.id)}::uuid[], ${up.map((x) => x.role)}::text[], ${up.map((x) => x.state)}::text[]) AS v(id, role, state)
      WHERE m.${m.id} = v.id`;
  }
  if (plan.members.moved.length) {
    await tx.$executeRaw`UPDATE ${m.$table} SET ${m.userId} = ${survivorId}::uuid, ${m.updatedAt} = now() WHERE ${m.id} = ANY(${plan.members.moved}::uuid[])`;
  }
  // The survivor's own rows change slot first: the merged user's rows may take the slots they leave.
  const moving = new Set(plan.identifiers.moved);
  const reslotted = plan.identifiers.slots.filter((s) => !moving.has(s.id));
  if (reslotted.length) {
    await tx.$executeRaw`
      UPDATE ${i.$table} i SET ${i.mergeSlot} = v.slot, ${i.updatedAt} = now()
      FROM unnest(${reslotted.map((s) => s.id)}::uuid[], ${reslotted.map((s) => s.slot)}::int[]) AS v(id, slot) WHERE i.${i.id} = v.id`;
  }
  if (plan.identifiers.moved.length) {
    const slot = new Map(plan.identifiers.slots.map((s) => [s.id, s.slot]));
    const moved = plan.identifiers.moved;
    await tx.$executeRaw`
      UPDATE ${i.$table} i SET ${i.userId} = ${survivorId}::uuid, ${i.mergeSlot} = COALESCE(v.slot, i.${i.mergeSlot}), ${i.updatedAt} = now()
      FROM unnest(${moved}::uuid[], ${moved.map((id) => slot.get(id) ?? null)}::int[]) AS v(id, slot) WHERE i.${i.id} = v.id`;
  }
  if (plan.identities.moved.length) {
    await tx.$executeRaw`
      UPDATE ${d.$table} SET ${d.userId} = ${survivorId}::uuid, ${d.updatedAt} = now() WHERE ${d.id} = ANY(${plan.identities.moved}::uuid[])`;
  }
  if (also) await also.apply(mergeId);

  const after = await currentRows(tx, touched);
  const merge = await tx.merge.create({
    data: {
      id: mergeId,
      survivorId,
      mergedId,
      organizationIds: plan.organizationIds,
      before: before as unknown as Prisma.InputJsonObject,
      after: after as unknown as Prisma.InputJsonObject,
      decisions: plan.conflicts as unknown as Prisma.InputJsonArray,
      actorUserId: access.viewer.kind === 'user' ? access.viewer.userId : null,
      actorApiKeyId: access.viewer.kind === 'apiKey' ? access.viewer.apiKeyId : null,
    },
  });
  await recordAudit(tx, access.viewer, mergeEvents('MERGE', merge, plan, before, after));
  return { merge, plan };
}

import { randomUUID } from 'node:crypto';
import type { Access } from '../../context.ts';
import { Prisma, prisma } from '../../db.ts';
import {
  ConflictError,
  forbidden,
  LastOrganizationAdminError,
  MergeChangedError,
  NotFoundError,
  ValidationError,
  type ChangedRow,
} from '../../errors.ts';
import type { Merge } from '../../generated/prisma/client.ts';
import { type AuditInput, recordAudit } from '../audit/service.ts';
import { isSystemAdmin } from '../shared/authorize.ts';
import { Issues, uniqueViolation } from '../shared/validate.ts';
import { visibleUsersWhere } from '../user/service.ts';
import { survivorsOf } from '../user/tombstones.ts';

// Merging duplicate users, and undoing it. No GraphQL here.
//
// A merge moves everything of the merged user to the survivor (memberships,
// identifiers, identity links) in one transaction with a constant number of
// statements, and leaves the merged user as a tombstone pointing to the survivor.
// Everything it changed or deleted is kept in `merges` as it was before (and as the
// merge left it), so an unmerge restores the very same rows, ids and values; an
// unmerge refuses (MergeChangedError) when any of those rows changed since, so no
// later change is ever silently overwritten.
//
// Rows are handled as PostgreSQL gives them with to_jsonb (column names), and put
// back with jsonb_populate_recordset, so every column round-trips exactly.

type Db = Prisma.TransactionClient;
/** A row as to_jsonb gives it: column names to JSON values. */
export type Row = Record<string, unknown> & { id: string };

export type MergeSide = 'SURVIVOR' | 'MERGED';
export type ConflictKind = 'PROFILE' | 'MEMBERSHIP' | 'IDENTIFIER';

export interface MergeConflict {
  /** Stable key of the conflict, to choose its side with: `profile:<field>`, `membership:<org>`, `identifier:<org>:<source>:<key>`. */
  key: string;
  kind: ConflictKind;
  organizationId: string | null;
  /** The profile field, or the identifier key, in conflict. */
  field: string;
  survivorValue: unknown;
  mergedValue: unknown;
  /** The side whose value survives: the caller's choice, or the rule's. */
  keep: MergeSide;
  /** Whether the caller chose the side (false: the default rule did). */
  chosen: boolean;
  /** The default rule, in words. */
  rule: string;
  survivorRowId: string | null;
  mergedRowId: string | null;
}

export interface MergePlan {
  survivorId: string;
  mergedId: string;
  organizationIds: string[];
  /** The survivor's profile columns the merge changes, with their new values. */
  profile: Record<string, unknown>;
  members: { moved: string[]; deleted: string[]; updated: { id: string; role: string; state: string }[] };
  identifiers: { moved: string[]; deleted: string[] };
  identities: { moved: string[] };
  /** Tombstones of the merged user, repointed to the survivor (chains stay one step long). */
  tombstones: string[];
  conflicts: MergeConflict[];
}

export interface Snapshot {
  users: Row[];
  members: Row[];
  identifiers: Row[];
  identities: Row[];
}

export interface MergeChoice {
  key: string;
  keep: MergeSide;
}

/** Profile fields by column; the survivor's non-null value wins unless chosen otherwise. */
export const PROFILE_COLUMNS = {
  givenName: 'given_name',
  familyName: 'family_name',
  nickname: 'nickname',
  name: 'name',
  picture: 'picture',
} as const;

const ROLE_STRENGTH: Record<string, number> = { SYSTEM_ADMIN: 3, ORGANIZATION_ADMIN: 2, ANALYST: 1 };
const UNSCORED = 1; // an unscored identifier counts as certain, as `resolve` ranks it
const confidence = (r: Row) => (r.confidence_score === null ? UNSCORED : Number(r.confidence_score));
const time = (r: Row) => new Date(String(r.updated_at)).getTime();

/**
 * What merging `mergedId` into `survivorId` does, from the rows of both users: every
 * conflict with the side that survives (the caller's choice, else the rule) and every
 * row that moves, changes or goes. Pure: the preview and the merge run this same plan.
 */
export function planMerge(snapshot: Snapshot, survivorId: string, mergedId: string, choices: readonly MergeChoice[]): MergePlan {
  const chosen = new Map(choices.map((c) => [c.key, c.keep]));
  const conflicts: MergeConflict[] = [];
  const decide = (c: Omit<MergeConflict, 'keep' | 'chosen'> & { default: MergeSide }): MergeSide => {
    const { default: fallback, ...rest } = c;
    const choice = chosen.get(c.key);
    conflicts.push({ ...rest, keep: choice ?? fallback, chosen: choice !== undefined });
    return choice ?? fallback;
  };

  const survivor = snapshot.users.find((u) => u.id === survivorId)!;
  const merged = snapshot.users.find((u) => u.id === mergedId)!;
  const profile: Record<string, unknown> = {};
  for (const [field, column] of Object.entries(PROFILE_COLUMNS)) {
    const s = survivor[column] ?? null;
    const m = merged[column] ?? null;
    if (s === m || m === null && s === null) continue;
    const keep = decide({
      key: `profile:${field}`,
      kind: 'PROFILE',
      organizationId: null,
      field,
      survivorValue: s,
      mergedValue: m,
      rule: "the survivor's value unless it is null",
      default: s !== null ? 'SURVIVOR' : 'MERGED',
      survivorRowId: survivorId,
      mergedRowId: mergedId,
    });
    if (keep === 'MERGED') profile[column] = m;
  }

  const members: MergePlan['members'] = { moved: [], deleted: [], updated: [] };
  const survivorMembers = new Map(snapshot.members.filter((m) => m.user_id === survivorId).map((m) => [m.organization_id as string, m]));
  for (const m of snapshot.members.filter((r) => r.user_id === mergedId)) {
    const organizationId = m.organization_id as string;
    const s = survivorMembers.get(organizationId);
    if (!s) {
      members.moved.push(m.id);
      continue;
    }
    members.deleted.push(m.id);
    if (s.role === m.role && s.state === m.state) continue;
    const keep = decide({
      key: `membership:${organizationId}`,
      kind: 'MEMBERSHIP',
      organizationId,
      field: 'role',
      survivorValue: { role: s.role, state: s.state },
      mergedValue: { role: m.role, state: m.state },
      rule: 'the stronger role (with its state); the survivor on a tie',
      default: ROLE_STRENGTH[m.role as string]! > ROLE_STRENGTH[s.role as string]! ? 'MERGED' : 'SURVIVOR',
      survivorRowId: s.id,
      mergedRowId: m.id,
    });
    if (keep === 'MERGED') members.updated.push({ id: s.id, role: m.role as string, state: m.state as string });
  }

  const identifiers: MergePlan['identifiers'] = { moved: [], deleted: [] };
  const naturalKey = (r: Row) => `${r.organization_id}:${r.source_id}:${r.identifier_key}`;
  const survivorIdentifiers = new Map(snapshot.identifiers.filter((i) => i.user_id === survivorId).map((i) => [naturalKey(i), i]));
  for (const m of snapshot.identifiers.filter((r) => r.user_id === mergedId)) {
    const s = survivorIdentifiers.get(naturalKey(m));
    if (!s) {
      identifiers.moved.push(m.id);
      continue;
    }
    const better = confidence(m) - confidence(s) || time(m) - time(s);
    const keep = decide({
      key: `identifier:${naturalKey(m)}`,
      kind: 'IDENTIFIER',
      organizationId: m.organization_id as string,
      field: m.identifier_key as string,
      survivorValue: { identifierValue: s.identifier_value, confidenceScore: s.confidence_score, updatedAt: s.updated_at },
      mergedValue: { identifierValue: m.identifier_value, confidenceScore: m.confidence_score, updatedAt: m.updated_at },
      rule: 'the higher confidence (unscored counts as certain), then the newer; the survivor on a tie',
      default: better > 0 ? 'MERGED' : 'SURVIVOR',
      survivorRowId: s.id,
      mergedRowId: m.id,
    });
    if (keep === 'MERGED') {
      identifiers.deleted.push(s.id);
      identifiers.moved.push(m.id);
    } else {
      identifiers.deleted.push(m.id);
    }
  }

  const issues = new Issues();
  choices.forEach((c, i) => {
    if (!conflicts.some((k) => k.key === c.key)) issues.add(`input.choices[${i}].key`, 'is not a conflict of this merge');
  });
  issues.throwIfAny();

  const organizationIds = new Set<string>();
  for (const r of [...snapshot.members, ...snapshot.identifiers, ...snapshot.identities]) organizationIds.add(r.organization_id as string);
  return {
    survivorId,
    mergedId,
    organizationIds: [...organizationIds].sort(),
    profile,
    members,
    identifiers,
    identities: { moved: snapshot.identities.filter((d) => d.user_id === mergedId).map((d) => d.id) },
    tombstones: snapshot.users.filter((u) => u.merged_into_id === mergedId).map((u) => u.id),
    conflicts,
  };
}

const lockClause = (lock: boolean) => (lock ? Prisma.sql`FOR UPDATE` : Prisma.empty);

/** The rows of both users (and the merged user's tombstones), locked for a merge: four statements. */
export async function loadSnapshot(db: Db, survivorId: string, mergedId: string, lock: boolean): Promise<Snapshot> {
  const pair = [survivorId, mergedId];
  // Users first, in id order, so two merges of one pair (either way round) queue here.
  const users = await db.$queryRaw<{ row: Row }[]>`
    SELECT to_jsonb(u) AS row FROM users u WHERE u.id = ANY(${pair}::uuid[]) OR u.merged_into_id = ${mergedId}::uuid
    ORDER BY u.id ${lockClause(lock)}`;
  const members = await db.$queryRaw<{ row: Row }[]>`
    SELECT to_jsonb(m) AS row FROM members m WHERE m.user_id = ANY(${pair}::uuid[]) ORDER BY m.id ${lockClause(lock)}`;
  const identifiers = await db.$queryRaw<{ row: Row }[]>`
    SELECT to_jsonb(i) AS row FROM identifiers i WHERE i.user_id = ANY(${pair}::uuid[]) ORDER BY i.id ${lockClause(lock)}`;
  const identities = await db.$queryRaw<{ row: Row }[]>`
    SELECT to_jsonb(d) AS row FROM identities d WHERE d.user_id = ANY(${pair}::uuid[]) ORDER BY d.id ${lockClause(lock)}`;
  const rows = (list: { row: Row }[]) => list.map((r) => r.row);
  return { users: rows(users), members: rows(members), identifiers: rows(identifiers), identities: rows(identities) };
}

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
function requireAdminOfAll(parties: { adminOrganizations: string[] | 'all' }, ids: readonly string[]) {
  const admin = parties.adminOrganizations;
  if (admin === 'all') return;
  const missing = ids.filter((id) => !admin.includes(id));
  if (missing.length) {
    throw forbidden('Merging these users touches organizations you do not administer: you must be ORGANIZATION_ADMIN in every one.');
  }
}

/** The checks a merge makes on the locked rows: still mergeable, and the viewer may merge them. */
function checkMergeable(access: Access, parties: MergeParties, snapshot: Snapshot, plan: MergePlan) {
  const survivor = snapshot.users.find((u) => u.id === parties.survivorId);
  const merged = snapshot.users.find((u) => u.id === parties.mergedId);
  if (!survivor || !merged) throw new NotFoundError('User');
  if (survivor.merged_into_id !== null || merged.merged_into_id !== null) {
    throw new ConflictError(['input.mergedId'], 'One of the users was merged meanwhile; look them up again.');
  }
  if ((survivor.is_system_admin || merged.is_system_admin) && !isSystemAdmin(access.viewer)) {
    throw forbidden('Only a system admin can merge a system admin.');
  }
  requireAdminOfAll(parties, plan.organizationIds);
}

/** What would change, without writing: the plan on the current rows. */
export async function previewMerge(access: Access, input: { survivorId: string; mergedId: string; choices?: readonly MergeChoice[] | null }) {
  const parties = await mergeParties(access, input);
  const snapshot = await loadSnapshot(prisma, parties.survivorId, parties.mergedId, false);
  const plan = planMerge(snapshot, parties.survivorId, parties.mergedId, input.choices ?? []);
  checkMergeable(access, parties, snapshot, plan);
  return plan;
}

const PROFILE = Object.values(PROFILE_COLUMNS);

/** The rows a merge touched (changed or deleted), by table, as the tables hold them now. */
async function currentRows(db: Db, ids: Record<Table, string[]>): Promise<Record<Table, Row[]>> {
  const rows = await db.$queryRaw<{ t: Table; row: Row }[]>`
    SELECT 'users' AS t, to_jsonb(x) AS row FROM users x WHERE x.id = ANY(${ids.users}::uuid[])
    UNION ALL SELECT 'members', to_jsonb(x) FROM members x WHERE x.id = ANY(${ids.members}::uuid[])
    UNION ALL SELECT 'identifiers', to_jsonb(x) FROM identifiers x WHERE x.id = ANY(${ids.identifiers}::uuid[])
    UNION ALL SELECT 'identities', to_jsonb(x) FROM identities x WHERE x.id = ANY(${ids.identities}::uuid[])
    UNION ALL SELECT 'link_suggestions', to_jsonb(x) FROM link_suggestions x WHERE x.id = ANY(${ids.link_suggestions}::uuid[])`;
  const out = emptyTables<Row>();
  for (const r of rows) out[r.t].push(r.row);
  return out;
}

export const TABLES = ['users', 'members', 'identifiers', 'identities', 'link_suggestions'] as const;
export type Table = (typeof TABLES)[number];
const emptyTables = <T>(): Record<Table, T[]> => ({ users: [], members: [], identifiers: [], identities: [], link_suggestions: [] });

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
    identifiers: [...plan.identifiers.moved, ...plan.identifiers.deleted],
    identities: plan.identities.moved,
    link_suggestions: [],
  };
  const before = emptyTables<Row>();
  for (const table of ['users', 'members', 'identifiers', 'identities'] as const) {
    before[table] = touched[table].map((id) => byId.get(id)!);
  }
  if (also) {
    const [row] = await tx.$queryRaw<{ row: Row }[]>`
      SELECT to_jsonb(s) AS row FROM link_suggestions s WHERE s.id = ${also.id}::uuid FOR UPDATE`;
    if (row) {
      before[also.table].push(row.row);
      touched[also.table].push(also.id);
    }
  }

  // Admins leaving: a membership that stops being an active ORGANIZATION_ADMIN needs another one.
  const losing = plan.members.updated
    .filter((u) => u.role !== 'ORGANIZATION_ADMIN' || u.state !== 'ACTIVE')
    .map((u) => byId.get(u.id)!)
    .filter((s) => s.role === 'ORGANIZATION_ADMIN' && s.state === 'ACTIVE')
    .map((s) => s.organization_id as string);
  const keptSurvivor = plan.conflicts.filter((c) => c.kind === 'MEMBERSHIP' && c.keep === 'SURVIVOR');
  for (const c of keptSurvivor) {
    const m = byId.get(c.mergedRowId!)!;
    const s = byId.get(c.survivorRowId!)!;
    if (m.role === 'ORGANIZATION_ADMIN' && m.state === 'ACTIVE' && !(s.role === 'ORGANIZATION_ADMIN' && s.state === 'ACTIVE')) {
      losing.push(c.organizationId!);
    }
  }
  if (losing.length) {
    const kept = await tx.$queryRaw<{ organization_id: string }[]>`
      SELECT DISTINCT organization_id::text FROM members
      WHERE organization_id = ANY(${losing}::uuid[]) AND role = 'ORGANIZATION_ADMIN' AND state = 'ACTIVE'
        AND user_id <> ALL(${[survivorId, mergedId]}::uuid[])`;
    if (losing.some((o) => !kept.some((k) => k.organization_id === o))) throw new LastOrganizationAdminError();
  }

  // Apply, one statement per kind of change.
  if (Object.keys(plan.profile).length) {
    const next = { ...byId.get(survivorId)!, ...plan.profile };
    await tx.$executeRaw`
      UPDATE users u SET ${Prisma.raw(PROFILE.map((c) => `${c} = r.${c}`).join(', '))}, updated_at = now()
      FROM jsonb_populate_record(NULL::users, ${JSON.stringify(next)}::jsonb) r WHERE u.id = r.id`;
  }
  await tx.$executeRaw`
    UPDATE users SET merged_into_id = ${survivorId}::uuid, updated_at = now() WHERE id = ANY(${[mergedId, ...plan.tombstones]}::uuid[])`;
  if (plan.members.deleted.length) {
    await tx.$executeRaw`DELETE FROM members WHERE id = ANY(${plan.members.deleted}::uuid[])`;
  }
  if (plan.members.updated.length) {
    const u = plan.members.updated;
    await tx.$executeRaw`
      UPDATE members m SET role = v.role::"MemberRole", state = v.state::"MembershipState", updated_at = now()
      FROM unnest(${u.map((x) => x.id)}::uuid[], ${u.map((x) => x.role)}::text[], ${u.map((x) => x.state)}::text[]) AS v(id, role, state)
      WHERE m.id = v.id`;
  }
  if (plan.members.moved.length) {
    await tx.$executeRaw`UPDATE members SET user_id = ${survivorId}::uuid, updated_at = now() WHERE id = ANY(${plan.members.moved}::uuid[])`;
  }
  if (plan.identifiers.deleted.length) {
    await tx.$executeRaw`DELETE FROM identifiers WHERE id = ANY(${plan.identifiers.deleted}::uuid[])`;
  }
  if (plan.identifiers.moved.length) {
    await tx.$executeRaw`
      UPDATE identifiers SET user_id = ${survivorId}::uuid, updated_at = now() WHERE id = ANY(${plan.identifiers.moved}::uuid[])`;
  }
  if (plan.identities.moved.length) {
    await tx.$executeRaw`
      UPDATE identities SET user_id = ${survivorId}::uuid, updated_at = now() WHERE id = ANY(${plan.identities.moved}::uuid[])`;
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

/**
 * The audit events of a merge or an unmerge: one per organization on the survivor (so
 * every organization's trail and subscription sees it), one on the merged user, and
 * one per membership, identifier and identity row it moved, changed or deleted.
 */
function mergeEvents(action: 'MERGE' | 'UNMERGE', merge: Merge, plan: Pick<MergePlan, 'organizationIds'>, from: Record<Table, Row[]>, to: Record<Table, Row[]>): AuditInput[] {
  const summary = { mergeId: merge.id, survivorId: merge.survivorId, mergedId: merge.mergedId };
  const link = action === 'MERGE' ? { before: null, after: merge.survivorId } : { before: merge.survivorId, after: null };
  const events: AuditInput[] = [
    { organizationId: null, entityType: 'User', entityId: merge.mergedId, action, changes: { mergedIntoId: link } },
    ...plan.organizationIds.map((organizationId) => ({
      organizationId,
      entityType: 'User',
      entityId: merge.survivorId,
      action,
      changes: { merge: { before: action === 'MERGE' ? null : summary, after: action === 'MERGE' ? summary : null } },
    })),
  ];
  const entity = { members: 'Member', identifiers: 'Identifier', identities: 'Identity' } as const;
  for (const table of ['members', 'identifiers', 'identities'] as const) {
    const after = new Map(to[table].map((r) => [r.id, r]));
    const before = new Map(from[table].map((r) => [r.id, r]));
    for (const id of new Set([...before.keys(), ...after.keys()])) {
      const b = before.get(id) ?? null;
      const a = after.get(id) ?? null;
      const row = (a ?? b)!;
      const changes: Record<string, { before: unknown; after: unknown }> = {};
      for (const [field, column] of [['userId', 'user_id'], ['role', 'role'], ['state', 'state']] as const) {
        if (!(column in row)) continue;
        const bv = b?.[column] ?? null;
        const av = a?.[column] ?? null;
        if (bv !== av) changes[field] = { before: bv, after: av };
      }
      events.push({
        organizationId: row.organization_id as string,
        entityType: entity[table],
        entityId: id,
        action: !a ? 'DELETE' : !b ? 'CREATE' : action,
        changes,
      });
    }
  }
  return events;
}

export interface MergeUsersInput {
  survivorId: string;
  mergedId: string;
  choices?: readonly MergeChoice[] | null;
}

/** Merges `mergedId` into `survivorId` (ORGANIZATION_ADMIN of every organization either touches). */
export async function mergeUsers(access: Access, input: MergeUsersInput): Promise<MergeResult> {
  const parties = await mergeParties(access, input);
  return prisma.$transaction((tx) => runMerge(tx, access, parties, input.choices ?? []));
}

const COLUMN = /^[a-z_]+$/;

/**
 * Undoes a merge: restores every row it changed or deleted to its state before the
 * merge (same ids, same values), in one transaction, and records UNMERGE events.
 * Refused with MergeChangedError when any of those rows changed since the merge (the
 * later change would be lost), with CONFLICT when it was undone already.
 */
export async function unmergeUser(access: Access, input: { mergeId: string }): Promise<Merge> {
  const issues = new Issues();
  const mergeId = issues.id('input.mergeId', input.mergeId, 'UserMerge');
  issues.throwIfAny();
  const found = await prisma.merge.findUnique({ where: { id: mergeId! }, select: { organizationIds: true, survivorId: true, mergedId: true } });
  if (!found) throw new NotFoundError('UserMerge');
  const admin = await access.organizationIdsWith('admin');
  const readable = await access.readableOrganizationIds();
  const sees = readable === 'all' || found.organizationIds.some((o) => readable.includes(o));
  if (!sees && !isSystemAdmin(access.viewer)) throw new NotFoundError('UserMerge');
  requireAdminOfAll({ adminOrganizations: admin }, found.organizationIds);

  try {
    return await prisma.$transaction(async (tx) => {
      const [locked] = await tx.$queryRaw<{ undone: boolean }[]>`
        SELECT undone_at IS NOT NULL AS undone FROM merges WHERE id = ${mergeId}::uuid FOR UPDATE`;
      if (!locked) throw new NotFoundError('UserMerge');
      if (locked.undone) throw new ConflictError(['input.mergeId'], 'This merge was undone already.');
      const merge = await tx.merge.findUniqueOrThrow({ where: { id: mergeId! } });
      const before = merge.before as unknown as Record<Table, Row[]>;
      const after = merge.after as unknown as Record<Table, Row[]>;
      // Both users first, in id order, as a merge locks them.
      await tx.$queryRaw`SELECT id FROM users WHERE id = ANY(${[merge.survivorId, merge.mergedId]}::uuid[]) ORDER BY id FOR UPDATE`;

      const changed: ChangedRow[] = [];
      for (const table of TABLES) {
        const rows = after[table] ?? [];
        if (!rows.length) continue;
        const t = Prisma.raw(table);
        const ids = rows.map((r) => r.id);
        const differ = await tx.$queryRaw<{ id: string }[]>`
          WITH cur AS (SELECT * FROM ${t} WHERE id = ANY(${ids}::uuid[]) FOR UPDATE)
          SELECT a.id::text FROM jsonb_populate_recordset(NULL::${t}, ${JSON.stringify(rows)}::jsonb) a
          LEFT JOIN cur c ON c.id = a.id
          WHERE c.id IS NULL OR to_jsonb(c) IS DISTINCT FROM to_jsonb(a)`;
        const entity = { users: 'User', members: 'Member', identifiers: 'Identifier', identities: 'Identity', link_suggestions: 'LinkSuggestion' }[table];
        changed.push(...differ.map((d) => ({ entity, id: d.id })));
      }
      if (changed.length) throw new MergeChangedError(changed);

      // Restore: rows the merge changed are updated back, rows it deleted inserted again.
      for (const table of TABLES) {
        const rows = before[table] ?? [];
        if (!rows.length) continue;
        const kept = new Set((after[table] ?? []).map((r) => r.id));
        const t = Prisma.raw(table);
        const updated = rows.filter((r) => kept.has(r.id));
        const deleted = rows.filter((r) => !kept.has(r.id));
        if (updated.length) {
          const columns = Object.keys(updated[0]!).filter((c) => c !== 'id');
          if (!columns.every((c) => COLUMN.test(c))) throw new Error(`unexpected column in merge record of ${table}`);
          await tx.$executeRaw`
            UPDATE ${t} AS x SET (${Prisma.raw(columns.join(', '))}) = (${Prisma.raw(columns.map((c) => `r.${c}`).join(', '))})
            FROM jsonb_populate_recordset(NULL::${t}, ${JSON.stringify(updated)}::jsonb) r WHERE x.id = r.id`;
        }
        if (deleted.length) {
          await tx.$executeRaw`INSERT INTO ${t} SELECT * FROM jsonb_populate_recordset(NULL::${t}, ${JSON.stringify(deleted)}::jsonb)`;
        }
      }
      const undone = await tx.merge.update({
        where: { id: merge.id },
        data: { undoneAt: new Date(), undoneByUserId: access.viewer.kind === 'user' ? access.viewer.userId : null },
      });
      await recordAudit(tx, access.viewer, mergeEvents('UNMERGE', merge, merge, after, before));
      return undone;
    });
  } catch (err) {
    if (uniqueViolation(err)) {
      throw new ConflictError(['input.mergeId'], 'A row the merge removed cannot come back: its natural key was taken since.');
    }
    throw err;
  }
}



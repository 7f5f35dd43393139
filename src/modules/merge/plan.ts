import { UNSCORED } from '../shared/rules.ts';
import { onFirstUse, rowKeys, type FieldOf } from '../shared/sql-names.ts';
import { Issues } from '../shared/validate.ts';

// What a merge of two users does, decided from their rows alone: every conflict with
// the side that survives and every row that moves, changes or goes.

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
  /**
   * Every identifier of the merged user moves; none goes. Where both users hold a source
   * and key, the value kept answers the upsert key (slot 0) and the other stays beside it:
   * `slots` gives each row whose merge_slot changes its new one, `besides` the rows that
   * end beside another value.
   */
  identifiers: { moved: string[]; slots: { id: string; slot: number }[]; besides: string[] };
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

// Rows are keyed by column (Row), so the plan reads them by the datamodel's column names.
const USER = rowKeys('User');
const MEMBER = rowKeys('Member');
const IDENTIFIER = rowKeys('Identifier');
const IDENTITY = rowKeys('Identity');

/** Profile fields; the survivor's non-null value wins unless chosen otherwise. */
const PROFILE_FIELDS = ['givenName', 'familyName', 'nickname', 'name', 'picture'] as const satisfies readonly FieldOf<'User'>[];
/** The profile fields with their columns. */
export const profileColumns = onFirstUse(() => PROFILE_FIELDS.map((field) => [field, USER()[field]] as const));

const ROLE_STRENGTH: Record<string, number> = { SYSTEM_ADMIN: 3, ORGANIZATION_ADMIN: 2, ANALYST: 1 };
const confidence = (r: Row) => (r[IDENTIFIER().confidenceScore] === null ? UNSCORED : Number(r[IDENTIFIER().confidenceScore]));
const time = (r: Row) => new Date(String(r[IDENTIFIER().updatedAt])).getTime();

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

  const [u, mc, ic, dc] = [USER(), MEMBER(), IDENTIFIER(), IDENTITY()];
  const survivor = snapshot.users.find((u) => u.id === survivorId)!;
  const merged = snapshot.users.find((u) => u.id === mergedId)!;
  const profile: Record<string, unknown> = {};
  for (const [field, column] of profileColumns()) {
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
  const survivorMembers = new Map(snapshot.members.filter((m) => m[mc.userId] === survivorId).map((m) => [m[mc.organizationId] as string, m]));
  for (const m of snapshot.members.filter((r) => r[mc.userId] === mergedId)) {
    const organizationId = m[mc.organizationId] as string;
    const s = survivorMembers.get(organizationId);
    if (!s) {
      members.moved.push(m.id);
      continue;
    }
    members.deleted.push(m.id);
    const [role, state] = [mc.role, mc.state];
    if (s[role] === m[role] && s[state] === m[state]) continue;
    const keep = decide({
      key: `membership:${organizationId}`,
      kind: 'MEMBERSHIP',
      organizationId,
      field: 'role',
      survivorValue: { role: s[role], state: s[state] },
      mergedValue: { role: m[role], state: m[state] },
      rule: 'the stronger role (with its state); the survivor on a tie',
      default: ROLE_STRENGTH[m[role] as string]! > ROLE_STRENGTH[s[role] as string]! ? 'MERGED' : 'SURVIVOR',
      survivorRowId: s.id,
      mergedRowId: m.id,
    });
    if (keep === 'MERGED') members.updated.push({ id: s.id, role: m[role] as string, state: m[state] as string });
  }

  const identifiers = planIdentifiers(snapshot, survivorId, mergedId, (key, s, m) => decide({
    key,
    kind: 'IDENTIFIER',
    organizationId: m[ic.organizationId] as string,
    field: m[ic.identifierKey] as string,
    survivorValue: { identifierValue: s[ic.identifierValue], confidenceScore: s[ic.confidenceScore], updatedAt: s[ic.updatedAt] },
    mergedValue: { identifierValue: m[ic.identifierValue], confidenceScore: m[ic.confidenceScore], updatedAt: m[ic.updatedAt] },
    rule: 'the higher confidence (unscored counts as certain), then the newer; the survivor on a tie. The other value stays beside it',
    default: (confidence(m) - confidence(s) || time(m) - time(s)) > 0 ? 'MERGED' : 'SURVIVOR',
    survivorRowId: s.id,
    mergedRowId: m.id,
  }));

  const issues = new Issues();
  choices.forEach((c, i) => {
    if (!conflicts.some((k) => k.key === c.key)) issues.add(`input.choices[${i}].key`, 'is not a conflict of this merge');
  });
  issues.throwIfAny();

  const organizationIds = new Set<string>();
  for (const r of snapshot.members) organizationIds.add(r[mc.organizationId] as string);
  for (const r of snapshot.identifiers) organizationIds.add(r[ic.organizationId] as string);
  for (const r of snapshot.identities) organizationIds.add(r[dc.organizationId] as string);
  return {
    survivorId,
    mergedId,
    organizationIds: [...organizationIds].sort(),
    profile,
    members,
    identifiers,
    identities: { moved: snapshot.identities.filter((d) => d[dc.userId] === mergedId).map((d) => d.id) },
    tombstones: snapshot.users.filter((r) => r[u.mergedIntoId] === mergedId).map((r) => r.id),
    conflicts,
  };
}

const slotOf = (r: Row) => Number(r[IDENTIFIER().mergeSlot] ?? 0);

/**
 * Where each identifier goes. For a source and key both users hold, a conflict decides
 * which slot-0 value stays in slot 0; every other row keeps its slot when it is free and
 * otherwise takes the next one past every slot either user holds, so no two rows meet.
 */
function planIdentifiers(
  snapshot: Snapshot,
  survivorId: string,
  mergedId: string,
  decide: (key: string, survivorRow: Row, mergedRow: Row) => MergeSide,
): MergePlan['identifiers'] {
  const plan: MergePlan['identifiers'] = { moved: [], slots: [], besides: [] };
  const groups = new Map<string, { s: Row[]; m: Row[] }>();
  const c = IDENTIFIER();
  for (const r of snapshot.identifiers) {
    if (r[c.userId] !== survivorId && r[c.userId] !== mergedId) continue;
    const key = `identifier:${r[c.organizationId]}:${r[c.sourceId]}:${r[c.identifierKey]}`;
    const g = groups.get(key) ?? groups.set(key, { s: [], m: [] }).get(key)!;
    (r[c.userId] === survivorId ? g.s : g.m).push(r);
  }
  for (const [key, g] of groups) {
    plan.moved.push(...g.m.map((m) => m.id));
    if (!g.s.length) continue;
    const s0 = g.s.find((r) => slotOf(r) === 0);
    const m0 = g.m.find((r) => slotOf(r) === 0);
    let next = Math.max(...g.s.map(slotOf), ...g.m.map(slotOf)) + 1;
    const taken = new Set(g.s.map(slotOf));
    if (s0 && m0 && decide(key, s0, m0) === 'MERGED') {
      plan.slots.push({ id: s0.id, slot: next++ });
      plan.besides.push(s0.id);
      taken.delete(0);
    }
    for (const m of [...g.m].sort((a, b) => slotOf(a) - slotOf(b))) {
      const slot = taken.has(slotOf(m)) ? next++ : slotOf(m);
      taken.add(slot);
      if (slot !== slotOf(m)) plan.slots.push({ id: m.id, slot });
      if (slot !== 0) plan.besides.push(m.id);
    }
  }
  return plan;
}

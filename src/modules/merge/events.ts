import type { Merge } from '../../generated/prisma/client.ts';
import type { AuditInput } from '../audit/service.ts';
import { type MergePlan, profileColumns, type Row } from './plan.ts';
import type { Table } from './rows.ts';
import type { Drift } from './unmerge.ts';
import { rowKeys } from '../shared/sql-names.ts';

// A merge record's rows are keyed by column names, as to_jsonb gives them.
const KEYS = { members: rowKeys('Member'), identifiers: rowKeys('Identifier'), identities: rowKeys('Identity') };

/**
 * The audit events of a merge or an unmerge: one per organization on the survivor (so
 * every organization's trail and subscription sees it), one on the merged user, and
 * one per membership, identifier and identity row it moved, changed or deleted.
 */
export function mergeEvents(action: 'MERGE' | 'UNMERGE', merge: Merge, plan: Pick<MergePlan, 'organizationIds'>, from: Record<Table, Row[]>, to: Record<Table, Row[]>): AuditInput[] {
  const summary = { mergeId: merge.id, survivorId: merge.survivorId, mergedId: merge.mergedId };
  const link = action === 'MERGE' ? { before: null, after: merge.survivorId } : { before: merge.survivorId, after: null };
  // The survivor's profile as the merge (or unmerge) found it and left it.
  const profile: Record<string, { before: unknown; after: unknown }> = {};
  const was = from.users.find((u) => u.id === merge.survivorId);
  const is = to.users.find((u) => u.id === merge.survivorId);
  if (was && is) {
    for (const [field, column] of profileColumns()) {
      if ((was[column] ?? null) !== (is[column] ?? null)) profile[field] = { before: was[column] ?? null, after: is[column] ?? null };
    }
  }
  const events: AuditInput[] = [
    { organizationId: null, entityType: 'User', entityId: merge.mergedId, action, changes: { mergedIntoId: link } },
    ...plan.organizationIds.map((organizationId) => ({
      organizationId,
      entityType: 'User',
      entityId: merge.survivorId,
      action,
      changes: { merge: { before: action === 'MERGE' ? null : summary, after: action === 'MERGE' ? summary : null }, ...profile },
    })),
  ];
  // A merge that touched no organization still records the survivor's profile change.
  if (!plan.organizationIds.length && Object.keys(profile).length) {
    events.push({ organizationId: null, entityType: 'User', entityId: merge.survivorId, action, changes: profile });
  }
  const entity = { members: 'Member', identifiers: 'Identifier', identities: 'Identity' } as const;
  for (const table of ['members', 'identifiers', 'identities'] as const) {
    const after = new Map(to[table].map((r) => [r.id, r]));
    const before = new Map(from[table].map((r) => [r.id, r]));
    for (const id of new Set([...before.keys(), ...after.keys()])) {
      const b = before.get(id) ?? null;
      const a = after.get(id) ?? null;
      const row = (a ?? b)!;
      const changes: Record<string, { before: unknown; after: unknown }> = {};
      const keys = KEYS[table]() as Readonly<Record<string, string | undefined>>;
      for (const field of ['userId', 'role', 'state'] as const) {
        const column = keys[field];
        if (!column || !(column in row)) continue;
        const bv = b?.[column] ?? null;
        const av = a?.[column] ?? null;
        if (bv !== av) changes[field] = { before: bv, after: av };
      }
      events.push({
        organizationId: row[keys.organizationId!] as string,
        entityType: entity[table],
        entityId: id,
        action: !a ? 'DELETE' : !b ? 'CREATE' : action,
        changes,
      });
    }
  }
  return events;
}

/**
 * The events of a forced unmerge for the rows that had changed since the merge: one per
 * row, in the row's organization, with `{ column: { before: as the merge left it, after:
 * as it was found } }`, and whether the row came back as it was before the merge.
 */
export function driftEvents(merge: Merge, drift: readonly Drift[]): AuditInput[] {
  return drift.map((d) => ({
    organizationId: d.organizationId,
    entityType: d.entity,
    entityId: d.id,
    action: 'FORCED_UNMERGE',
    changes: { ...d.changes, forcedUnmerge: { before: { mergeId: merge.id, deletedSinceMerge: d.deleted }, after: { restored: d.restored } } },
  }));
}

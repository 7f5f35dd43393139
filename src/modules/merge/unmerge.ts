import { asSystem } from '../../db/scope.ts';
import type { Access } from '../../context.ts';
import { Prisma, prisma } from '../../db.ts';
import { ConflictError, MergeChangedError, NotFoundError } from '../../errors.ts';
import type { Merge } from '../../generated/prisma/client.ts';
import { recordAudit } from '../audit/service.ts';
import { isSystemAdmin } from '../shared/authorize.ts';
import { sqlNames } from '../shared/sql-names.ts';
import { Issues, uniqueViolation } from '../shared/validate.ts';
import { driftEvents, mergeEvents } from './events.ts';
import type { Row } from './plan.ts';
import { type Db, tableOf, TABLES, type Table } from './rows.ts';
import { requireAdminOfAll } from './run.ts';

const COLUMN = /^[a-z_]+$/;

/** Columns that say when a row was written, not what it holds: a change to them alone is no change. */
export const TIMESTAMP_COLUMNS = ['updated_at'] as const;

export const ENTITY: Record<Table, string> = {
  users: 'User',
  members: 'Member',
  identifiers: 'Identifier',
  identities: 'Identity',
  link_suggestions: 'LinkSuggestion',
};

/** A row the merge left that differs since, by value: which columns, and whether it still exists. */
export interface Drift {
  table: Table;
  entity: string;
  id: string;
  organizationId: string | null;
  /** `{ column: { before: value the merge left, after: value now } }`; empty for a row deleted since. */
  changes: Record<string, { before: unknown; after: unknown }>;
  deleted: boolean;
  /** Whether a forced unmerge put the row back as it was before the merge. */
  restored: boolean;
}

const MERGE = sqlNames('Merge');
const USER = sqlNames('User');

/** A merge as unmergeUser answers it: with what had changed since, when forced. */
export type UnmergedMerge = Merge & { drift?: Drift[] };

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** The rows the merge left (`after`) that now hold other values or are gone, locked. */
async function findDrift(tx: Db, after: Record<Table, Row[]>): Promise<Drift[]> {
  const drift: Drift[] = [];
  const ignored = new Set<string>(TIMESTAMP_COLUMNS);
  for (const table of TABLES) {
    const rows = after[table] ?? [];
    if (!rows.length) continue;
    const { name: t, id } = tableOf(table);
    const ids = rows.map((r) => r.id);
    // Both sides go through the table's row type, so values compare as the table holds them.
    const differ = await tx.$queryRaw<{ at_merge: Row; now: Row | null }[]>`
      WITH cur AS (SELECT * FROM ${t} WHERE ${id} = ANY(${ids}::uuid[]) FOR UPDATE)
      SELECT to_jsonb(a) AS at_merge, to_jsonb(c) AS now
      FROM jsonb_populate_recordset(NULL::${t}, ${JSON.stringify(rows)}::jsonb) a
      LEFT JOIN cur c ON c.${id} = a.${id}
      WHERE c.${id} IS NULL OR (to_jsonb(c) - ${[...ignored]}::text[]) IS DISTINCT FROM (to_jsonb(a) - ${[...ignored]}::text[])`;
    for (const { at_merge: was, now } of differ) {
      const changes: Drift['changes'] = {};
      if (now) {
        for (const column of Object.keys(was)) {
          if (!ignored.has(column) && !same(was[column], now[column])) changes[column] = { before: was[column] ?? null, after: now[column] ?? null };
        }
      }
      const organizationId = ((now ?? was).organization_id as string | undefined) ?? null;
      drift.push({ table, entity: ENTITY[table], id: was.id, organizationId, changes, deleted: !now, restored: false });
    }
  }
  return drift;
}

/**
 * Undoes a merge: restores every row it changed or deleted to its state before the
 * merge (same ids, same values), in one transaction, and records UNMERGE events.
 * Rows edited since the merge and edited back count as unchanged (values compare, not
 * timestamps). Otherwise refused with MergeChangedError, unless `force`: then every row
 * that can come back does, rows deleted since stay deleted, rows whose natural key was
 * taken since stay away, and what had changed is answered (`drift`) and audited.
 * CONFLICT when the merge was undone already.
 */
export async function unmergeUser(access: Access, input: { mergeId: string; force?: boolean | null }): Promise<UnmergedMerge> {
  const issues = new Issues();
  const mergeId = issues.id('input.mergeId', input.mergeId, 'UserMerge');
  issues.throwIfAny();
  const force = input.force === true;
  const found = await prisma.merge.findUnique({ where: { id: mergeId! }, select: { organizationIds: true, survivorId: true, mergedId: true } });
  if (!found) throw new NotFoundError('UserMerge');
  const admin = await access.organizationIdsWith('admin');
  const readable = await access.readableOrganizationIds();
  const sees = readable === 'all' || found.organizationIds.some((o) => readable.includes(o));
  if (!sees && !isSystemAdmin(access.viewer)) throw new NotFoundError('UserMerge');
  // Forcing needs no more than undoing: an admin of every organization the merge touched (or a system admin).
  requireAdminOfAll({ adminOrganizations: admin }, found.organizationIds);

  try {
    // It writes back in every organization the merge touched, which was checked above.
    return await asSystem(() => prisma.$transaction(async (tx) => {
      const [m, u] = [MERGE(), USER()];
      const [locked] = await tx.$queryRaw<{ undone: boolean }[]>`
        SELECT ${m.undoneAt} IS NOT NULL AS undone FROM ${m.$table} WHERE ${m.id} = ${mergeId}::uuid FOR UPDATE`;
      if (!locked) throw new NotFoundError('UserMerge');
      if (locked.undone) throw new ConflictError(['input.mergeId'], 'This merge was undone already.');
      const merge = await tx.merge.findUniqueOrThrow({ where: { id: mergeId! } });
      const before = merge.before as unknown as Record<Table, Row[]>;
      const after = merge.after as unknown as Record<Table, Row[]>;
      // Both users first, in id order, as a merge locks them.
      await tx.$queryRaw`SELECT ${u.id} FROM ${u.$table} WHERE ${u.id} = ANY(${[merge.survivorId, merge.mergedId]}::uuid[]) ORDER BY ${u.id} FOR UPDATE`;

      const drift = await findDrift(tx, after);
      if (drift.length && !force) throw new MergeChangedError(drift.map((d) => ({ entity: d.entity, id: d.id })));
      const restored = await restore(tx, before, after, force);
      for (const d of drift) d.restored = !d.deleted;
      // What the tables hold after the restore, for the events: rows that could not come back are absent.
      const now = Object.fromEntries(
        TABLES.map((table) => [table, (before[table] ?? []).filter((r) => restored[table].has(r.id))]),
      ) as Record<Table, Row[]>;
      const undone = await tx.merge.update({
        where: { id: merge.id },
        data: { undoneAt: new Date(), undoneByUserId: access.viewer.kind === 'user' ? access.viewer.userId : null },
      });
      const notBack = TABLES.flatMap((table) =>
        (before[table] ?? []).filter((r) => !restored[table].has(r.id)).map((r) => ({ table, row: r })),
      );
      for (const { table, row } of notBack) {
        if (!drift.some((d) => d.id === row.id)) {
          drift.push({ table, entity: ENTITY[table], id: row.id, organizationId: (row.organization_id as string) ?? null, changes: {}, deleted: true, restored: false });
        }
      }
      const fromRows = Object.fromEntries(TABLES.map((table) => [table, after[table] ?? []])) as Record<Table, Row[]>;
      await recordAudit(tx, access.viewer, [...mergeEvents('UNMERGE', merge, merge, fromRows, now), ...driftEvents(merge, drift)]);
      return force ? { ...undone, drift } : undone;
    }));
  } catch (err) {
    if (uniqueViolation(err)) {
      throw new ConflictError(['input.mergeId'], 'A row the merge removed cannot come back: its natural key was taken since.');
    }
    throw err;
  }
}

/**
 * Puts the rows back as they were before the merge: rows it changed are updated back,
 * rows it deleted inserted again. Forced, a row whose natural key was taken since is
 * skipped instead of failing the whole undo. Answers the ids that are back, by table.
 */
async function restore(tx: Db, before: Record<Table, Row[]>, after: Record<Table, Row[]>, force: boolean) {
  const back = Object.fromEntries(TABLES.map((t) => [t, new Set<string>()])) as Record<Table, Set<string>>;
  for (const table of TABLES) {
    const rows = before[table] ?? [];
    if (!rows.length) continue;
    const kept = new Set((after[table] ?? []).map((r) => r.id));
    const { name: t, id } = tableOf(table);
    const updated = rows.filter((r) => kept.has(r.id));
    const deleted = rows.filter((r) => !kept.has(r.id));
    // Rows going back to the other user first: unique keys are checked row by row, and
    // they free the slots the survivor's own rows return to.
    const userOf = new Map((after[table] ?? []).map((r) => [r.id, r.user_id]));
    const leaving = updated.filter((r) => 'user_id' in r && r.user_id !== userOf.get(r.id));
    for (const batch of [leaving, updated.filter((r) => !leaving.includes(r))]) {
      if (!batch.length) continue;
      const columns = Object.keys(batch[0]!).filter((c) => c !== 'id');
      if (!columns.every((c) => COLUMN.test(c))) throw new Error(`unexpected column in merge record of ${table}`);
      const done = await tx.$queryRaw<{ id: string }[]>`
        UPDATE ${t} AS x SET (${Prisma.raw(columns.join(', '))}) = (${Prisma.raw(columns.map((c) => `r.${c}`).join(', '))})
        FROM jsonb_populate_recordset(NULL::${t}, ${JSON.stringify(batch)}::jsonb) r WHERE x.${id} = r.${id} RETURNING x.${id}::text AS id`;
      for (const d of done) back[table].add(d.id);
    }
    if (deleted.length) {
      const done = await tx.$queryRaw<{ id: string }[]>`
        INSERT INTO ${t} SELECT * FROM jsonb_populate_recordset(NULL::${t}, ${JSON.stringify(deleted)}::jsonb)
        ${force ? Prisma.sql`ON CONFLICT DO NOTHING` : Prisma.empty} RETURNING ${id}::text AS id`;
      for (const d of done) back[table].add(d.id);
    }
  }
  return back;
}

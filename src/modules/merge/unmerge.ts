import type { Access } from '../../context.ts';
import { Prisma, prisma } from '../../db.ts';
import { ConflictError, MergeChangedError, NotFoundError, type ChangedRow } from '../../errors.ts';
import type { Merge } from '../../generated/prisma/client.ts';
import { recordAudit } from '../audit/service.ts';
import { isSystemAdmin } from '../shared/authorize.ts';
import { Issues, uniqueViolation } from '../shared/validate.ts';
import { mergeEvents } from './events.ts';
import type { Row } from './plan.ts';
import { TABLES, type Table } from './rows.ts';
import { requireAdminOfAll } from './run.ts';

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

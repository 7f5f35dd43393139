import { Prisma, prisma } from '../../db.ts';
import { historyModels, type Model } from './engine/datamodel.ts';

// Pruning history past each organization's retention (historyRetentionDays). A read as
// of a moment needs, for every row, the last version written at or before it; so a
// version may go once a later one was written before the cutoff, and a deletion once no
// version precedes it. The cutoff is a day older than the horizon reads are checked
// against, so a read admitted just before a prune still finds its versions.

function cutoffSql(m: Model): { join: string; cutoff: string } {
  const h = m.history!;
  const org = h.fields.get('organizationId')?.column ?? (m.name === 'Organization' ? h.fields.get('id')!.column : null);
  // Users belong to no one organization: their versions are kept as long as the longest retention.
  if (!org) return { join: 'CROSS JOIN (SELECT max(history_retention_days) AS days FROM organizations) o', cutoff: "now() - make_interval(days => o.days + 1)" };
  return { join: `JOIN organizations o ON o.id = v.${org}`, cutoff: "now() - make_interval(days => o.history_retention_days + 1)" };
}

/**
 * Deletes up to `limit` versions per history table that no read within retention can
 * need. Rows another instance is deleting are skipped, so instances can run it at once.
 * Answers how many versions went.
 */
export async function pruneHistory(limit = 5000, db: typeof prisma = prisma): Promise<number> {
  let pruned = 0;
  for (const m of historyModels()) {
    const h = m.history!;
    const [id, from, deleted] = ['id', 'validFrom', 'deleted'].map((f) => h.fields.get(f)!.column);
    const { join, cutoff } = cutoffSql(m);
    pruned += await db.$executeRaw`
      WITH doomed AS (
        SELECT v.ctid AS c FROM ${Prisma.raw(h.table)} v ${Prisma.raw(join)}
        WHERE v.${Prisma.raw(from!)} < ${Prisma.raw(cutoff)} AND (
          EXISTS (SELECT 1 FROM ${Prisma.raw(h.table)} w WHERE w.${Prisma.raw(id!)} = v.${Prisma.raw(id!)}
            AND w.${Prisma.raw(from!)} > v.${Prisma.raw(from!)} AND w.${Prisma.raw(from!)} < ${Prisma.raw(cutoff)})
          OR v.${Prisma.raw(deleted!)} AND NOT EXISTS (SELECT 1 FROM ${Prisma.raw(h.table)} w
            WHERE w.${Prisma.raw(id!)} = v.${Prisma.raw(id!)} AND w.${Prisma.raw(from!)} < v.${Prisma.raw(from!)}))
        LIMIT ${limit} FOR UPDATE OF v SKIP LOCKED)
      DELETE FROM ${Prisma.raw(h.table)} v USING doomed WHERE v.ctid = doomed.c`;
  }
  return pruned;
}

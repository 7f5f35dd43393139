import { prisma } from '../../db.ts';
import type { Prisma } from '../../generated/prisma/client.ts';
import { versionsAt } from '../shared/as-of.ts';
import { historyOf, model } from '../shared/engine/index.ts';
import { sqlNames } from '../shared/sql-names.ts';
import { isUuid } from '../shared/visibility.ts';

// A merged user stays as a tombstone whose `mergedIntoId` points to the user it was
// merged into. Every read of a tombstone's id leads to that survivor. A merge repoints
// the tombstones of the merged user to its survivor, so chains have one step; the
// lookup follows longer ones anyway.

type Db = Pick<Prisma.TransactionClient, '$queryRaw'>;

const USER = sqlNames('User');

/**
 * The user each id finally leads to (itself when it is not a tombstone), in one
 * statement. Ids of users that do not exist, and ids that are not UUIDs, are absent from the map.
 */
export async function survivorsOf(ids: readonly string[], db: Db = prisma): Promise<Map<string, string>> {
  // An id that is no UUID names no user (and must not reach the database as one).
  const unique = [...new Set(ids.filter(isUuid).map((id) => id.toLowerCase()))];
  if (!unique.length) return new Map();
  const u = USER();
  const rows = await db.$queryRaw<{ start: string; id: string }[]>`
    WITH RECURSIVE chain(start, id, next, depth) AS (
      SELECT u.${u.id}, u.${u.id}, u.${u.mergedIntoId}, 0 FROM ${u.$table} u WHERE u.${u.id} = ANY(${unique}::uuid[])
      UNION ALL
      SELECT c.start, u.${u.id}, u.${u.mergedIntoId}, c.depth + 1 FROM chain c JOIN ${u.$table} u ON u.${u.id} = c.next WHERE c.depth < 32
    )
    SELECT start::text, id::text FROM chain WHERE next IS NULL`;
  const found = new Map(rows.map((r) => [r.start, r.id]));
  // Keyed by the ids as given.
  return new Map(ids.flatMap((id) => (found.has(id.toLowerCase()) ? [[id, found.get(id.toLowerCase())!] as const] : [])));
}

/** The survivors of tombstones among `ids` (ids of users that are not tombstones are absent). */
export async function redirectsOf(ids: readonly string[], db: Db = prisma): Promise<Map<string, string>> {
  const all = await survivorsOf(ids, db);
  return new Map([...all].filter(([from, to]) => from !== to));
}

/** SQL walking the merge chain from the user `id` (SQL of a uuid) among `users`, at most `hops` steps, answering the id `pick` chooses. */
function chainSql(users: string, id: string, hops: number, pick: string): string {
  const m = model('User');
  const [key, next] = [m.fields.get('id')!.column, m.fields.get('mergedIntoId')!.column];
  return `(WITH RECURSIVE hop(id, next, depth) AS (
      SELECT u.${key}, u.${next}, 0 FROM ${users} u WHERE u.${key} = ${id}
      UNION ALL
      SELECT u.${key}, u.${next}, hop.depth + 1 FROM hop JOIN ${users} u ON u.${key} = hop.next WHERE hop.depth < ${hops})
    SELECT hop.id FROM hop ${pick} LIMIT 1)`;
}

/**
 * SQL of the id of the user that the user `id` (SQL of a uuid) led to among `users` (SQL
 * of the users as of a moment, versionsAt): itself when it was not merged away then,
 * the last user reached when a step finds none, null when there was no such user.
 */
export const survivorAt = (users: string, id: string): string => chainSql(users, id, MAX_MERGE_HOPS, 'ORDER BY hop.depth DESC');
const MAX_MERGE_HOPS = 10;
/** The steps survivorsOf follows a chain for (its statement says 32 too). */
const MAX_CHAIN = 32;

/**
 * SQL of the id of the user that the user `id` (SQL of a uuid) leads to now among
 * `users` (SQL of the users table), by survivorsOf's rule: the end of its chain (itself
 * when it is not a tombstone), null when there is no such user or no end within as many steps.
 */
export const survivorNow = (users: string, id: string): string => chainSql(users, id, MAX_CHAIN, 'WHERE hop.next IS NULL');

/**
 * The id of the user `lookup` named at `asOf` (a moment already checked), or null: a
 * user merged away by then leads to the user it was merged into then, as now.
 */
export async function userIdAsOf(lookup: { id?: string; email?: string }, asOf: Date): Promise<string | null> {
  const m = model('User');
  const users = versionsAt(historyOf(m), '$2::timestamptz');
  const start = lookup.id ? '$1::uuid' : `(SELECT u.${m.fields.get('id')!.column} FROM ${users} u WHERE u.${m.fields.get('email')!.column} = $1 LIMIT 1)`;
  const [row] = await prisma.$queryRawUnsafe<{ id: string | null }[]>(`SELECT ${survivorAt(users, start)} AS id`, lookup.id ?? lookup.email, asOf);
  return row?.id ?? null;
}

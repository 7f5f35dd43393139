import { prisma } from '../../db.ts';
import type { Prisma } from '../../generated/prisma/client.ts';
import { versionsAt } from '../shared/as-of.ts';
import { historyOf, model } from '../shared/engine/index.ts';
import { isUuid } from '../shared/visibility.ts';

// A merged user stays as a tombstone whose `mergedIntoId` points to the user it was
// merged into. Every read of a tombstone's id leads to that survivor. A merge repoints
// the tombstones of the merged user to its survivor, so chains have one step; the
// lookup follows longer ones anyway.

type Db = Pick<Prisma.TransactionClient, '$queryRaw'>;

/**
 * The user each id finally leads to (itself when it is not a tombstone), in one
 * statement. Ids of users that do not exist, and ids that are not UUIDs, are absent from the map.
 */
export async function survivorsOf(ids: readonly string[], db: Db = prisma): Promise<Map<string, string>> {
  // An id that is no UUID names no user (and must not reach the database as one).
  const unique = [...new Set(ids.filter(isUuid).map((id) => id.toLowerCase()))];
  if (!unique.length) return new Map();
  const rows = await db.$queryRaw<{ start: string; id: string }[]>`
    WITH RECURSIVE chain(start, id, next, depth) AS (
      SELECT u.id, u.id, u.merged_into_id, 0 FROM users u WHERE u.id = ANY(${unique}::uuid[])
      UNION ALL
      SELECT c.start, u.id, u.merged_into_id, c.depth + 1 FROM chain c JOIN users u ON u.id = c.next WHERE c.depth < 32
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

/**
 * The id of the user `lookup` named at `asOf` (a moment already checked), or null: a
 * user merged away by then leads to the user it was merged into then, as now.
 */
export async function userIdAsOf(lookup: { id?: string; email?: string }, asOf: Date): Promise<string | null> {
  const users = versionsAt(historyOf(model('User')), '$2::timestamptz');
  const find = async (column: 'id' | 'email', value: string) =>
    (await prisma.$queryRawUnsafe<{ id: string; merged_into_id: string | null }[]>(
      `SELECT id, merged_into_id FROM ${users} u WHERE u.${column} = $1${column === 'id' ? '::uuid' : ''}`, value, asOf))[0];
  let found = lookup.id ? await find('id', lookup.id) : await find('email', lookup.email!);
  for (let hop = 0; found?.merged_into_id && hop < MAX_MERGE_HOPS; hop++) found = await find('id', found.merged_into_id);
  return found?.id ?? null;
}
const MAX_MERGE_HOPS = 10;

import { Prisma } from '../../db.ts';
import type { Row, Snapshot } from './plan.ts';

// Reading the rows a merge works on. Rows are handled as PostgreSQL gives them with
// to_jsonb (column names), and put back with jsonb_populate_recordset, so every column
// round-trips exactly.

export type Db = Prisma.TransactionClient;

export const TABLES = ['users', 'members', 'identifiers', 'identities', 'link_suggestions'] as const;
export type Table = (typeof TABLES)[number];
export const emptyTables = <T>(): Record<Table, T[]> => ({ users: [], members: [], identifiers: [], identities: [], link_suggestions: [] });


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

/** The rows a merge touched (changed or deleted), by table, as the tables hold them now. */
export async function currentRows(db: Db, ids: Record<Table, string[]>): Promise<Record<Table, Row[]>> {
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

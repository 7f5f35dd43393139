import { Prisma } from '../../db.ts';
import { sqlNames } from '../shared/sql-names.ts';
import type { Row, Snapshot } from './plan.ts';

// Reading the rows a merge works on. Rows are handled as PostgreSQL gives them with
// to_jsonb (column names), and put back with jsonb_populate_recordset, so every column
// round-trips exactly.

export type Db = Prisma.TransactionClient;

// The tables' names key the rows a merge record keeps (its before and after): they are
// data, so they stay as written even if a table is renamed.
export const TABLES = ['users', 'members', 'identifiers', 'identities', 'link_suggestions'] as const;
export type Table = (typeof TABLES)[number];
export const emptyTables = <T>(): Record<Table, T[]> => ({ users: [], members: [], identifiers: [], identities: [], link_suggestions: [] });

const USER = sqlNames('User');
const MEMBER = sqlNames('Member');
const IDENTIFIER = sqlNames('Identifier');
const IDENTITY = sqlNames('Identity');
const LINK_SUGGESTION = sqlNames('LinkSuggestion');

/** The table a merge record's key names, and its id column, through the datamodel. */
export function tableOf(table: Table): { name: Prisma.Sql; id: Prisma.Sql } {
  const names = { users: USER, members: MEMBER, identifiers: IDENTIFIER, identities: IDENTITY, link_suggestions: LINK_SUGGESTION }[table]();
  return { name: names.$table, id: names.id };
}

const lockClause = (lock: boolean) => (lock ? Prisma.sql`FOR UPDATE` : Prisma.empty);

/** The rows of both users (and the merged user's tombstones), locked for a merge: four statements. */
export async function loadSnapshot(db: Db, survivorId: string, mergedId: string, lock: boolean): Promise<Snapshot> {
  const pair = [survivorId, mergedId];
  const [u, m, i, d] = [USER(), MEMBER(), IDENTIFIER(), IDENTITY()];
  // Users first, in id order, so two merges of one pair (either way round) queue here.
  const users = await db.$queryRaw<{ row: Row }[]>`
    SELECT to_jsonb(u) AS row FROM ${u.$table} u WHERE u.${u.id} = ANY(${pair}::uuid[]) OR u.${u.mergedIntoId} = ${mergedId}::uuid
    ORDER BY u.${u.id} ${lockClause(lock)}`;
  const members = await db.$queryRaw<{ row: Row }[]>`
    SELECT to_jsonb(m) AS row FROM ${m.$table} m WHERE m.${m.userId} = ANY(${pair}::uuid[]) ORDER BY m.${m.id} ${lockClause(lock)}`;
  const identifiers = await db.$queryRaw<{ row: Row }[]>`
    SELECT to_jsonb(i) AS row FROM ${i.$table} i WHERE i.${i.userId} = ANY(${pair}::uuid[]) ORDER BY i.${i.id} ${lockClause(lock)}`;
  const identities = await db.$queryRaw<{ row: Row }[]>`
    SELECT to_jsonb(d) AS row FROM ${d.$table} d WHERE d.${d.userId} = ANY(${pair}::uuid[]) ORDER BY d.${d.id} ${lockClause(lock)}`;
  const rows = (list: { row: Row }[]) => list.map((r) => r.row);
  return { users: rows(users), members: rows(members), identifiers: rows(identifiers), identities: rows(identities) };
}

/** The rows a merge touched (changed or deleted), by table, as the tables hold them now. */
export async function currentRows(db: Db, ids: Record<Table, string[]>): Promise<Record<Table, Row[]>> {
  const [u, m, i, d, s] = [USER(), MEMBER(), IDENTIFIER(), IDENTITY(), LINK_SUGGESTION()];
  const rows = await db.$queryRaw<{ t: Table; row: Row }[]>`
    SELECT 'users' AS t, to_jsonb(x) AS row FROM ${u.$table} x WHERE x.${u.id} = ANY(${ids.users}::uuid[])
    UNION ALL SELECT 'members', to_jsonb(x) FROM ${m.$table} x WHERE x.${m.id} = ANY(${ids.members}::uuid[])
    UNION ALL SELECT 'identifiers', to_jsonb(x) FROM ${i.$table} x WHERE x.${i.id} = ANY(${ids.identifiers}::uuid[])
    UNION ALL SELECT 'identities', to_jsonb(x) FROM ${d.$table} x WHERE x.${d.id} = ANY(${ids.identities}::uuid[])
    UNION ALL SELECT 'link_suggestions', to_jsonb(x) FROM ${s.$table} x WHERE x.${s.id} = ANY(${ids.link_suggestions}::uuid[])`;
  const out = emptyTables<Row>();
  for (const r of rows) out[r.t].push(r.row);
  return out;
}

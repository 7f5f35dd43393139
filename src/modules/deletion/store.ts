import type { Viewer } from '../../context.ts';
import { Prisma } from '../../db.ts';
import { actorOf } from '../audit/service.ts';
import { sqlNames } from '../shared/sql-names.ts';

// Deleted objects are moved, in the delete's own transaction, out of the live tables
// into deleted_items as JSON (PostgreSQL's to_jsonb of each row), and put back with
// jsonb_populate_recordset on the live table's row type: the column lists come from the
// tables themselves, and the live tables, their unique keys and every read stay as they
// were (a deleted row is simply not there).

type Tx = Prisma.TransactionClient;
export type Row = Record<string, unknown> & { id: string };

/** The live tables a deleted item can hold rows of, in the order a restore puts them back (parents first). */
export const RESTORE_ORDER = ['integration_sources', 'members', 'api_keys', 'identities', 'identity_properties', 'identifiers'] as const;
export type LiveTable = (typeof RESTORE_ORDER)[number];
export type Rows = Partial<Record<LiveTable, Row[]>>;

/** The kinds of object a restore brings back, by the entity type of their audit events and global ids. */
export const DELETED_KINDS = ['Identifier', 'Identity', 'IntegrationSource', 'Member', 'ApiKey'] as const;
export type DeletedKind = (typeof DELETED_KINDS)[number];

export interface DeletedItem {
  id: string;
  organizationId: string;
  entityType: DeletedKind;
  entityId: string;
  rows: Rows;
  label: string;
  reason: string | null;
  deletedByUserId: string | null;
  deletedByApiKeyId: string | null;
  deletedAt: Date;
}

export interface Deletion {
  organizationId: string;
  entityType: DeletedKind;
  entityId: string;
  rows: Rows;
  label: string;
  reason?: string | null;
}

const DELETED_ITEM = sqlNames('DeletedItem');

/** Keeps what a delete took out of the live tables, restorable until the organization's retention runs out. */
export async function keepDeleted(tx: Tx, viewer: Viewer, d: Deletion): Promise<void> {
  const who = actorOf(viewer);
  const rows = Object.fromEntries(Object.entries(d.rows).filter(([, list]) => list && list.length));
  const i = DELETED_ITEM();
  await tx.$executeRaw`
    INSERT INTO ${i.$table} (${i.organizationId}, ${i.entityType}, ${i.entityId}, ${i.rows}, ${i.label}, ${i.reason}, ${i.deletedByUserId}, ${i.deletedByApiKeyId})
    VALUES (${d.organizationId}::uuid, ${d.entityType}, ${d.entityId}::uuid, ${JSON.stringify(rows)}::jsonb, ${d.label.slice(0, 500)},
      ${d.reason ?? null}, ${who.actorUserId}::uuid, ${who.actorApiKeyId}::uuid)`;
}

/** Deletes the rows of `table` with these ids and answers them as JSON, for keepDeleted. */
export async function deleteRows(tx: Tx, table: LiveTable, where: Prisma.Sql): Promise<Row[]> {
  const found = await tx.$queryRaw<{ row: Row }[]>`
    DELETE FROM ${Prisma.raw(table)} x WHERE ${where} RETURNING to_jsonb(x) AS row`;
  return found.map((r) => r.row);
}

/** Why a row cannot go back: a unique key another live row holds, or a row it refers to that is gone. */
export interface Blocker {
  table: LiveTable;
  columns: string[];
  /** The live row holding the key (table and id); null when the blocker is a missing parent. */
  holder: { table: string; id: string } | null;
  /** The table of the missing parent, when that is the blocker. */
  missing: string | null;
}

/**
 * The first reason `rows` cannot be inserted into `table`: every unique index (without
 * expressions or predicates) and every foreign key of the table is read from the catalog,
 * so a key added later is checked too. NULLs never clash, as in the index itself.
 */
export async function firstBlocker(tx: Tx, table: LiveTable, rows: Row[]): Promise<Blocker | null> {
  const keys = await tx.$queryRaw<{ columns: string[] }[]>`
    SELECT array_agg(a.attname::text ORDER BY k.ord) AS columns
    FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
    WHERE i.indrelid = ${table}::regclass AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
    GROUP BY i.indexrelid ORDER BY min(i.indexrelid::int)`;
  const json = JSON.stringify(rows);
  for (const { columns } of keys) {
    const tuple = (alias: string) => Prisma.raw(`(${columns.map((c) => `${alias}.${quoteIdent(c)}`).join(', ')})`);
    const [hit] = await tx.$queryRaw<{ id: string }[]>`
      SELECT x.id::text FROM ${Prisma.raw(table)} x JOIN jsonb_populate_recordset(NULL::${Prisma.raw(table)}, ${json}::jsonb) r
        ON ${tuple('x')} = ${tuple('r')} LIMIT 1`;
    if (hit) return { table, columns, holder: { table, id: hit.id }, missing: null };
  }
  const parents = await tx.$queryRaw<{ ref: string; columns: string[]; refColumns: string[] }[]>`
    SELECT c.confrelid::regclass::text AS ref,
      (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.conkey) WITH ORDINALITY k(n, ord)
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n) AS columns,
      (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.confkey) WITH ORDINALITY k(n, ord)
        JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n) AS "refColumns"
    FROM pg_constraint c WHERE c.conrelid = ${table}::regclass AND c.contype = 'f' ORDER BY c.conname`;
  for (const { ref, columns, refColumns } of parents) {
    const local = columns.map((c) => `r.${quoteIdent(c)}`);
    const [orphan] = await tx.$queryRaw<{ id: string }[]>`
      SELECT r.id::text FROM jsonb_populate_recordset(NULL::${Prisma.raw(table)}, ${json}::jsonb) r
      WHERE ${Prisma.raw(local.map((c) => `${c} IS NOT NULL`).join(' AND '))}
        AND NOT EXISTS (SELECT 1 FROM ${Prisma.raw(ref)} p
          WHERE (${Prisma.raw(refColumns.map((c) => `p.${quoteIdent(c)}`).join(', '))}) = (${Prisma.raw(local.join(', '))}))
      LIMIT 1`;
    if (orphan) return { table, columns, holder: null, missing: ref.replace(/"/g, '') };
  }
  return null;
}

/** Puts rows back into their live table, every column as it was. */
export async function insertRows(tx: Tx, table: LiveTable, rows: Row[]): Promise<void> {
  await tx.$executeRaw`
    INSERT INTO ${Prisma.raw(table)} SELECT * FROM jsonb_populate_recordset(NULL::${Prisma.raw(table)}, ${JSON.stringify(rows)}::jsonb)`;
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

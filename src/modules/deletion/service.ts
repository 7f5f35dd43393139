import { encodeGlobalID } from '@pothos/plugin-relay';
import { pruneHistory } from '../shared/history-retention.ts';
import type { Access, Viewer } from '../../context.ts';
import { Prisma, prisma } from '../../db.ts';
import { NotFoundError, RestoreBlockedError } from '../../errors.ts';
import { changesOf, recordAudit, type AuditInput } from '../audit/service.ts';
import { rowKeys, sqlNames } from '../shared/sql-names.ts';
import { requireRowIn } from '../shared/tenant.ts';
import { globalIdParts, Issues, uniqueViolation } from '../shared/validate.ts';
import type { ApiKey, Identifier, Identity, IntegrationSource, Member } from '../../generated/prisma/client.ts';
import { DELETED_KINDS, firstBlocker, insertRows, RESTORE_ORDER, type DeletedItem, type DeletedKind, type Row } from './store.ts';

// Restoring and purging deleted objects (organization admins), and the purge of those
// past their organization's retention.

type Tx = Prisma.TransactionClient;

const DELETED_ITEM = sqlNames('DeletedItem');
/** The columns a raw row of deleted_items is keyed by (read without aliases). */
const DELETED_ITEM_KEYS = rowKeys('DeletedItem');
const IDENTIFIER = sqlNames('Identifier');
const MEMBER = sqlNames('Member');
const ORGANIZATION = sqlNames('Organization');

/** The node type of a live table's rows, for global ids and messages. */
const NODE_OF: Record<string, string> = {
  integration_sources: 'IntegrationSource',
  members: 'Member',
  api_keys: 'ApiKey',
  identities: 'Identity',
  identity_properties: 'IdentityProperty',
  identifiers: 'Identifier',
  users: 'User',
  organizations: 'Organization',
};

/** The table holding the object itself (the other tables of an item hold its dependents). */
export const TABLE_OF: Record<DeletedKind, (typeof RESTORE_ORDER)[number]> = {
  Identifier: 'identifiers',
  Identity: 'identities',
  IntegrationSource: 'integration_sources',
  Member: 'members',
  ApiKey: 'api_keys',
};

const camel = (s: string) => s.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());

/** Key columns a caller never gives, left out of a blocked restore's fields: the organization, and the slot a merge keeps a second value in. */
const IMPLIED_KEY_COLUMNS = ['organization_id', 'merge_slot'];

/** An audit event of a row given as to_jsonb made it (columns in camelCase, as other events name fields). */
function rowEvent(kind: DeletedKind, action: string, organizationId: string, row: Row | null, entityId: string): AuditInput {
  const after = row ? Object.fromEntries(Object.entries(row).map(([k, v]) => [camel(k), v])) : null;
  return { organizationId, entityType: kind, entityId, action, changes: after ? changesOf(null, after, Object.keys(after)) : {} };
}

/** The deleted item of an object, as its organization's admin sees it: NOT_FOUND for anyone else. */
async function adminItem(access: Access, kind: DeletedKind | null, entityId: string): Promise<DeletedItem> {
  const item = (await prisma.deletedItem.findUnique({ where: { entityId } })) as DeletedItem | null;
  const found = item && (kind === null || item.entityType === kind) ? item : null;
  await requireRowIn(access, found?.organizationId, 'admin', kind ?? 'DeletedItem');
  return found!;
}

/** Whether an identifier's user is no longer a member of its organization: identifiers are only ever of members. */
async function withoutMembership(tx: Tx, rows: Row[]): Promise<boolean> {
  const [i, m] = [IDENTIFIER(), MEMBER()];
  const [orphan] = await tx.$queryRaw<{ id: string }[]>`
    SELECT r.${i.id}::text FROM jsonb_populate_recordset(NULL::${i.$table}, ${JSON.stringify(rows)}::jsonb) r
    WHERE NOT EXISTS (SELECT 1 FROM ${m.$table} m WHERE m.${m.organizationId} = r.${i.organizationId} AND m.${m.userId} = r.${i.userId}) LIMIT 1`;
  return !!orphan;
}

/** The id of a deleted object of `kind` given as input: its global id or UUID (any kind when null). */
function deletedId(value: string, kind: DeletedKind | null): { kind: DeletedKind | null; id: string } {
  const issues = new Issues();
  if (kind) {
    const id = issues.id('input.id', value, kind);
    issues.throwIfAny();
    return { kind, id: id! };
  }
  const parts = globalIdParts(value);
  if (parts && (DELETED_KINDS as readonly string[]).includes(parts.typename)) return { kind: parts.typename as DeletedKind, id: parts.id };
  const id = issues.uuid('input.id', value);
  if (!id) issues.add('input.id', `must be the id of a deleted ${DELETED_KINDS.join(', ')}`);
  issues.throwIfAny();
  return { kind: null, id: id! };
}

interface Restored {
  Identifier: Identifier;
  Identity: Identity;
  IntegrationSource: IntegrationSource;
  Member: Member;
  ApiKey: ApiKey;
}

/** A restored object, read as it is live again. */
const LIVE: { [K in DeletedKind]: (id: string) => Promise<Restored[K]> } = {
  Identifier: (id) => prisma.identifier.findUniqueOrThrow({ where: { id } }),
  Identity: (id) => prisma.identity.findUniqueOrThrow({ where: { id } }),
  IntegrationSource: (id) => prisma.integrationSource.findUniqueOrThrow({ where: { id } }),
  Member: (id) => prisma.member.findUniqueOrThrow({ where: { id } }),
  ApiKey: (id) => prisma.apiKey.findUniqueOrThrow({ where: { id } }),
};

/**
 * Puts a deleted object of `kind` (`rawId`: the global id or UUID it had) back with the
 * same id and every column (its dependents too), records a RESTORE event, and answers
 * it as it is live again. A unique key now held by a live object, or a row it belongs
 * to that is gone, answers RestoreBlockedError naming it, and writes nothing.
 */
export async function restoreDeleted<K extends DeletedKind>(access: Access, kind: K, rawId: string): Promise<Restored[K]> {
  const { id: entityId } = deletedId(rawId, kind);
  const item = await adminItem(access, kind, entityId);
  const d = DELETED_ITEM();
  try {
    await prisma.$transaction(async (tx) => {
      // Locks the item, so two restores (or a restore and a purge) of it queue here.
      const [locked] = await tx.$queryRaw<{ rows: DeletedItem['rows'] }[]>`
        SELECT ${d.rows} FROM ${d.$table} WHERE ${d.id} = ${item.id}::uuid FOR UPDATE`;
      if (!locked) throw new NotFoundError(kind);
      for (const table of RESTORE_ORDER) {
        const rows = locked.rows[table];
        if (!rows?.length) continue;
        const blocker = await firstBlocker(tx, table, rows);
        if (blocker) {
          const fields = blocker.columns.filter((c) => !IMPLIED_KEY_COLUMNS.includes(c)).map(camel);
          const holder = blocker.holder && encodeGlobalID(NODE_OF[blocker.holder.table] ?? blocker.holder.table, blocker.holder.id);
          throw new RestoreBlockedError(kind, fields.length ? fields : blocker.columns.map(camel), holder, blocker.missing && (NODE_OF[blocker.missing] ?? blocker.missing));
        }
        if (table === 'identifiers' && (await withoutMembership(tx, rows))) {
          throw new RestoreBlockedError(kind, ['userId'], null, 'Member');
        }
        await insertRows(tx, table, rows);
      }
      await tx.$executeRaw`DELETE FROM ${d.$table} WHERE ${d.id} = ${item.id}::uuid`;
      const main = locked.rows[TABLE_OF[kind]]?.find((r) => r.id === entityId) ?? null;
      await recordAudit(tx, access.viewer, [rowEvent(kind, 'RESTORE', item.organizationId, main, entityId)]);
    });
  } catch (err) {
    // A key taken between the check and the insert.
    const fields = uniqueViolation(err);
    if (fields) throw new RestoreBlockedError(kind, fields.map(camel), null, null);
    throw err;
  }
  return LIVE[kind](entityId);
}

/** Purges one deleted object at once (an erasure request; `rawId`: the global id or UUID it had): its rows are gone for good. */
export async function purgeDeleted(access: Access, rawId: string): Promise<string> {
  const { kind: kindGiven, id: entityId } = deletedId(rawId, null);
  const item = await adminItem(access, kindGiven, entityId);
  const kind = item.entityType;
  const d = DELETED_ITEM();
  await prisma.$transaction(async (tx) => {
    const gone = await tx.$queryRaw<{ id: string }[]>`DELETE FROM ${d.$table} WHERE ${d.id} = ${item.id}::uuid RETURNING ${d.id}`;
    if (!gone.length) throw new NotFoundError(kind);
    await recordAudit(tx, access.viewer, [rowEvent(kind, 'PURGE', item.organizationId, null, entityId)]);
  });
  return encodeGlobalID(kind, entityId);
}

/**
 * Purges up to `limit` deleted objects past their organization's retention, in one
 * statement that skips rows another purge (another instance) has locked, so any number
 * of instances can run it at once and each object is purged and audited once.
 * Answers how many it purged.
 */
export async function purgeExpired(viewer: Viewer, limit = 500, db: typeof prisma = prisma): Promise<number> {
  const [c, o, k] = [DELETED_ITEM(), ORGANIZATION(), DELETED_ITEM_KEYS()];
  return db.$transaction(async (tx: Tx) => {
    const gone = await tx.$queryRaw<Record<string, string>[]>`
      WITH due AS (
        SELECT d.${c.id} FROM ${c.$table} d JOIN ${o.$table} o ON o.${o.id} = d.${c.organizationId}
        -- No retention is shorter than a day: the first bound lets the index on deleted_at narrow the scan.
        WHERE d.${c.deletedAt} <= now() - interval '1 day' AND d.${c.deletedAt} <= now() - make_interval(days => o.${o.deletedRetentionDays})
        ORDER BY d.${c.deletedAt} LIMIT ${limit} FOR UPDATE OF d SKIP LOCKED)
      DELETE FROM ${c.$table} d USING due WHERE d.${c.id} = due.${c.id}
      RETURNING d.${c.organizationId}::text, d.${c.entityType}, d.${c.entityId}::text`;
    await recordAudit(tx, viewer, gone.map((g) => rowEvent(g[k.entityType] as DeletedKind, 'PURGE', g[k.organizationId]!, null, g[k.entityId]!)));
    return gone.length;
  });
}

/**
 * Purges deleted objects and prunes history past retention every `seconds` (first a minute after start), in batches
 * until none is left. Every instance runs it; purgeExpired keeps them from doubling up.
 */
export function startPurging(viewer: Viewer, seconds: number, onError: (err: unknown) => void): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const run = async () => {
    try {
      while (!stopped && (await purgeExpired(viewer)) === 500);
      while (!stopped && (await pruneHistory()) > 0);
    } catch (err) {
      onError(err);
    }
    if (!stopped) timer = setTimeout(run, seconds * 1000).unref();
  };
  if (seconds > 0) timer = setTimeout(run, Math.min(60, seconds) * 1000).unref();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

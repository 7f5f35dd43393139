import type { Viewer } from '../../context.ts';
import { sqlNames } from '../shared/sql-names.ts';
import { Prisma } from '../../db.ts';
import type { DiscoveryMethod } from '../../generated/prisma/client.ts';
import { currentRequest } from '../../observability/request-context.ts';
import { queueDeliveries } from '../webhook/outbox.ts';

// Audit events: every successful mutation records what it changed, in the same
// transaction as the change (a failed mutation leaves none), and notifies listeners
// (subscriptions, in this process and in others on the same database) on commit.

export const CHANGES_CHANNEL = 'identity_graph_changes';

export type Changes = Record<string, { before: unknown; after: unknown }>;

export interface AuditInput {
  organizationId: string | null;
  entityType: string;
  entityId: string;
  action: string;
  changes: Changes;
  discoveryMethod?: DiscoveryMethod | null;
}

/** The fields of `fields` whose values differ between `before` and `after` (either may be null: create, delete). */
export function changesOf<T extends Record<string, unknown>>(
  before: T | null | undefined,
  after: T | null | undefined,
  fields: readonly (keyof T & string)[],
): Changes {
  const out: Changes = {};
  for (const f of fields) {
    const b = normalise(before?.[f]);
    const a = normalise(after?.[f]);
    if (JSON.stringify(b) !== JSON.stringify(a)) out[f] = { before: b, after: a };
  }
  return out;
}

function normalise(v: unknown): unknown {
  if (v === undefined) return null;
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'bigint') return v.toString();
  return v;
}

function actor(viewer: Viewer) {
  if (viewer.kind === 'user') return { actorType: 'USER' as const, actorUserId: viewer.userId, actorApiKeyId: null };
  if (viewer.kind === 'apiKey') return { actorType: 'API_KEY' as const, actorUserId: null, actorApiKeyId: viewer.apiKeyId };
  return { actorType: 'SYSTEM' as const, actorUserId: null, actorApiKeyId: null };
}

const EVENT = sqlNames('AuditEvent');

/** Most event ids in one NOTIFY: keeps each payload well under PostgreSQL's 8,000 bytes. */
export const NOTIFY_IDS_PER_MESSAGE = 150;

/**
 * The SQL (a CTE body and a final SELECT) that notifies listeners of the audit events
 * a CTE named `cte` inserted: one message per organization and 150 ids. PostgreSQL
 * delivers the messages only when the transaction commits.
 */
function notifyInserted(cte: string): Prisma.Sql {
  return Prisma.sql`notified AS (
      SELECT pg_notify(${CHANGES_CHANNEL}, json_build_object('o', organization_id, 'ids', json_agg(id))::text)
      FROM (SELECT id, organization_id, (row_number() OVER (PARTITION BY organization_id) - 1) / ${NOTIFY_IDS_PER_MESSAGE} AS chunk
            FROM ${Prisma.raw(cte)} WHERE organization_id IS NOT NULL) AS s
      GROUP BY organization_id, chunk)`;
}

/**
 * What follows the insert of audit events in the same statement (a CTE named `cte`
 * returning id, organization_id, entity_type, entity_id and action): the notification of
 * listeners and the webhook deliveries (webhook/outbox.ts), so every way of recording
 * events publishes them the same way. Its last CTE is `notified`.
 */
export function publishInserted(cte: string): Prisma.Sql {
  return Prisma.sql`${queueDeliveries(cte)},
    ${notifyInserted(cte)}`;
}

/**
 * Records events inside the caller's transaction `tx` and queues their notification.
 * Events that change nothing are skipped. One statement whatever the number of events.
 */
export async function recordAudit(tx: Prisma.TransactionClient, viewer: Viewer, events: AuditInput[]): Promise<void> {
  const real = events.filter((e) => Object.keys(e.changes).length > 0 || e.action !== 'UPDATE');
  if (!real.length) return;
  const who = actor(viewer);
  const requestId = currentRequest()?.requestId ?? null;
  const col = <T>(f: (e: AuditInput) => T) => real.map(f);
  const c = EVENT();
  // The CTE's columns are the names publishInserted reads, whatever the table's are.
  await tx.$queryRaw`
    WITH recorded AS (
      INSERT INTO ${c.$table} (${c.organizationId}, ${c.actorType}, ${c.actorUserId}, ${c.actorApiKeyId}, ${c.entityType}, ${c.entityId},
        ${c.action}, ${c.changes}, ${c.discoveryMethod}, ${c.requestId})
      SELECT t.organization_id, ${who.actorType}::"ActorType", ${who.actorUserId}::uuid, ${who.actorApiKeyId}::uuid,
        t.entity_type, t.entity_id, t.action, t.changes, t.discovery_method::"DiscoveryMethod", ${requestId}
      FROM unnest(${col((e) => e.organizationId)}::uuid[], ${col((e) => e.entityType)}::text[], ${col((e) => e.entityId)}::uuid[],
        ${col((e) => e.action)}::text[], ${col((e) => JSON.stringify(e.changes))}::jsonb[], ${col((e) => e.discoveryMethod ?? null)}::text[])
        AS t(organization_id, entity_type, entity_id, action, changes, discovery_method)
      RETURNING ${c.id} AS id, ${c.organizationId} AS organization_id, ${c.entityType} AS entity_type, ${c.entityId} AS entity_id, ${c.action} AS action
    ),
    ${publishInserted('recorded')}
    SELECT count(*)::int AS n FROM notified`;
}

/** The actor columns of an event `viewer` causes, for SQL that records events itself. */
export function actorOf(viewer: Viewer) {
  return { ...actor(viewer), requestId: currentRequest()?.requestId ?? null };
}

import { Prisma } from '../../db.ts';
import { sqlNames, tableName } from '../shared/sql-names.ts';

// The outbox: the statement that records audit events also writes, in the same
// transaction, one batch per endpoint that wants some of them (naming those events, in
// their order) and one pg-boss job that wakes a worker. A rolled-back change leaves
// neither; a committed one has both, and they outlive any process. The write pays for a
// row per endpoint, not per event: a worker turns batches into a delivery and a job each.

/** The pg-boss queue deliveries go through (created by the webhook_queue migration). */
export const QUEUE = 'webhook-delivery';

/**
 * SQL that adds a pg-boss job for each delivery id a CTE named `cte` yields (column
 * `id`), taking the retry, expiry and retention settings from the queue as pg-boss's
 * own `insert` does (pg-boss 10's job table; the version is pinned).
 */
export function jobsFor(cte: string): Prisma.Sql {
  return Prisma.sql`INSERT INTO pgboss.job (name, data, retry_limit, retry_delay, retry_backoff, expire_in, keep_until, policy)
      SELECT q.name, jsonb_build_object('deliveryId', d.id), q.retry_limit, q.retry_delay, q.retry_backoff,
        q.expire_seconds * interval '1 second', now() + q.retention_minutes * interval '1 minute', q.policy
      FROM ${Prisma.raw(cte)} AS d JOIN pgboss.queue q ON q.name = ${QUEUE}`;
}

/**
 * SQL that adds the job waking a worker to expand batches, when the CTE named `cte`
 * yields a row. The job names no batch: whichever worker runs it expands every batch.
 */
function wakeUpFor(cte: string): Prisma.Sql {
  return Prisma.sql`INSERT INTO pgboss.job (name, data, retry_limit, retry_delay, retry_backoff, expire_in, keep_until, policy)
      SELECT q.name, '{"batches":true}'::jsonb, q.retry_limit, q.retry_delay, q.retry_backoff,
        q.expire_seconds * interval '1 second', now() + q.retention_minutes * interval '1 minute', q.policy
      FROM pgboss.queue q WHERE q.name = ${QUEUE} AND EXISTS (SELECT 1 FROM ${Prisma.raw(cte)})`;
}

/** SQL adding a job for each of `deliveryIds` (the deliveries a job of an earlier version names). */
export function fanOut(deliveryIds: string[]): Prisma.Sql {
  return Prisma.sql`WITH fanned AS (SELECT unnest(${deliveryIds}::uuid[]) AS id) ${jobsFor('fanned')}`;
}

const DELIVERY = sqlNames('WebhookDelivery');
const BATCH = sqlNames('WebhookBatch');
const ENDPOINT = sqlNames('WebhookEndpoint');
const AUDIT_EVENT = sqlNames('AuditEvent');

/**
 * The CTE bodies that queue the deliveries of the audit events a CTE named `cte`
 * inserted (it returns id, organization_id, entity_type, entity_id, action): a batch
 * per endpoint that wants some, its events in the order they were inserted. An endpoint
 * with no event types wants every event; `Entity.*` every action on Entity.
 */
export function queueDeliveries(cte: string): Prisma.Sql {
  const [b, e, a] = [BATCH(), ENDPOINT(), AUDIT_EVENT()];
  return Prisma.sql`webhook_queued AS (
      INSERT INTO ${b.$table} (${b.organizationId}, ${b.endpointId}, ${b.auditEventIds})
      SELECT e.${e.organizationId}, e.${e.id}, array_agg(ev.${a.id} ORDER BY ev.n)
      FROM (SELECT *, row_number() OVER () AS n FROM ${Prisma.raw(cte)}) AS ev
      JOIN ${e.$table} e ON e.${e.organizationId} = ev.${a.organizationId} AND e.${e.enabled}
        AND (cardinality(e.${e.eventTypes}) = 0 OR ev.${a.entityType} || '.' || ev.${a.action} = ANY(e.${e.eventTypes})
          OR ev.${a.entityType} || '.*' = ANY(e.${e.eventTypes}))
      GROUP BY e.${e.id}
      RETURNING ${b.id}
    ),
    webhook_jobs AS (${wakeUpFor('webhook_queued')})`;
}

/**
 * SQL locking out other expansions until the transaction ends, so batches become
 * deliveries one expansion after another, in their order: a later change of an entity
 * never gets an earlier delivery, nor is sent before the earlier one exists.
 */
export function lockExpansion(): Prisma.Sql {
  return Prisma.sql`SELECT pg_advisory_xact_lock(${tableName('WebhookBatch')}::regclass::oid::int, 0)`;
}

/**
 * SQL that turns the oldest `limit` batches into deliveries (in batch order, then event
 * order) with a job each, and deletes them: each event becomes one delivery per
 * endpoint however often it runs. Events deleted since (their organization's) are
 * skipped. Answers how many batches it took.
 */
export function expandBatches(limit: number): Prisma.Sql {
  const [b, d, a] = [BATCH(), DELIVERY(), AUDIT_EVENT()];
  return Prisma.sql`WITH taken AS (
      DELETE FROM ${b.$table} WHERE ${b.id} IN (SELECT ${b.id} FROM ${b.$table} ORDER BY ${b.seq} LIMIT ${limit} FOR UPDATE)
      RETURNING ${b.seq} AS seq, ${b.organizationId} AS organization_id, ${b.endpointId} AS endpoint_id, ${b.auditEventIds} AS ids
    ),
    queued AS (
      INSERT INTO ${d.$table} (${d.organizationId}, ${d.endpointId}, ${d.auditEventId}, ${d.eventType}, ${d.entityId})
      SELECT t.organization_id, t.endpoint_id, ev.${a.id}, ev.${a.entityType} || '.' || ev.${a.action}, ev.${a.entityId}
      FROM taken t CROSS JOIN LATERAL unnest(t.ids) WITH ORDINALITY AS u(id, n)
      JOIN ${a.$table} ev ON ev.${a.id} = u.id
      ORDER BY t.seq, u.n
      RETURNING ${d.id} AS id
    ),
    jobs AS (${jobsFor('queued')})
    SELECT count(*)::int AS batches FROM taken`;
}

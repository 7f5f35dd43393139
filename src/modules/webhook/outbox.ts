import { Prisma } from '../../db.ts';
import { sqlNames } from '../shared/sql-names.ts';

// The outbox: the statement that records audit events also writes, in the same
// transaction, one delivery per event and enabled endpoint that wants it, and one
// pg-boss job for them. A rolled-back change leaves neither; a committed one has both,
// and the jobs outlive any process. Set-based: as many deliveries as events, one
// statement, and a single job row whatever their number (a job naming several
// deliveries is fanned out by a worker into a job each, off the writer's path).

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
 * SQL that adds one job for the delivery ids a CTE named `cte` yields: a job naming the
 * delivery when there is one, else one naming them all, which `fanOut` turns into a
 * job each. None when the CTE yields nothing.
 */
function oneJobFor(cte: string): Prisma.Sql {
  return Prisma.sql`INSERT INTO pgboss.job (name, data, retry_limit, retry_delay, retry_backoff, expire_in, keep_until, policy)
      SELECT q.name, CASE WHEN d.n = 1 THEN jsonb_build_object('deliveryId', d.ids[1]) ELSE jsonb_build_object('deliveryIds', to_jsonb(d.ids)) END,
        q.retry_limit, q.retry_delay, q.retry_backoff,
        q.expire_seconds * interval '1 second', now() + q.retention_minutes * interval '1 minute', q.policy
      FROM (SELECT count(*) AS n, array_agg(id) AS ids FROM ${Prisma.raw(cte)}) AS d JOIN pgboss.queue q ON q.name = ${QUEUE}
      WHERE d.n > 0`;
}

/** SQL adding a job for each of `deliveryIds` (a fanned-out job's deliveries). */
export function fanOut(deliveryIds: string[]): Prisma.Sql {
  return Prisma.sql`WITH fanned AS (SELECT unnest(${deliveryIds}::uuid[]) AS id) ${jobsFor('fanned')}`;
}

const DELIVERY = sqlNames('WebhookDelivery');
const ENDPOINT = sqlNames('WebhookEndpoint');
const AUDIT_EVENT = sqlNames('AuditEvent');

/**
 * The CTE bodies that queue the deliveries of the audit events a CTE named `cte`
 * inserted (it returns id, organization_id, entity_type, entity_id, action). An
 * endpoint with no event types wants every event; `Entity.*` every action on Entity.
 */
export function queueDeliveries(cte: string): Prisma.Sql {
  const [d, e, a] = [DELIVERY(), ENDPOINT(), AUDIT_EVENT()];
  return Prisma.sql`webhook_queued AS (
      INSERT INTO ${d.$table} (${d.organizationId}, ${d.endpointId}, ${d.auditEventId}, ${d.eventType}, ${d.entityId})
      SELECT ev.${a.organizationId}, e.${e.id}, ev.${a.id}, ev.${a.entityType} || '.' || ev.${a.action}, ev.${a.entityId}
      FROM ${Prisma.raw(cte)} AS ev
      JOIN ${e.$table} e ON e.${e.organizationId} = ev.${a.organizationId} AND e.${e.enabled}
        AND (cardinality(e.${e.eventTypes}) = 0 OR ev.${a.entityType} || '.' || ev.${a.action} = ANY(e.${e.eventTypes})
          OR ev.${a.entityType} || '.*' = ANY(e.${e.eventTypes}))
      RETURNING ${d.id}
    ),
    webhook_jobs AS (${oneJobFor('webhook_queued')})`;
}

import { encodeGlobalID } from '@pothos/plugin-relay';
import type { WebhookSettings } from '../../config.ts';
import { ANONYMOUS } from '../../context.ts';
import { prisma, Prisma } from '../../db.ts';
import { errorFields, logger } from '../../observability/logger.ts';
import { changesOf, recordAudit, type Changes } from '../audit/service.ts';
import { sqlNames } from '../shared/sql-names.ts';
import { expandBatches, fanOut, jobsFor, lockExpansion } from './outbox.ts';
import type { DeliveryJobData } from './queue.ts';
import { post } from './safety.ts';
import { signedHeaders, signingSecrets } from './signing.ts';

// Sending one delivery: a pg-boss job names it. The worker leases it (two workers never
// send it at once), waits for the earlier deliveries of the same entity to the same
// endpoint (an entity's changes arrive in order), sends it signed, records the attempt,
// and on failure throws, so pg-boss retries it with backoff until the retry window is
// over; then it is FAILED. An endpoint failing for the whole window is disabled.

interface Claimed {
  id: string;
  seq: bigint;
  endpointId: string;
  entityId: string;
  eventType: string;
  auditEventId: string;
  pendingSince: Date;
  url: string;
  enabled: boolean;
  secret: string;
  previousSecret: string | null;
  previousSecretExpiresAt: Date | null;
  failingSince: Date | null;
  organizationId: string;
}

const DELIVERY = sqlNames('WebhookDelivery');
const ENDPOINT = sqlNames('WebhookEndpoint');

/** Thrown to have pg-boss retry the job later, with backoff. */
export class RetryLater extends Error {}

/**
 * Leases a pending delivery whose earlier deliveries (same endpoint, same entity) are
 * all settled, for long enough to send it. Null when it is settled, leased by another
 * worker, or waits for an earlier one (which queues it when it settles).
 */
async function claim(id: string, settings: WebhookSettings): Promise<Claimed | null> {
  const [w, e] = [DELIVERY(), ENDPOINT()];
  const rows = await prisma.$queryRaw<Claimed[]>`
    UPDATE ${w.$table} d SET ${w.leasedUntil} = now() + ${settings.timeoutMs + 5000} * interval '1 millisecond'
    FROM ${e.$table} e
    WHERE d.${w.id} = ${id}::uuid AND e.${e.id} = d.${w.endpointId} AND d.${w.status} = 'PENDING'
      AND (d.${w.leasedUntil} IS NULL OR d.${w.leasedUntil} < now())
      AND NOT EXISTS (SELECT 1 FROM ${w.$table} p WHERE p.${w.endpointId} = d.${w.endpointId} AND p.${w.entityId} = d.${w.entityId}
        AND p.${w.seq} < d.${w.seq} AND p.${w.status} = 'PENDING')
    RETURNING d.${w.id}, d.${w.seq}, d.${w.endpointId} AS "endpointId", d.${w.entityId} AS "entityId", d.${w.eventType} AS "eventType",
      d.${w.auditEventId} AS "auditEventId", d.${w.pendingSince} AS "pendingSince", d.${w.organizationId} AS "organizationId",
      e.${e.url}, e.${e.enabled}, e.${e.secret}, e.${e.previousSecret} AS "previousSecret",
      e.${e.previousSecretExpiresAt} AS "previousSecretExpiresAt", e.${e.failingSince} AS "failingSince"`;
  return rows[0] ?? null;
}

function split(changes: Changes, side: 'before' | 'after') {
  return Object.fromEntries(Object.entries(changes).map(([field, c]) => [field, c[side]]));
}

/**
 * The JSON body of a delivery, in the Standard Webhooks shape (`type`, `timestamp`,
 * `data`): the audit event with the changed fields before and after, and who made it.
 * Null when the event no longer exists (its organization was deleted).
 */
export async function payloadOf(auditEventId: string): Promise<string | null> {
  const e = await prisma.auditEvent.findUnique({ where: { id: auditEventId } });
  if (!e) return null;
  const changes = e.changes as Changes;
  const created = e.action === 'CREATE';
  const deleted = e.action === 'DELETE';
  return JSON.stringify({
    type: `${e.entityType}.${e.action}`,
    timestamp: e.createdAt.toISOString(),
    data: {
      id: encodeGlobalID('AuditEvent', e.id),
      organizationId: e.organizationId && encodeGlobalID('Organization', e.organizationId),
      entityType: e.entityType,
      entityId: encodeGlobalID(e.entityType, e.entityId),
      action: e.action,
      before: created ? null : split(changes, 'before'),
      after: deleted ? null : split(changes, 'after'),
      changes,
      actor: {
        type: e.actorType,
        userId: e.actorUserId && encodeGlobalID('User', e.actorUserId),
        apiKeyId: e.actorApiKeyId && encodeGlobalID('ApiKey', e.actorApiKeyId),
      },
      discoveryMethod: e.discoveryMethod,
      requestId: e.requestId,
    },
  });
}

/** SQL queueing the job of the next pending delivery of the same endpoint and entity, if any. */
function queueNext(d: Claimed): Prisma.Sql {
  const w = DELIVERY();
  return Prisma.sql`WITH next AS (
      SELECT ${w.id} FROM ${w.$table} WHERE ${w.endpointId} = ${d.endpointId}::uuid AND ${w.entityId} = ${d.entityId}::uuid
        AND ${w.status} = 'PENDING' AND ${w.seq} > ${d.seq} ORDER BY ${w.seq} LIMIT 1)
    ${jobsFor('next')}`;
}

interface Outcome {
  succeeded: boolean;
  responseStatus: number | null;
  responseBody: string | null;
  error: string | null;
  durationMs: number;
}

async function send(d: Claimed, payload: string, settings: WebhookSettings): Promise<Outcome> {
  const started = performance.now();
  const headers = signedHeaders(d.id, payload, signingSecrets(d));
  try {
    const response = await post(d.url, headers, payload, settings);
    const succeeded = response.status >= 200 && response.status < 300;
    return { succeeded, responseStatus: response.status, responseBody: response.body, error: null, durationMs: Math.round(performance.now() - started) };
  } catch (err) {
    const error = String((err as Error)?.message ?? err).slice(0, 1000);
    return { succeeded: false, responseStatus: null, responseBody: null, error, durationMs: Math.round(performance.now() - started) };
  }
}

/**
 * Records an attempt and settles the delivery: DELIVERED on success, FAILED once the
 * retry window is over, else pending for a retry. A settled delivery queues the next of
 * its entity; an endpoint failing for the whole window is disabled, with the reason.
 * Answers whether the delivery is still pending.
 */
async function record(d: Claimed, outcome: Outcome, settings: WebhookSettings): Promise<boolean> {
  const now = new Date();
  const windowMs = settings.retryWindowSeconds * 1000;
  const expired = !outcome.succeeded && now.getTime() - d.pendingSince.getTime() >= windowMs;
  const status = outcome.succeeded ? 'DELIVERED' : expired ? 'FAILED' : 'PENDING';
  await prisma.$transaction(async (tx) => {
    await tx.webhookAttempt.create({ data: { organizationId: d.organizationId, deliveryId: d.id, ...outcome } });
    await tx.webhookDelivery.update({
      where: { id: d.id },
      data: {
        status,
        attemptCount: { increment: 1 },
        lastAttemptAt: now,
        leasedUntil: null,
        ...(outcome.succeeded && { deliveredAt: now }),
      },
    });
    if (status !== 'PENDING') await tx.$executeRaw(queueNext(d));
    if (outcome.succeeded) {
      await tx.webhookEndpoint.updateMany({ where: { id: d.endpointId, failingSince: { not: null } }, data: { failingSince: null } });
      return;
    }
    await tx.webhookEndpoint.updateMany({ where: { id: d.endpointId, failingSince: null }, data: { failingSince: now } });
    // Failing for the window: every attempt since then failed, or this delivery failed
    // for its whole window with no success of the endpoint since its first attempt.
    const failingSince = d.failingSince ?? now;
    const first = expired
      ? await tx.webhookAttempt.findFirst({ where: { deliveryId: d.id, createdAt: { gte: d.pendingSince } }, orderBy: { createdAt: 'asc' } })
      : null;
    if (now.getTime() - failingSince.getTime() >= windowMs || (first && failingSince <= first.createdAt)) {
      await disableFailing(tx, d, failingSince, outcome, now);
    }
  });
  return status === 'PENDING';
}

async function disableFailing(tx: Prisma.TransactionClient, d: Claimed, failingSince: Date, outcome: Outcome, now: Date) {
  const [before] = await tx.webhookEndpoint.findMany({ where: { id: d.endpointId, enabled: true } });
  if (!before) return;
  const last = outcome.error ?? `HTTP ${outcome.responseStatus}`;
  const after = await tx.webhookEndpoint.update({
    where: { id: d.endpointId },
    data: {
      enabled: false,
      disabledAt: now,
      disabledReason: `Every attempt failed since ${failingSince.toISOString()}; the last: ${last}`.slice(0, 1000),
    },
  });
  await recordAudit(tx, ANONYMOUS, [
    {
      organizationId: after.organizationId,
      entityType: 'WebhookEndpoint',
      entityId: after.id,
      action: 'UPDATE',
      changes: changesOf(before, after, ['enabled', 'disabledReason']),
    },
  ]);
}

/** Marks a delivery FAILED without sending it (its endpoint is disabled or its event gone). */
async function abandon(d: Claimed, error: string) {
  await prisma.$transaction(async (tx) => {
    await tx.webhookAttempt.create({
      data: { organizationId: d.organizationId, deliveryId: d.id, succeeded: false, error, durationMs: 0 },
    });
    await tx.webhookDelivery.update({ where: { id: d.id }, data: { status: 'FAILED', leasedUntil: null } });
    await tx.$executeRaw(queueNext(d));
  });
}

/** Runs the job of delivery `id`; throws RetryLater when it is to be sent again later. */
export async function deliver(id: string, settings: WebhookSettings): Promise<void> {
  const d = await claim(id, settings);
  if (!d) {
    // Another worker holds it (or held it and failed): look again later rather than
    // drop this job. Settled or waiting for an earlier one, the job is done.
    const w = DELIVERY();
    const [row] = await prisma.$queryRaw<{ leased: boolean }[]>`
      SELECT ${w.leasedUntil} > now() AS leased FROM ${w.$table} WHERE ${w.id} = ${id}::uuid AND ${w.status} = 'PENDING'`;
    if (row?.leased) throw new RetryLater('Another worker is sending it.');
    return;
  }
  if (!d.enabled) return abandon(d, 'The endpoint is disabled.');
  const payload = await payloadOf(d.auditEventId);
  if (!payload) return abandon(d, 'The event no longer exists.');
  const outcome = await send(d, payload, settings);
  if (await record(d, outcome, settings)) {
    logger.info({ deliveryId: d.id, status: outcome.responseStatus, error: outcome.error }, 'webhook delivery failed; retrying');
    throw new RetryLater(outcome.error ?? `HTTP ${outcome.responseStatus}`);
  }
}

/** Batches one expansion takes: a transaction stays short even when batches piled up. */
const BATCHES_PER_EXPANSION = 10;

/**
 * Turns every batch into deliveries with a job each, oldest first, a few batches per
 * transaction, one expansion at a time across processes. Answers how many batches.
 */
export async function expand(): Promise<number> {
  let total = 0;
  for (;;) {
    const taken = await prisma.$transaction(
      async (tx) => {
        // Its own statement: the expansion's snapshot then sees what the one before committed.
        await tx.$executeRaw(lockExpansion());
        const [row] = await tx.$queryRaw<{ batches: number }[]>(expandBatches(BATCHES_PER_EXPANSION));
        return row?.batches ?? 0;
      },
      { timeout: 60_000 },
    );
    if (!taken) return total;
    total += taken;
  }
}

/**
 * The job handler: a wake-up job expands the batches; a job naming several deliveries
 * (queued before batches existed) becomes a job each. Run again after a crash, neither
 * sends a delivery twice (a batch is deleted as it is expanded; a delivery's lease and
 * status guard it). Failures of the handler itself are logged and retried like failed sends.
 */
export function deliveryHandler(settings: WebhookSettings) {
  return async (job: { data: DeliveryJobData }) => {
    if ('batches' in job.data) {
      await expand();
      return;
    }
    if ('deliveryIds' in job.data) {
      await prisma.$executeRaw(fanOut(job.data.deliveryIds));
      return;
    }
    try {
      await deliver(job.data.deliveryId, settings);
    } catch (err) {
      if (!(err instanceof RetryLater)) logger.warn({ ...errorFields(err), deliveryId: (job.data as { deliveryId: string }).deliveryId }, 'webhook delivery error');
      throw err;
    }
  };
}

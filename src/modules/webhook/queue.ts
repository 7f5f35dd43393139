import type { PGlite } from '@electric-sql/pglite';
import PgBoss from 'pg-boss';
import type { WebhookSettings } from '../../config.ts';
import type { Database } from '../../db.ts';
import { errorFields, logger } from '../../observability/logger.ts';
import { QUEUE } from './outbox.ts';

// The delivery workers, on pg-boss: it hands each job to one worker among all the
// processes polling the database (SELECT … FOR UPDATE SKIP LOCKED), retries failed jobs
// with exponential backoff and jitter, and gives the job of a worker that died (expired
// while active) to another after WEBHOOK_EXPIRE_SECONDS.

/**
 * pg-boss's database interface over the embedded database: statements with values go
 * one at a time; its multi-statement scripts (migrations, locked maintenance) in one
 * exec. PGlite runs one statement or transaction at a time, so these never interleave
 * with a request's transaction.
 */
function onPGlite(pglite: PGlite) {
  return {
    async executeSql(text: string, values?: unknown[]) {
      if (values?.length) return pglite.query(text, values);
      const results = await pglite.exec(text);
      return results.at(-1) ?? { rows: [] };
    },
  };
}

/**
 * A job wakes a worker to expand batches into deliveries, or names one delivery to
 * send, or (queued by an earlier version) several to be fanned out into a job each.
 */
export type DeliveryJobData = { batches: true } | { deliveryId: string } | { deliveryIds: string[] };

export interface DeliveryJob {
  id: string;
  data: DeliveryJobData;
}

export interface Workers {
  stop(): Promise<void>;
}

/**
 * Starts `settings.concurrency` workers that run `handle` for each delivery job. A job
 * whose handler throws is retried with backoff; one that returns is done.
 */
export async function startWorkers(
  db: Database,
  settings: WebhookSettings,
  handle: (job: DeliveryJob) => Promise<void>,
): Promise<Workers> {
  const connection = 'pglite' in db.jobConnection ? { db: onPGlite(db.jobConnection.pglite) } : { ...db.jobConnection, max: 2 };
  const boss = new PgBoss({
    ...connection,
    schema: 'pgboss',
    schedule: false,
    supervise: true,
    maintenanceIntervalSeconds: settings.maintenanceSeconds,
  });
  boss.on('error', (err: unknown) => logger.warn(errorFields(err), 'webhook queue error'));
  await boss.start();
  // The queue's retry and expiry follow this process's settings (the migration made it).
  await boss.updateQueue(QUEUE, {
    name: QUEUE,
    policy: 'standard',
    retryLimit: 1000,
    retryDelay: settings.retryDelaySeconds,
    retryBackoff: true,
    expireInSeconds: settings.expireSeconds,
    retentionMinutes: 14 * 24 * 60,
  } as PgBoss.Queue);
  for (let i = 0; i < settings.concurrency; i++) {
    await boss.work<DeliveryJobData>(QUEUE, { batchSize: 1, pollingIntervalSeconds: settings.pollSeconds }, async ([job]) => {
      if (job) await handle(job);
    });
  }
  return {
    async stop() {
      await boss.stop({ graceful: true, wait: true, timeout: settings.timeoutMs + 1000 });
    },
  };
}

/** Starts delivering webhooks from this process with `settings`. */
export async function startDelivery(db: Database, settings: WebhookSettings): Promise<Workers> {
  const { deliveryHandler } = await import('./delivery.ts');
  return startWorkers(db, settings, deliveryHandler(settings));
}

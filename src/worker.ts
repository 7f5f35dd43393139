import { loadConfig } from './config.ts';
import { openDatabase, useDatabase } from './db.ts';
import { startDelivery } from './modules/webhook/queue.ts';
import { useWebhookSettings } from './modules/webhook/settings.ts';
import { createLogger, setLogger } from './observability/logger.ts';

// `npm run worker`: delivers webhooks in a process of its own, beside servers started
// with WEBHOOK_DELIVERY=worker. Any number of workers share the work through PostgreSQL.
// The embedded database belongs to one process, so there the server delivers.

const config = loadConfig();
setLogger(createLogger(config.logLevel));
if (!config.databaseUrl) {
  console.error('npm run worker needs DATABASE_URL: with the embedded database the server process delivers webhooks itself.');
  process.exit(2);
}
const db = await openDatabase(config, { migrate: config.migrateOnStart });
useDatabase(db);
useWebhookSettings(config.webhooks);
const workers = await startDelivery(db, config.webhooks);
console.log(`Delivering webhooks from ${db.describe}`);

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: finishing deliveries in progress, then closing.`);
  await workers.stop();
  await db.close();
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));

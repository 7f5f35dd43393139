import { loadConfig, tracingEnabled } from './config.ts';
import { createLogger, errorFields, logger, setLogger } from './observability/logger.ts';
import { ANONYMOUS } from './context.ts';
import { startPurging } from './modules/deletion/service.ts';
import { openDatabase, useDatabase } from './db.ts';
import { createHttpServer } from './http-server.ts';
import { pendingMigrations } from './db/migrate.ts';
import { warnIfAboveThePolicies } from './db/scope.ts';
import { developmentDemo, type DemoLoad } from './modules/demo/load.ts';
import { inProcessTransport } from './modules/demo/transport.ts';
import { FolderInUseError } from './db/folder-lock.ts';
import { developmentSecret, DEV_GRANT_PATH, DEV_IMPORT_PATH, devGrantHandler, devRoute } from './modules/auth/dev.ts';
import type { Workers } from './modules/webhook/queue.ts';
import { useWebhookSettings } from './modules/webhook/settings.ts';

// Listens, and shuts down cleanly. Everything else is built in yoga.ts. Whatever it
// says goes to stdout as JSON log lines (so log shippers parse every line); only the
// errors it stops on go to stderr as text.

let config = loadConfig();
setLogger(createLogger(config.logLevel));
const started = performance.now();
// Until the server listens, a timer keeps the event loop alive: a loop left with nothing
// to wait for (between two steps of the start) blocks until V8 has finished compiling
// PGlite's WebAssembly in the background, which takes longer than the whole start.
const awake = setInterval(() => {}, 60_000);
// The database opens (and the embedded one loads its files) while the schema and the
// server's plugins load: a cold start waits for the slower of the two, not for both.
const [db, { createApp }, { createCounterStore }] = await Promise.all([
  openDatabase(config, { migrate: config.migrateOnStart }).catch((err: unknown) => {
    // Another process holds the embedded database's folder: say which, and stop.
    if (!(err instanceof FolderInUseError)) throw err;
    console.error(err.message);
    process.exit(1);
  }),
  import('./yoga.ts'),
  import('./plugins/rate-limit.ts'),
]);
useDatabase(db);
useWebhookSettings(config.webhooks);
for (const name of db.appliedMigrations) logger.info({ migration: name }, `Applied migration ${name}`);
await refuseUnmigrated();
if (db.kind === 'postgres' && config.env === 'production') await warnIfAboveThePolicies(db);
// Webhooks go out from this process unless worker processes (npm run worker) send them.
// The queue (pg-boss) starts a second after the server listens: loading it would hold up
// the first requests, which need none of it, and a delivery waits for a poll anyway.
let delivery: Promise<Workers> | null = null;
let deliveryStart: NodeJS.Timeout | undefined;
if (config.webhooks.delivery !== 'in-process' && db.kind === 'embedded') {
  logger.warn('WEBHOOK_DELIVERY=worker on the embedded database: no process delivers webhooks (npm run worker needs DATABASE_URL).');
}

// Deleted objects past their organization's retention go for good.
const purging = startPurging(ANONYMOUS, config.purgeIntervalSeconds, (err) => logger.warn(errorFields(err), 'purge of deleted objects failed'));

// Development signs tokens with an HS256 secret: JWT_SECRET, or one generated into
// the data folder, which `npm run token` reads too.
const dev = config.env === 'development' ? await developmentSecret(config) : null;
if (dev) {
  config = { ...config, auth: { ...config.auth, jwtSecret: dev.secret } };
  if (dev.file) {
    logger.info(
      dev.generated
        ? `JWT_SECRET is not set: generated a development secret in ${dev.file}.`
        : `JWT_SECRET is not set: using the development secret in ${dev.file}.`,
    );
  }
}
if (config.env === 'production' && !config.auth.jwksUrl) {
  logger.warn('JWT_JWKS_URL is not set: bearer tokens are refused; only API keys authenticate.');
}

let accepting = true;
const tracing = tracingEnabled() ? (await import('./observability/tracing.ts')).startTracing() : undefined;
// Rate-limit counters: shared through Redis when REDIS_URL is set, else in this process.
const counters = createCounterStore(config.rateLimits);
let demo: DemoLoad | null = null;
const app = createApp({
  config,
  isAccepting: () => accepting,
  tracing: tracing?.plugin,
  counters,
  graphiqlHeaders: async () => (demo ? demo.headers() : null),
});
// Development on the embedded database: a first start has a demo organization to look at.
if (dev && !config.databaseUrl && config.demoData) {
  demo = await developmentDemo(inProcessTransport(app, db.prisma, dev.secret, config.auth), db.prisma);
}
// Development routes of `npm run token` and `npm run import` (src/modules/auth/dev.ts).
const devRoutes = new Map<string | undefined, ReturnType<typeof devRoute>>(
  dev
    ? [
        [DEV_GRANT_PATH, devGrantHandler(() => db.prisma, dev.secret)],
        [DEV_IMPORT_PATH, devRoute(dev.secret, async (body) => (await import('./modules/import/file.ts')).importOnRequest(body))],
      ]
    : [],
);
const http = createHttpServer((req, res) => (devRoutes.get(req.url) ?? app)(req, res), config.httpTimeouts);
const server = http.server;

server.listen(config.port, config.host, () => {
  clearInterval(awake);
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const ms = Math.round(performance.now() - started);
  // Other processes (`npm run token`, `npm run import`) find the server holding the
  // embedded database through its folder lock.
  db.lock?.announce(`http://${host}:${port}`);
  logger.info(`Identity graph on ${db.describe}, ready in ${ms} ms`);
  if (config.webhooks.delivery === 'in-process') deliveryStart = setTimeout(startDelivering, 1000);
  if (demo) {
    logger.info(
      `${demo.loaded ? 'Loaded the demo organization' : 'The demo organization is here'} (slug demo, DEMO_DATA=false skips it): ` +
        'GraphiQL opens acting as its admin, with the example operations.',
    );
  }
  if (dev) {
    logger.info(
      'Development token: npm run token -- --email you@example.com --org my-org [--role ANALYST], ' +
        "then paste the headers it prints into GraphiQL's Headers tab.",
    );
  }
  const url = `http://${host}:${port}/graphql`;
  logger.info({ url }, `GraphQL${config.env === 'production' ? '' : ' and GraphiQL'}: ${url}`);
});

/**
 * A PostgreSQL database that lacks migrations would fail every request: say so and
 * exit instead of starting. One that cannot be reached yet is left to /ready.
 */
async function refuseUnmigrated() {
  if (db.kind !== 'postgres' || config.migrateOnStart) return;
  const pending = await pendingMigrations(db.query).catch(() => []);
  if (pending.length === 0) return;
  console.error(
    `The database ${db.describe} lacks ${pending.length} migration(s): ${pending.join(', ')}.\n` +
      'Run `npm run db:migrate` with the same DATABASE_URL (or start with MIGRATE_ON_START=true), then start again.',
  );
  await db.close();
  process.exit(1);
}

function startDelivering(attempt = 0) {
  if (!accepting) return;
  delivery = import('./modules/webhook/queue.ts').then(({ startDelivery }) => startDelivery(db, config.webhooks));
  // The server already answers, and what it writes waits in the outbox: a start that
  // fails (the database restarting, say) is tried again, not the end of the process.
  delivery.catch((err: unknown) => {
    delivery = null;
    const retryInMs = Math.min(30_000, 1000 * 2 ** attempt);
    logger.error({ error: (err as Error).message, retryInMs }, 'webhook delivery did not start; trying again');
    deliveryStart = setTimeout(() => startDelivering(attempt + 1), retryInMs);
  });
}

async function shutdown(signal: string) {
  if (!accepting) return;
  accepting = false;
  // Readiness now fails, and every response tells its client to close the connection:
  // a client that goes on sending does so on a new one, while the listener is open.
  http.drain();
  logger.info(`${signal}: finishing in-flight requests, then closing.`);
  // A load balancer takes this instance out of rotation within the drain period,
  // during which requests are still served.
  if (config.shutdownDrainMs > 0) await new Promise((r) => setTimeout(r, config.shutdownDrainMs));
  const timer = setTimeout(() => {
    console.error('Shutdown grace period over; exiting.');
    process.exit(1);
  }, config.shutdownGraceMs);
  timer.unref();
  // Stop listening; requests in flight finish, and their connections close after them.
  await http.close();
  clearTimeout(deliveryStart);
  await (await delivery?.catch(() => null))?.stop();
  purging.stop();
  await db.close();
  await counters.close();
  await tracing?.shutdown();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

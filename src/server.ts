import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { loadConfig } from './config.ts';
import { createLogger, setLogger } from './observability/logger.ts';
import { openDatabase, useDatabase } from './db.ts';
import { startTracing, tracingEnabled } from './observability/tracing.ts';
import { createApp } from './yoga.ts';

// Listens, and shuts down cleanly. Everything else is built in yoga.ts.

const config = loadConfig();
setLogger(createLogger(config.logLevel));
const started = performance.now();
const db = await openDatabase(config, { migrate: config.migrateOnStart });
useDatabase(db);
for (const name of db.appliedMigrations) console.log(`Applied migration ${name}`);

let secret = process.env.JWT_SECRET;
if (!secret && config.env !== 'production') {
  secret = randomBytes(32).toString('hex');
  console.log('JWT_SECRET is not set: generated one for this process (tokens stop working on restart).');
}

let accepting = true;
const tracing = tracingEnabled() ? startTracing() : undefined;
const app = createApp({
  config,
  auth: { jwtSecret: secret ? new TextEncoder().encode(secret) : null },
  isAccepting: () => accepting,
  tracing: tracing?.plugin,
});
const server = createServer(app);

server.listen(config.port, config.host, () => {
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const ms = Math.round(performance.now() - started);
  console.log(`Identity graph on ${db.describe}, ready in ${ms} ms`);
  console.log(`GraphQL${config.env === 'production' ? '' : ' and GraphiQL'}: http://${host}:${port}/graphql`);
});

async function shutdown(signal: string) {
  if (!accepting) return;
  accepting = false;
  console.log(`${signal}: finishing in-flight requests, then closing.`);
  const timer = setTimeout(() => {
    console.error('Shutdown grace period over; exiting.');
    process.exit(1);
  }, config.shutdownGraceMs);
  timer.unref();
  // Readiness now fails; a load balancer takes this instance out of rotation within
  // the drain period, during which requests are still served as usual.
  if (config.shutdownDrainMs > 0) await new Promise((r) => setTimeout(r, config.shutdownDrainMs));
  // Stop accepting connections; let requests in flight finish. Keep-alive connections
  // are closed as soon as they fall idle, and responses still to come tell clients to
  // close theirs.
  server.on('request', (_req, res) => res.setHeader('connection', 'close'));
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  const idle = setInterval(() => server.closeIdleConnections(), 50);
  server.closeIdleConnections();
  await closed;
  clearInterval(idle);
  await db.close();
  await tracing?.shutdown();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

// Loads the demo organization (slug `demo`) into the database the environment names:
//   npm run demo
// PostgreSQL with DATABASE_URL (migrated first), else the embedded database: through
// the development server when one holds it, or opened here. Nothing is written when
// the demo organization already has its data. Development and test only.
import { loadConfig } from '../src/config.ts';
import { openDatabase, useDatabase } from '../src/db.ts';
import { createLogger, setLogger } from '../src/observability/logger.ts';
import { developmentSecret, runningDevServer } from '../src/modules/auth/dev.ts';
import { loadDemo, type DemoLoad } from '../src/modules/demo/load.ts';
import { inProcessTransport, serverTransport } from '../src/modules/demo/transport.ts';

async function main(): Promise<number> {
  const config = loadConfig();
  // The in-process server's request log is not this script's output.
  setLogger(createLogger(process.env.LOG_LEVEL ?? 'warn'));
  if (config.env === 'production') {
    console.error('npm run demo loads development data; it does not run in production.');
    return 2;
  }
  const { secret } = await developmentSecret(config);
  const auth = { ...config.auth, jwtSecret: secret };
  let load: DemoLoad;
  const server = config.databaseUrl ? null : await runningDevServer(config);
  if (server) {
    load = await loadDemo(serverTransport(server, secret, auth));
  } else {
    const db = await openDatabase(config, { migrate: !config.databaseUrl });
    useDatabase(db);
    try {
      const { createApp } = await import('../src/yoga.ts');
      load = await loadDemo(inProcessTransport(createApp({ config: { ...config, auth } }), db.prisma, secret, auth));
    } finally {
      await db.close();
    }
  }
  console.error(load.loaded ? 'Loaded the demo organization (slug demo).' : 'The demo organization already has its data; nothing was written.');
  console.error("Headers for GraphiQL's Headers tab, acting as its admin:");
  console.log(JSON.stringify(await load.headers(), null, 2));
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error((err as Error).message);
    process.exit(1);
  },
);

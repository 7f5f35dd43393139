// Measures matching quality on a generated population with ground truth:
//   npm run eval:matching -- [--people 1000] [--seed 19] [--update-readme] [--verbose]
// On a new in-memory embedded database by default (nothing to set up), on PostgreSQL
// with DATABASE_URL (migrated first; each run makes its own organization). Prints the
// table, and exits 1 when a target is missed.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { loadConfig } from '../../src/config.ts';
import { openDatabase, useDatabase } from '../../src/db.ts';
import { createLogger, setLogger } from '../../src/observability/logger.ts';
import { parseArgs } from '../common.ts';
import { evaluate } from './evaluate.ts';
import { missedTargets, table, updateReadme } from './report.ts';

const HELP = `npm run eval:matching -- [options]
  --people N        people to generate (default 1000)
  --seed N          the generator's seed (default 19)
  --update-readme   write the table into README.md (between its matching quality markers)
  --verbose         list the first misses and false automatic links
Runs on a new in-memory embedded database, or on PostgreSQL when DATABASE_URL is set.`;

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) return console.log(HELP), 0;
  const people = Number(args.people ?? 1000);
  const seed = Number(args.seed ?? 19);
  if (!Number.isInteger(people) || people < 2 || !Number.isInteger(seed)) return console.error(HELP), 2;
  // The in-process server's request log is not this script's output.
  setLogger(createLogger(process.env.LOG_LEVEL ?? 'warn'));
  const secret = randomBytes(32).toString('hex');
  // The server runs in this process for this script alone: its rate limits would only
  // pace the load (one addMember per person).
  const config = loadConfig({
    ...process.env,
    JWT_SECRET: secret,
    JWT_JWKS_URL: '',
    AUTH_PROVISION_USERS: 'true',
    RATE_LIMIT_PER_CREDENTIAL: '0',
    RATE_LIMIT_PER_ORGANIZATION: '0',
  });
  const pglite = config.databaseUrl ? undefined : await PGlite.create();
  const db = await openDatabase(config, { migrate: true, ...(pglite && { pglite }) });
  useDatabase(db);
  try {
    const { createApp } = await import('../../src/yoga.ts');
    const app = createApp({ config });
    console.error(`Generating ${people} people (seed ${seed}) and loading them through the API on the ${db.describe}…`);
    const { population, scores, seconds } = await evaluate({ fetch: app.fetch, secret, auth: config.auth, people, seed });
    console.error(`Loaded in ${seconds.load.toFixed(1)} s, scored in ${seconds.score.toFixed(1)} s.`);
    const md = table(population, scores);
    console.log(md);
    if (args.verbose) {
      console.log('resolve misses:', scores.resolve.misses);
      console.log('false automatic links:', scores.auto.falsePairs);
      console.log(`same-person pairs sharing a value, scored below the threshold:`, scores.missedAtThreshold);
    }
    if (args['update-readme']) {
      const readme = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../README.md');
      console.error(updateReadme(readme, md) ? 'README updated.' : 'README has no matching quality markers: not updated.');
    }
    const missed = missedTargets(scores);
    for (const m of missed) console.error(`target missed: ${m}`);
    return missed.length ? 1 : 0;
  } finally {
    await db.close();
    await pglite?.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

// Soak: a steady mixed load on a real server process over loopback for a fixed time
// (default 5 minutes), reporting errors, latency and the server's memory over time.
//   npm run bench:soak -- [--duration 300] [--connections 16]
// Uses the benchmark database (npm run bench:seed; a small set is loaded if empty).
import { writeFile } from 'node:fs/promises';
import pg from 'pg';
import { SignJWT } from 'jose';
import { startServer } from '../test/helpers/server-process.ts';
import { benchDatabase, parseArgs } from './common.ts';
import { rssMiB, runLoad, summarize, type RequestSpec } from './load.ts';
import { seed } from './seed.ts';

const args = parseArgs(process.argv.slice(2));
const durationMs = Number(args.duration ?? 300) * 1000;
const connections = Number(args.connections ?? 16);
const SECRET = 'bench-secret-bench-secret-bench-secret!!';

const database = await benchDatabase();
const url = database.url;
const client = new pg.Client({ connectionString: url });
await client.connect();
const seeded = await client.query('SELECT count(*)::int AS n FROM users').catch(() => ({ rows: [{ n: 0 }] }));
if (!seeded.rows[0].n) {
  console.log('The benchmark database is empty: loading scale 0.01.');
  await seed(url, 0.01);
}
const orgs = (await client.query('SELECT id FROM organizations ORDER BY id LIMIT 200')).rows.map((r) => r.id as string);
const members = (
  await client.query(
    `SELECT DISTINCT ON (m.organization_id) m.organization_id, u.id, u.auth_subject FROM members m JOIN users u ON u.id = m.user_id
     WHERE m.organization_id = ANY($1) ORDER BY m.organization_id, u.id`,
    [orgs],
  )
).rows as { organization_id: string; id: string; auth_subject: string }[];
const colleagues = (
  await client.query('SELECT organization_id, user_id FROM members WHERE organization_id = ANY($1) LIMIT 20000', [orgs])
).rows as { organization_id: string; user_id: string }[];
await client.end();

const tokens = new Map<string, string>();
for (const m of members) {
  tokens.set(
    m.organization_id,
    await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(m.auth_subject).setIssuedAt().setExpirationTime('2h').sign(new TextEncoder().encode(SECRET)),
  );
}
const gid = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString('base64');
let seq = 0;
const pick = <T>(list: T[]) => list[Math.floor(Math.random() * list.length)]!;
const noErrors = (json: unknown) => ((json as { errors?: unknown[] }).errors ? JSON.stringify((json as { errors: unknown[] }).errors).slice(0, 200) : null);

function next(): RequestSpec {
  const r = Math.random();
  const c = pick(colleagues);
  const headers = { authorization: `Bearer ${tokens.get(c.organization_id)}`, 'x-organization-id': c.organization_id };
  if (r < 0.8) {
    return { headers, check: noErrors, body: JSON.stringify({ query: `{ node(id: "${gid('User', c.user_id)}") { id ... on User { email name } } }` }) };
  }
  if (r < 0.95) {
    return { headers, check: noErrors, body: JSON.stringify({ query: `{ node(id: "${gid('Organization', c.organization_id)}") { id ... on Organization { slug name } } }` }) };
  }
  const slug = `soak-${process.pid}-${seq++}`;
  return {
    headers,
    check: (json) => ((json as { data?: { createOrganization?: { __typename: string } } }).data?.createOrganization?.__typename === 'CreateOrganizationSuccess' ? null : JSON.stringify(json).slice(0, 200)),
    body: JSON.stringify({ query: `mutation { createOrganization(input: { slug: "${slug}", name: "Soak" }) { __typename } }` }),
  };
}

const server = await startServer({
  DATABASE_URL: url,
  // A database seeded before the latest migrations is brought up to date first.
  MIGRATE_ON_START: 'true',
  JWT_SECRET: SECRET,
  RATE_LIMIT_PER_CREDENTIAL: '0',
  RATE_LIMIT_PER_ORGANIZATION: '0',
  LOG_LEVEL: 'warn',
  DATABASE_POOL_SIZE: '10',
});
const pid = server.child.pid!;
const memory: { atS: number; rssMiB: number }[] = [];
console.log(`Soak: ${connections} connections for ${durationMs / 1000} s against ${server.url}`);
const result = await runLoad(server.url, {
  connections,
  durationMs,
  next,
  onTick: (elapsed) => {
    if (memory.length === 0 || elapsed / 1000 - memory[memory.length - 1]!.atS >= 5) {
      void rssMiB(pid).then((rss) => {
        memory.push({ atS: Math.round(elapsed / 1000), rssMiB: rss });
        process.stderr.write(`\r${Math.round(elapsed / 1000)} s, RSS ${rss} MiB   `);
      });
    }
  },
});
await server.stop();
const cleanup = new pg.Client({ connectionString: url });
await cleanup.connect();
await cleanup.query(`DELETE FROM organizations WHERE slug LIKE 'soak-${process.pid}-%'`);
await cleanup.end();
database.stop();

// Memory is judged after a one-minute warm-up: first and last minute averages.
const warm = memory.filter((m) => m.atS >= Math.min(60, durationMs / 4000));
const avg = (xs: number[]) => +(xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)).toFixed(1);
const firstMinute = avg(warm.slice(0, 12).map((m) => m.rssMiB));
const lastMinute = avg(warm.slice(-12).map((m) => m.rssMiB));
const summary = {
  when: new Date().toISOString(),
  durationS: durationMs / 1000,
  connections,
  ...summarize(result),
  rssMiB: { warmFirstMinute: firstMinute, lastMinute, max: Math.max(...memory.map((m) => m.rssMiB)), samples: memory },
};
const file = `bench/results/soak-${summary.when.replace(/[:.]/g, '-')}.json`;
await writeFile(file, `${JSON.stringify(summary, null, 2)}\n`);
process.stderr.write('\n');
console.log(JSON.stringify({ ...summary, rssMiB: { ...summary.rssMiB, samples: undefined } }, null, 2));
console.log(`Written to ${file}`);
process.exit(summary.errors === 0 ? 0 : 1);

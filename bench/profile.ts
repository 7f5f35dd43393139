// Profiles this server on one scenario of the benchmark, without the peers: sends the
// scenario's requests one after another and prints the process's and PostgreSQL's CPU
// per request and each SQL statement's mean execution time. With --cpu-prof a V8 CPU
// profile of the server is written to bench/.work/prof (open it in Chrome's DevTools).
//   npm run bench:profile -- --scenario resolve [--requests 2000] [--warm 200] [--cpu-prof] [--variant hole|beside]
// --variant sends the scenario's operation changed to a shape the benchmark does not
// tune for: `hole` selects a field with no SQL form (a merge's changedSinceMerge) on every user, `beside`
// adds another root field (viewer) beside it.
// Uses the benchmark's PostgreSQL cluster and data (scale 1 unless --scale is given;
// seed first with `npm run bench:seed`).
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { parseArgs } from './common.ts';
import { startJwks } from './jwt.ts';
import { clusterCpuMs, cpuMs } from './measure.ts';
import { peerNode, startThisServer } from './peers.ts';
import { databaseForScale, ensureBenchPostgres, postmasterPid } from './postgres.ts';
import { buildWorkload, concreteBody, type ScenarioName } from './workload.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = parseArgs(process.argv.slice(2));
const scenario = (args.scenario ?? 'resolve') as Exclude<ScenarioName, 'mixed'>;
const total = Number(args.requests ?? 2000);
const scale = Number(args.scale ?? 1);
const WORK = path.join(HERE, '.work');
mkdirSync(WORK, { recursive: true });

const cluster = await ensureBenchPostgres((l) => console.error(l), databaseForScale(scale));
const jwt = await startJwks(WORK);
const workload = await buildWorkload(cluster.url, jwt, { samples: 2000, upsertOrganizations: 5 });
const VARIANTS: Record<string, (query: string) => string> = {
  hole: (q) => q.replace(/\buser\s*\{/g, '$& merges { changedSinceMerge { id } }'),
  beside: (q) => q.replace(/\}\s*$/, '  viewer { email }\n}\n'),
};
const variant = args.variant ? (VARIANTS[args.variant] ?? (() => { throw new Error(`--variant: one of ${Object.keys(VARIANTS).join(', ')}`); })()) : undefined;
const requests = workload.requests[scenario].this!.map((r) => {
  if (!variant) return r;
  const body = JSON.parse(r.body) as { query: string };
  const query = variant(body.query);
  if (query === body.query) throw new Error(`--variant ${args.variant} does not apply to ${scenario}`);
  return { ...r, body: JSON.stringify({ ...body, query }) };
});
if (args['cpu-prof'] === 'true') process.env.BENCH_NODE_ARGS = `--cpu-prof --cpu-prof-dir=${path.join(WORK, 'prof')}`;
const server = await startThisServer({ databaseUrl: cluster.url, poolSize: 16, jwt });
const admin = new pg.Client({ connectionString: cluster.url });
await admin.connect();

const send = async (i: number) => {
  const r = requests[i % requests.length]!;
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${r.token}`, 'x-organization-id': r.organizationId },
    body: concreteBody(r),
  });
  const text = await res.text();
  if (res.status !== 200 || text.includes('"errors"')) throw new Error(`${res.status} ${text.slice(0, 500)}`);
};

try {
  // Warm-up: by default the first 200 requests; --warm N sends N (each request's token is then one the server has seen).
  for (let i = 0; i < Math.min(Number(args.warm ?? 200), total); i++) await send(i);
  await admin.query('SELECT pg_stat_statements_reset()');
  const pgPid = postmasterPid();
  const [p0, c0, t0] = [cpuMs(server.pid), pgPid ? clusterCpuMs(pgPid) : 0, performance.now()];
  for (let i = 0; i < total; i++) await send(i);
  const [p1, c1, t1] = [cpuMs(server.pid), pgPid ? clusterCpuMs(pgPid) : 0, performance.now()];
  console.log(`${scenario}: ${total} requests, one at a time, server on Node.js ${execFileSync(peerNode(), ['--version']).toString().trim()}`);
  console.log(`  wall ${((t1 - t0) / total).toFixed(2)} ms/req, process CPU ${((p1 - p0) / total).toFixed(2)} ms/req, PostgreSQL CPU ${((c1 - c0) / total).toFixed(2)} ms/req`);
  const stats = await admin.query<{ calls: string; mean: number; query: string }>(
    `SELECT calls, mean_exec_time AS mean, query FROM pg_stat_statements
     WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT ILIKE '%pg_stat_statements%'
     ORDER BY total_exec_time DESC LIMIT 10`,
  );
  for (const s of stats.rows) {
    console.log(`  ${(Number(s.calls) / total).toFixed(2)}/req  ${s.mean.toFixed(3)} ms  ${s.query.replace(/\s+/g, ' ').slice(0, 140)}`);
  }
} finally {
  await admin.end();
  await server.stop();
  await jwt.close();
  await cluster.stop();
}

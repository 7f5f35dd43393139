// Held-out shapes: operations the benchmark never tunes for, generated from the schema
// by a seeded generator (bench/shapes/generate.ts) over the benchmark's seeded data, sent
// to this server one at a time. For each: SQL statements per request (from
// pg_stat_statements, without the queue's own polling), p50 wall time, process and
// PostgreSQL CPU per request (of the whole cluster), and whether any answer had errors
// (a generator bug). The server connects as a role of its own, whose statements alone are counted.
//   npm run bench:shapes -- [--operations 40] [--requests 50] [--seed 1] [--show K] [--scale 1]
// --show K prints operation K's text and variables and its statements. Results go to
// bench/results/shapes-<time>.json. Uses the benchmark's cluster (seed it first).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSchema } from 'graphql';
import pg from 'pg';
import { parseArgs } from './common.ts';
import { startJwks } from './jwt.ts';
import { clusterCpuMs, cpuMs, NOT_QUEUE } from './measure.ts';
import { peerNode, startThisServer } from './peers.ts';
import { databaseForScale, ensureBenchPostgres, postmasterPid } from './postgres.ts';
import { administered, readCursors, readOrganizations, type Ask } from './shapes/data.ts';
import { generateOperations, type ShapeOperation } from './shapes/generate.ts';
import { summarise, table, type ShapeResult, type StatementCalls } from './shapes/report.ts';
import { buildWorkload, rng } from './workload.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = parseArgs(process.argv.slice(2));
const count = Number(args.operations ?? 40);
const repeat = Number(args.requests ?? 50);
const seed = Number(args.seed ?? 1);
const scale = Number(args.scale ?? 1);
const WORK = path.join(HERE, '.work');
mkdirSync(WORK, { recursive: true });

const log = (l: string) => process.stderr.write(`${l}\n`);
const cluster = await ensureBenchPostgres(log, databaseForScale(scale));
const jwt = await startJwks(WORK);
// The benchmark's own viewers and tokens: one organization admin per organization.
const workload = await buildWorkload(cluster.url, jwt, { samples: 50, upsertOrganizations: 1 });
const tokens = new Map(workload.requests.page.this!.map((r) => [r.organizationId, r.token]));
// Three organizations the viewer administers and three where it is an analyst (the seeded data has both).
const admins = await administered(cluster.url);
const all = [...tokens.keys()].sort();
const draw = rng(seed);
const three = (xs: string[]) => [...new Set(Array.from({ length: 3 }, () => xs[Math.floor(draw() * xs.length)]!))];
const chosen = [...three(all.filter((o) => admins.has(o))), ...three(all.filter((o) => !admins.has(o)))];
const orgs = await readOrganizations(cluster.url, chosen, admins);
const admin = new pg.Client({ connectionString: cluster.url });
await admin.connect();
// Planning is counted for this command only: the benchmark leaves it off, as its cost at
// 32 connections (each counted statement's entry locked once more per run) would be measured too.
const planning = async (on: boolean) => {
  await admin.query(on ? 'ALTER SYSTEM SET pg_stat_statements.track_planning = on' : 'ALTER SYSTEM RESET pg_stat_statements.track_planning');
  await admin.query('SELECT pg_reload_conf()');
};
await planning(true);
// A login role of this command's own (a member of identity_graph_app, as the benchmark's
// server role is), so its statements are told from those of anything else on the cluster.
const ROLE = 'igs_bench_shapes';
if (!(await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [ROLE])).rowCount) await admin.query(`CREATE ROLE ${ROLE} LOGIN IN ROLE identity_graph_app`);
const serverUrl = new URL(cluster.url);
serverUrl.username = ROLE;
const server = await startThisServer({ databaseUrl: cluster.url, poolSize: 16, jwt }, { DATABASE_URL: serverUrl.toString() });
log(`The server runs on Node.js ${execFileSync(peerNode(), ['--version']).toString().trim()}`);

const post = async (organizationId: string, body: string) => {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.get(organizationId)}`, 'x-organization-id': organizationId },
    body,
  });
  return { status: res.status, text: await res.text() };
};
const ask: Ask = async (org, query, variables) => JSON.parse((await post(org.id, JSON.stringify({ query, variables }))).text);

// The server's own statements only: its role's, without the queue's (pg-boss) polling.
// With PostgreSQL's time planning and executing them, which pg_stat_statements keeps to
// the microsecond where CPU read from /proc over ten requests is whole milliseconds. The
// hot reads' connections plan each statement once (src/db/postgres.ts): planning shows
// on a statement's first run on a connection, and should stay near none after.
const statements = async (): Promise<StatementCalls[]> =>
  (
    await admin.query<{ calls: string; plans: string; plan: number; exec: number; query: string }>(
      `SELECT calls, plans, total_plan_time AS plan, total_exec_time AS exec, queryid::text || ' ' || query AS query FROM pg_stat_statements
       WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
         AND userid = (SELECT oid FROM pg_roles WHERE rolname = '${ROLE}') AND ${NOT_QUEUE}
       ORDER BY calls DESC`,
    )
  ).rows.map((r) => ({ calls: Number(r.calls), plans: Number(r.plans), planMs: r.plan, execMs: r.exec, query: r.query.replace(/\s+/g, ' ').slice(0, 220) }));

const results: ShapeResult[] = [];
try {
  await readCursors(orgs, ask);
  const schema = buildSchema(readFileSync(path.join(HERE, '..', 'schema.graphql'), 'utf8'));
  const operations = generateOperations(schema, orgs, count, seed);
  // Each token once, so no operation pays for verifying its viewer's token first.
  for (const org of orgs) await ask(org, '{ viewer { id } }');
  const pgPid = postmasterPid();
  for (const op of operations) results.push(await measure(op, pgPid));
  process.stdout.write(`${table(results)}\n`);
  const summary = summarise(results);
  process.stdout.write(`${summary.text}\n`);
  if (args.show !== undefined) {
    const r = results[Number(args.show)]!;
    process.stdout.write(`\n#${r.index} ${r.roots.join(' + ')}\n${r.query}\nvariables ${JSON.stringify(r.variables)}\n${r.statements.map((s) => `  ${(s.calls / repeat).toFixed(2)}/req  ${s.query}`).join('\n')}\n`);
  }
  mkdirSync(path.join(HERE, 'results'), { recursive: true });
  const when = new Date().toISOString();
  const file = path.join('bench', 'results', `shapes-${when.replace(/[:.]/g, '-')}.json`);
  writeFileSync(path.join(HERE, '..', file), `${JSON.stringify({ when, seed, operations: count, requests: repeat, scale, summary: summary.numbers, results }, null, 2)}\n`);
  log(`Written to ${file}`);
  if (results.some((r) => r.errors)) {
    log('Some operations were answered with errors: the generator asked something the data or the schema does not allow.');
    process.exitCode = 1;
  }
} finally {
  await planning(false);
  await admin.end();
  await server.stop();
  await jwt.close();
  cluster.stop();
}

/** The statistics' last reset: a reset by another client during a measurement voids it. */
async function lastReset() {
  return String((await admin.query('SELECT stats_reset FROM pg_stat_statements_info')).rows[0].stats_reset);
}

/** Calls since `before` of each statement (statistics are never reset here: others on the cluster read them too). */
function since(before: StatementCalls[], after: StatementCalls[]): StatementCalls[] {
  const was = new Map(before.map((s) => [s.query, s]));
  return after
    .map((s) => {
      const b = was.get(s.query);
      return { calls: s.calls - (b?.calls ?? 0), plans: s.plans - (b?.plans ?? 0), planMs: s.planMs - (b?.planMs ?? 0), execMs: s.execMs - (b?.execMs ?? 0), query: s.query };
    })
    .filter((s) => s.calls > 0);
}

/** Sends one operation `repeat` times, one at a time, after one unmeasured send; measured again when the statistics were reset meanwhile. */
async function measure(op: ShapeOperation, pgPid: number | null): Promise<ShapeResult> {
  const body = JSON.stringify({ query: op.query, variables: op.variables });
  let errors = 0;
  let firstError: string | undefined;
  const check = ({ status, text }: { status: number; text: string }) => {
    if (status === 200 && !text.includes('"errors"')) return;
    errors++;
    firstError ??= `${status} ${text.slice(0, 400)}`;
  };
  check(await post(op.organizationId, body));
  for (let attempt = 0; ; attempt++) {
    const [reset, before] = [await lastReset(), await statements()];
    const walls: number[] = [];
    const [p0, c0] = [cpuMs(server.pid), pgPid ? clusterCpuMs(pgPid) : 0];
    for (let i = 0; i < repeat; i++) {
      const t0 = performance.now();
      const answer = await post(op.organizationId, body);
      walls.push(performance.now() - t0);
      check(answer);
    }
    const [p1, c1] = [cpuMs(server.pid), pgPid ? clusterCpuMs(pgPid) : 0];
    const after = await statements();
    if ((await lastReset()) !== reset && attempt < 5) continue;
    const seen = since(before, after);
    walls.sort((a, b) => a - b);
    return {
      ...op,
      statementsPerRequest: seen.reduce((n, s) => n + s.calls, 0) / repeat,
      planMs: seen.reduce((n, s) => n + s.planMs, 0) / repeat,
      execMs: seen.reduce((n, s) => n + s.execMs, 0) / repeat,
      p50Ms: walls[Math.floor(walls.length / 2)]!,
      processCpuMs: (p1 - p0) / repeat,
      postgresCpuMs: (c1 - c0) / repeat,
      errors,
      firstError,
      statements: seen.sort((a, b) => b.calls - a.calls),
    };
  }
}

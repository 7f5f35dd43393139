// `npm run bench:webhooks`: what an enabled webhook endpoint costs the bulk write. Runs
// the benchmark's bulk upsert (1,000 new identifiers through GraphQL, in process) with
// the organization's endpoint disabled (A) and enabled (B), in blocks of four runs,
// ABAB and BABA by turns, so neither arm always runs first or on the larger tables. No
// worker runs, so only queueing the deliveries is measured. Each run writes to a user of
// its own, as a real batch spreads over many people (one user holding every run's
// identifiers makes each run slower than the one before).
//
// Per block it computes B's time over A's; it prints the median and the range of those
// ratios for wall time, this process's CPU time, PostgreSQL's (the client backends'
// on-CPU time from /proc/<pid>/schedstat, when the benchmark's own cluster runs) and
// their sum, which a busy machine disturbs far less than wall time; then what expanding
// the queued batches into deliveries costs a worker, and with --statements the
// statements' execution times in each arm.
//   npm run bench:webhooks -- --blocks 8 [--statements]
import { readFileSync, readdirSync } from 'node:fs';
import { SignJWT } from 'jose';
import pg from 'pg';
import { loadConfig } from '../src/config.ts';
import { openDatabase, useDatabase } from '../src/db.ts';
import { expand } from '../src/modules/webhook/delivery.ts';
import { QUEUE } from '../src/modules/webhook/outbox.ts';
import { createApp } from '../src/yoga.ts';
import { benchDatabase, parseArgs } from './common.ts';
import { postmasterPid } from './postgres.ts';

const args = parseArgs(process.argv.slice(2));
// --runs N (runs per arm, as before) is read as N/2 blocks.
const blocks = Number(args.blocks ?? (args.runs ? Math.ceil(Number(args.runs) / 2) : 8));
const SECRET = 'webhook-bench-secret-of-at-least-32-bytes';
const { url, stop } = await benchDatabase();
const db = await openDatabase(loadConfig({ DATABASE_URL: url }), { migrate: true });
useDatabase(db);
const prisma = db.prisma;
const app = createApp({ config: loadConfig({ NODE_ENV: 'test', JWT_SECRET: SECRET, RATE_LIMIT_PER_CREDENTIAL: '0', RATE_LIMIT_PER_ORGANIZATION: '0', LOG_LEVEL: 'warn' }) });
const admin = new pg.Client({ connectionString: url });
await admin.connect();
const database = (await admin.query<{ d: string }>('SELECT current_database() AS d')).rows[0]!.d;
// Only the benchmark's own cluster is ours to read from /proc.
const postmaster = process.env.BENCH_DATABASE_URL ? null : postmasterPid();

/** On-CPU milliseconds of the cluster's backends serving `database` (ns-precise, unlike ticks). */
function backendCpuMs(): number {
  if (!postmaster) return NaN;
  let ns = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== postmaster) continue;
      if (!readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(` ${database} `)) continue;
      ns += Number(readFileSync(`/proc/${entry}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // gone meanwhile
    }
  }
  return ns / 1e6;
}

const tag = Date.now().toString(36);
const organization = await prisma.organization.create({ data: { slug: `webhook-bench-${tag}`, name: 'webhook bench' } });
const user = await prisma.user.create({ data: { email: `webhook-bench-${tag}@example.com`, authSubject: `bench|${tag}`, name: 'bench' } });
await prisma.member.create({ data: { organizationId: organization.id, userId: user.id, role: 'ORGANIZATION_ADMIN', state: 'ACTIVE' } });
await prisma.integrationSource.create({ data: { organizationId: organization.id, kind: 'INTEGRATION', key: 'salesforce', name: 'Salesforce' } });
const endpoint = await prisma.webhookEndpoint.create({
  data: { organizationId: organization.id, url: 'http://127.0.0.1:9/hook', secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', enabled: false },
});
const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(user.authSubject!).setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));
const BULK = `mutation ($input: UpsertIdentifiersInput!) { upsertIdentifiers(input: $input) { __typename ... on UpsertIdentifiersSuccess { createdCount } } }`;

interface Run { wall: number; cpu: number; pg: number; both: number }
type Statements = Map<string, { query: string; ms: number; calls: number }>;
const statements: Record<'A' | 'B', Statements> = { A: new Map(), B: new Map() };

async function upsert(run: string, arm?: 'A' | 'B'): Promise<Run> {
  const holder = await prisma.user.create({ data: { email: `webhook-bench-${tag}-${run}@example.com`, name: run } });
  await prisma.member.create({ data: { organizationId: organization.id, userId: holder.id, role: 'ANALYST', state: 'ACTIVE' } });
  const items = Array.from({ length: 1000 }, (_, i) => ({
    userEmail: holder.email, sourceKey: 'salesforce', identifierKey: `key_${run}_${i}`, identifierValue: `v_${run}_${i}`,
    discoveryMethod: 'MCP_TOOL', confidenceScore: 0.9, discoveryMetadata: { tool: 'bench' },
  }));
  const body = JSON.stringify({ query: BULK, variables: { input: { organizationId: organization.id, items } } });
  if (args.statements) await admin.query('SELECT pg_stat_statements_reset()');
  const [c0, p0, t0] = [process.cpuUsage(), backendCpuMs(), performance.now()];
  const response = await app.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body,
  });
  const answer = (await response.json()) as { data?: { upsertIdentifiers?: { createdCount?: number } } };
  const wall = performance.now() - t0;
  const [c1, p1] = [process.cpuUsage(c0), backendCpuMs()];
  if (answer.data?.upsertIdentifiers?.createdCount !== 1000) throw new Error(`unexpected answer: ${JSON.stringify(answer)}`);
  if (args.statements && arm) {
    const rows = await admin.query<{ queryid: string; query: string; ms: number; calls: string }>(
      `SELECT queryid::text, query, total_exec_time AS ms, calls FROM pg_stat_statements
       WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT ILIKE '%pg_stat_statements%'`,
    );
    for (const r of rows.rows) {
      const s = statements[arm].get(r.queryid) ?? { query: r.query.replace(/\s+/g, ' '), ms: 0, calls: 0 };
      s.ms += r.ms;
      s.calls += Number(r.calls);
      statements[arm].set(r.queryid, s);
    }
  }
  const cpu = (c1.user + c1.system) / 1000;
  return { wall, cpu, pg: p1 - p0, both: cpu + p1 - p0 };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const pct = (r: number) => `${r >= 1 ? '+' : ''}${((r - 1) * 100).toFixed(1)} %`;
const runs: Record<'A' | 'B', Run[]> = { A: [], B: [] };
const ratios: Record<keyof Run, number[]> = { wall: [], cpu: [], pg: [], both: [] };

await upsert('warmup-a');
await prisma.webhookEndpoint.update({ where: { id: endpoint.id }, data: { enabled: true } });
await upsert('warmup-b');
for (let b = 0; b < blocks; b++) {
  await admin.query('ANALYZE');
  const order: ('A' | 'B')[] = b % 2 === 0 ? ['A', 'B', 'A', 'B'] : ['B', 'A', 'B', 'A'];
  const block: Record<'A' | 'B', Run[]> = { A: [], B: [] };
  for (const [i, arm] of order.entries()) {
    await prisma.webhookEndpoint.update({ where: { id: endpoint.id }, data: { enabled: arm === 'B' } });
    const r = await upsert(`${arm.toLowerCase()}${b}_${i}`, arm);
    block[arm].push(r);
    runs[arm].push(r);
  }
  for (const k of ['wall', 'cpu', 'pg', 'both'] as const) {
    const sum = (arm: 'A' | 'B') => block[arm].reduce((n, r) => n + r[k], 0);
    ratios[k].push(sum('B') / sum('A'));
  }
}
// Deliveries are written by a worker from the batches the writes left (none runs here).
const batches = await prisma.webhookBatch.findMany({ where: { endpointId: endpoint.id }, select: { auditEventIds: true } });
const queued = batches.reduce((n, b) => n + b.auditEventIds.length, 0);
// What a worker then pays, off the write's path: the batches become deliveries and jobs.
const [e0, x0] = [backendCpuMs(), performance.now()];
await expand();
const expansion = { wall: performance.now() - x0, pg: backendCpuMs() - e0 };

const LABEL = { wall: 'wall time', cpu: 'process CPU', pg: 'PostgreSQL CPU', both: 'CPU, both' } as const;
console.log(`bulk upsert of 1,000 identifiers: ${blocks} blocks (ABAB/BABA), ${runs.A.length} runs per arm; ${queued} events queued for delivery`);
console.log('                  without (A)   with (B)    B/A per block: median [min – max]');
for (const k of ['wall', 'cpu', 'pg', 'both'] as const) {
  if ((k === 'pg' || k === 'both') && !postmaster) continue;
  const [a, b] = [median(runs.A.map((r) => r[k])), median(runs.B.map((r) => r[k]))];
  const rs = ratios[k];
  console.log(`${LABEL[k].padEnd(16)} ${a.toFixed(1).padStart(8)} ms ${b.toFixed(1).padStart(8)} ms    ${pct(median(rs))} [${pct(Math.min(...rs))} – ${pct(Math.max(...rs))}]`);
}
console.log(`expanding the ${queued} events into deliveries and jobs (a worker's part): ${((expansion.wall / queued) * 1000).toFixed(1)} ms wall, ${((expansion.pg / queued) * 1000).toFixed(1)} ms PostgreSQL CPU per 1,000`);
if (args.statements) {
  const n = runs.A.length;
  const ids = new Set([...statements.A.keys(), ...statements.B.keys()]);
  const diff = [...ids].map((id) => {
    const [a, b] = [statements.A.get(id), statements.B.get(id)];
    return { query: (a ?? b)!.query, a: (a?.ms ?? 0) / n, b: (b?.ms ?? 0) / n, calls: ((a ?? b)!.calls) / n };
  });
  diff.sort((x, y) => Math.max(y.a, y.b) - Math.max(x.a, x.b));
  console.log('statements, execution ms per run (A, B), calls per run:');
  for (const s of diff.slice(0, 8)) console.log(`  ${s.a.toFixed(2).padStart(8)} ${s.b.toFixed(2).padStart(8)}  ${s.calls.toFixed(1).padStart(5)}  ${s.query.slice(0, 150)}`);
}
// The jobs of its deliveries go with the organization, and the wake-ups its writes
// queued, so that no worker (the next benchmark's server) is kept busy by them.
const deliveries = await prisma.webhookDelivery.findMany({ where: { endpointId: endpoint.id }, select: { id: true } });
await admin.query(`DELETE FROM pgboss.job WHERE name = $1 AND (data->>'deliveryId' = ANY($2::text[]) OR data ? 'batches')`, [QUEUE, deliveries.map((d) => d.id)]);
await prisma.organization.delete({ where: { id: organization.id } });
await admin.end();
await db.close();
stop();

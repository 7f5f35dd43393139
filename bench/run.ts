// The side-by-side benchmark: this server, PostGraphile v5 and the hand-written SQL
// floor (and, when asked for, Join Monster 4) on one PostgreSQL, in one run.
//   npm run bench                      full scale, the default run (about 12 minutes after seeding)
//   npm run bench -- --quick           a small data set and short blocks (about 2 minutes)
//   npm run bench -- --reps 5 --duration 10   the long run
// Other flags: --scale N, --warmup S, --connections 1,8,32, --pool N,
// --scenarios resolve,members50,..., --peers this,postgraphile,floor,joinmonster,postgraphile-rls,
// --no-cold-start (the cold start alone: npm run bench:cold),
// --keep-postgres (leave the benchmark cluster running), --update-readme (put the table
// into README's Performance section), --generator undici (load from bench/load.ts, not wrk),
// --allow-differences (report answers that differ between peers instead of stopping).
// Results: bench/results/<time>.json and .md; the table and the targets are printed.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import pg from 'pg';
import { loadConfig } from '../src/config.ts';
import { openDatabase, useDatabase } from '../src/db.ts';
import { tableName } from '../src/modules/shared/sql-names.ts';
import { QUEUE as WEBHOOK_QUEUE } from '../src/modules/webhook/outbox.ts';
import { parseArgs } from './common.ts';
import { startJwks, verifyCostMicros } from './jwt.ts';
import { clusterCpuMs, cpuMs, findWrk, rssMiB, runUndici, runWrk, Statements, type LoadNumbers } from './measure.ts';
import { measureColdStart } from './cold-start.ts';
import { PEER_LABEL, PEERS_DIR, peerNode, peersInstalled, startPeer, type Peer, type PeerName } from './peers.ts';
import { databaseForScale, ensureBenchPostgres, postmasterPid } from './postgres.ts';
import { evaluateTargets, markdownReport, type Block, type Report } from './report.ts';
import { countsFor, propertiesSql, seed, seededScale } from './seed.ts';
import { buildWorkload, concreteBody, normalise, secondPages, type BenchRequest, type ScenarioName } from './workload.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const WORK = path.join(HERE, '.work');
const log = (line: string) => process.stderr.write(`${line}\n`);

const args = parseArgs(process.argv.slice(2));
if (args.help) {
  process.stdout.write(`npm run bench -- [options]
  --peers this,postgraphile,floor   which peers run (default these three; joinmonster adds Join Monster 4,
                                    postgraphile-rls PostGraphile under the row-level policies)
  --scenarios a,b                   resolve, members50, members100, node, upsert, entities, page, page2,
                                    identity, identifiers, resolveFragment, mixed (default all)
  --connections 1,8,32              concurrent connections per block
  --reps N                          repetitions of each block, peers alternated (default 3)
  --duration S --warmup S           seconds measured and warmed up per block (3 and 2)
  --scale N                         seeded data set (1 = 100,000 users, 1,000,000 identifiers)
  --pool N                          database connections per peer (16)
  --quick                           a small scale, short blocks and one repetition
  --no-cold-start                   skip the cold start measurement
  --update-readme                   write the results table into README.md
  --allow-differences               time peers whose answers differ
  --keep-postgres                   leave the benchmark's PostgreSQL running
BENCH_SERVER_ROLE=owner runs this server as the schema owner (row-level security not binding it).
`);
  process.exit(0);
}
const quick = args.quick === 'true';
const scale = Number(args.scale ?? (quick ? 0.01 : 1));
const durationS = Number(args.duration ?? (quick ? 2 : 3));
const warmupS = Number(args.warmup ?? (quick ? 1 : 2));
const reps = Number(args.reps ?? (quick ? 1 : 3));
const poolSize = Number(args.pool ?? 16);
const levels = (args.connections ?? (quick ? '1,8' : '1,8,32')).split(',').map(Number);
const allScenarios: ScenarioName[] = [
  'resolve', 'members50', 'members100', 'node', 'upsert', 'entities', 'page', 'page2', 'identity', 'identifiers', 'resolveFragment', 'mixed',
];
const scenarios = (args.scenarios?.split(',') as ScenarioName[] | undefined) ?? allScenarios;
const peerNames = (args.peers?.split(',') as PeerName[] | undefined) ?? (['this', 'postgraphile', 'floor'] as PeerName[]);

/** Which peers take part in a scenario, and at which connection counts. */
const PLAN: Record<ScenarioName, { peers: PeerName[]; levels: number[] }> = {
  resolve: { peers: ['this', 'postgraphile', 'postgraphile-rls', 'floor', 'joinmonster'], levels },
  members50: { peers: ['this', 'postgraphile', 'postgraphile-rls', 'floor', 'joinmonster'], levels },
  members100: { peers: ['this', 'postgraphile', 'postgraphile-rls', 'floor', 'joinmonster'], levels },
  node: { peers: ['this', 'postgraphile', 'floor'], levels },
  upsert: { peers: ['this', 'floor'], levels: levels.filter((c) => c <= 8) },
  entities: { peers: ['this', 'floor'], levels },
  page: { peers: ['this', 'postgraphile', 'postgraphile-rls', 'floor', 'joinmonster'], levels },
  page2: { peers: ['this', 'postgraphile', 'postgraphile-rls', 'floor', 'joinmonster'], levels },
  identity: { peers: ['this', 'postgraphile', 'floor'], levels },
  // PostGraphile has no range filter (minConfidence) without a plugin.
  identifiers: { peers: ['this', 'floor'], levels },
  resolveFragment: { peers: ['this', 'postgraphile', 'floor'], levels },
  mixed: { peers: ['this', 'floor'], levels: levels.filter((c) => c > 1) },
};

const started = Date.now();
const loadAtStart = +loadavg()[0]!.toFixed(1);
const elapsed = () => `${Math.round((Date.now() - started) / 1000)} s`;

// ---- set up --------------------------------------------------------------------------

// Every peer, this server and the floor too, runs on the Node.js bench/peers installs.
if (!peersInstalled()) {
  log('Installing the peers (PostGraphile, Join Monster, the Node.js 24 every peer runs on) into bench/peers');
  execFileSync('npm', ['ci', '--prefix', PEERS_DIR, '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { stdio: 'inherit' });
}
const cluster = await ensureBenchPostgres(log, databaseForScale(scale));
const postmaster = postmasterPid()!;
if ((await seededScale(cluster.url)) !== scale) {
  log(`Seeding scale ${scale} (npm run bench:seed -- --scale ${scale})`);
  await seed(cluster.url, scale);
} else {
  // A set seeded before the latest migrations is brought up to date.
  const db = await openDatabase(loadConfig({ DATABASE_URL: cluster.url }), { migrate: true });
  useDatabase(db);
  const endpoints = tableName('WebhookEndpoint');
  await db.close();
  // The seed writes no history; each run's upserts add about 1.5 million events. They
  // go, so every run writes into the same audit table as the first one.
  const admin = new pg.Client({ connectionString: cluster.url });
  await admin.connect();
  await admin.query('TRUNCATE audit_events');
  // Webhook endpoints and delivery jobs another benchmark left (bench:webhooks) would
  // have this server's worker busy beside the blocks; none belongs to the scenarios.
  await admin.query(`DELETE FROM ${endpoints}`);
  if ((await admin.query(`SELECT to_regclass('pgboss.job') IS NOT NULL AS queued`)).rows[0].queued) {
    await admin.query(`DELETE FROM pgboss.job WHERE name = $1`, [WEBHOOK_QUEUE]);
  }
  if (!(await admin.query('SELECT 1 FROM identity_properties LIMIT 1')).rowCount) await admin.query(propertiesSql(countsFor(scale)));
  await admin.query('VACUUM ANALYZE identifiers, audit_events');
  await admin.end();
  log(`Reusing the seeded data set (scale ${scale}), without the history earlier runs wrote`);
}
mkdirSync(WORK, { recursive: true });
const jwt = await startJwks(WORK);
const jose = await verifyCostMicros(jwt);
log(`jose ES256 verify: ${jose.es256Micros} µs`);
const workload = await buildWorkload(cluster.url, jwt, { samples: quick ? 2000 : 10_000, upsertOrganizations: quick ? 5 : 40 });

// Request files for wrk: organization, token and body, one request a line.
const requestDir = path.join(WORK, 'requests');
rmSync(requestDir, { recursive: true, force: true });
mkdirSync(requestDir, { recursive: true });
const fileOf = (scenario: Exclude<ScenarioName, 'mixed'>, peer: PeerName) => path.join(requestDir, `${scenario}-${peer}.tsv`);
const writeRequests = (scenario: Exclude<ScenarioName, 'mixed'>) => {
  for (const [peer, list] of Object.entries(workload.requests[scenario])) {
    writeFileSync(fileOf(scenario, peer as PeerName), list!.map((r) => `${r.organizationId}\t${r.token}\t${r.body}\n`).join(''));
  }
};
for (const scenario of Object.keys(workload.requests) as Exclude<ScenarioName, 'mixed'>[]) writeRequests(scenario);
const loadFiles = (scenario: ScenarioName, peer: PeerName): [number, string][] =>
  scenario === 'mixed'
    ? [
        [80, fileOf('resolve', peer)],
        [15, fileOf('members50', peer)],
        [5, fileOf('upsert', peer)],
      ]
    : [[1, fileOf(scenario, peer)]];

const wrk = args.generator === 'undici' ? null : findWrk(log);
const peerOptions = { databaseUrl: cluster.url, poolSize, jwt };
const peers = new Map<PeerName, Peer>();
for (const name of peerNames) {
  log(`Starting ${PEER_LABEL[name]}`);
  peers.set(name, await startPeer(name, peerOptions));
}
const statements = await Statements.open(cluster.url);
if (scenarios.includes('page2')) {
  const running = Object.fromEntries([...peers.entries()].filter(([, p]) => p)) as Partial<Record<PeerName, Peer>>;
  const first = Object.fromEntries(Object.entries(workload.requests.page).filter(([peer]) => running[peer as PeerName]));
  workload.requests.page2 = await secondPages(first, (peer, r) => send(running[peer]!, r));
  writeRequests('page2');
}

async function send(peer: Peer, r: BenchRequest): Promise<unknown> {
  const res = await fetch(peer.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${r.token}`, 'x-organization-id': r.organizationId },
    body: concreteBody(r),
  });
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    return { errors: [{ message: `HTTP ${res.status}: ${text.slice(0, 200)}` }] };
  }
}

let exitCode = 0;
try {
  // ---- every peer's answers equal before anything is timed --------------------------
  const checks: Report['checks'] = [];
  for (const scenario of allScenarios.filter((s) => s !== 'mixed') as Exclude<ScenarioName, 'mixed'>[]) {
    const byPeer = workload.requests[scenario];
    const taking = [...peers.values()].filter((p) => byPeer[p.name]?.length);
    if (!taking.length) continue; // the second page, when it is not run
    const count = scenario === 'upsert' ? 3 : 20;
    let equal = 0;
    let differing = 0;
    for (let k = 0; k < count; k++) {
      const answers = [];
      for (const p of taking) answers.push({ peer: p.name, answer: normalise(scenario, p.name, await send(p, byPeer[p.name]![k % byPeer[p.name]!.length]!)) });
      const first = answers[0]!.answer;
      const bad = answers.find((a) => !isDeepStrictEqual(a.answer, first) || a.answer === null || (a.answer as { errors?: unknown }).errors);
      if (bad) {
        const message = `Answers differ for ${scenario} #${k}:\n${answers.map((a) => `${a.peer}: ${JSON.stringify(a.answer).slice(0, 600)}`).join('\n')}`;
        if (args['allow-differences'] !== 'true') throw new Error(`${message}\n(--allow-differences times them anyway)`);
        log(`WARNING: ${message}`);
        differing++;
      } else equal++;
    }
    checks.push({ scenario, peers: taking.map((p) => p.name), compared: equal + differing, differing });
    log(`Answers ${differing ? `DIFFER in ${differing} of ${equal + differing}` : 'equal'}: ${scenario} (${taking.map((p) => PEER_LABEL[p.name]).join(', ')}; ${equal + differing} inputs)`);
  }

  // ---- clients as a running server knows them --------------------------------------
  // Each viewer's token is sent once to every peer before anything is counted or timed,
  // as a server in service has seen its clients' tokens: this server reads a credential
  // it has not seen in a statement of its own (README "The credential checked inside the
  // answer's statement"), which the blocks would otherwise count for the first request of
  // each of the 1,000 organizations' tokens, more in early blocks than in late ones.
  const viewers = new Map<string, BenchRequest>();
  for (const byPeer of Object.values(workload.requests)) for (const r of byPeer.this ?? []) viewers.set(`${r.token} ${r.organizationId}`, r);
  for (const p of peers.values()) {
    for (const r of viewers.values()) await send(p, { ...r, body: JSON.stringify({ query: '{ __typename }' }) });
  }
  log(`Each of ${viewers.size} viewers' tokens sent once to every peer`);

  // ---- SQL statements per request, exactly: sequential requests between two reads ------
  const statementCounts: Report['statementCounts'] = [];
  for (const scenario of allScenarios.filter((s) => s !== 'mixed') as Exclude<ScenarioName, 'mixed'>[]) {
    for (const p of [...peers.values()].filter((p) => workload.requests[scenario][p.name])) {
      const list = workload.requests[scenario][p.name]!;
      const n = scenario === 'upsert' ? 10 : 30;
      await statements.reset();
      for (let k = 0; k < n; k++) await send(p, list[(k * 7) % list.length]!);
      const sql = await statements.read();
      statementCounts.push({ scenario, peer: p.name, requests: n, perRequest: +(sql.calls / n).toFixed(2), top: sql.top });
    }
  }
  log(`SQL statements per request: ${statementCounts.map((c) => `${c.scenario} ${PEER_LABEL[c.peer]} ${c.perRequest}`).join(', ')}`);

  // ---- measured blocks ------------------------------------------------------------------
  const blocks: Block[] = [];
  const plan = scenarios.flatMap((s) => PLAN[s].levels.map((c) => ({ scenario: s, connections: c, peers: PLAN[s].peers.filter((p) => peers.has(p)) })));
  const totalBlocks = plan.reduce((n, p) => n + p.peers.length * reps, 0);
  log(`${totalBlocks} blocks of ${durationS} s (warm-up ${warmupS} s, then 1 s), ${reps} repetition(s), peers alternated; load from ${wrk ? 'wrk' : 'undici'}`);
  const load = (spec: Parameters<typeof runWrk>[1]): Promise<LoadNumbers> => (wrk ? runWrk(wrk, spec) : runUndici(spec));
  for (const { scenario, connections, peers: taking } of plan) {
    for (let rep = 1; rep <= reps; rep++) {
      for (const name of taking) {
        const peer = peers.get(name)!;
        const spec = { url: peer.url, files: loadFiles(scenario, name), connections };
        await load({ ...spec, durationS: rep === 1 ? warmupS : 1 });
        await statements.reset();
        const cpu0 = { peer: cpuMs(peer.pid), pg: clusterCpuMs(postmaster) };
        // A bulk upsert takes long enough that its blocks run twice as long, for enough samples.
        const numbers = await load({ ...spec, durationS: scenario === 'upsert' ? durationS * 2 : durationS });
        const cpu1 = { peer: cpuMs(peer.pid), pg: clusterCpuMs(postmaster) };
        const sql = await statements.read();
        const block: Block = {
          scenario,
          peer: name,
          connections,
          rep,
          ...numbers,
          statementsPerRequest: numbers.requests ? sql.calls / numbers.requests : NaN,
          peerCpuMsPerRequest: numbers.requests ? (cpu1.peer - cpu0.peer) / numbers.requests : NaN,
          pgCpuMsPerRequest: numbers.requests ? (cpu1.pg - cpu0.pg) / numbers.requests : NaN,
          rssMiB: rssMiB(peer.pid),
          topStatements: sql.top,
        };
        blocks.push(block);
        log(
          `[${blocks.length}/${totalBlocks} ${elapsed()}] ${scenario} c=${connections} rep ${rep} ${PEER_LABEL[name]}: ${Math.round(block.rps)} req/s, p50 ${block.p50Ms.toFixed(2)} ms, ` +
            `${block.statementsPerRequest.toFixed(2)} stmt/req, CPU ${block.peerCpuMsPerRequest.toFixed(2)}+${block.pgCpuMsPerRequest.toFixed(2)} ms/req${block.failures ? `, ${block.failures} FAILED` : ''}`,
        );
      }
    }
  }

  // ---- cold start of the embedded database --------------------------------------------
  let coldStart: Report['coldStart'] = null;
  if (args['no-cold-start'] !== 'true' && peerNames.includes('this')) {
    // A failure here costs the cold start's target, not the blocks measured before it.
    coldStart = await measureColdStart({ dir: path.join(WORK, 'pglite'), node: peerNode() }).catch((err: Error) => (log(`Cold start not measured: ${err.message}`), null));
    if (coldStart) log(`Cold start: this server ${coldStart.serverMs} ms, PGlite alone ${coldStart.pgliteMs} ms`);
  }

  const report: Report = {
    when: new Date().toISOString(),
    machine: { loadAverage: [loadAtStart, +loadavg()[0]!.toFixed(1)], cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '?', memoryGiB: Math.round(totalmem() / 2 ** 30), node: execFileSync(peerNode(), ['--version']).toString().trim(), postgres: execFileSync(path.join(process.env.PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin', 'postgres'), ['--version']).toString().trim() },
    settings: { scale, durationS, warmupS, reps, poolSize, levels, generator: wrk ? 'wrk' : 'undici', quick },
    joseVerifyMicros: jose.es256Micros,
    startMs: Object.fromEntries([...peers.values()].map((p) => [p.name, Math.round(p.startMs)])),
    checks,
    statementCounts,
    coldStart,
    blocks,
    targets: [],
  };
  report.targets = evaluateTargets(report);
  const md = markdownReport(report);
  const stamp = report.when.replace(/[:.]/g, '-');
  mkdirSync(path.join(HERE, 'results'), { recursive: true });
  writeFileSync(path.join(HERE, 'results', `${stamp}.json`), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(path.join(HERE, 'results', `${stamp}.md`), md);
  writeFileSync(path.join(HERE, 'results', 'latest.md'), md);
  if (args['update-readme'] === 'true') updateReadme(md);
  console.log(`\n${md}`);
  console.log(`Written to bench/results/${stamp}.json and .md (${elapsed()})`);
} catch (err) {
  exitCode = 1;
  log(`\n${(err as Error).stack ?? err}`);
} finally {
  await statements.close().catch(() => {});
  for (const p of peers.values()) await p.stop();
  await jwt.close();
  if (args['keep-postgres'] !== 'true') cluster.stop();
}
process.exit(exitCode);

/** Replaces the results between README's bench markers with this run's. */
function updateReadme(md: string) {
  const file = path.join(ROOT, 'README.md');
  const text = readFileSync(file, 'utf8');
  const start = '<!-- bench results: start -->';
  const end = '<!-- bench results: end -->';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) return log('README has no bench result markers: not updated');
  writeFileSync(file, `${text.slice(0, a + start.length)}\n${md}${text.slice(b)}`);
  log('README Performance section updated');
}

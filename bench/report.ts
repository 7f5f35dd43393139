// The benchmark's results: medians over repetitions, the markdown table, and the
// targets of the performance issue as ratios from one run.
import type { LoadNumbers } from './measure.ts';
import { PEER_LABEL, type PeerName } from './peers.ts';
import type { ScenarioName } from './workload.ts';

export interface Block extends LoadNumbers {
  scenario: ScenarioName;
  peer: PeerName;
  connections: number;
  rep: number;
  statementsPerRequest: number;
  peerCpuMsPerRequest: number;
  pgCpuMsPerRequest: number;
  rssMiB: number;
  topStatements: { calls: number; query: string }[];
}

export interface Target {
  name: string;
  ratio: number | null;
  comparison: '<=' | '>=';
  limit: number;
  met: boolean | null;
  detail: string;
}

export interface Report {
  when: string;
  machine: { loadAverage: number[]; cpus: number; cpuModel: string; memoryGiB: number; node: string; postgres: string };
  settings: { scale: number; durationS: number; warmupS: number; reps: number; poolSize: number; levels: number[]; generator: string; quick: boolean };
  joseVerifyMicros: number;
  startMs: Record<string, number>;
  checks: { scenario: string; peers: PeerName[]; compared: number; differing: number }[];
  /** Statements per request from sequential requests (exact; the blocks' figures include requests cut off at their end). */
  statementCounts: { scenario: ScenarioName; peer: PeerName; requests: number; perRequest: number; top: { calls: number; query: string }[] }[];
  coldStart: { serverMs: number; pgliteMs: number; runs: number } | null;
  blocks: Block[];
  targets: Target[];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export interface Cell {
  rps: number;
  rpsMin: number;
  rpsMax: number;
  p50: number;
  p90: number;
  p99: number;
  statements: number;
  peerCpu: number;
  pgCpu: number;
  rss: number;
  failures: number;
  reps: number;
}

/** Medians over the repetitions of one scenario, peer and connection count. */
export function cell(blocks: Block[], scenario: ScenarioName, peer: PeerName, connections: number, exact?: Report['statementCounts']): Cell | null {
  const bs = blocks.filter((b) => b.scenario === scenario && b.peer === peer && b.connections === connections);
  if (!bs.length) return null;
  // JSON has null where a block had no finished request.
  const m = (f: (b: Block) => number) => median(bs.map(f).filter((x) => typeof x === 'number' && Number.isFinite(x)));
  return {
    rps: m((b) => b.rps),
    rpsMin: Math.min(...bs.map((b) => b.rps)),
    rpsMax: Math.max(...bs.map((b) => b.rps)),
    p50: m((b) => b.p50Ms),
    p90: m((b) => b.p90Ms),
    p99: m((b) => b.p99Ms),
    statements: exact?.find((e) => e.scenario === scenario && e.peer === peer)?.perRequest ?? m((b) => b.statementsPerRequest),
    peerCpu: m((b) => b.peerCpuMsPerRequest),
    pgCpu: m((b) => b.pgCpuMsPerRequest),
    rss: Math.max(...bs.map((b) => b.rssMiB)),
    failures: bs.reduce((n, b) => n + b.failures, 0),
    reps: bs.length,
  };
}

const SCENARIO_LABEL: Record<ScenarioName, string> = {
  resolve: '1. resolve an identifier',
  members50: '2. members, page of 50',
  members100: '2. members, page of 100',
  node: '3. node(id) of a user',
  upsert: '4. upsert 1,000 identifiers',
  entities: '5. _entities, 100 users',
  mixed: '6. mixed 80/15/5',
  page: '7. members page, totalCount, pageInfo and cursors',
  page2: '7. its second page, by cursor',
  identity: '8. identity with properties, provider and user',
  identifiers: '9. identifiers filtered (source, minConfidence)',
  resolveFragment: '10. resolve written with fragments',
};

const f = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && b > 0 && Number.isFinite(a) ? a / b : null);

export function evaluateTargets(r: Report): Target[] {
  const targets: Target[] = [];
  const top = Math.max(...r.settings.levels);
  const c = (s: ScenarioName, p: PeerName, n: number) => cell(r.blocks, s, p, n) ?? undefined;
  const add = (name: string, value: number | null, comparison: '<=' | '>=', limit: number, detail: string) =>
    targets.push({ name, ratio: value === null ? null : +value.toFixed(2), comparison, limit, met: value === null ? null : comparison === '<=' ? value <= limit : value >= limit, detail });
  // The frontend shapes (7 to 10) have the tighter latency limit of their issue.
  const reads = ['resolve', 'members50', 'members100', 'page', 'page2', 'identity', 'identifiers', 'resolveFragment'] as const;
  for (const s of reads.filter((x) => r.blocks.some((b) => b.scenario === x))) {
    const self = c(s, 'this', top);
    const pgl = c(s, 'postgraphile', top);
    const floor = c(s, 'floor', top);
    if (pgl) add(`${SCENARIO_LABEL[s]}: throughput vs PostGraphile (${top} connections)`, ratio(self?.rps, pgl?.rps), '>=', 1.5, `${f(self?.rps ?? NaN, 0)} vs ${f(pgl?.rps ?? NaN, 0)} req/s`);
    add(`${SCENARIO_LABEL[s]}: throughput vs SQL floor (${top} connections)`, ratio(self?.rps, floor?.rps), '>=', 0.5, `${f(self?.rps ?? NaN, 0)} vs ${f(floor?.rps ?? NaN, 0)} req/s`);
    const self1 = c(s, 'this', 1);
    const floor1 = c(s, 'floor', 1);
    const limit = ['resolve', 'members50', 'members100'].includes(s) ? 2 : 1.5;
    add(`${SCENARIO_LABEL[s]}: p50 at 1 connection vs SQL floor`, ratio(self1?.p50, floor1?.p50), '<=', limit, `${f(self1?.p50 ?? NaN)} vs ${f(floor1?.p50 ?? NaN)} ms`);
  }
  const stmts = (s: ScenarioName) =>
    r.statementCounts.find((e) => e.scenario === s && e.peer === 'this')?.perRequest ?? median(r.blocks.filter((b) => b.scenario === s && b.peer === 'this').map((b) => b.statementsPerRequest));
  const s1 = stmts('resolve');
  targets.push({ name: '1. resolve: SQL statements per request', ratio: Number.isFinite(s1) ? +s1.toFixed(2) : null, comparison: '<=', limit: 3, met: Number.isFinite(s1) ? s1 <= 3 : null, detail: 'pg_stat_statements calls / requests' });
  const s50 = stmts('members50');
  const s100 = stmts('members100');
  const worst = Math.max(s50, s100);
  targets.push({
    name: '2. members: SQL statements per request (pages of 50 and 100)',
    ratio: Number.isFinite(worst) ? +worst.toFixed(2) : null,
    comparison: '<=',
    limit: 4,
    met: Number.isFinite(worst) ? worst <= 4 && s50 === s100 : null,
    detail: `${f(s50)} for 50, ${f(s100)} for 100 (must be equal)`,
  });
  const up = c('upsert', 'this', 1);
  const upFloor = c('upsert', 'floor', 1);
  add('4. upsert 1,000 identifiers: median vs one statement doing the same work (upsert and audit events)', ratio(up?.p50, upFloor?.p50), '<=', 1.3, `${f(up?.p50 ?? NaN)} vs ${f(upFloor?.p50 ?? NaN)} ms`);
  add(
    'Embedded cold start vs PGlite opening the folder',
    r.coldStart ? r.coldStart.serverMs / r.coldStart.pgliteMs : null,
    '<=',
    2,
    r.coldStart ? `${r.coldStart.serverMs} vs ${r.coldStart.pgliteMs} ms (spawn to first answered query)` : 'not measured',
  );
  return targets;
}

export function markdownReport(r: Report): string {
  const lines: string[] = [];
  const s = r.settings;
  lines.push(`#### Benchmark run of ${r.when}`);
  lines.push('');
  lines.push(
    `${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memoryGiB} GiB (load average ${r.machine.loadAverage.join(' at the start, ')} at the end); ${r.machine.postgres}; Node.js ${r.machine.node} for every peer. ` +
      `Scale ${s.scale}; ${s.reps} repetition(s) of ${s.durationS} s per block (upserts ${s.durationS * 2} s) after a ${s.warmupS} s warm-up, peers alternated; pool ${s.poolSize} connections per peer; load from ${s.generator}. ` +
      `Every peer verifies the same ES256 JWT with jose (${r.joseVerifyMicros} µs per verification here).`,
  );
  const differing = r.checks.filter((c) => c.differing);
  lines.push('');
  lines.push(
    differing.length
      ? `**Answers differed between peers** in ${differing.map((c) => `${c.scenario} (${c.differing} of ${c.compared})`).join(', ')}: those rows compare different work.`
      : `Answers checked equal across peers before timing: ${r.checks.map((c) => `${c.scenario} (${c.compared} inputs)`).join(', ')}.`,
  );
  lines.push('');
  lines.push('| scenario | conn. | peer | req/s (median, min–max) | p50 ms | p90 ms | p99 ms | SQL stmt/req | CPU ms/req (process + PostgreSQL) | RSS MiB |');
  lines.push('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|');
  const scenarios = [...new Set(r.blocks.map((b) => b.scenario))];
  for (const scenario of scenarios) {
    const levels = [...new Set(r.blocks.filter((b) => b.scenario === scenario).map((b) => b.connections))].sort((a, b) => a - b);
    for (const n of levels) {
      for (const peer of ['this', 'postgraphile', 'postgraphile-rls', 'joinmonster', 'floor'] as PeerName[]) {
        const x = cell(r.blocks, scenario, peer, n, r.statementCounts);
        if (!x) continue;
        const spread = x.reps > 1 ? ` (${f(x.rpsMin, 0)}–${f(x.rpsMax, 0)})` : '';
        lines.push(
          `| ${SCENARIO_LABEL[scenario]} | ${n} | ${PEER_LABEL[peer]} | ${f(x.rps, 0)}${spread}${x.failures ? ` ⚠ ${x.failures} failed` : ''} | ${f(x.p50)} | ${f(x.p90)} | ${f(x.p99)} | ${f(x.statements)} | ${f(x.peerCpu)} + ${f(x.pgCpu)} | ${f(x.rss, 0)} |`,
        );
      }
    }
  }
  lines.push('');
  lines.push('| target | ratio | limit | met |');
  lines.push('|---|---:|---:|---|');
  for (const t of r.targets) {
    lines.push(`| ${t.name} (${t.detail}) | ${t.ratio ?? '–'} | ${t.comparison} ${t.limit} | ${t.met === null ? 'not measured' : t.met ? 'met' : '**not met**'} |`);
  }
  lines.push('');
  const own = r.statementCounts.filter((c) => c.peer === 'this');
  if (own.length) {
    lines.push("This server's statements per request (sequential requests; calls of each statement / requests):");
    lines.push('');
    for (const c of own) {
      lines.push(`- ${SCENARIO_LABEL[c.scenario]}: ${c.perRequest}`);
      for (const t of c.top) lines.push(`  - ${f(t.calls / c.requests)} × \`${t.query.slice(0, 110).replace(/`/g, "'")}\``);
    }
    lines.push('');
  }
  if (r.coldStart) lines.push(`Cold start (median of ${r.coldStart.runs}): this server on the embedded database ${r.coldStart.serverMs} ms to its first answered query; PGlite alone ${r.coldStart.pgliteMs} ms to open the folder and answer one.`);
  lines.push(`Start to first answer on PostgreSQL: ${Object.entries(r.startMs).map(([p, ms]) => `${PEER_LABEL[p as PeerName]} ${ms} ms`).join(', ')}.`);
  lines.push('');
  return `${lines.join('\n')}\n`;
}

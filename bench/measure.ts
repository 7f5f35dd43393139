// What each measured block reads besides the load generator's numbers: CPU time of a
// peer process and of the PostgreSQL cluster's processes from /proc, RSS, and SQL
// statements from pg_stat_statements (reset before each block).
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { runLoad } from './load.ts';

/**
 * A pg_stat_statements condition leaving out the webhook worker's queue (pg-boss): it
 * polls on a timer, and checks its schema's version, whatever the requests.
 */
export const NOT_QUEUE = `query NOT ILIKE '%pgboss.%' AND query NOT ILIKE 'SELECT to_regclass(%'`;

const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime (and, with children, cutime + cstime) of a process, in milliseconds. */
export function cpuMs(pid: number, withReapedChildren = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields after the command: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
    const ticks = Number(f[11]) + Number(f[12]) + (withReapedChildren ? Number(f[13]) + Number(f[14]) : 0);
    return (ticks * 1000) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** CPU milliseconds of the postmaster and all its children (backends, background workers). */
export function clusterCpuMs(postmaster: number): number {
  let total = cpuMs(postmaster, true);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === postmaster) total += cpuMs(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

export function rssMiB(pid: number): number {
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
    return +(kb / 1024).toFixed(1);
  } catch {
    return NaN;
  }
}

export class Statements {
  private constructor(private readonly client: pg.Client) {}

  static async open(url: string): Promise<Statements> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    return new Statements(client);
  }

  async reset(): Promise<void> {
    await this.client.query('SELECT pg_stat_statements_reset()');
  }

  /** Calls since the last reset in the benchmark database, and the most called statements. */
  async read(): Promise<{ calls: number; top: { calls: number; query: string }[] }> {
    const rows = (
      await this.client.query<{ calls: string; query: string }>(
        `SELECT calls, query FROM pg_stat_statements
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT ILIKE '%pg_stat_statements%'
           AND ${NOT_QUEUE}
         ORDER BY calls DESC`,
      )
    ).rows;
    return {
      calls: rows.reduce((n, r) => n + Number(r.calls), 0),
      top: rows.slice(0, 12).map((r) => ({ calls: Number(r.calls), query: r.query.replace(/\s+/g, ' ').slice(0, 160) })),
    };
  }

  close(): Promise<void> {
    return this.client.end();
  }
}

// ---- load --------------------------------------------------------------------------

export interface LoadNumbers {
  requests: number;
  durationS: number;
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  failures: number;
  generator: 'wrk' | 'undici';
}

const WRK_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'wrk.lua');

let wrkPath: string | null | undefined;
/** wrk, installed with apt-get when missing (as root); null when it cannot be had. */
export function findWrk(log: (l: string) => void): string | null {
  if (wrkPath !== undefined) return wrkPath;
  const which = () => {
    try {
      return execFileSync('sh', ['-c', 'command -v wrk']).toString().trim() || null;
    } catch {
      return null;
    }
  };
  wrkPath = which();
  if (!wrkPath && process.getuid?.() === 0) {
    log('wrk is missing: installing it with apt-get');
    try {
      execFileSync('sh', ['-c', 'apt-get install -y wrk >/dev/null 2>&1 || (apt-get update >/dev/null 2>&1 && apt-get install -y wrk >/dev/null 2>&1)'], { stdio: 'ignore', timeout: 300_000 });
    } catch {
      // falls back below
    }
    wrkPath = which();
  }
  if (!wrkPath) log('wrk is not available: load comes from the undici generator instead');
  return wrkPath;
}

export interface LoadSpec {
  url: string;
  /** [weight, file] pairs of request files (see wrk.lua). */
  files: [number, string][];
  connections: number;
  durationS: number;
}

function assertLoopback(url: string) {
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname)) throw new Error('Load is only ever sent to loopback.');
}

export async function runWrk(wrk: string, spec: LoadSpec): Promise<LoadNumbers> {
  assertLoopback(spec.url);
  const args = ['-t', '1', '-c', String(spec.connections), '-d', `${spec.durationS}s`, '--timeout', '30s', '-s', WRK_SCRIPT, spec.url, '--', ...spec.files.map(([w, f]) => `${w}:${f}`)];
  const child = spawn(wrk, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
  const timer = setTimeout(() => child.kill('SIGKILL'), (spec.durationS + 60) * 1000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(timer);
  const line = /BENCH_RESULT (\{.*\})/.exec(out);
  if (!line) throw new Error(`wrk failed (${code}): ${err || out}`);
  const r = JSON.parse(line[1]!) as { requests: number; durationUs: number; socketErrors: number; non2xx: number; failures: number; p50Us: number; p90Us: number; p99Us: number };
  const durationS = r.durationUs / 1e6;
  // No request finished within the block: no latency to report (wrk would say 0).
  const ms = (us: number) => (r.requests ? us / 1000 : NaN);
  return {
    requests: r.requests,
    durationS,
    rps: r.requests / durationS,
    p50Ms: ms(r.p50Us),
    p90Ms: ms(r.p90Us),
    p99Ms: ms(r.p99Us),
    failures: r.failures + r.socketErrors,
    generator: 'wrk',
  };
}

/** The same draw as wrk.lua, from the undici generator of bench/load.ts. */
export async function runUndici(spec: LoadSpec): Promise<LoadNumbers> {
  assertLoopback(spec.url);
  const pools = spec.files.map(([w, f]) => ({
    w,
    items: readFileSync(f, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [org, token, ...rest] = l.split('\t');
        return { headers: { authorization: `Bearer ${token}`, 'x-organization-id': org! }, body: rest.join('\t') };
      }),
  }));
  const total = pools.reduce((n, p) => n + p.w, 0);
  const result = await runLoad(spec.url, {
    connections: spec.connections,
    durationMs: spec.durationS * 1000,
    next: () => {
      let r = Math.random() * total;
      const pool = pools.find((p) => (r -= p.w) < 0) ?? pools[pools.length - 1]!;
      const item = pool.items[Math.floor(Math.random() * pool.items.length)]!;
      const body = item.body.replaceAll('"__CONFIDENCE__"', () => (0.0001 + Math.random() * 0.9998).toFixed(4));
      return { headers: item.headers, body, check: (json) => ((json as { errors?: unknown }).errors ? 'errors' : null) };
    },
  });
  const ms = result.samples.map((s) => s.ms).sort((a, b) => a - b);
  const at = (p: number) => ms[Math.min(ms.length - 1, Math.floor((p / 100) * ms.length))] ?? NaN;
  const durationS = result.durationMs / 1000;
  return {
    requests: ms.length,
    durationS,
    rps: ms.length / durationS,
    p50Ms: at(50),
    p90Ms: at(90),
    p99Ms: at(99),
    failures: result.samples.filter((s) => !s.ok).length,
    generator: 'undici',
  };
}

import { Agent, request } from 'undici';

// A closed-loop load generator for loopback targets: `connections` workers each send
// one request at a time until the duration ends. Bounded in time by construction.

export interface Sample {
  at: number;
  ms: number;
  ok: boolean;
  error?: string;
}

export interface LoadResult {
  samples: Sample[];
  durationMs: number;
}

export interface RequestSpec {
  body: string;
  headers: Record<string, string>;
  /** Checks the parsed answer; returns an error description or null. */
  check?: (json: unknown) => string | null;
}

export async function runLoad(
  url: string,
  opts: { connections: number; durationMs: number; next: () => RequestSpec; onTick?: (elapsedMs: number) => void },
): Promise<LoadResult> {
  const target = new URL(url);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(target.hostname)) throw new Error('Load is only ever sent to loopback.');
  const dispatcher = new Agent({ connections: opts.connections, pipelining: 1, keepAliveTimeout: 30_000 });
  const started = performance.now();
  const end = started + opts.durationMs;
  const samples: Sample[] = [];
  let tick = started;
  const worker = async () => {
    while (performance.now() < end) {
      const spec = opts.next();
      const t0 = performance.now();
      try {
        const res = await request(url, { method: 'POST', body: spec.body, headers: { 'content-type': 'application/json', ...spec.headers }, dispatcher });
        const json = await res.body.json();
        const problem = res.statusCode !== 200 ? `HTTP ${res.statusCode}` : (spec.check?.(json) ?? null);
        samples.push({ at: t0 - started, ms: performance.now() - t0, ok: !problem, ...(problem ? { error: problem } : {}) });
      } catch (err) {
        samples.push({ at: t0 - started, ms: performance.now() - t0, ok: false, error: (err as Error).message });
      }
      if (opts.onTick && performance.now() - tick > 1000) {
        tick = performance.now();
        opts.onTick(tick - started);
      }
    }
  };
  await Promise.all(Array.from({ length: opts.connections }, worker));
  await dispatcher.close();
  return { samples, durationMs: performance.now() - started };
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function summarize(result: LoadResult) {
  const ms = result.samples.map((s) => s.ms).sort((a, b) => a - b);
  const errors = result.samples.filter((s) => !s.ok);
  return {
    requests: result.samples.length,
    errors: errors.length,
    firstErrors: [...new Set(errors.map((e) => e.error))].slice(0, 5),
    rps: Math.round((result.samples.length / result.durationMs) * 1000),
    p50: +percentile(ms, 50).toFixed(2),
    p90: +percentile(ms, 90).toFixed(2),
    p99: +percentile(ms, 99).toFixed(2),
  };
}

/** Resident set size of a process, in MiB, from /proc. */
export async function rssMiB(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return +(kb / 1024).toFixed(1);
}

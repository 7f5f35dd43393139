// The cold start of the embedded database: this server (as `npm start` runs it) from
// spawn to its first answered /ready (which runs a query), against PGlite alone opening
// the same folder and answering one query (bench/pglite-open.mjs), alternated.
//   npm run bench:cold -- [--runs N] [--node PATH] [--dir FOLDER] [--env NAME=VALUE,...]
// Both run on the Node.js every peer runs on (peerNode: bench/peers' own when installed);
// --node runs both under another Node.js binary (e.g. the machine's); --env adds
// variables to the server's environment (NODE_DISABLE_COMPILE_CACHE=1). `npm run bench`
// measures it too (3 runs), unless given --no-cold-start.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, peerNode, START_NODE_FLAGS, upToDateBuild } from './peers.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');

export interface ColdStartRun {
  /** Milliseconds from spawn to the first answered /ready, and the process's CPU until then. */
  serverMs: number;
  serverCpuMs: number;
  /** Milliseconds from spawn to exit of PGlite alone, and its CPU. */
  pgliteMs: number;
  pgliteCpuMs: number;
}

export interface ColdStart {
  serverMs: number;
  pgliteMs: number;
  runs: number;
  all: ColdStartRun[];
}

/** User and system CPU of a running process (all its threads), from /proc. */
function processCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks of 10 ms
  } catch {
    return NaN;
  }
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** One start of this server on the folder, stopped once it answers. */
async function startOnce(node: string, dir: string, env: Record<string, string> = {}): Promise<{ ms: number; cpuMs: number }> {
  // A known port: at LOG_LEVEL=warn the server does not print its URL.
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const t0 = performance.now();
  const child = spawn(node, [...START_NODE_FLAGS, 'scripts/start.mjs'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NODE_ENV: 'production', HOST: '127.0.0.1', PORT: String(port), PGLITE_DATA_DIR: dir, LOG_LEVEL: 'warn', SHUTDOWN_DRAIN_MS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stderr.on('data', (d) => (out += d));
  child.stdout.resume();
  const exited = new Promise<never>((_, reject) => child.on('exit', (code) => reject(new Error(`embedded server exited (${code}):\n${out}`))));
  exited.catch(() => {}); // it exits when stopped below, too
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await Promise.race([fetch(`${base}/ready`).then((r) => r.status === 200, () => false), exited]);
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`embedded server did not answer /ready within 60 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const ms = performance.now() - t0;
  const cpuMs = processCpuMs(child.pid!);
  child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
  return { ms, cpuMs };
}

/** PGlite alone: spawn to exit of bench/pglite-open.mjs, which reports its own CPU. */
function pgliteOnce(node: string, dir: string): { ms: number; cpuMs: number } {
  const t0 = performance.now();
  const out = execFileSync(node, [path.join(HERE, 'pglite-open.mjs'), dir], { cwd: ROOT, stdio: 'pipe', encoding: 'utf8' });
  const ms = performance.now() - t0;
  return { ms, cpuMs: (JSON.parse(out) as { cpuMs: number }).cpuMs };
}

/** Measures `runs` alternated starts of each on `dir` (created and migrated first when missing, unmeasured). */
export async function measureColdStart({ runs = 3, node = process.execPath, dir, env, log = () => {} }: { runs?: number; node?: string; dir: string; env?: Record<string, string>; log?: (line: string) => void }): Promise<ColdStart> {
  await upToDateBuild();
  if (!existsSync(path.join(dir, 'PG_VERSION'))) await startOnce(node, dir);
  const all: ColdStartRun[] = [];
  for (let i = 0; i < runs; i++) {
    const server = await startOnce(node, dir, env);
    const pglite = pgliteOnce(node, dir);
    const run = { serverMs: Math.round(server.ms), serverCpuMs: Math.round(server.cpuMs), pgliteMs: Math.round(pglite.ms), pgliteCpuMs: Math.round(pglite.cpuMs) };
    log(`  run ${i + 1}: this server ${run.serverMs} ms (CPU ${run.serverCpuMs} ms), PGlite alone ${run.pgliteMs} ms (CPU ${run.pgliteCpuMs} ms)`);
    all.push(run);
  }
  return { serverMs: median(all.map((r) => r.serverMs)), pgliteMs: median(all.map((r) => r.pgliteMs)), runs, all };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { parseArgs } = await import('./common.ts');
  const args = parseArgs(process.argv.slice(2));
  const node = args.node ? path.resolve(args.node) : peerNode();
  const dir = path.resolve(args.dir ?? path.join(HERE, '.work', 'pglite'));
  const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
  process.stderr.write(`Cold start on ${dir}, Node.js ${version}\n`);
  const env = Object.fromEntries((args.env ?? '').split(',').filter(Boolean).map((pair) => [pair.split('=')[0]!, pair.slice(pair.indexOf('=') + 1)]));
  const r = await measureColdStart({ runs: Number(args.runs ?? 5), node, dir, env, log: (l) => process.stderr.write(`${l}\n`) });
  const spread = (xs: number[]) => `${median(xs)} (${Math.min(...xs)}–${Math.max(...xs)})`;
  const col = (k: keyof ColdStartRun) => spread(r.all.map((x) => x[k]));
  const ratios = r.all.map((x) => x.serverMs / x.pgliteMs);
  process.stdout.write(
    `Node.js ${version}, ${r.runs} runs, median (min–max):\n` +
      `  this server  ${col('serverMs')} ms, CPU ${col('serverCpuMs')} ms\n` +
      `  PGlite alone ${col('pgliteMs')} ms, CPU ${col('pgliteCpuMs')} ms\n` +
      `  ratio of medians ${(r.serverMs / r.pgliteMs).toFixed(2)} (per run ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})\n`,
  );
}

// The benchmark's own PostgreSQL cluster: the machine's PostgreSQL binaries, a data
// folder of its own (bench/.pgdata, kept between runs so a seeded set is reused), a
// port of its own on loopback, and pg_stat_statements preloaded. The machine's shared
// server and its configuration are never touched.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = process.env.PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin';
export const BENCH_PG_DIR = process.env.BENCH_PG_DIR ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '.pgdata');
export const BENCH_PG_PORT = Number(process.env.BENCH_PG_PORT ?? 54329);
export const BENCH_DATABASE = 'igs_bench';

/** The database of one scale: igs_bench for the full scale, igs_bench_0_01 for 0.01 and so on, so a quick run keeps the full set. */
export const databaseForScale = (scale: number) => (scale === 1 ? BENCH_DATABASE : `${BENCH_DATABASE}_${String(scale).replace(/\W/g, '_')}`);

const SETTINGS = [
  'listen_addresses=127.0.0.1',
  'shared_preload_libraries=pg_stat_statements',
  'pg_stat_statements.track=top',
  'pg_stat_statements.max=10000',
  'shared_buffers=1GB',
  'max_connections=200',
  'log_min_messages=warning',
];

// PostgreSQL refuses to run as root: as root, its commands run as the postgres user.
const asRoot = process.getuid?.() === 0;
function pgCommand(cmd: string, args: string[], opts: { quiet?: boolean } = {}): string {
  const file = path.join(BIN, cmd);
  const out = asRoot ? execFileSync('runuser', ['-u', 'postgres', '--', file, ...args], { stdio: 'pipe' }) : execFileSync(file, args, { stdio: 'pipe' });
  if (!opts.quiet) return out.toString();
  return '';
}

const dataDir = () => path.join(BENCH_PG_DIR, 'data');

function ensureOwned(dir: string) {
  mkdirSync(dir, { recursive: true });
  if (asRoot) execFileSync('chown', ['-R', 'postgres:postgres', dir]);
  chmodSync(dir, 0o700);
}

export function isRunning(): boolean {
  try {
    pgCommand('pg_ctl', ['-D', dataDir(), 'status']);
    return true;
  } catch {
    return false;
  }
}

/** The postmaster's pid (its backends are its children), or null when it is not running. */
export function postmasterPid(): number | null {
  try {
    return Number(readFileSync(path.join(dataDir(), 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return null;
  }
}

/** BENCH_PG_PORT when it is free (another worktree's cluster may hold it), else any free port. */
async function choosePort(): Promise<number> {
  const tryPort = (port: number) =>
    new Promise<number | null>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(null));
      srv.listen(port, '127.0.0.1', () => {
        const chosen = (srv.address() as { port: number }).port;
        srv.close(() => resolve(chosen));
      });
    });
  return (await tryPort(BENCH_PG_PORT)) ?? (await tryPort(0))!;
}

export interface BenchPostgres {
  /** URL of the benchmark database. */
  url: string;
  /** URL of the maintenance database `postgres`. */
  adminUrl: string;
  port: number;
  startedHere: boolean;
  /** Stops the cluster if this process started it. */
  stop(): void;
}

/** Creates the cluster when missing and starts it when stopped; then creates the database and extension. */
export async function ensureBenchPostgres(log: (line: string) => void = () => {}, database = BENCH_DATABASE): Promise<BenchPostgres> {
  if (!existsSync(path.join(BIN, 'pg_ctl'))) throw new Error(`PostgreSQL binaries not found in ${BIN} (set PG_BIN_DIR).`);
  if (!existsSync(path.join(dataDir(), 'PG_VERSION'))) {
    log(`Creating the benchmark's PostgreSQL cluster in ${BENCH_PG_DIR}`);
    mkdirSync(BENCH_PG_DIR, { recursive: true });
    chmodSync(BENCH_PG_DIR, 0o755);
    ensureOwned(dataDir());
    if (readdirSync(dataDir()).length === 0) pgCommand('initdb', ['-D', dataDir(), '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-locale'], { quiet: true });
  }
  let startedHere = false;
  if (!isRunning()) {
    const port = await choosePort();
    log(`Starting the benchmark's PostgreSQL on 127.0.0.1:${port}`);
    const opts = [`-p ${port}`, `-k ${dataDir()}`, ...SETTINGS.map((s) => `-c ${s}`)].join(' ');
    pgCommand('pg_ctl', ['-D', dataDir(), '-o', opts, '-l', path.join(dataDir(), 'server.log'), '-w', '-t', '120', 'start'], { quiet: true });
    startedHere = true;
  }
  const port = Number(readFileSync(path.join(dataDir(), 'postmaster.pid'), 'utf8').split('\n')[3]);
  const adminUrl = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  const url = `postgresql://postgres@127.0.0.1:${port}/${database}`;
  const pg = (await import('pg')).default;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
  if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  await db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  await db.end();
  return {
    url,
    adminUrl,
    port,
    startedHere,
    stop() {
      if (startedHere && isRunning()) {
        log("Stopping the benchmark's PostgreSQL");
        pgCommand('pg_ctl', ['-D', dataDir(), '-m', 'fast', '-w', 'stop'], { quiet: true });
      }
    },
  };
}

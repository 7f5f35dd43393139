import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

// A PostgreSQL primary and a streaming replica of it, both the test's own: initdb in a
// temporary folder, `pg_basebackup -R` for the replica, free loopback ports. Tests stop,
// start and pause the replica without touching the shared test server.

const BIN = process.env.PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin';

/** Why a replica cannot be started here, or null when it can. */
export function replicaUnavailable(): string | null {
  for (const tool of ['initdb', 'pg_ctl', 'pg_basebackup']) {
    if (!existsSync(path.join(BIN, tool))) return `the PostgreSQL binaries are absent (${path.join(BIN, tool)}; set PG_BIN_DIR)`;
  }
  return null;
}

// initdb refuses to run as root: as root, the servers run as the postgres user.
const run = (cmd: string, args: string[]) =>
  process.getuid?.() === 0
    ? execFileSync('runuser', ['-u', 'postgres', '--', path.join(BIN, cmd), ...args], { stdio: 'pipe' })
    : execFileSync(path.join(BIN, cmd), args, { stdio: 'pipe' });

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

interface Server {
  url: string;
  start(): void;
  stop(): void;
}

export interface ReplicaPair {
  primary: Server;
  replica: Server & {
    /** Runs SQL on the replica (pg_wal_replay_pause(), pg_wal_replay_resume(), ...). */
    query(text: string): Promise<Record<string, unknown>[]>;
    /** Waits until the replica has replayed everything the primary has written. */
    catchUp(): Promise<void>;
  };
  destroy(): void;
}

function server(dir: string, name: string, port: number): Server {
  const data = path.join(dir, name);
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    start: () => void run('pg_ctl', ['-D', data, '-o', opts, '-l', path.join(dir, `${name}.log`), '-w', 'start']),
    stop: () => void run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']),
  };
}

async function sqlOn(url: string, text: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

/** Starts a primary and a streaming replica of it (WAL level replica, a slot-less physical stream). */
export async function startReplicaPair(): Promise<ReplicaPair> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'igs-replica-'));
  chmodSync(dir, 0o777);
  const [primaryPort, replicaPort] = [await freePort(), await freePort()];
  run('initdb', ['-D', path.join(dir, 'primary'), '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const primary = server(dir, 'primary', primaryPort);
  primary.start();
  run('pg_basebackup', ['-D', path.join(dir, 'replica'), '-R', '-X', 'stream', '-h', '127.0.0.1', '-p', String(primaryPort), '-U', 'postgres', '--no-sync']);
  const replica = server(dir, 'replica', replicaPort);
  replica.start();
  const pair: ReplicaPair = {
    primary,
    replica: {
      ...replica,
      query: (text) => sqlOn(replica.url, text),
      async catchUp() {
        const [{ lsn }] = (await sqlOn(primary.url, 'SELECT pg_current_wal_lsn()::text AS lsn')) as [{ lsn: string }];
        for (let i = 0; i < 200; i++) {
          const [row] = await sqlOn(replica.url, `SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn AS done`);
          if (row?.done) return;
          await new Promise((r) => setTimeout(r, 50));
        }
        throw new Error('the replica did not catch up within 10 s');
      },
    },
    destroy() {
      for (const s of [replica, primary]) {
        try {
          s.stop();
        } catch {
          // already stopped
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return pair;
}

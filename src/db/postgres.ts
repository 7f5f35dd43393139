import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import type { Config } from '../config.ts';
import { client, scopedStatement, type Database, type OpenOptions, type Statement } from '../db.ts';
import { errorFields, logger } from '../observability/logger.ts';
import { applyMigrations, type RawQuery } from './migrate.ts';
import { parseLsn, ReplicaSet, servingReplica } from './replicas.ts';
import { currentScope, SET_SESSION } from './scope.ts';

// The database on PostgreSQL, through node-postgres: loaded by openDatabase (src/db.ts)
// only when DATABASE_URL is set.

/** Opens PostgreSQL at `url` (DATABASE_URL). */
export async function openPostgres(url: string, config: Config, options: OpenOptions): Promise<Database> {
  const { pool, readPool } = openPools(url, config);
  const factory = new PrismaPg(pool);
  const query: RawQuery = async (sql) => (await pool.query(sql)).rows;
  const applied = options.migrate ? await migratePostgres(config.migrationDatabaseUrl ?? url) : [];
  const prisma = client(factory, options.onQuery, config.databasePoolTimeoutMs);
  const replicas = await openReplicas(config, pool, options.onQuery);
  return {
    kind: 'postgres',
    prisma,
    query,
    async run<T>(s: Statement, values: readonly unknown[]) {
      options.onQuery?.(s.text);
      const scoped = scopedStatement(s);
      const scope = currentScope();
      // A query operation's reads go to its replica (src/db/replicas.ts).
      const on = servingReplica()?.connections.prepared ?? readPool;
      return (await on.query<T & pg.QueryResultRow>({ name: scoped.name, text: scoped.text, values: [...values, scope] })).rows;
    },
    appliedMigrations: applied,
    describe: redact(url),
    jobConnection: { connectionString: url },
    listen: (channel, onPayload) => listenOnPostgres(url, channel, onPayload),
    replicas,
    async close() {
      await replicas?.close();
      await prisma.$disconnect();
      await Promise.all([pool.end(), readPool.end()]);
    },
  };
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgresql://(unparsable DATABASE_URL)';
  }
}

async function listenOnPostgres(
  url: string,
  channel: string,
  onPayload: (payload: string) => void,
): Promise<() => Promise<void>> {
  let client: pg.Client | null = null;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  const connect = async (attempt = 0): Promise<void> => {
    if (stopped) return;
    const c = new pg.Client({ connectionString: url });
    c.on('notification', (n) => {
      if (n.channel === channel && n.payload !== undefined) onPayload(n.payload);
    });
    c.on('error', (err) => {
      logger.warn(errorFields(err), 'notification connection lost; reconnecting');
      void c.end().catch(() => {});
      if (client === c) client = null;
      retry = setTimeout(() => void connect(1), 500);
    });
    try {
      await c.connect();
      await c.query(`LISTEN "${channel.replace(/"/g, '""')}"`);
      client = c;
    } catch (err) {
      void c.end().catch(() => {});
      if (attempt === 0) throw err;
      logger.warn(errorFields(err), 'notification connection failed; retrying');
      retry = setTimeout(() => void connect(attempt + 1), Math.min(5000, 250 * 2 ** attempt));
    }
  };
  await connect();
  return async () => {
    stopped = true;
    clearTimeout(retry);
    await client?.end().catch(() => {});
  };
}

/**
 * Applies pending migrations to PostgreSQL on connections of their own, without the
 * statement timeout that bounds requests: a migration script is one statement to it,
 * and building an index on a large table may well take longer.
 */
async function migratePostgres(url: string): Promise<string[]> {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on('error', (err) => logger.warn(errorFields(err), 'migration connection lost'));
  try {
    return await applyMigrations({
      factory: new PrismaPg(pool),
      query: async (sql) => (await pool.query(sql)).rows,
      runScript: (script) => pool.query(script),
    });
  } finally {
    await pool.end();
  }
}

/**
 * The two pools of one PostgreSQL server (the primary or a replica): Prisma's, and the
 * prepared statements' of hot reads.
 */
function openPools(url: string, config: Config): { pool: pg.Pool; readPool: pg.Pool } {
  const pool = new ScopedPool({
    connectionString: url,
    max: config.databasePoolSize,
    // A request waits this long for a connection, then fails (SERVICE_UNAVAILABLE)
    // instead of queueing without bound when the pool is exhausted or the server down.
    connectionTimeoutMillis: config.databasePoolTimeoutMs,
    ...(config.statementTimeoutMs > 0 ? { statement_timeout: config.statementTimeoutMs } : {}),
  });
  // An idle connection that the server closes (restart, failover) emits an error on
  // the pool; the pool drops it and reconnects on demand. Unhandled, it would end
  // the process.
  pool.on('error', (err) => logger.warn(errorFields(err), 'idle database connection lost'));
  keepCheckedOutErrors(pool);
  // The prepared statements of hot reads run on connections of their own that plan
  // each statement once (a generic plan): left to choose, PostgreSQL plans these
  // statements again on every execution, which costs more than running them. Prisma's
  // statements keep the default choice on the main pool. Connections open on demand.
  // No JIT: a generic plan's estimates (a list parameter counts as 1,000 rows) can pass
  // its cost threshold, and compiling took longer than running a millisecond's read.
  const readPool = new pg.Pool({
    connectionString: url,
    max: config.databasePoolSize,
    connectionTimeoutMillis: config.databasePoolTimeoutMs,
    options: '-c plan_cache_mode=force_generic_plan -c jit=off',
    ...(config.statementTimeoutMs > 0 ? { statement_timeout: config.statementTimeoutMs } : {}),
  });
  readPool.on('error', (err) => logger.warn(errorFields(err), 'idle database connection lost'));
  keepCheckedOutErrors(readPool);
  return { pool, readPool };
}

/**
 * The pool listens for a connection's errors only while it is idle. One the server
 * ends while it is checked out between two statements (a restart, a terminated
 * backend) would emit an error nobody hears and end the process; this listener keeps
 * it, and the pool drops the broken connection when it is released.
 */
function keepCheckedOutErrors(pool: pg.Pool): void {
  pool.on('connect', (client) => {
    client.on('error', (err) => logger.warn(errorFields(err), 'database connection lost while in use'));
  });
}

/** The replicas of DATABASE_REPLICA_URLS, checked once before the server serves. */
async function openReplicas(config: Config, primary: pg.Pool, onQuery: OpenOptions['onQuery']): Promise<ReplicaSet | undefined> {
  if (!config.replicas.urls.length) return undefined;
  const set = new ReplicaSet(
    config.replicas,
    (url) => {
      const { pool, readPool } = openPools(url, config);
      const prisma = client(new PrismaPg(pool), onQuery, config.databasePoolTimeoutMs);
      return {
        prisma,
        prepared: readPool,
        close: async () => {
          await prisma.$disconnect();
          await Promise.all([pool.end(), readPool.end()]);
        },
      };
    },
    async () => parseLsn((await primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn)!,
    redact,
    (url) => {
      const pool = new pg.Pool({ connectionString: url, max: 1, connectionTimeoutMillis: 1000, statement_timeout: 1000 });
      pool.on('error', () => {});
      return pool;
    },
  );
  await set.start();
  return set;
}

const sessionScopes = new WeakMap<pg.PoolClient, string>();

/**
 * A pool whose connections carry the scope of whoever uses them: before a statement
 * (or a transaction) runs on a connection whose session is scoped otherwise, the
 * session's scope is set. Prisma's adapter and raw queries use it.
 */
export class ScopedPool extends pg.Pool {
  override connect(): Promise<pg.PoolClient>;
  override connect(callback: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void): void;
  override connect(callback?: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void): Promise<pg.PoolClient> | void {
    if (callback) return super.connect(callback);
    return this.scopedConnection();
  }

  private async scopedConnection(): Promise<pg.PoolClient> {
    const scope = currentScope();
    const client = await super.connect();
    if (sessionScopes.get(client) !== scope) {
      try {
        await client.query(SET_SESSION, [scope]);
      } catch (err) {
        client.release(err as Error);
        throw err;
      }
      sessionScopes.set(client, scope);
    }
    return client;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override query(...args: any[]): any {
    if (typeof args[args.length - 1] === 'function') return (super.query as (...a: unknown[]) => unknown)(...args);
    return (async () => {
      const client = await this.scopedConnection();
      let failure: Error | undefined;
      try {
        return await (client.query as (...a: unknown[]) => Promise<unknown>)(...args);
      } catch (err) {
        // A server's refusal leaves the connection usable; anything else ends it.
        if (!(err instanceof pg.DatabaseError)) failure = err as Error;
        throw err;
      } finally {
        client.release(failure);
      }
    })();
  }
}


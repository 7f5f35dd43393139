import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import type { Config } from './config.ts';
import { errorFields, logger } from './observability/logger.ts';
import { lockFolder, type FolderLock } from './db/folder-lock.ts';
import { applyMigrations, type RawQuery } from './db/migrate.ts';
import { parseLsn, ReplicaSet, routedPrisma, servingReplica } from './db/replicas.ts';
import { batchPerScope, currentScope, ScopedPool, scopedText } from './db/scope.ts';
import { PrismaClient } from './generated/prisma/client.ts';

export { Prisma } from './generated/prisma/client.ts';
export type { PrismaClient };

/** An open database: PostgreSQL through node-postgres, or PGlite embedded in the process. */
export interface Database {
  kind: 'postgres' | 'embedded';
  prisma: PrismaClient;
  /** A raw query outside Prisma, for health checks and tooling. */
  query: RawQuery;
  /** Runs a prepared statement of the hot read paths (see `sql`). */
  run<T>(statement: Statement, values: readonly unknown[]): Promise<T[]>;
  /** Migrations applied while opening. */
  appliedMigrations: string[];
  /** Where the data lives, without credentials. */
  describe: string;
  /** How a job queue reaches this database: its own connections to PostgreSQL, or the embedded instance. */
  jobConnection: { connectionString: string } | { pglite: PGlite };
  /**
   * Calls `onPayload` for every NOTIFY on `channel` (delivered when the notifying
   * transaction commits). On PostgreSQL a dedicated connection listens and reconnects
   * after a loss; in the embedded database notifications stay in the process.
   */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  /** The streaming replicas that serve reads of query operations (DATABASE_REPLICA_URLS). */
  replicas?: ReplicaSet | undefined;
  /** The embedded database's folder lock, held until close (src/db/folder-lock.ts). */
  lock?: FolderLock;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Apply pending migrations before returning. */
  migrate?: boolean;
  /** Called with each SQL statement Prisma sends (tests count them). */
  onQuery?: (sql: string) => void;
  /** Open this PGlite instance instead of one on the configured data folder. */
  pglite?: PGlite;
}

/**
 * A statement of a hot read path, sent without Prisma: on PostgreSQL it is prepared
 * once per connection under its name and then only bound and executed. Its text must
 * be constant (values go in parameters), as the name stands for it.
 */
export interface Statement {
  readonly name: string;
  readonly text: string;
}

const statementNames = new Map<string, string>();

/** Declares a statement; two texts may not share a name. */
export function statement(name: string, text: string): Statement {
  const known = statementNames.get(name);
  if (known !== undefined && known !== text) throw new Error(`Two statements are named ${name}`);
  statementNames.set(name, text);
  return { name, text };
}

const scopedStatements = new WeakMap<Statement, Statement>();

/** The statement as sent: setting its own row-level security scope (src/db/scope.ts). */
function scopedStatement(s: Statement): Statement {
  let scoped = scopedStatements.get(s);
  if (!scoped) {
    const parameters = Math.max(0, ...[...s.text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
    scopedStatements.set(s, (scoped = { name: s.name, text: scopedText(s.text, parameters) }));
  }
  return scoped;
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

function client(factory: SqlMigrationAwareDriverAdapterFactory, onQuery: ((sql: string) => void) | undefined, maxWaitMs?: number) {
  // A transaction waits for a connection as long as any other statement (the pool's
  // timeout), not Prisma's own two seconds.
  const transactionOptions = maxWaitMs ? { maxWait: maxWaitMs } : undefined;
  const prisma = onQuery
    ? new PrismaClient({ adapter: factory, transactionOptions, log: [{ emit: 'event', level: 'query' }] })
    : new PrismaClient({ adapter: factory, transactionOptions });
  if (onQuery) (prisma as PrismaClient<'query'>).$on('query', (e) => onQuery(e.query));
  batchPerScope(prisma);
  return prisma;
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
  );
  await set.start();
  return set;
}

export async function openDatabase(config: Config, options: OpenOptions = {}): Promise<Database> {
  if (config.databaseUrl) {
    const { pool, readPool } = openPools(config.databaseUrl, config);
    const factory = new PrismaPg(pool);
    const query: RawQuery = async (sql) => (await pool.query(sql)).rows;
    const applied = options.migrate ? await migratePostgres(config.migrationDatabaseUrl ?? config.databaseUrl) : [];
    const prisma = client(factory, options.onQuery, config.databasePoolTimeoutMs);
    const url = config.databaseUrl;
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
      describe: redact(config.databaseUrl),
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

  let pglite = options.pglite;
  // Refused here, before PGlite reads a file, when another process holds the folder.
  const lock = pglite ? undefined : lockFolder(config.pgliteDataDir);
  if (!pglite) {
    try {
      await mkdir(config.pgliteDataDir, { recursive: true });
      pglite = await PGlite.create(config.pgliteDataDir);
    } catch (err) {
      lock?.release();
      throw err;
    }
  }
  const instance = pglite;
  const factory = new PrismaPGlite(instance);
  const query: RawQuery = async (sql) => (await instance.query<Record<string, unknown>>(sql)).rows;
  // The embedded database is private to this process, so it always migrates itself.
  const applied = await applyMigrations({ factory, query, runScript: (script) => instance.exec(script) });
  const prisma = client(factory, options.onQuery);
  return {
    kind: 'embedded',
    prisma,
    query,
    async run<T>(s: Statement, values: readonly unknown[]) {
      options.onQuery?.(s.text);
      return (await instance.query<T>(scopedStatement(s).text, [...values, currentScope()])).rows;
    },
    appliedMigrations: applied,
    describe: options.pglite ? 'embedded database (in memory)' : `embedded database in ${config.pgliteDataDir}`,
    jobConnection: { pglite: instance },
    async listen(channel, onPayload) {
      const unlisten = await instance.listen(channel, onPayload);
      return () => unlisten();
    },
    lock,
    async close() {
      await prisma.$disconnect();
      if (!options.pglite) await instance.close();
      lock?.release();
    },
  };
}

/**
 * The process's database. Services import `prisma` from here rather than taking it
 * from the request context; the server (or a test worker) installs it once with
 * `useDatabase` before serving.
 */
export let prisma: PrismaClient = undefined as unknown as PrismaClient;
export let database: Database | undefined;

export function useDatabase(db: Database): void {
  database = db;
  prisma = db.replicas ? routedPrisma(db.prisma) : db.prisma;
}

/** Runs a statement on the process's database. */
export function sql<T>(s: Statement, values: readonly unknown[]): Promise<T[]> {
  return database!.run<T>(s, values);
}

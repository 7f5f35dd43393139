import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import type { Config } from './config.ts';
import { lockFolder, type FolderLock } from './db/folder-lock.ts';
import { keysetPaging } from './db/keyset-paging.ts';
import { applyMigrations, type RawQuery } from './db/migrate.ts';
import { routedPrisma, type ReplicaSet } from './db/replicas.ts';
import { batchPerScope, currentScope, scopedText } from './db/scope.ts';
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
export function scopedStatement(s: Statement): Statement {
  let scoped = scopedStatements.get(s);
  if (!scoped) {
    const parameters = Math.max(0, ...[...s.text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
    scopedStatements.set(s, (scoped = { name: s.name, text: scopedText(s.text, parameters) }));
  }
  return scoped;
}

export function client(factory: SqlMigrationAwareDriverAdapterFactory, onQuery: ((sql: string) => void) | undefined, maxWaitMs?: number) {
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

export async function openDatabase(config: Config, options: OpenOptions = {}): Promise<Database> {
  // PostgreSQL's modules (node-postgres, its Prisma adapter) load only when it is used:
  // the embedded database answers sooner without them.
  if (config.databaseUrl) return (await import('./db/postgres.ts')).openPostgres(config.databaseUrl, config, options);

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
  // Connections page from a cursor as the read engine does (db/keyset-paging.ts).
  prisma = keysetPaging(db.replicas ? routedPrisma(db.prisma) : db.prisma);
}

/** Runs a statement on the process's database. */
export function sql<T>(s: Statement, values: readonly unknown[]): Promise<T[]> {
  return database!.run<T>(s, values);
}

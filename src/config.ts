import path from 'node:path';
import type { QueryLimits } from './plugins/limits.ts';
import type { RateLimits } from './plugins/rate-limit.ts';
import type { SubgraphGuard } from './plugins/subgraph-guard.ts';

// Every setting the server reads, with its default. README's configuration table
// lists the same names; keep them together.

export interface Config {
  env: 'development' | 'production' | 'test';
  host: string;
  port: number;
  /** PostgreSQL connection string; when absent the embedded database is used. */
  databaseUrl: string | undefined;
  /** Where the embedded database keeps its files. */
  pgliteDataDir: string;
  /** Apply pending migrations to PostgreSQL on start (the embedded database always migrates). */
  migrateOnStart: boolean;
  databasePoolSize: number;
  /** How long a request waits for a free PostgreSQL connection before SERVICE_UNAVAILABLE. */
  databasePoolTimeoutMs: number;
  /** PostgreSQL ends any statement running longer than this. */
  statementTimeoutMs: number;
  /** How long shutdown waits for in-flight requests before closing connections. */
  shutdownGraceMs: number;
  /** After SIGTERM, how long requests are still served (readiness failing) before the listener closes. */
  shutdownDrainMs: number;
  logLevel: string;
  /** Query limits, checked before an operation runs. */
  limits: QueryLimits;
  rateLimits: RateLimits;
  /** Largest request body accepted, in bytes. */
  bodyLimitBytes: number;
  /** Most operations in one batched request; 0 turns batching off. */
  batchLimit: number;
  introspection: boolean;
  graphiql: boolean;
  /** Federation: the secret the gateway sends, and whether every request needs it. */
  subgraph: SubgraphGuard;
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`${name} must be an integer >= ${min}, got "${raw}"`);
  }
  return value;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new Error(`${name} must be true or false, got "${env[name]}"`);
}

export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = env.NODE_ENV ?? 'development';
  if (!['development', 'production', 'test'].includes(nodeEnv)) {
    throw new Error(`NODE_ENV must be development, production or test, got "${nodeEnv}"`);
  }
  return {
    env: nodeEnv as Config['env'],
    host: env.HOST || '127.0.0.1',
    port: int(env, 'PORT', 4000),
    databaseUrl: env.DATABASE_URL || undefined,
    pgliteDataDir: path.resolve(env.PGLITE_DATA_DIR || 'data/pglite'),
    migrateOnStart: bool(env, 'MIGRATE_ON_START', false),
    databasePoolSize: int(env, 'DATABASE_POOL_SIZE', 10, 1),
    databasePoolTimeoutMs: int(env, 'DATABASE_POOL_TIMEOUT_MS', 5000, 1),
    statementTimeoutMs: int(env, 'STATEMENT_TIMEOUT_MS', 15_000, 0),
    shutdownGraceMs: int(env, 'SHUTDOWN_GRACE_MS', 10_000),
    shutdownDrainMs: int(env, 'SHUTDOWN_DRAIN_MS', nodeEnv === 'production' ? 5000 : 0),
    logLevel: env.LOG_LEVEL || (nodeEnv === 'test' ? 'silent' : 'info'),
    limits: {
      maxDepth: int(env, 'MAX_QUERY_DEPTH', 12, 1),
      maxAliases: int(env, 'MAX_ALIASES', 30, 0),
      maxDirectives: int(env, 'MAX_DIRECTIVES', 20, 0),
      maxTokens: int(env, 'MAX_TOKENS', 5000, 1),
      maxCost: int(env, 'MAX_QUERY_COST', 50_000, 1),
      maxPageSize: int(env, 'MAX_PAGE_SIZE', 100, 1),
      blockFieldSuggestions: nodeEnv === 'production',
    },
    rateLimits: {
      perCredential: int(env, 'RATE_LIMIT_PER_CREDENTIAL', 1200, 0),
      perOrganization: int(env, 'RATE_LIMIT_PER_ORGANIZATION', 6000, 0),
      windowMs: int(env, 'RATE_LIMIT_WINDOW_MS', 60_000, 1000),
      redisUrl: env.REDIS_URL || undefined,
    },
    bodyLimitBytes: int(env, 'BODY_LIMIT_BYTES', 1_048_576, 1024),
    batchLimit: int(env, 'BATCH_LIMIT', 0, 0),
    introspection: bool(env, 'INTROSPECTION', nodeEnv !== 'production'),
    graphiql: bool(env, 'GRAPHIQL', nodeEnv !== 'production'),
    subgraph: {
      secret: env.SUBGRAPH_SECRET || undefined,
      requireForAll: bool(env, 'SUBGRAPH_SECRET_REQUIRED_FOR_ALL', false),
    },
  };
}

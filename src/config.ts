import path from 'node:path';

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
  /** How long shutdown waits for in-flight requests before closing connections. */
  shutdownGraceMs: number;
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
    shutdownGraceMs: int(env, 'SHUTDOWN_GRACE_MS', 10_000),
  };
}

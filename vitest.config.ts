import { availableParallelism } from 'node:os';
import pg from 'pg';
import { defineConfig } from 'vitest/config';
import { testDatabaseUrl } from './test/helpers/postgres-url.ts';

// The same suite runs twice: against PostgreSQL (one database per worker, cloned
// from a template migrated once) and against the embedded database (PGlite in
// memory, restored per test file from a snapshot migrated once).
async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: testDatabaseUrl('postgres'), connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export default defineConfig(async () => {
  const withPostgres = await postgresReachable();
  if (!withPostgres) {
    if (process.env.REQUIRE_POSTGRES === '1') {
      throw new Error(`PostgreSQL is required (REQUIRE_POSTGRES=1) but ${testDatabaseUrl('postgres')} is not reachable.`);
    }
    console.warn(
      `\n  PostgreSQL is not reachable at ${testDatabaseUrl('postgres')}: the PostgreSQL run was NOT made; only the embedded database is tested.\n`,
    );
  }
  const project = (name: 'postgres' | 'embedded') => ({
    extends: true as const,
    test: {
      name,
      env: { TEST_DATABASE: name },
      // *.embedded.test.ts cover what only the embedded database does (npm start, and
      // checks that use in-memory databases whatever the server runs on).
      // *.postgres.test.ts need a PostgreSQL server of their own (fault tests).
      // The benchmark harness's own tests run apart (`npm run bench:test`).
      exclude: [
        '**/node_modules/**',
        name === 'postgres' ? 'test/**/*.embedded.test.ts' : 'test/**/*.postgres.test.ts',
        ...(process.env.BENCH_TESTS === '1' ? [] : ['test/bench.*.test.ts']),
      ],
      setupFiles: ['test/helpers/setup.ts'],
    },
  });
  return {
    // graphql ships CommonJS (main) and ESM (module) builds without an exports map.
    // Node resolves dependencies to the CommonJS one; Vite would give our own files the
    // ESM one, and two copies of graphql break instanceof checks. Use one copy.
    resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
    test: {
      include: ['test/**/*.test.ts'],
      testTimeout: 30_000,
      hookTimeout: 120_000,
      pool: 'forks',
      // A worker runs its files in one module graph, so the schema, the Prisma client
      // and the server are built once per worker instead of once per file. Each file
      // still opens a database of its own (test/helpers/setup.ts), and no test replaces
      // a module.
      isolate: false,
      // Tests wait on PostgreSQL and on the processes they start about as much as they
      // compute, so one worker more than the cores keeps them busy (vitest's default is
      // one fewer: a single worker on two cores).
      maxWorkers: Number(process.env.TEST_WORKERS) || availableParallelism() + 1,
      reporters: ['default', './test/helpers/summary-reporter.ts'],
      globalSetup: ['test/helpers/global-setup.ts'],
      env: { NODE_ENV: 'test' },
      projects: [...(withPostgres ? [project('postgres')] : []), project('embedded')],
    },
  };
});

/** A connection string to the test server's database `name` (TEST_DATABASE_URL names the server). */
export function testDatabaseUrl(name: string): string {
  const url = new URL(process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres');
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * The database of this test worker: one per worker of this run (the run's pid is the
 * workers' parent), cloned from the run's template, so concurrent runs on one server
 * never share data; the run drops them at its end.
 */
export function workerDatabaseName(template: string): string {
  return `igs_run_${process.ppid}_w${process.env.VITEST_POOL_ID ?? '0'}_${template.slice('igs_template_'.length)}`;
}

/**
 * The role the server runs as in tests: a login member of identity_graph_app (made by
 * the migrations), so row-level security applies to every test as in production.
 */
export const TEST_APP_ROLE = 'igs_test_app';

/** `testDatabaseUrl(name)` as the server's own role (TEST_APP_ROLE). */
export function testAppDatabaseUrl(name: string): string {
  const url = new URL(testDatabaseUrl(name));
  url.username = TEST_APP_ROLE;
  url.password = '';
  return url.toString();
}

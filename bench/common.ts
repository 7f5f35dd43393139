export function parseArgs(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--')) {
      const [k, v] = a.slice(2).split('=', 2);
      out[k!] = v ?? (argv[i + 1] && !argv[i + 1]!.startsWith('--') ? argv[++i]! : 'true');
    }
  }
  return out;
}

/**
 * BENCH_DATABASE_URL, or database igs_bench of the benchmark's own PostgreSQL cluster
 * (bench/postgres.ts: created and started when needed). `stop` stops the cluster again
 * when this call started it.
 */
export async function benchDatabase(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`), database?: string): Promise<{ url: string; stop(): void }> {
  if (process.env.BENCH_DATABASE_URL) return { url: process.env.BENCH_DATABASE_URL, stop() {} };
  const { ensureBenchPostgres } = await import('./postgres.ts');
  const cluster = await ensureBenchPostgres(log, database);
  return { url: cluster.url, stop: () => cluster.stop() };
}

/**
 * The connection string the server under test uses: as a login member of
 * identity_graph_app (made here when missing), so row-level security binds it as in
 * production (README "Database roles"). BENCH_SERVER_ROLE=owner keeps the owner's
 * role instead, whom the policies do not bind, to measure what they cost.
 */
export async function serverRoleUrl(ownerUrl: string): Promise<string> {
  if (process.env.BENCH_SERVER_ROLE === 'owner') return ownerUrl;
  const { default: pg } = await import('pg');
  const admin = new pg.Client({ connectionString: ownerUrl });
  await admin.connect();
  try {
    const exists = await admin.query("SELECT 1 FROM pg_roles WHERE rolname = 'igs_bench_server'");
    if (exists.rowCount === 0) await admin.query('CREATE ROLE igs_bench_server LOGIN IN ROLE identity_graph_app');
  } finally {
    await admin.end();
  }
  const url = new URL(ownerUrl);
  url.username = 'igs_bench_server';
  url.password = '';
  return url.toString();
}

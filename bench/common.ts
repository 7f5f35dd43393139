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

// The baseline of the cold start: PGlite alone opens a data folder and answers one
// query. Prints the milliseconds it took inside the process and the process's CPU
// until then; the benchmark times the whole process from spawn to exit.
// Usage: node bench/pglite-open.mjs DIR
import { PGlite } from '@electric-sql/pglite';

const t0 = performance.now();
const db = await PGlite.create(process.argv[2]);
const { rows } = await db.query('SELECT count(*)::int AS n FROM users');
const cpu = process.cpuUsage();
console.log(JSON.stringify({ ms: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000, users: rows[0].n }));
await db.close();

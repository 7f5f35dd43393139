// The table and summary of a held-out shapes run (bench/shapes.ts).
import type { ShapeOperation } from './generate.ts';

export interface ShapeResult extends ShapeOperation {
  statementsPerRequest: number;
  p50Ms: number;
  processCpuMs: number;
  postgresCpuMs: number;
  /** Answers (of the measured ones and the first) that had errors or were not 200. */
  errors: number;
  firstError?: string;
  /** PostgreSQL's time planning and executing the server's statements, per request (pg_stat_statements). */
  planMs: number;
  execMs: number;
  /** The server's statements over the measured requests, most called first. */
  statements: StatementCalls[];
}

/** A statement's calls, plannings and their times (ms) over some requests. */
export interface StatementCalls {
  calls: number;
  plans: number;
  planMs: number;
  execMs: number;
  query: string;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
};

/** One line per operation: its roots, statements per request, p50, CPU, errors. */
export function table(results: ShapeResult[]): string {
  const head = `${'#'.padStart(3)}  ${'roots'.padEnd(28)} ${'stmts/req'.padStart(9)} ${'p50 ms'.padStart(8)} ${'CPU ms'.padStart(7)} ${'PG ms'.padStart(7)} ${'plan ms'.padStart(8)} ${'exec ms'.padStart(8)}  errors`;
  const lines = results.map(
    (r) =>
      `${String(r.index).padStart(3)}  ${r.roots.join(' + ').padEnd(28)} ${r.statementsPerRequest.toFixed(2).padStart(9)} ${r.p50Ms.toFixed(2).padStart(8)} ${r.processCpuMs.toFixed(2).padStart(7)} ${r.postgresCpuMs.toFixed(2).padStart(7)} ${r.planMs.toFixed(2).padStart(8)} ${r.execMs.toFixed(2).padStart(8)}  ${r.errors ? `${r.errors}: ${r.firstError?.slice(0, 120)}` : '-'}`,
  );
  return [head, ...lines].join('\n');
}

/** How many took exactly one statement, the distribution of statements per request, medians; and which took more. */
export function summarise(results: ShapeResult[]) {
  const rounded = results.map((r) => Math.round(r.statementsPerRequest * 100) / 100);
  const distribution: Record<string, number> = {};
  for (const n of [...rounded].sort((a, b) => a - b)) distribution[String(n)] = (distribution[String(n)] ?? 0) + 1;
  const numbers = {
    operations: results.length,
    oneStatement: rounded.filter((n) => n === 1).length,
    withErrors: results.filter((r) => r.errors).length,
    distribution,
    medianStatements: median(rounded),
    medianP50Ms: +median(results.map((r) => r.p50Ms)).toFixed(2),
    medianProcessCpuMs: +median(results.map((r) => r.processCpuMs)).toFixed(2),
    medianPostgresCpuMs: +median(results.map((r) => r.postgresCpuMs)).toFixed(2),
    medianPlanMs: +median(results.map((r) => r.planMs)).toFixed(3),
    medianExecMs: +median(results.map((r) => r.execMs)).toFixed(3),
    moreThanOne: results.filter((r) => r.statementsPerRequest > 1.005).map((r) => ({ index: r.index, roots: r.roots, statementsPerRequest: r.statementsPerRequest })),
  };
  const text = [
    `${numbers.oneStatement} of ${numbers.operations} operations took exactly 1 SQL statement per request; ${numbers.withErrors} had errors.`,
    `Statements per request: ${Object.entries(distribution).map(([n, k]) => `${n} ×${k}`).join(', ')}.`,
    `Medians: ${numbers.medianStatements} statements, p50 ${numbers.medianP50Ms} ms, process CPU ${numbers.medianProcessCpuMs} ms, PostgreSQL CPU ${numbers.medianPostgresCpuMs} ms per request, of which planning ${numbers.medianPlanMs} ms and execution ${numbers.medianExecMs} ms (pg_stat_statements).`,
    ...(numbers.moreThanOne.length ? ['More than one statement: ' + numbers.moreThanOne.map((m) => `#${m.index} (${m.roots.join(' + ')}: ${m.statementsPerRequest.toFixed(2)})`).join(', ') + ' (--show K for one).'] : []),
  ];
  return { numbers, text: text.join('\n') };
}

// Counts the SQL statements Prisma sends, so tests can pin N+1 behaviour.
let log: string[] | null = null;

export function recordQuery(sql: string): void {
  log?.push(sql);
}

/** Runs `fn` and returns its result with the SQL statements it issued. */
export async function withSqlLog<T>(fn: () => Promise<T>): Promise<{ result: T; statements: string[] }> {
  const statements: string[] = [];
  log = statements;
  try {
    const result = await fn();
    return { result, statements };
  } finally {
    log = null;
  }
}

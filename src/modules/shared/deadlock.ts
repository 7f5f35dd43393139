// Writers of overlapping batches lock rows in one order, and run again when
// PostgreSQL cancels one of two writers that still met in opposite orders.

/** A total order on strings, the same in every process (not locale-dependent). */
export const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

const isDeadlock = (err: unknown) => {
  const cause = (err as { meta?: { driverAdapterError?: { cause?: { originalCode?: string; code?: string } } } })?.meta
    ?.driverAdapterError?.cause;
  return (cause?.originalCode ?? cause?.code) === '40P01';
};

/**
 * Runs a write again when PostgreSQL broke a deadlock by cancelling it. Writers lock
 * rows in key order, but two batches can still meet in two unique indexes (one on the
 * key, one on an email) in opposite orders; the database then cancels one of them,
 * which has written nothing and can simply run again.
 */
export async function retryOnDeadlock<T>(write: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (attempt >= attempts || !isDeadlock(err)) throw err;
    }
  }
}

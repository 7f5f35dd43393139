import { database, prisma, type Database } from '../../db.ts';
import { errorFields, logger } from '../../observability/logger.ts';
import { CHANGES_CHANNEL } from './service.ts';

// Fans committed audit events out to this process's subscribers, by organization.
// One LISTEN per process, opened with the first subscriber: events committed by any
// process on the same database reach every process's subscribers.

type Listener = (eventIds: string[]) => void;

const listeners = new Map<string, Set<Listener>>();
/** The LISTEN of the open database; a database opened later (a test file's) gets its own. */
let listening: { on: Database; stop: Promise<() => Promise<void>> } | null = null;

function dispatch(payload: string) {
  try {
    const { o, ids } = JSON.parse(payload) as { o: string; ids: string[] };
    for (const l of listeners.get(o) ?? []) l(ids);
  } catch (err) {
    logger.warn(errorFields(err), 'unreadable change notification');
  }
}

/** Calls `listener` with the ids of each batch of events committed for `organizationId`. */
export async function subscribeToChanges(organizationId: string, listener: Listener): Promise<() => void> {
  if (!database) throw new Error('No database is open.');
  const db = database;
  if (listening?.on !== db) {
    const previous = listening;
    const current = {
      on: db,
      stop: db.listen(CHANGES_CHANNEL, dispatch).catch((err) => {
        if (listening === current) listening = null;
        throw err;
      }),
    };
    listening = current;
    void previous?.stop.then((stop) => stop()).catch(() => {});
  }
  await listening.stop;
  const set = listeners.get(organizationId) ?? new Set();
  set.add(listener);
  listeners.set(organizationId, set);
  return () => {
    set.delete(listener);
    if (!set.size) listeners.delete(organizationId);
  };
}

/** Stops listening (shutdown). */
export async function closeChangeBus(): Promise<void> {
  const l = listening;
  listening = null;
  listeners.clear();
  if (l) await (await l.stop)();
}

/**
 * Most events kept for a subscriber that does not read them: beyond it the stream ends
 * with an error (the client catches up from Organization.auditEvents and subscribes
 * again), so a stalled client cannot make the process hold every later event.
 */
export const MAX_BUFFERED_EVENTS = 10_000;

/**
 * A stream of the rows `load` reads for each batch of events committed for
 * `organizationId`, in commit order. It is listening when this resolves, so a change
 * committed after that (for a subscription: after its response opened) is never
 * missed; batches that arrive before the consumer reads are kept until it does.
 * Returning or throwing into the stream stops listening.
 */
export async function openChangeStream<T>(
  organizationId: string,
  load: (eventIds: string[]) => Promise<T[]>,
  maxBuffered = MAX_BUFFERED_EVENTS,
): Promise<AsyncIterableIterator<T>> {
  const ready: T[] = [];
  let waiting: { resolve: (r: IteratorResult<T>) => void; reject: (err: unknown) => void } | null = null;
  let failure: unknown = null;
  let closed = false;
  // Loads run one after another, so rows come out in the order their commits were announced.
  let chain = Promise.resolve();
  const wake = () => {
    if (!waiting) return;
    const w = waiting;
    if (ready.length) {
      waiting = null;
      w.resolve({ value: ready.shift()!, done: false });
    } else if (failure !== null) {
      // Reported once; the stream is over after that.
      const err = failure;
      failure = null;
      waiting = null;
      close();
      w.reject(err);
    } else if (closed) {
      waiting = null;
      w.resolve({ value: undefined, done: true });
    }
  };
  const unsubscribe = await subscribeToChanges(organizationId, (ids) => {
    chain = chain
      .then(() => (closed ? [] : load(ids)))
      .then((rows) => {
        if (closed) return;
        ready.push(...rows);
        if (ready.length > maxBuffered) {
          ready.length = 0;
          failure ??= new Error(`More than ${maxBuffered} changes waited for this subscriber; subscribe again.`);
        }
      })
      .catch((err: unknown) => {
        failure ??= err;
      })
      .finally(wake);
  });
  const close = () => {
    if (closed) return;
    closed = true;
    ready.length = 0;
    unsubscribe();
    wake();
  };
  const stream: AsyncIterableIterator<T> = {
    [Symbol.asyncIterator]: () => stream,
    next() {
      if (ready.length) return Promise.resolve({ value: ready.shift()!, done: false });
      if (failure !== null) {
        const err = failure;
        failure = null;
        close();
        return Promise.reject(err);
      }
      if (closed) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve, reject) => (waiting = { resolve, reject }));
    },
    return() {
      close();
      return Promise.resolve({ value: undefined, done: true });
    },
    throw(err?: unknown) {
      close();
      return Promise.reject(err);
    },
  };
  return stream;
}

/** The organization's audit events as they commit, in commit order: what a subscription delivers. */
export const openEventStream = (organizationId: string) =>
  openChangeStream(organizationId, (ids) =>
    prisma.auditEvent.findMany({ where: { id: { in: ids }, organizationId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] }),
  );

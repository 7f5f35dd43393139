import { database } from '../../db.ts';
import { errorFields, logger } from '../../observability/logger.ts';
import { CHANGES_CHANNEL } from './service.ts';

// Fans committed audit events out to this process's subscribers, by organization.
// One LISTEN per process, opened with the first subscriber: events committed by any
// process on the same database reach every process's subscribers.

type Listener = (eventIds: string[]) => void;

const listeners = new Map<string, Set<Listener>>();
let listening: Promise<() => Promise<void>> | null = null;

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
  listening ??= db.listen(CHANGES_CHANNEL, dispatch).catch((err) => {
    listening = null;
    throw err;
  });
  await listening;
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
  if (l) await (await l)();
}

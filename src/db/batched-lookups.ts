import DataLoader from 'dataloader';
import type { PrismaClient } from '../generated/prisma/client.ts';

// The schema builder loads every node of `nodes(ids)`, and every object it cannot load
// with its parent, by `findUnique` of one id with the visibility filter of its type.
// Prisma gathers such calls of one tick into a batch, and a batch whose filters it
// cannot fold into one query runs as one statement per id inside a transaction: a read
// of 48 nodes held a connection for 48 statements and, under load, failed waiting to
// start that transaction. This client answers those calls with one `findMany` per
// model, filter and selection instead, outside any transaction.

type Args = { where?: Record<string, unknown>; select?: Record<string, unknown>; [key: string]: unknown };
type Row = Record<string, unknown>;
type Delegate = {
  findUnique(args: Args): Promise<Row | null>;
  findUniqueOrThrow(args: Args): Promise<Row>;
  findMany(args: Args): Promise<Row[]>;
};

/** Arguments a lookup may carry besides its filter and still be answered by `findMany`. */
const SHAPE = new Set(['where', 'select', 'include', 'omit']);

/**
 * A client whose `findUnique` and `findUniqueOrThrow` of a row by its `id` are batched
 * per tick into one `findMany` of the ids under the rest of the filter; anything else
 * goes to `client` unchanged. Meant for one request's reads (nothing is cached), never
 * inside a transaction.
 */
export function batchedLookups(client: PrismaClient): PrismaClient {
  const delegates = new Map<string, Delegate>();
  return new Proxy(client, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof property !== 'string' || property.startsWith('$') || !isDelegate(value)) return value;
      let delegate = delegates.get(property);
      if (!delegate) delegates.set(property, (delegate = batchedDelegate(value)));
      return delegate;
    },
  });
}

function isDelegate(value: unknown): value is Delegate {
  return typeof value === 'object' && value !== null && typeof (value as Delegate).findMany === 'function' && typeof (value as Delegate).findUnique === 'function';
}

function batchedDelegate(delegate: Delegate): Delegate {
  const loaders = new Map<string, DataLoader<string, Row | null>>();
  const load = (args: Args): Promise<Row | null> | undefined => {
    const { id, ...rest } = args.where ?? {};
    if (typeof id !== 'string' || Object.keys(args).some((k) => !SHAPE.has(k))) return undefined;
    // The id comes back with the rows, to put them in order.
    const select = args.select && !args.select.id ? { ...args.select, id: true } : args.select;
    const shape = { ...args, where: rest, ...(select ? { select } : {}) };
    const key = JSON.stringify(shape);
    let loader = loaders.get(key);
    if (!loader) {
      loader = new DataLoader(
        async (ids) => {
          const rows = await delegate.findMany({ ...shape, where: { ...rest, id: { in: [...new Set(ids)] } } });
          const byId = new Map(rows.map((r) => [r.id as string, r]));
          return ids.map((i) => byId.get(i) ?? null);
        },
        { cache: false },
      );
      loaders.set(key, loader);
    }
    return loader.load(id);
  };
  return new Proxy(delegate, {
    get(target, property, receiver) {
      if (property === 'findUnique') return (args: Args) => load(args) ?? target.findUnique(args);
      // A miss asks Prisma itself, which throws its own not-found error.
      if (property === 'findUniqueOrThrow') return async (args: Args) => (await load(args)) ?? target.findUniqueOrThrow(args);
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
}

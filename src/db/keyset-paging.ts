import type { PrismaClient } from '../generated/prisma/client.ts';
import { getDatamodel } from '../generated/pothos-types.ts';

// Paging from a cursor, on the general path as the read engine pages
// (modules/shared/engine/connection.ts): the rows after the cursor's row in the list's
// order (before it, for `last`), placed by the values that row holds now, whatever the
// page's filters. Prisma's own `cursor` starts at the cursor's row, and the `skip: 1` the
// Pothos plugin adds to leave it out drops another row instead when the page's filters
// leave the cursor's row out; a relation read for several parents at once even pages
// only the list holding the cursor's row. So every read of the process's client with a
// cursor, at its root or in a relation it selects, is rewritten into a `where` on the
// cursor row's values, derived from the read's own `orderBy` (the rule both paths use).

type Args = Record<string, unknown>;
type Row = Record<string, unknown>;
interface Field { name: string; kind: string; type: string; isRequired: boolean; isId: boolean; isUnique: boolean }
/** A term of an order: a required scalar field, one way. */
interface OrderTerm { field: string; descending: boolean }

let known: { fields: Map<string, Map<string, Field>>; byDelegate: Map<string, string> } | undefined;

/** The models' fields, and each model by the name of its delegate on the client (its own, with a lower-case initial). */
function datamodel() {
  if (!known) {
    const models = getDatamodel().datamodel.models as unknown as Record<string, { fields: Field[] }>;
    const fields = new Map(Object.entries(models).map(([name, m]) => [name, new Map(m.fields.map((f) => [f.name, f]))]));
    known = { fields, byDelegate: new Map([...fields.keys()].map((name) => [delegateName(name), name])) };
  }
  return known;
}

const delegateName = (model: string) => model[0]!.toLowerCase() + model.slice(1);

function fieldsOf(model: string): Map<string, Field> {
  const fields = datamodel().fields.get(model);
  if (!fields) throw new Error(`The Prisma datamodel has no model ${model}`);
  return fields;
}

/**
 * The terms of `orderBy`, which must be required scalar fields ending with a unique one,
 * so that rows are in one order and a row's values place it. A time is read back as a
 * JavaScript Date, to the millisecond, as every time column is stored (Timestamptz(3)).
 */
function orderTermsOf(model: string, orderBy: unknown): OrderTerm[] {
  const fields = fieldsOf(model);
  const list = (Array.isArray(orderBy) ? orderBy : orderBy ? [orderBy] : []) as Record<string, unknown>[];
  const terms = list.flatMap((o) =>
    Object.entries(o).map(([field, dir]) => {
      const f = fields.get(field);
      if (!f || f.kind === 'object' || !f.isRequired || (dir !== 'asc' && dir !== 'desc')) {
        throw new Error(`Paging ${model} from a cursor: the order ${JSON.stringify(o)} is not a required field, ascending or descending`);
      }
      return { field, descending: dir === 'desc' };
    }),
  );
  const last = terms.length ? fields.get(terms.at(-1)!.field)! : undefined;
  if (!last?.isId && !last?.isUnique) throw new Error(`Paging ${model} from a cursor: the order must end with a unique field`);
  return terms;
}

/**
 * The rows after `row` in the order `terms` (before it, `backward`), as a Prisma where:
 * each term decides when the terms before it are equal. What the engine's row
 * comparison `(columns) > (the cursor row's columns)` says, for an order all one way.
 */
function afterRowWhere(terms: OrderTerm[], row: Row, backward: boolean): Args {
  return {
    OR: terms.map((t, i) => ({
      AND: [...terms.slice(0, i).map((e) => ({ [e.field]: row[e.field] })), { [t.field]: { [t.descending !== backward ? 'lt' : 'gt']: row[t.field] } }],
    })),
  };
}

/** No rows (Prisma reads an empty OR as no filter): the page of a cursor whose row no longer exists, which has no place in the order, as the engine's comparison with no row is never true. */
const noRows = (terms: OrderTerm[]): Args => ({ [terms.at(-1)!.field]: { in: [] } });

const isObject = (v: unknown): v is Args => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whether a read, or a relation it selects, pages from a cursor. */
function hasCursor(args: unknown): boolean {
  if (!isObject(args)) return false;
  if (args.cursor !== undefined) return true;
  for (const key of ['select', 'include']) {
    const nested = args[key];
    if (isObject(nested) && Object.values(nested).some(hasCursor)) return true;
  }
  return false;
}

type Lookup = (model: string, where: unknown, select: Record<string, true>) => Promise<Row | null>;

/** `args` of a read of `model` with every cursor in it (and in the relations it selects) made a where on the cursor row's values. */
async function keysetArgs(model: string, args: Args, lookup: Lookup): Promise<Args> {
  const out: Args = { ...args };
  const fields = fieldsOf(model);
  for (const key of ['select', 'include']) {
    const nested = args[key];
    if (!isObject(nested) || !Object.values(nested).some(hasCursor)) continue;
    const entries = await Promise.all(
      Object.entries(nested).map(async ([name, value]) => {
        const relation = fields.get(name);
        return [name, relation?.kind === 'object' && hasCursor(value) ? await keysetArgs(relation.type, value as Args, lookup) : value] as const;
      }),
    );
    out[key] = Object.fromEntries(entries);
  }
  if (args.cursor === undefined) return out;
  // Prisma counts the cursor's row in `skip`; the plugin skips just that one, which the keyset leaves out already.
  if (args.skip !== 1) throw new Error(`Paging ${model} from a cursor: only the plugin's form (skip: 1) is read by keyset`);
  const { cursor, skip: _skip, ...rest } = out;
  const terms = orderTermsOf(model, args.orderBy);
  const row = await lookup(model, cursor, Object.fromEntries(terms.map((t) => [t.field, true])));
  const backward = typeof args.take === 'number' && args.take < 0;
  const keyset = row ? afterRowWhere(terms, row, backward) : noRows(terms);
  return { ...rest, where: rest.where === undefined ? keyset : { AND: [rest.where, keyset] } };
}

type Method = (args?: unknown, ...rest: unknown[]) => unknown;

/**
 * `client` with every model operation whose arguments page from a cursor sent with the
 * keyset instead (after reading the cursor's row); any other is passed on untouched, as
 * the very call (a Prisma promise, which batches and transactions need).
 */
export function keysetPaging(client: PrismaClient): PrismaClient {
  const lookup: Lookup = (model, where, select) => {
    const delegate = (client as unknown as Record<string, { findUnique: (a: Args) => Promise<Row | null> }>)[delegateName(model)]!;
    return delegate.findUnique({ where, select });
  };
  const wrapped = new WeakMap<object, object>();
  const wrap = (model: string, delegate: Record<string, unknown>) => {
    const methods = new Map<PropertyKey, Method>();
    return new Proxy(delegate, {
      get(target, property) {
        const value = Reflect.get(target, property, target) as unknown;
        if (typeof value !== 'function') return value;
        let method = methods.get(property);
        if (!method) {
          const call = value as Method;
          method = (args, ...rest) => (hasCursor(args) ? keysetArgs(model, args as Args, lookup).then((a) => call.call(target, a, ...rest)) : call.call(target, args, ...rest));
          methods.set(property, method);
        }
        return method;
      },
    });
  };
  return new Proxy(client, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value === 'function' && typeof property === 'string' && property.startsWith('$')) return value.bind(target);
      if (typeof property !== 'string' || typeof value !== 'object' || value === null) return value;
      const model = datamodel().byDelegate.get(property);
      if (!model) return value;
      let delegate = wrapped.get(value);
      if (!delegate) wrapped.set(value, (delegate = wrap(model, value as Record<string, unknown>)));
      return delegate;
    },
  });
}

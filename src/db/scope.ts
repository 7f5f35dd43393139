import { AsyncLocalStorage } from 'node:async_hooks';
import type { PrismaClient } from '../generated/prisma/client.ts';
import { logger } from '../observability/logger.ts';

// Row-level security (migration row_level_security): every statement runs with the
// setting `igs.organizations` naming the organizations it may see, '*' for all. A
// request is scoped to the organizations its viewer may see once its operation is
// valid and about to run (plugins/row-scope.ts); before that (authentication itself)
// and outside requests (background jobs, scripts) statements act for the server and
// see everything. Code that must act
// beyond the request's organizations on purpose (a merge spanning two) says so with
// `asSystem`.

/** Every organization, or these. */
export type Scope = '*' | readonly string[];

interface Holder {
  /** The scope's setting, or null while the request acts for the server. */
  setting: string | null;
}

const holders = new AsyncLocalStorage<Holder>();
const SYSTEM: Holder = { setting: null };

/** Runs a request's handling in a scope of its own, acting for the server until `scopeRequestTo`. */
export function inRequestScope<T>(handle: () => T): T {
  return holders.run({ setting: null }, handle);
}

/**
 * From now on the current request's statements see `scope`. Known before any of them
 * runs: working it out inside a statement's connection would wait on itself.
 */
export function scopeRequestTo(scope: Scope): void {
  const holder = holders.getStore();
  if (holder && holder !== SYSTEM) holder.setting = scope === '*' ? '*' : scope.join(',');
}

/**
 * Runs `work` acting for the server: its statements see every organization. Awaited
 * inside, as Prisma's queries start only when awaited. A transaction keeps the scope it
 * started with: start it inside, not around, `asSystem`.
 */
export function asSystem<T>(work: () => T | Promise<T>): Promise<T> {
  return holders.run(SYSTEM, async () => await work());
}

/** The value of `igs.organizations` for a statement made now. */
export function currentScope(): string {
  return holders.getStore()?.setting ?? '*';
}

/** The SQL that sets the scope for the rest of the connection's session. */
export const SET_SESSION = "SELECT set_config('igs.organizations', $1, false)";

/**
 * Wraps a statement so that it sets its own scope before it reads anything: the scope
 * is the last parameter, set for the statement's transaction only, and the statement
 * runs as the inner side of a lateral join on it, which PostgreSQL evaluates after it.
 * One statement, one round trip; nothing stays set on the connection.
 */
export function scopedText(text: string, parameterCount: number): string {
  return (
    `SELECT igs_q.* FROM (SELECT set_config('igs.organizations', $${parameterCount + 1}::text, true) AS igs_scope) igs_s ` +
    `CROSS JOIN LATERAL (SELECT * FROM (${text}) igs_inner WHERE igs_s.igs_scope IS NOT NULL OFFSET 0) igs_q`
  );
}

/**
 * Keeps Prisma from answering lookups of two scopes with one statement: it gathers the
 * `findUnique` calls of one tick into batches, and sends every batch from the context
 * of the first caller, whose scope would then filter the others' rows. Here batches
 * stay per request (or per background job), and each is sent in its own callers' scope.
 */
export function batchPerScope(prisma: PrismaClient): void {
  type Loader = (request: object) => unknown;
  const options = (prisma as unknown as {
    _requestHandler?: { dataloader?: { options?: { batchBy?: (request: object) => string | undefined; singleLoader?: Loader; batchLoader?: (requests: object[]) => unknown } } };
  })._requestHandler?.dataloader?.options;
  const { batchBy, singleLoader, batchLoader } = options ?? {};
  if (!options || !batchBy || !singleLoader || !batchLoader) {
    throw new Error('Prisma client internals changed: cannot keep lookup batches per request (src/db/scope.ts)');
  }
  const ids = new WeakMap<Holder, number>();
  const holderOf = new WeakMap<object, Holder>();
  let next = 0;
  options.batchBy = (request) => {
    const key = batchBy(request);
    const holder = holders.getStore();
    if (key === undefined || !holder || key.startsWith('transaction-') || key.startsWith('itx-')) return key;
    holderOf.set(request, holder);
    let id = ids.get(holder);
    if (id === undefined) ids.set(holder, (id = next++));
    return `${key}@${id}`;
  };
  const within = <T>(request: object | undefined, send: () => T): T => {
    const holder = request && holderOf.get(request);
    return holder ? holders.run(holder, send) : send();
  };
  options.singleLoader = (request) => within(request, () => singleLoader(request));
  options.batchLoader = (requests) => within(requests[0], () => batchLoader(requests));
}

/** Says at start when the server's role is not bound by row-level security (README "Database roles"). */
export async function warnIfAboveThePolicies(db: { query: (sql: string) => Promise<Record<string, unknown>[]> }): Promise<void> {
  const [role] = await db.query(
    `SELECT current_user AS name, r.rolsuper AS superuser, r.rolbypassrls AS bypass,
       EXISTS (SELECT 1 FROM pg_class c WHERE c.relowner = r.oid AND c.relnamespace = current_schema()::regnamespace) AS owner
     FROM pg_roles r WHERE r.rolname = current_user`,
  );
  if (role && (role.superuser || role.bypass || role.owner)) {
    logger.warn(
      { role: role.name },
      'DATABASE_URL connects as a role that row-level security does not bind (a superuser, BYPASSRLS or the tables\' owner): connect as a member of identity_graph_app and migrate with MIGRATION_DATABASE_URL',
    );
  }
}

import { Kind, type DocumentNode, type ExecutionResult, type OperationDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { createContext, type Context } from '../context.ts';
import { database, sql, statement } from '../db.ts';
import { beginRoute, formatLsn, parseLsn, type ReadRoute } from '../db/replicas.ts';
import { MemoryRecentWrites, RedisRecentWrites, type RecentWrites } from '../db/recent-writes.ts';
import { ApiError, ErrorCode } from '../errors.ts';
import { errorFields, logger } from '../observability/logger.ts';

// Which server answers an operation's reads, when the database has read replicas
// (src/db/replicas.ts). A query goes to a healthy replica unless it must read the
// current state: it carries a consistency token the replicas have not replayed yet, or
// its credential wrote in its organization within READ_YOUR_WRITES_MS. A mutation stays
// on the primary and answers with a consistency token: the primary's WAL position once
// it is done, which its commits end before. A query on a replica that fails while the
// replica turns out to be down runs again on the primary.

/** Request and response header of the consistency token; the response has it in `extensions.consistencyToken` too. */
export const CONSISTENCY_HEADER = 'x-consistency-token';
/** Outside production, a request with this header learns where its reads ran: `extensions.readDiagnostics`. */
export const DIAGNOSTICS_HEADER = 'x-read-diagnostics';

export interface ReadRoutingOptions {
  readYourWritesMs: number;
  /** Shared store of recent writes; in process memory when absent. */
  redisUrl?: string | undefined;
  diagnostics: boolean;
}

const IN_RECOVERY = statement('read_diagnostics', 'SELECT pg_is_in_recovery() AS in_recovery');

function operationOf(document: DocumentNode, operationName: string | null | undefined): OperationDefinitionNode | undefined {
  return document.definitions.find(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION && (!operationName || d.name?.value === operationName),
  );
}

/**
 * The keys of recent writes a request reads after (`reads`) or writes under
 * (`writes`): by credential and organization, and `any` for reads not narrowed to one
 * organization. A write not narrowed to one may touch any organization.
 */
function recentKeys(ctx: Context): { reads: string[]; writes: string[] } | null {
  const v = ctx.viewer;
  const credential = v.kind === 'user' ? `user:${v.userId}` : v.kind === 'apiKey' ? `key:${v.apiKeyId}` : null;
  if (!credential) return null;
  const org = ctx.access.scopeOrganizationId;
  return org
    ? { reads: [`${credential}:${org}`, `${credential}:unscoped`], writes: [`${credential}:${org}`, `${credential}:any`] }
    : { reads: [`${credential}:any`], writes: [`${credential}:unscoped`, `${credential}:any`] };
}

const withExtension = (result: ExecutionResult, name: string, value: unknown): ExecutionResult => ({
  ...result,
  extensions: { ...result.extensions, [name]: value },
});

export function useReadRouting(options: ReadRoutingOptions): Plugin {
  const routes = new WeakMap<Request, ReadRoute>();
  const tokens = new WeakMap<Request, bigint>();
  let recent: RecentWrites | undefined;
  const recentWrites = () => (recent ??= options.redisUrl ? new RedisRecentWrites(options.redisUrl) : new MemoryRecentWrites());

  /** Whether the request's credential wrote lately; true when that cannot be known (the safe side). */
  async function wroteLately(ctx: Context): Promise<boolean> {
    const keys = recentKeys(ctx);
    if (!keys || options.readYourWritesMs === 0) return false;
    try {
      return await recentWrites().any(keys.reads);
    } catch (err) {
      logger.warn(errorFields(err), 'recent-writes check failed; the read goes to the primary');
      return true;
    }
  }

  return {
    onRequest({ request }) {
      if (database?.replicas) routes.set(request, beginRoute());
    },
    async onExecute({ args, executeFn, setResultAndStopExecution }) {
      const replicas = database?.replicas;
      const ctx = args.contextValue as unknown as Context & { request: Request };
      const route = routes.get(ctx.request);
      if (!replicas || !route) return;
      const diagnose = options.diagnostics && ctx.request.headers.has(DIAGNOSTICS_HEADER);
      const describe = async (result: ExecutionResult) => {
        if (!diagnose) return result;
        const [row] = await sql<{ in_recovery: boolean }>(IN_RECOVERY, []);
        return withExtension(result, 'readDiagnostics', { inRecovery: row?.in_recovery });
      };
      const op = operationOf(args.document as DocumentNode, args.operationName);

      if (op?.operation !== 'query') {
        // Everything a mutation reads and writes is on the primary, for the rest of the request too.
        route.primaryOnly = true;
        route.replica = null;
        if (op?.operation !== 'mutation') return;
        return {
          async onExecuteDone({ result, setResult }) {
            const position = await replicas.position();
            tokens.set(ctx.request, position > (tokens.get(ctx.request) ?? 0n) ? position : tokens.get(ctx.request)!);
            const keys = recentKeys(ctx);
            if (keys && options.readYourWritesMs > 0) {
              await recentWrites()
                .mark(keys.writes, options.readYourWritesMs)
                .catch((err: unknown) => logger.warn(errorFields(err), 'recent-writes store failed; reads may go to replicas'));
            }
            setResult(await describe(withExtension(result as ExecutionResult, 'consistencyToken', formatLsn(position))));
          },
        };
      }

      const given = ctx.request.headers.get(CONSISTENCY_HEADER);
      const atLeast = given === null ? null : parseLsn(given);
      if (given !== null && atLeast === null) {
        setResultAndStopExecution({
          errors: [new ApiError(ErrorCode.BAD_USER_INPUT, `${CONSISTENCY_HEADER} must be a consistency token a mutation answered, like 0/16B3748.`)],
        });
        return;
      }
      if (!route.primaryOnly && !(await wroteLately(ctx))) route.replica = replicas.choose(atLeast);
      return {
        async onExecuteDone({ result, setResult }) {
          let answer = result as ExecutionResult;
          const replica = route.replica;
          // A failing replica: the read runs again, on the primary, with a fresh context
          // (its loaders may hold the failures).
          if (replica && answer.errors?.length && !(await replicas.probe(replica))) {
            route.replica = null;
            const { viewer, requestedOrganizationId, requestId } = ctx;
            const contextValue = { ...ctx, ...createContext({ viewer, requestedOrganizationId, requestId }) };
            answer = (await executeFn({ ...args, contextValue })) as ExecutionResult;
          }
          setResult(await describe(answer));
        },
      };
    },
    onResponse({ request, response }) {
      const token = tokens.get(request);
      if (token !== undefined) response.headers.set(CONSISTENCY_HEADER, formatLsn(token));
    },
  };
}

import type { FieldNode } from 'graphql';
import type { Context, CredentialCheck, Viewer } from '../../../context.ts';
import { ApiError, ErrorCode } from '../../../errors.ts';
import { logger } from '../../../observability/logger.ts';
import { isDatabaseUnavailable } from '../../../plugins/errors.ts';
import { Builder, type PlanInfo } from './builder.ts';
import { credentialHeld, send } from './send.ts';
import { Unplannable, type JsonText, type Parts, type PlanRow } from './text.ts';

// Compiles the selection under a root field and runs its one statement. A selection
// the engine does not compile, and a statement that fails, leave the read to the
// general path: both are logged (once per operation for a selection, every time for a
// failure) and counted (`engineCounts`, in /metrics), as is a read whose remembered
// credential turned out changed.

let planning = true;

/** Turns compiled reads off (every read takes the general path) or on; tests compare the two. */
export function setPlannedReads(enabled: boolean): void {
  planning = enabled;
}

/**
 * Reads answered by a compiled statement, left to the general path, whose statement
 * failed, or whose statement found the remembered credential changed (the request
 * reads it again and is answered another way); by root field.
 */
export const engineCounts = {
  compiled: new Map<string, number>(),
  fallback: new Map<string, number>(),
  failed: new Map<string, number>(),
  credentialChanged: new Map<string, number>(),
};
const count = (m: Map<string, number>, field: string) => m.set(field, (m.get(field) ?? 0) + 1);

/** Root field nodes (of cached documents) and the messages logged about them already. */
const logged = new WeakMap<FieldNode, Set<string>>();

/** A read as of a past moment of something only the present has: BAD_USER_INPUT naming it. */
export function notAsOf(field: string, what: string): ApiError {
  return new ApiError(ErrorCode.BAD_USER_INPUT, `${field}: ${what} is not available as of a past moment`, {
    details: [{ path: 'asOf', message: `${what} is not available as of a past moment` }],
  });
}

/** A plan's statement and how its answer is put together. */
export interface Plan {
  parts: Parts;
  text: string;
}

/** How a plan is built: see Builder. */
export interface PlanOptions {
  readableRoot?: string | null;
  asOf?: Date | null;
  /**
   * Leave the fields the engine cannot compile to the general path (compiled.ts) instead
   * of refusing the plan. A root planner passes it only when its resolver compiles the
   * same read (the same build of the same inputs) with holes: a plan with holes built
   * before execution is then kept for that resolver.
   */
  holes?: boolean;
}

/** Root fields' plan infos made before execution (plugins/planned-operations.ts), to answer the whole operation. */
const operationRoots = new WeakSet<PlanInfo>();

/** Marks `info` as a root field's before execution: see planAndRun. */
export function beforeExecution(info: PlanInfo): PlanInfo {
  operationRoots.add(info);
  return info;
}

/**
 * Reads with holes answered before execution, by request and root field node, for the
 * root's resolver, with what they were made for; null: refused, or the statement
 * failed. The resolver takes one only while the viewer (read again in between,
 * context.ts confirmViewer) has the same facts, so that the read is built and run once
 * per request.
 */
interface Kept {
  viewer: Viewer;
  readableRoot: string | null;
  built: { answer: JsonText | null } | null;
}
const kept = new WeakMap<Context, Map<FieldNode, Kept>>();

/** Root field nodes whose plan with holes had none left but depended on them (a union's objects carry their type): built without holes first. */
const typed = new WeakSet<FieldNode>();

/** A viewer's facts, without whether they came from memory. */
const factsOf = (v: Viewer) => JSON.stringify(v, (k, value: unknown) => (k === 'unconfirmed' ? undefined : value instanceof Map ? [...value] : value));

function takeKept(ctx: Context, node: FieldNode, readableRoot: string | null): Kept['built'] | undefined {
  const byNode = kept.get(ctx);
  const k = byNode?.get(node);
  if (!k) return undefined;
  byNode!.delete(node);
  const same = k.readableRoot === readableRoot && (k.viewer === ctx.viewer || factsOf(k.viewer) === factsOf(ctx.viewer));
  return same ? k.built : undefined;
}

/** Whether a read of the root field `node` was made before execution and waits for its resolver (see planAndRun). */
export const keptForResolver = (ctx: Context, node: FieldNode): boolean => kept.get(ctx)?.has(node) ?? false;

function keep(ctx: Context, node: FieldNode, readableRoot: string | null, built: Kept['built']): void {
  let byNode = kept.get(ctx);
  if (!byNode) kept.set(ctx, (byNode = new Map()));
  byNode.set(node, { viewer: ctx.viewer, readableRoot, built });
}

/**
 * Compiles the subtree under the field being resolved with `build` and runs it: its
 * JSON answer (null: no row), or undefined when it is left to the general path.
 */
export async function planAndRun(
  ctx: Context,
  info: PlanInfo,
  build: (b: Builder) => Plan,
  { readableRoot = null, asOf = null, holes = false }: PlanOptions = {},
): Promise<JsonText | null | undefined> {
  if (!planning && !asOf) return undefined;
  const node = info.fieldNodes[0]!;
  const field = node.name.value;
  holes &&= !asOf;
  // Before execution, with holes: a plan with none left answers the operation; the
  // answer of one with holes left waits for the root's resolver, as does a refusal.
  const first = holes && operationRoots.has(info);
  const taken = holes && !first ? takeKept(ctx, node, readableRoot) : undefined;
  if (taken !== undefined) return taken?.answer;
  // Only the engine reads the past: the general path would answer the present.
  // Both lists come from the roles the request read once (Access.organizationIdsWith).
  const [readable, administered] = await Promise.all([ctx.access.readableOrganizationIds(), ctx.access.organizationIdsWith('admin')]);
  const attempt = (withHoles: boolean) => {
    const b = new Builder(info, ctx, readable, administered, readableRoot, asOf, withHoles);
    return { b, plan: build(b) };
  };
  const withHoles = holes && !(first && typed.has(node));
  let built: Built;
  try {
    built = attempt(withHoles);
  } catch (err) {
    if (!(err instanceof Unplannable)) throw err;
    if (asOf) throw notAsOf(field, err.message);
    count(engineCounts.fallback, field);
    logOnce(node, { field, reason: err.message }, holes && !first ? 'read not compiled; the general path answers it' : 'operation not answered by one statement; its resolvers run');
    if (first && withHoles) keep(ctx, node, readableRoot, null);
    return undefined;
  }
  if (first && built.b.holesLeft.length) {
    count(engineCounts.fallback, field);
    logOnce(node, { field, holes: built.b.holesLeft }, 'operation not answered by one statement; its resolvers run');
    // Run now, beside the other root fields' reads: a remembered credential is then
    // checked by this statement, and the rest of the operation need not read it again.
    let answer: JsonText | null | undefined;
    try {
      answer = await execute(ctx, node, built, null);
    } catch (err) {
      if (err instanceof CredentialChanged) return undefined;
      throw err;
    }
    keep(ctx, node, readableRoot, answer === undefined ? null : { answer });
    return undefined;
  }
  if (first && built.b.holesAsked) {
    // Nothing left to the general path, but the objects carry what it would need.
    typed.add(node);
    built = attempt(false);
  }
  return execute(ctx, node, built, asOf);
}

interface Built {
  b: Builder;
  plan: Plan;
}

/**
 * Runs a built read: its answer, or undefined when its statement failed (the general
 * path answers). A read that checked a remembered credential and found it unchanged
 * confirms the request's viewer: what else the request reads needs no other check.
 */
async function execute(ctx: Context, node: FieldNode, { b, plan }: Built, asOf: Date | null): Promise<JsonText | null | undefined> {
  const field = node.name.value;
  for (const hole of b.holesLeft) count(engineCounts.fallback, hole.slice(0, hole.indexOf(':')));
  if (b.holesLeft.length) logOnce(node, { field, holes: b.holesLeft }, 'fields left to the general path');
  const check = ctx.viewer.kind === 'anonymous' ? undefined : ctx.viewer.unconfirmed;
  const read = { text: plan.text, params: b.params, columns: ['found', ...plan.parts.columns.map((_, i) => `c${i}`)], check };
  const answer = (rows: PlanRow[]) => {
    if (check && !credentialHeld(rows[0])) {
      count(engineCounts.credentialChanged, field);
      throw new CredentialChanged();
    }
    if (check) confirmedBy(ctx, check);
    return plan.parts.render(rows[0] ?? null);
  };
  if (asOf) return answer(await send(ctx, node, read));
  let rows: PlanRow[];
  try {
    rows = await send(ctx, node, read);
  } catch (err) {
    // A database that cannot serve now (every connection busy, a restart) is no fault
    // of the plan: the general path would wait for the same connections, so the read
    // answers SERVICE_UNAVAILABLE at once.
    if (isDatabaseUnavailable(err)) throw err;
    count(engineCounts.failed, field);
    logger.warn({ field, error: (err as Error).message }, 'compiled read failed; the general path answers it');
    return undefined;
  }
  const answered = answer(rows);
  count(engineCounts.compiled, field);
  return answered;
}

/** The viewer's credential, remembered, was found unchanged by `check`: the viewer is as good as one read in this request. */
function confirmedBy(ctx: Context, check: CredentialCheck): void {
  if (ctx.viewer.kind !== 'anonymous' && ctx.viewer.unconfirmed === check) ctx.viewer = { ...ctx.viewer, unconfirmed: undefined };
}

/** A compiled read whose viewer came from memory found the credential changed: the request must read it again. */
export class CredentialChanged extends Error {
  constructor() {
    super('the credential changed since it was last read');
  }
}

function logOnce(node: FieldNode, details: object, message: string): void {
  const messages = logged.get(node) ?? new Set<string>();
  if (messages.has(message)) return;
  logged.set(node, messages.add(message));
  logger.info(details, message);
}

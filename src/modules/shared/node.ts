import { resolveNodes } from '@pothos/plugin-relay';
import { builder } from '../../builder.ts';
import type { Context } from '../../context.ts';
import { AS_OF_DESCRIPTION, checkedMoment } from './as-of.ts';
import {
  compiledList,
  compiledNodeRule,
  compiledObject,
  JsonText,
  notAsOf,
  type NodePosition,
  type PlanInfo,
  prebuiltNode,
  prebuiltNodes,
  prebuiltNodesAsOf,
  rootPlanners,
  soleElement,
} from './engine/index.ts';
import { globalIdParts } from './validate.ts';
import { isUuid } from './visibility.ts';

// `node(id, asOf)` and `nodes(ids, asOf)`: any object by its global id, now or as it was
// at a past moment. A module whose ids can lead elsewhere (a merged user to its
// survivor) registers a redirect (and leads for the engine, now and as of a moment:
// engine/in-order.ts); an organization, whose moment is checked against its own
// horizon, registers how it is read. Every other type declared with compiledNode is
// read as of a moment by the engine, all ids of all such types in one statement; the
// rest answer BAD_USER_INPUT. Now, `nodes` of such types alone is one statement too.

type Redirect = (ids: string[]) => Promise<Map<string, string>>;
interface ReadAsOf {
  /** The organization whose history horizon the moment is checked against for `id` (null: any); undefined: the id answers null. */
  horizon: (ctx: Context, id: string) => Promise<string | null | undefined>;
  /** The object as it was at the moment, once checked. */
  read: (ctx: Context, info: PlanInfo, id: string, moment: Date) => Promise<JsonText | null>;
}
type Parts = { typename: string; id: string } | null;

const redirects = new Map<string, Redirect>();
const readers = new Map<string, ReadAsOf>();

/** Where ids of `typename` that load nothing lead instead; `node` and `nodes` follow it. */
export function redirectNodes(typename: string, redirect: Redirect): void {
  redirects.set(typename, redirect);
}

/** Where ids of `typename` that load nothing lead, when they lead anywhere (federation's `_entities` follows it too). */
export const nodeRedirect = (typename: string): Redirect | undefined => redirects.get(typename);

/** How `node(id, asOf)` reads an object of `typename` as it was, by rules of its own. */
export function readNodeAsOf(typename: string, read: ReadAsOf): void {
  readers.set(typename, read);
}

/**
 * The objects of global ids as they were at `asOf`, in order, as a JSON list (null
 * where there was none visible). Each id is checked in order, as `node` checks one:
 * the moment against its horizon, then its type.
 */
async function nodesAsOf(ctx: Context, info: PlanInfo, list: Parts[], asOf: Date): Promise<JsonText> {
  const checked = new Map<string | null, Promise<Date>>();
  const check = (organizationId: string | null) => {
    if (!checked.has(organizationId)) checked.set(organizationId, checkedMoment(organizationId, asOf));
    return checked.get(organizationId)!;
  };
  const positions: NodePosition[] = [];
  const own = new Map<string, number[]>();
  for (const parts of list) {
    const reader = parts && readers.get(parts.typename);
    const horizon = !parts ? undefined : reader ? await reader.horizon(ctx, parts.id) : null;
    if (horizon !== undefined) await check(horizon);
    if (parts && !reader && !compiledNodeRule(parts.typename)) throw notAsOf('node', `an object of type ${parts.typename}`);
    if (reader && horizon !== undefined) {
      const key = `${parts!.typename}:${parts!.id}`;
      own.set(key, [...(own.get(key) ?? []), positions.length]);
    }
    positions.push(horizon === undefined || reader ? null : parts);
  }
  // Objects read by rules of their own, once per id; the engine puts them in their places.
  for (const [key, at] of own) {
    const [typename, id] = key.split(':') as [string, string];
    const answer = await readers.get(typename)!.read(ctx, info, id, asOf);
    for (const i of at) positions[i] = answer;
  }
  if (positions.some((p) => p && !(p instanceof JsonText))) return prebuiltNodesAsOf(ctx, info, positions, asOf);
  return new JsonText(`[${positions.map((p) => (p as JsonText | null)?.text ?? 'null').join(',')}]`);
}

/**
 * `nodes(ids)` now, compiled: each id's row under its type's rule, from where its type
 * leads it (engine/in-order.ts, leadNode, as the redirects here do). Undefined, for the
 * general path, when any id is no UUID of a type declared with compiledNode.
 */
function nodesNow(ctx: Context, info: PlanInfo, list: Parts[], holes: boolean): Promise<JsonText | undefined> | undefined {
  if (!list.every((p) => p && isUuid(p.id) && compiledNodeRule(p.typename))) return undefined;
  return prebuiltNodes(ctx, info, list, null, holes);
}

const nodeAsOf = async (ctx: Context, info: PlanInfo, parts: Parts, asOf: Date) => soleElement(await nodesAsOf(ctx, info, [parts], asOf));

// A whole operation of one `node` is one statement (plugins/planned-operations.ts). A
// type with a redirect that finds nothing takes the general path, which follows it. A
// plan with holes is kept for the resolver (`node`'s and `nodes`' compile the same read).
rootPlanners.set('node', async (ctx, info, args) => {
  if (args.asOf) return nodeAsOf(ctx, info, globalIdParts(String(args.id)), args.asOf as Date);
  const parts = globalIdParts(String(args.id));
  if (!parts) return undefined;
  const answer = await prebuiltNode(ctx, info, parts.typename, parts.id, null, true);
  return redirects.has(parts.typename) ? (answer ?? undefined) : answer;
});
rootPlanners.set('nodes', async (ctx, info, args) => {
  const list = (args.ids as unknown[]).map((id) => globalIdParts(String(id)));
  return args.asOf ? nodesAsOf(ctx, info, list, args.asOf as Date) : nodesNow(ctx, info, list, true);
});

builder.queryFields((t) => ({
  node: t.field({
    type: builder.nodeInterfaceRef(),
    nullable: true,
    description:
      'Fetches any object by its global id; null when it does not exist or is not visible to you. The id of a merged user leads to the user it was merged into.',
    args: {
      id: t.arg.globalID({ required: true, description: 'A global id, as returned in any `id` field.' }),
      asOf: t.arg({ type: 'DateTime', required: false, description: AS_OF_DESCRIPTION }),
    },
    resolve: async (_root, args, ctx, info) => {
      if (args.asOf) return compiledObject(await nodeAsOf(ctx, info, args.id, args.asOf), args.id.typename);
      // Compiled, but for the fields that have no SQL form (they take the general path alone).
      // An id that is no UUID names no row (the general path answers null for it too).
      const answer = isUuid(args.id.id) ? await prebuiltNode(ctx, info, args.id.typename, args.id.id, null, true) : undefined;
      if (answer) return compiledObject(answer, args.id.typename);
      if (answer === null && !redirects.has(args.id.typename)) return null;
      const [found] = await resolveNodes(builder, ctx, info, [args.id]);
      const redirect = redirects.get(args.id.typename);
      if (found || !redirect) return found ?? null;
      // A tombstone's id is swapped for its survivor's; only a miss costs more.
      const survivor = (await redirect([args.id.id])).get(args.id.id);
      if (!survivor) return null;
      const [led] = await resolveNodes(builder, ctx, info, [{ typename: args.id.typename, id: survivor }]);
      return led ?? null;
    },
  }),
  nodes: t.field({
    type: [builder.nodeInterfaceRef()],
    nullable: { list: false, items: true },
    description:
      'Fetches objects by global ids, in order; null for each that does not exist or is not visible to you. Ids of merged users lead to the users they were merged into.',
    args: {
      ids: t.arg.globalIDList({ required: true, description: 'Global ids, as returned in `id` fields.' }),
      asOf: t.arg({ type: 'DateTime', required: false, description: AS_OF_DESCRIPTION }),
    },
    resolve: async (_root, args, ctx, info) => {
      if (args.asOf) return compiledList(await nodesAsOf(ctx, info, args.ids, args.asOf), (i) => args.ids[i]!.typename);
      // Compiled, but for the fields that have no SQL form (they take the general path alone).
      const answer = await nodesNow(ctx, info, args.ids, true);
      if (answer) return compiledList(answer, (i) => args.ids[i]!.typename);
      const all = args.ids;
      const found = await resolveNodes(builder, ctx, info, all);
      const missing = all.flatMap((id, i) => (found[i] == null && redirects.has(id.typename) ? [i] : []));
      const out = [...found];
      for (const [typename, redirect] of redirects) {
        const ofType = missing.filter((i) => all[i]!.typename === typename);
        if (!ofType.length) continue;
        const led = await redirect(ofType.map((i) => all[i]!.id));
        const retry = ofType.filter((i) => led.has(all[i]!.id));
        if (!retry.length) continue;
        const again = await resolveNodes(builder, ctx, info, retry.map((i) => ({ typename, id: led.get(all[i]!.id)! })));
        retry.forEach((i, k) => (out[i] = again[k]));
      }
      return out.map((x) => x ?? null);
    },
  }),
}));

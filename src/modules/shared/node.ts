import { resolveNodes } from '@pothos/plugin-relay';
import { builder } from '../../builder.ts';
import type { Context } from '../../context.ts';
import { AS_OF_DESCRIPTION, checkedMoment } from './as-of.ts';
import { JsonText, notAsOf, type PlanInfo, prebuiltNode, rootPlanners } from './engine/index.ts';
import { globalIdParts } from './validate.ts';

// `node(id, asOf)` and `nodes(ids, asOf)`: any object by its global id, now or as it was
// at a past moment. A module whose ids can lead elsewhere (a merged user to its
// survivor) registers a redirect; one whose objects are read as of a moment by rules of
// their own (a user, an organization) registers how. Every other type declared with
// compiledNode is read as of a moment by the engine; the rest answer BAD_USER_INPUT.

type Redirect = (ids: string[]) => Promise<Map<string, string>>;
type ReadAsOf = (ctx: Context, info: PlanInfo, id: string, asOf: Date) => Promise<JsonText | null>;

const redirects = new Map<string, Redirect>();
const readers = new Map<string, ReadAsOf>();

/** Where ids of `typename` that load nothing lead instead; `node` and `nodes` follow it. */
export function redirectNodes(typename: string, redirect: Redirect): void {
  redirects.set(typename, redirect);
}

/** How `node(id, asOf)` reads an object of `typename` as it was. */
export function readNodeAsOf(typename: string, read: ReadAsOf): void {
  readers.set(typename, read);
}

/** The object of a global id as it was at `asOf` (JSON text); null where there was none visible. */
async function nodeAsOf(ctx: Context, info: PlanInfo, parts: { typename: string; id: string } | null, asOf: Date): Promise<JsonText | null> {
  if (!parts) return null;
  const read = readers.get(parts.typename);
  if (read) return read(ctx, info, parts.id, asOf);
  const moment = await checkedMoment(null, asOf);
  const answer = await prebuiltNode(ctx, info, parts.typename, parts.id, moment);
  if (answer === undefined) throw notAsOf('node', `an object of type ${parts.typename}`);
  return answer;
}

const nodesAsOf = async (ctx: Context, info: PlanInfo, ids: string[], asOf: Date) => {
  const answers: (JsonText | null)[] = [];
  for (const id of ids) answers.push(await nodeAsOf(ctx, info, globalIdParts(id), asOf));
  return new JsonText(`[${answers.map((a) => a?.text ?? 'null').join(',')}]`);
};

// A whole operation of one `node` is one statement (plugins/planned-operations.ts). A
// type with a redirect that finds nothing takes the general path, which follows it.
rootPlanners.set('node', async (ctx, info, args) => {
  if (args.asOf) return nodeAsOf(ctx, info, globalIdParts(String(args.id)), args.asOf as Date);
  const parts = globalIdParts(String(args.id));
  if (!parts) return undefined;
  const answer = await prebuiltNode(ctx, info, parts.typename, parts.id);
  return redirects.has(parts.typename) ? (answer ?? undefined) : answer;
});
rootPlanners.set('nodes', async (ctx, info, args) => (args.asOf ? nodesAsOf(ctx, info, (args.ids as unknown[]).map(String), args.asOf as Date) : undefined));

const notAmongOthers = (field: string) => notAsOf(field, `${field} among other fields of an operation`);

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
      if (args.asOf) {
        // Reached when the operation is more than this one field: say why it is not answered.
        await nodeAsOf(ctx, info, args.id, args.asOf);
        throw notAmongOthers('node');
      }
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
      if (args.asOf) {
        for (const id of args.ids) await nodeAsOf(ctx, info, id, args.asOf);
        throw notAmongOthers('nodes');
      }
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

import { builder } from '../../builder.ts';
import type { Context } from '../../context.ts';
import { prisma } from '../../db.ts';
import { IdentifierRef } from '../identifier/schema.ts';
import { IdentityRef } from '../identity/schema.ts';
import { MemberRef } from '../member/schema.ts';
import { OrganizationRef } from '../organization/schema.ts';
import { compiledNodeRule, compiledRootField, prebuiltNodes, rootPlanners, type NodePosition, type PlanInfo } from '../shared/engine/index.ts';
import { nodeRedirect } from '../shared/node.ts';
import { parseGlobalId } from '../shared/validate.ts';
import { UserRef } from '../user/schema.ts';

// Entities of the subgraph, keyed by `id` (the global id every client already has).
// A representation resolves to what `node(id)` answers for its id: the row under the
// rule node(id) reads its type by (compiledNode, declared beside each type), from where
// its id leads (a merged user's to its survivor), so that another tenant's object
// resolves to null. The general path reads each type's representations with one query
// through a per-request DataLoader; the engine reads the whole list in one statement.

type FindMany<T> = (where: object) => Promise<(T & { id: string })[]>;

/** The types `_entities` resolves, by name. */
const entityTypes = new Set<string>();

/**
 * The rows among `ids` node(id) would answer, by id asked for: each under its type's
 * rule; a miss that leads elsewhere (node.ts, redirectNodes) answered by the row it
 * leads to (only a miss costs a second query).
 */
async function visibleAmong<T>(typename: string, ids: string[], ctx: Context, findMany: FindMany<T>): Promise<Map<string, T>> {
  const visible = compiledNodeRule(typename)!;
  const [readable, administered] = await Promise.all([ctx.access.readableOrganizationIds(), ctx.access.organizationIdsWith('admin')]);
  const read = async (wanted: string[]) =>
    new Map((await findMany({ AND: [{ id: { in: wanted } }, visible(ctx, readable, administered)] })).map((row) => [row.id, row as T]));
  const found = await read(ids);
  const redirect = nodeRedirect(typename);
  const missing = ids.filter((id) => !found.has(id));
  if (!redirect || !missing.length) return found;
  const led = await redirect(missing);
  if (!led.size) return found;
  const more = await read([...new Set(led.values())]);
  for (const [from, to] of led) if (more.has(to)) found.set(from, more.get(to)!);
  return found;
}

/** Declares `ref` an entity keyed by `id`, read as node(id) reads its type (which must be declared with compiledNode). */
function federatedEntity<T>(ref: Parameters<typeof builder.asEntity>[0], typename: string, findMany: FindMany<T>) {
  if (!compiledNodeRule(typename)) throw new Error(`${typename} has no rule node(id) reads it by`);
  entityTypes.add(typename);
  builder.asEntity(ref as never, {
    key: builder.selection<{ id: string }>('id'),
    resolveReference: async ({ id }: { id: string }, ctx: Context) => {
      const uuid = parseGlobalId(id, typename);
      if (uuid === null) return null;
      const loader = ctx.loader<string, T | null>(`entity:${typename}`, async (keys) => {
        const byId = await visibleAmong(typename, [...keys], ctx, findMany);
        return keys.map((k) => byId.get(k) ?? null);
      });
      return loader.load(uuid);
    },
  } as never);
}

federatedEntity(OrganizationRef, 'Organization', (where) => prisma.organization.findMany({ where }));
federatedEntity(UserRef, 'User', (where) => prisma.user.findMany({ where }));
federatedEntity(MemberRef, 'Member', (where) => prisma.member.findMany({ where }));
federatedEntity(IdentifierRef, 'Identifier', (where) => prisma.identifier.findMany({ where }));
federatedEntity(IdentityRef, 'Identity', (where) => prisma.identity.findMany({ where }));

/**
 * The positions of `nodes` the representations ask for, in order: null for an id that is
 * no global id of its type (which resolves to null); undefined, for the general path and
 * its errors, when any is not a representation of an entity type with a string id.
 */
function positionsOf(representations: unknown): NodePosition[] | undefined {
  if (!Array.isArray(representations)) return undefined;
  const positions: NodePosition[] = [];
  for (const representation of representations as { __typename?: unknown; id?: unknown }[]) {
    const typename = representation?.__typename;
    if (typeof typename !== 'string' || !entityTypes.has(typename) || typeof representation.id !== 'string') return undefined;
    const id = parseGlobalId(representation.id, typename);
    positions.push(id === null ? null : { typename, id });
  }
  return positions;
}

/** `_entities` compiled as `nodes` is (engine/in-order.ts): one statement for the whole list, whatever its types. */
const compiledEntities = (ctx: Context, info: PlanInfo, args: Record<string, unknown>) => {
  const positions = ctx.viewer.kind === 'anonymous' ? undefined : positionsOf(args.representations);
  return positions ? prebuiltNodes(ctx, info, positions, null, true, true) : Promise.resolve(undefined);
};

// A whole operation of `_entities` is one statement (plugins/planned-operations.ts).
// Fields with no SQL form are left to the general path: the plan, built once, waits for
// the resolver (compiledRootField), which answers the rest compiled.
rootPlanners.set('_entities', compiledEntities);
compiledRootField('_entities', compiledEntities);

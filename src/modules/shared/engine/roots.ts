import type { FieldNode, GraphQLObjectType } from 'graphql';
import type { Context } from '../../../context.ts';
import { visibleUsersWhere } from '../rules.ts';
import { ROOT, type Builder, type ConnectionQuery, type PlanInfo } from './builder.ts';
import { connectionOf } from './connection.ts';
import { model } from './datamodel.ts';
import { objectOf } from './fields.ts';
import { planAndRun } from './run.ts';
import { objectText, Parts, typename, unplannable, type JsonText, type Value } from './text.ts';
import { whereSql } from './where.ts';

// The root fields whose selection the engine compiles: the object (or list) they find,
// and everything selected under it, in one statement. Each finds its rows by the same
// rules as its resolver (rules.ts); the caller checked the arguments and access.

const viewerId = (ctx: Context) => (ctx.viewer.kind === 'user' ? ctx.viewer.userId : null);

/** `organization(id)`: the organization and what is selected of it; the caller checked the viewer may read it. */
export function prebuiltOrganization(ctx: Context, info: PlanInfo, organizationId: string, asOf: Date | null = null, holes = false): Promise<JsonText | null | undefined> {
  const type = info.schema.getType('Organization') as GraphQLObjectType;
  const m = model('Organization');
  return planAndRun(
    ctx,
    info,
    (b) => {
      const shape = objectOf(b, type, ROOT, info.fieldNodes);
      const parts = new Parts(shape);
      return { parts, text: `SELECT ${parts.select()} FROM ${b.from(m)} ${ROOT} WHERE ${whereSql(b, m, ROOT, { id: organizationId })}` };
    },
    { readableRoot: organizationId, asOf, holes },
  );
}

/**
 * `organizations`: a page of the organizations the viewer may read, under `rule` (the
 * where and order the list's resolver reads with, given the readable ones), paged as
 * every connection is, with what is selected of each as under `organization(id)`.
 */
export function prebuiltOrganizations(
  ctx: Context,
  info: PlanInfo,
  rule: (readable: string[] | 'all') => { where?: unknown; orderBy?: unknown },
  holes = false,
): Promise<JsonText | null | undefined> {
  const query = info.schema.getQueryType()!;
  const listed: ConnectionQuery = (_args, _ctx, _parent, readable) => rule(readable);
  return planAndRun(
    ctx,
    info,
    (b) => {
      const rowOf = (b: Builder, type: GraphQLObjectType, alias: string, nodes: readonly FieldNode[]) => (b.readableRows.add(alias), objectOf(b, type, alias, nodes));
      const parts = new Parts(connectionOf(b, null, '', query, [...info.fieldNodes], listed, rowOf, 'Organization'));
      return { parts, text: `SELECT ${parts.select()}` };
    },
    { holes },
  );
}

/** Which rows of a type the viewer may see, given the organizations they may read and those they administer. */
export type RowsWhere = (ctx: Context, readable: string[] | 'all', administered: string[] | 'all') => object;

const nodes = new Map<string, RowsWhere>();

/** Declares that `node(id)` of `type` is compiled, finding the row under `visible` (the rule its prismaNode's findUnique applies). */
export function compiledNode(type: string, visible: RowsWhere) {
  nodes.set(type, visible);
}

/** The rule `node(id)` of `type` finds its row under, when the type is declared with compiledNode. */
export const compiledNodeRule = (type: string): RowsWhere | undefined => nodes.get(type);

/** One row of `type` matching `where` and what is selected of it; null when there is none. */
export function prebuiltRow(
  ctx: Context,
  info: PlanInfo,
  type: string,
  where: RowsWhere,
  readableRoot: string | null = null,
  asOf: Date | null = null,
  holes = false,
): Promise<JsonText | null | undefined> {
  const objectType = info.schema.getType(type) as GraphQLObjectType;
  const m = model((objectType.extensions as { pothosPrismaModel: string }).pothosPrismaModel);
  return planAndRun(
    ctx,
    info,
    (b) => {
      const parts = new Parts(objectOf(b, objectType, ROOT, info.fieldNodes));
      return { parts, text: `SELECT ${parts.select()} FROM ${b.from(m)} ${ROOT} WHERE ${whereSql(b, m, ROOT, where(ctx, b.readable, b.administered))} LIMIT 1` };
    },
    { readableRoot, asOf, holes },
  );
}

/** `node(id)` of a type declared with compiledNode; undefined for any other type. */
export function prebuiltNode(ctx: Context, info: PlanInfo, type: string, id: string, asOf: Date | null = null, holes = false): Promise<JsonText | null | undefined> | undefined {
  const visible = nodes.get(type);
  return visible && prebuiltRow(ctx, info, type, (c, readable, administered) => ({ AND: [{ id }, visible(c, readable, administered)] }), null, asOf, holes);
}

/** A visible user (rules.ts, visibleUsersWhere; not merged away); null when there is none such. */
export function prebuiltUser(ctx: Context, info: PlanInfo, userId: string, asOf: Date | null = null): Promise<JsonText | null | undefined> {
  return prebuiltRow(ctx, info, 'User', (c, readable) => ({ id: userId, mergedIntoId: null, ...visibleUsersWhere(viewerId(c), readable) }), null, asOf);
}

/**
 * What a compiled resolution selects (`user` and `__typename`), its user being the row
 * ROOT joined when a single user matched: null otherwise.
 */
export function resolutionPairs(b: Builder, info: PlanInfo): [string, Value][] {
  const resolution = info.schema.getType('Resolution') as GraphQLObjectType;
  const pairs: [string, Value][] = [];
  for (const [k, nodes] of b.collect(resolution, info.fieldNodes)) {
    const name = nodes[0]!.name.value;
    if (name === '__typename') pairs.push([k, typename('Resolution')]);
    else if (name === 'user') pairs.push([k, { json: `CASE WHEN ${ROOT}.id IS NOT NULL THEN ${objectText(objectOf(b, b.fieldType(resolution, 'user'), ROOT, nodes).pairs)} END` }]);
    else unplannable(`Resolution.${name}`);
  }
  return pairs;
}

/**
 * Root query fields that can answer a whole operation from one statement: given the
 * field's arguments, the answer of the field, or undefined when it is not compiled.
 * They check the arguments and the viewer's access exactly as the field's resolver.
 */
export type RootPlanner = (ctx: Context, info: PlanInfo, args: Record<string, unknown>) => Promise<unknown>;
export const rootPlanners = new Map<string, RootPlanner>();

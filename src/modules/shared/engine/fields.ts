import type { FieldNode, GraphQLObjectType } from 'graphql';
import type { Context } from '../../../context.ts';
import { ROOT, type Builder, type ConnectionQuery } from './builder.ts';
import { connectionOf } from './connection.ts';
import { model, type Model } from './datamodel.ts';
import { readableOrganizationsRule, readableWhere } from '../rules.ts';
import { globalId, isRowHole, iso, listText, objectText, ROW_KEY, rowHole, TYPE_KEY, typename, Unplannable, unplannable, type Shape, type Value } from './text.ts';
import { orderSql, orderTerms, whereSql } from './where.ts';

// How each field of a table-backed type is compiled. Most need no declaration: a
// Pothos `t.expose…` field is its column, a `t.relation` to one row is a join and a
// prismaNode's `id` is its global id, all read from the Pothos field and the Prisma
// datamodel. A field with its own resolver, auth scopes or arguments is compiled only
// when declared here next to its Pothos field (`compiledConnection`, `compiledField`),
// and refused otherwise: a field changed to compute its value stops being compiled.

/** SQL of a declared field's value for the row `alias` of its type. */
export type FieldSql = (b: Builder, alias: string, nodes: FieldNode[], parent: GraphQLObjectType) => Value;

const declared = new Map<string, { sql: FieldSql } | { connection: ConnectionQuery; over?: string }>();

/**
 * Declares a Pothos `relatedConnection` to the engine: `query` is the very function
 * given to Pothos (its where and order, from the field's arguments). A connection whose
 * auth scopes ask the viewer to read or administer its row's organization (scopesAsk
 * reads which from the scopes themselves) is compiled where that is known of the row
 * (`organizationsOf`) and decided per row where it is not: in the rows of the others its
 * resolver answers (FORBIDDEN, as its scopes say). A `prismaConnection` over a model
 * with no relation to its parent names it (`over`): its query links the rows to the
 * parent's id.
 */
export function compiledConnection(type: string, field: string, query: ConnectionQuery, { over = undefined as string | undefined } = {}) {
  declared.set(`${type}.${field}`, { connection: query, over });
}

/** The scopes (src/builder.ts) a connection's auth scopes may ask of its row's organization, and what each asks. */
const ORGANIZATION_SCOPES: Record<string, 'read' | 'admin'> = { orgRead: 'read', orgAdmin: 'admin' };
const ROW = 'row.';
const asked = new Map<string, 'read' | 'admin' | null | 'unreadable'>();

/**
 * What the auth scopes of the field `name` of `type` ask of its row's organization:
 * nothing (null), to read it or to administer it. Read once per field by calling the
 * field's scope function on a stand-in row whose properties answer their own names, so
 * the rule stays written once, on the Pothos field; scopes of any other form (another
 * scope, another column than the one that names the row's organization, the context or
 * the arguments) are refused.
 */
function scopesAsk(type: GraphQLObjectType, m: Model, name: string, scopes: unknown): 'read' | 'admin' | null {
  const key = `${type.name}.${name}`;
  let level = asked.get(key);
  if (level === undefined) {
    level = scopes === undefined ? null : readScopes(scopes, m.fields.has('organizationId') ? 'organizationId' : 'id');
    asked.set(key, level);
  }
  return level === 'unreadable' ? unplannable(`${key}: auth scopes the engine cannot read`) : level;
}

/** What the scope function `scopes` asks of the organization its row names in `column` (exported for tests). */
export function readScopes(scopes: unknown, column: string): 'read' | 'admin' | 'unreadable' {
  if (typeof scopes !== 'function') return 'unreadable';
  const row = new Proxy({}, { get: (_t, prop) => `${ROW}${String(prop)}` });
  let result: unknown;
  try {
    result = (scopes as (parent: unknown, args: unknown, ctx: unknown) => unknown)(row, {}, undefined);
  } catch {
    return 'unreadable';
  }
  const entries = result && typeof result === 'object' ? Object.entries(result) : [];
  const [scope = '', value] = entries[0] ?? [];
  return entries.length === 1 && Object.hasOwn(ORGANIZATION_SCOPES, scope) && value === `${ROW}${column}` ? ORGANIZATION_SCOPES[scope]! : 'unreadable';
}

/** How each type's rows are seen, on every path that reads them: see seenWithin. */
const seen = new Map<string, 'read' | 'admin'>();

/**
 * Declares that every row of `type` a viewer sees is of an organization they may read
 * ('read') or administer ('admin'), as the type's visibility rule says: its
 * organization's connections with auth scopes compile without a test per row.
 */
export function seenWithin(type: string, level: 'read' | 'admin') {
  seen.set(type, level);
}

/**
 * The organizations the organization of the row `alias` of `type` may be: the checked
 * root's, those its type is seen within (or, for an organization, those of the row it
 * was reached from), else any whose rows the request sees at all (context.ts, rowScope).
 */
function organizationsOf(b: Builder, type: GraphQLObjectType, alias: string): string[] | 'all' | undefined {
  const organization = type.name === 'Organization';
  if (organization && alias === ROOT && b.readableRoot) return [b.readableRoot];
  const level = organization ? (b.administeredRows.has(alias) ? 'admin' : b.readableRows.has(alias) ? 'read' : undefined) : seen.get(type.name);
  if (level) return level === 'admin' ? b.administered : b.readable;
  return b.ctx.access.knownRowScope();
}

/** SQL true for the rows of `m` (an organization, or a row of one) whose organization is in `list`. */
const organizationIn = (b: Builder, m: Model, alias: string, list: string[]) =>
  whereSql(b, m, alias, m.fields.has('organizationId') ? readableWhere(list) : readableOrganizationsRule(list));

/** Declares the SQL of a field with a resolver of its own. */
export function compiledField(type: string, field: string, sql: FieldSql) {
  declared.set(`${type}.${field}`, { sql });
}

/** The Prisma model behind a GraphQL object type, or undefined. */
export function modelOf(type: GraphQLObjectType): Model | undefined {
  const name = (type.extensions as { pothosPrismaModel?: string }).pothosPrismaModel;
  return name ? model(name) : undefined;
}

/** SQL of a column of `m` as the field's scalar writes it. */
export function columnValue(m: Model, alias: string, field: string): Value {
  const f = m.fields.get(field) ?? unplannable(`${m.name}.${field}`);
  const col = `${alias}.${f.column}`;
  if (f.type === 'DateTime') return iso(col);
  if (f.type === 'Json') return { json: `${col}::text` };
  if (f.type === 'BigInt' || f.type === 'Decimal' || f.type === 'Bytes') return unplannable(`a ${f.type} column`);
  return col;
}

interface FieldExtensions {
  pothosExposedField?: string;
  pothosPrismaRelationField?: boolean;
  pothosOptions?: { authScopes?: unknown; query?: unknown; select?: unknown };
}

/**
 * The object of type `type` for the row `alias`, with the fields `nodes` select. When
 * the builder leaves holes, a field it cannot compile is left out and the object
 * carries its row's id (ROW_KEY), so that the general path can answer that field alone.
 */
export function objectOf(b: Builder, type: GraphQLObjectType, alias: string, nodes: readonly FieldNode[]): Shape {
  const m = modelOf(type) ?? unplannable(`${type.name} is not a table`);
  const pairs: [string, Value][] = [];
  let holes = false;
  for (const [key, fieldNodes] of b.collect(type, nodes)) {
    const at = b.mark();
    try {
      const value = fieldOf(b, type, m, alias, fieldNodes);
      pairs.push([key, value]);
      if (isRowHole(value)) {
        b.holesLeft.push(`${type.name}.${fieldNodes[0]!.name.value}: in the rows of organizations the viewer may not see it in`);
        holes = true;
      }
    } catch (err) {
      if (!(err instanceof Unplannable) || !b.holes) throw err;
      b.rewind(at);
      b.holesLeft.push(`${type.name}.${fieldNodes[0]!.name.value}: ${err.message}`);
      holes = true;
    }
  }
  if (holes) pairs.push([ROW_KEY, `${alias}.${m.fields.get('id')!.column}`]);
  if (pairs.length > 50) unplannable('too many fields');
  return { pairs };
}

/** The value of one field (selected as `nodes`) of the row `alias` of `type`. */
function fieldOf(b: Builder, type: GraphQLObjectType, m: Model, alias: string, nodes: FieldNode[]): Value {
  const name = nodes[0]!.name.value;
  if (name === '__typename') return typename(type.name);
  const def = type.getFields()[name] ?? unplannable(`${type.name}.${name}`);
  const decl = declared.get(`${type.name}.${name}`);
  if (decl && 'connection' in decl) {
    const value = () => connectionOf(b, m, alias, type, nodes, decl.connection, objectOf, decl.over);
    const level = scopesAsk(type, m, name, (def.extensions as FieldExtensions).pothosOptions?.authScopes);
    if (!level) return value();
    const held = b.holds(level, organizationsOf(b, type, alias));
    if (held === true) return value();
    if (held === false) return unplannable(`${type.name}.${name} for a viewer who may not ${level === 'admin' ? 'administer' : 'read'} its organization`);
    if (!b.holes) unplannable(`${type.name}.${name}: the viewer's access differs from row to row`);
    return rowHole(organizationIn(b, m, alias, held), value());
  }
  if (decl) return decl.sql(b, alias, nodes, type);
  const ext = def.extensions as FieldExtensions;
  if (def.args.length || ext.pothosOptions?.authScopes) unplannable(`${type.name}.${name} has arguments or auth scopes`);
  if (name === 'id' && type.getInterfaces().some((i) => i.name === 'Node')) return globalId(type.name, `${alias}.${m.fields.get('id')!.column}`);
  if (ext.pothosExposedField) return columnValue(m, alias, ext.pothosExposedField);
  if (ext.pothosPrismaRelationField && !ext.pothosOptions?.select) return relationOf(b, m, alias, type, nodes, ext.pothosOptions?.query);
  return unplannable(`${type.name}.${name} has a resolver`);
}

/**
 * A `t.relation`: the row a to-one relation leads to (null when none), or the rows of a
 * list in the order its `query` gives. The prisma plugin does not keep a relation's
 * `query` among the field's options, so a list is compiled only when declared
 * (relatedList): without a known order it is refused.
 */
function relationOf(b: Builder, m: Model, alias: string, parent: GraphQLObjectType, nodes: FieldNode[], query: unknown): Value {
  const name = nodes[0]!.name.value;
  const r = m.relations.get(name) ?? unplannable(`${m.name}.${name}`);
  if (query !== undefined && (typeof query !== 'object' || Object.keys(query!).some((k) => k !== 'where' && k !== 'orderBy'))) unplannable(`the query of ${m.name}.${name}`);
  const q = (query ?? {}) as { where?: unknown; orderBy?: unknown };
  if (r.list) return listOf(b, m, alias, parent, nodes, name, q);
  if (query !== undefined) unplannable(`the query of ${m.name}.${name}`);
  const type = b.fieldType(parent, name);
  const target = model(r.model);
  const inner = b.alias(target.table[0]!);
  // The organization of a row seen only inside organizations the viewer reads (or administers) is one of them.
  const level = type.name === 'Organization' ? seen.get(parent.name) : undefined;
  if (level) (level === 'admin' ? b.administeredRows : b.readableRows).add(inner);
  return { json: `(SELECT ${objectText(objectOf(b, type, inner, nodes).pairs)} FROM ${b.from(target)} ${inner} WHERE ${inner}.${target.fields.get('id')!.column} = ${alias}.${r.column})` };
}

/** The rows of the list relation `relationName` of the row `alias`, filtered and ordered by `q` (an order ending with the id). */
function listOf(b: Builder, m: Model, alias: string, parent: GraphQLObjectType, nodes: FieldNode[], relationName: string, q: { where?: unknown; orderBy?: unknown }): Value {
  const r = m.relations.get(relationName) ?? unplannable(`${m.name}.${relationName}`);
  const target = model(r.model);
  const inner = b.alias(target.table[0]!);
  const terms = orderTerms(target, q.orderBy);
  const element = objectText(objectOf(b, b.fieldType(parent, nodes[0]!.name.value), inner, nodes).pairs);
  return {
    json: `(SELECT ${listText(element, orderSql(terms, inner))} FROM ${b.from(target)} ${inner}
      WHERE ${inner}.${r.column} = ${alias}.${m.fields.get('id')!.column} AND ${whereSql(b, target, inner, q.where)})`,
  };
}

/**
 * A declared list of the rows a to-many relation leads to, filtered and ordered by
 * what `query` gives (the same rule the field's resolver applies).
 */
export function relatedList(relationName: string, query: (ctx: Context, readable: string[] | 'all') => { where?: unknown; orderBy?: unknown }): FieldSql {
  return (b, alias, nodes, parent) => listOf(b, modelOf(parent)!, alias, parent, nodes, relationName, query(b.ctx, b.readable));
}

/**
 * A declared field whose value is the row of `target` its row's `column` points at,
 * among those `where` lets the viewer see (null when none): a pointer with no Prisma
 * relation, read under the rule its resolver applies.
 */
export function pointedRow(target: string, column: string, where: (ctx: Context, readable: string[] | 'all') => object): FieldSql {
  return (b, alias, nodes, parent) => {
    const t = model(target);
    const inner = b.alias(t.table[0]!);
    const object = objectText(objectOf(b, b.fieldType(parent, nodes[0]!.name.value), inner, nodes).pairs);
    const pointer = `${alias}.${modelOf(parent)!.fields.get(column)!.column}`;
    return { json: `(SELECT ${object} FROM ${b.from(t)} ${inner} WHERE ${inner}.${t.fields.get('id')!.column} = ${pointer} AND ${whereSql(b, t, inner, where(b.ctx, b.readable))})` };
  };
}

/**
 * A member of a union a declared field may answer: when `when` (SQL) holds, the row of
 * the object type `type` whose id is `id` (SQL), among those `where` lets the viewer see.
 */
export interface UnionBranch {
  when: string;
  type: string;
  id: string;
  where: (ctx: Context, readable: string[] | 'all') => object;
}

/**
 * A declared field of a union type: the object of the first branch whose condition
 * holds, null when none does or its row is gone. In an answer with holes the object
 * also carries its type (TYPE_KEY), which tells graphql-js the union's member.
 */
export function unionRow(branches: (alias: string) => UnionBranch[]): FieldSql {
  return (b, alias, nodes) => {
    const cases = branches(alias).map(({ when, type, id, where }) => {
      const objectType = b.info.schema.getType(type) as GraphQLObjectType;
      const t = modelOf(objectType) ?? unplannable(`${type} is not a table`);
      const inner = b.alias(t.table[0]!);
      const { pairs } = objectOf(b, objectType, inner, nodes);
      if (b.holes) pairs.push([TYPE_KEY, typename(type)]);
      return `WHEN ${when} THEN (SELECT ${objectText(pairs)} FROM ${b.from(t)} ${inner} WHERE ${inner}.${t.fields.get('id')!.column} = ${id} AND ${whereSql(b, t, inner, where(b.ctx, b.readable))})`;
    });
    return { json: `CASE ${cases.join(' ')} END` };
  };
}

import { createHash } from 'node:crypto';
import {
  getArgumentValues,
  isAbstractType,
  isObjectType,
  Kind,
  print,
  type FieldNode,
  type GraphQLField,
  type GraphQLObjectType,
  type GraphQLResolveInfo,
  type SelectionSetNode,
} from 'graphql';
import type { Context } from '../../context.ts';
import { sql, statement, type Statement } from '../../db.ts';
import { logger } from '../../observability/logger.ts';
import { sourceIdOf } from './inputs.ts';

// Answers built in SQL. The hottest reads (`resolve` of one identifier, a page of an
// organization's members, `node(id)` and `_entities` of users) select the same few
// types again and again: users, their memberships and identifiers, organizations and
// sources. For such a selection this module writes one statement that builds the
// answer of the whole subtree as JSON in PostgreSQL (the parts of it, joined here: see
// `Value`), only with the fields the operation selects, under their response names.
// When the operation is nothing but that field, the JSON is its answer
// (plugins/planned-operations.ts, through `rootPlanners`).
//
// The rules each field applies elsewhere (which memberships and identifiers a viewer
// may see, the order, page sizes, authorization of connections) are written into the
// SQL below. A selection with anything this module does not know (another field, an
// argument other than `first`, cursors, directives) is not planned: the caller then
// takes the general path, which answers every operation. test/prebuilt.test.ts
// compares the two paths.

class Unplannable extends Error {}
const unplannable = (reason: string): never => {
  throw new Unplannable(reason);
};

/** What a plan reads of the operation: GraphQLResolveInfo's, or the same parts of a whole operation. */
export type PlanInfo = Pick<GraphQLResolveInfo, 'schema' | 'fragments' | 'variableValues' | 'fieldNodes'>;

/** What the SQL of a plan depends on besides the selection, as parameters. */
export interface PlanScope {
  /** Organizations the viewer may read ('all' for an unscoped system admin); read only when a plan needs it. */
  readable: () => Promise<string[] | 'all'>;
  /** The signed-in user (who sees their own memberships: see ownMembershipsWhere), if any. */
  viewerUserId: string | null;
  /** The organization of a request narrowed to one, where alone the viewer sees their own memberships. */
  narrowedTo: string | null;
  /** The organization at the root of the plan when the viewer may read it (its connections can be planned). */
  readableRootOrganizationId?: string;
  /** Set when the plan is to run inside the credential's statement (see PlanCapture). */
  capture?: PlanCapture;
}

/**
 * A plan written to run inside another statement, the one that reads the credential
 * (modules/auth/users.ts): the viewer's id is that statement's SQL `viewerSql`, and
 * the plan's parameters follow that statement's own `paramOffset` ones. `run` gets
 * the plan's text and parameters instead of running them, and answers with the
 * plan's row (null: none) once the outer statement has run.
 */
export interface PlanCapture {
  viewerSql: string;
  paramOffset: number;
  run(text: string, params: unknown[]): Promise<PlanRow | null>;
}

/** A plan's row: `found`, and the JSON text of each part of the answer (c0, c1, …). */
export type PlanRow = Record<string, unknown>;

/**
 * The JSON text of an answer built in SQL. The response carries the text as it is
 * (plugins/planned-operations.ts); anything else that serializes it gets its value.
 */
export class JsonText {
  constructor(readonly text: string) {}
  toJSON(): unknown {
    return JSON.parse(this.text);
  }
}

let planning = true;

/** Turns planning off (every read takes the general path) or on; tests compare the two. */
export function setPlannedReads(enabled: boolean): void {
  planning = enabled;
}

/** The alias of the row at the root of every plan. */
const ROOT = 'r0';
const DEFAULT_PAGE = 20;
const MAX_PAGE = 100;

class Builder {
  readonly params: unknown[] = [];
  private aliases = 0;
  private readableParam: string | undefined;
  /** Whether the plan filters by the organizations the viewer may read. */
  usesReadable = false;
  private viewerParam: string | undefined;

  constructor(
    readonly info: PlanInfo,
    readonly scope: PlanScope,
    /** The organizations the viewer may read, once known (a first pass finds out whether they are needed). */
    readonly readableIds: string[] | 'all' = [],
  ) {}

  param(value: unknown, cast: string): string {
    this.params.push(value);
    return `$${this.params.length + (this.scope.capture?.paramOffset ?? 0)}::${cast}`;
  }

  alias(prefix: string): string {
    return `${prefix}${++this.aliases}`;
  }

  /**
   * SQL true when `column` is an organization the viewer may read: a condition an
   * index can use, with one statement text for all organizations, one for a single
   * organization (the usual case: a request acting in one) and one for a list. The
   * single one is an equality: under a generic plan PostgreSQL does not lead a
   * composite index with `= ANY($n)` of unknown length, and a page of 50 members with
   * their identifiers took 5.5 ms instead of 2.9.
   */
  readable(column: string): string {
    this.usesReadable = true;
    if (this.readableIds === 'all') return 'true';
    if (this.readableIds.length === 1) {
      this.readableParam ??= this.param(this.readableIds[0], 'uuid');
      return `${column} = ${this.readableParam}`;
    }
    this.readableParam ??= this.param(this.readableIds, 'uuid[]');
    return `${column} = ANY(${this.readableParam})`;
  }

  viewer(): string {
    if (this.scope.capture) return this.scope.capture.viewerSql;
    this.viewerParam ??= this.param(this.scope.viewerUserId, 'uuid');
    return this.viewerParam;
  }

  /** The fields selected on `type`, by response name, as graphql-js collects them (fragments merged). */
  collect(type: GraphQLObjectType, nodes: readonly FieldNode[]): Map<string, FieldNode[]> {
    const fields = new Map<string, FieldNode[]>();
    const schema = this.info.schema;
    const visit = (set: SelectionSetNode | undefined) => {
      for (const s of set?.selections ?? []) {
        if (s.directives?.length) unplannable('a directive');
        if (s.kind === Kind.FIELD) {
          const key = s.alias?.value ?? s.name.value;
          fields.set(key, [...(fields.get(key) ?? []), s]);
          continue;
        }
        const fragment = s.kind === Kind.INLINE_FRAGMENT ? s : this.info.fragments[s.name.value];
        if (!fragment) unplannable('an unknown fragment');
        const condition = fragment!.typeCondition?.name.value;
        if (condition && condition !== type.name) {
          const other = schema.getType(condition);
          if (!other || !isAbstractType(other) || !schema.isSubType(other, type)) continue;
        }
        visit(fragment!.selectionSet);
      }
    };
    for (const node of nodes) visit(node.selectionSet);
    return fields;
  }

  /** The arguments of a field, with variables applied; only those named in `allowed` may be given. */
  args(type: GraphQLObjectType, nodes: FieldNode[], allowed: string[]): Record<string, unknown> {
    const node = nodes[0]!;
    const def = type.getFields()[node.name.value] as GraphQLField<unknown, unknown>;
    for (const n of nodes) {
      if ((n.arguments ?? []).some((a) => !allowed.includes(a.name.value))) unplannable(`an argument of ${n.name.value}`);
      if (n !== node && (n.arguments ?? []).map(print).join() !== (node.arguments ?? []).map(print).join()) {
        unplannable('a field selected twice with different arguments');
      }
    }
    return getArgumentValues(def, node, this.info.variableValues);
  }

  /** The object type a field of `type` returns. */
  fieldType(type: GraphQLObjectType, name: string): GraphQLObjectType {
    let t = type.getFields()[name]!.type;
    while ('ofType' in t) t = t.ofType;
    return isObjectType(t) ? t : unplannable(`${type.name}.${name} is not an object`);
  }

  /** SQL of the JSON text of the object `pairs` (response name, value); at most 50 fields. */
  object(pairs: [string, Value][]): string {
    if (pairs.length > 50) unplannable('too many fields');
    if (!pairs.length) return `'{}'::text`;
    return `(${pairs.map(([k, v], i) => `${literal(`${i ? ',' : '{'}${JSON.stringify(k)}:`)} || ${this.json(v)}`).join(' || ')} || '}')`;
  }

  /** SQL of the JSON text of a value, never null. */
  json(v: Value): string {
    if (typeof v === 'string') return `coalesce(to_json(${v})::text, 'null')`;
    return 'json' in v ? `coalesce(${v.json}, 'null')` : this.object(v.pairs);
  }

  /** SQL of the JSON text of a list (an aggregate) of `element`'s JSON text, in `order`; `[]` when there is none. */
  list(element: string, order: string): string {
    return `coalesce('[' || string_agg(${element}, ',' ORDER BY ${order}) || ']', '[]')`;
  }
}

/**
 * A value of the answer: SQL of a scalar, SQL of a JSON text (null for JSON's null),
 * or an object of values. Objects inside a list are JSON texts written in SQL, by
 * concatenation (`object`, `list`): json_build_object and json_agg look up the type of
 * every key and value of every row, and the statement of a page of 50 members with
 * their identifiers took 1.48 ms with them, 1.27 ms with `||` and string_agg. The
 * objects above the lists (the root and its connections) stay objects, and
 * the answer is put together from their parts' JSON texts outside PostgreSQL (`Parts`):
 * wrapping a long list in one more object copies it once more, and for a page of 100
 * members the two wrappers above the list (`members`, `edges`) took 1.5 of the
 * statement's 3.5 ms.
 */
type Value = string | { json: string } | Shape;
interface Shape {
  pairs: [string, Value][];
}

/** The parts of an answer: the SQL of each (c0, c1, …) and, in order, JSON text between them and their numbers. */
class Parts {
  readonly columns: string[] = [];
  readonly template: (string | number)[] = [];

  constructor(answer: Value) {
    this.add(answer);
  }

  private text(t: string) {
    const last = this.template.length - 1;
    if (typeof this.template[last] === 'string') this.template[last] += t;
    else this.template.push(t);
  }

  private add(v: Value) {
    if (typeof v !== 'string' && 'pairs' in v) {
      this.text('{');
      v.pairs.forEach(([k, inner], i) => {
        this.text(`${i ? ',' : ''}${JSON.stringify(k)}:`);
        this.add(inner);
      });
      this.text('}');
      return;
    }
    this.template.push(this.columns.length);
    this.columns.push(typeof v === 'string' ? `to_json(${v})::text AS c${this.columns.length}` : `(${v.json})::text AS c${this.columns.length}`);
  }

  /** `found` and the parts, for a SELECT list. */
  select(): string {
    return ['true AS found', ...this.columns].join(', ');
  }

  /** The answer of a plan's row; null when there is none. */
  render(row: PlanRow | null | undefined): JsonText | null {
    if (!row?.found) return null;
    let out = '';
    for (const t of this.template) out += typeof t === 'string' ? t : ((row[`c${t}`] as string | null) ?? 'null');
    return new JsonText(out);
  }
}

const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;
/** `__typename`: a string (typed, so that to_json takes it). */
const typename = (name: string) => `${literal(name)}::text`;
const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
// Global ids are base64 of `Type:uuid`: under 57 bytes, so PostgreSQL's encoding has no line breaks.
const globalId = (typename: string, column: string) => `encode(convert_to('${typename}:' || ${column}::text, 'UTF8'), 'base64')`;

type FieldSql = (b: Builder, alias: string, nodes: FieldNode[], type: GraphQLObjectType) => Value;

/** Fields that read their own arguments (connections); every other field is planned only without any. */
const TAKES_ARGUMENTS = new WeakSet<FieldSql>();

interface TableSpec {
  table: string;
  prefix: string;
  fields: Record<string, FieldSql>;
}

const column =
  (name: string): FieldSql =>
  (_b, a) =>
    `${a}.${name}`;
const timestamp =
  (name: string): FieldSql =>
  (_b, a) =>
    iso(`${a}.${name}`);
const id =
  (typename: string): FieldSql =>
  (_b, a) =>
    globalId(typename, `${a}.id`);

/** The object of `spec` for the row `alias`, with the fields `nodes` select. */
function objectOf(b: Builder, spec: TableSpec, type: GraphQLObjectType, alias: string, nodes: readonly FieldNode[]): Shape {
  const pairs: [string, Value][] = [];
  for (const [key, fieldNodes] of b.collect(type, nodes)) {
    const name = fieldNodes[0]!.name.value;
    if (name === '__typename') {
      pairs.push([key, typename(type.name)]);
      continue;
    }
    const field = spec.fields[name] ?? unplannable(`${type.name}.${name}`);
    if (!TAKES_ARGUMENTS.has(field) && fieldNodes.some((n) => n.arguments?.length)) unplannable(`arguments of ${type.name}.${name}`);
    pairs.push([key, field(b, alias, fieldNodes, type)]);
  }
  return { pairs };
}

/** The same, as SQL of its JSON text. */
const objectSql = (b: Builder, spec: TableSpec, type: GraphQLObjectType, alias: string, nodes: readonly FieldNode[]): string =>
  b.object(objectOf(b, spec, type, alias, nodes).pairs);

/** The row of `spec` that the parent's column `foreignKey` names, as an object. */
function belongsTo(spec: () => TableSpec, foreignKey: string): FieldSql {
  return (b, outer, nodes, parent) => {
    const s = spec();
    const inner = b.alias(s.prefix);
    const type = b.fieldType(parent, nodes[0]!.name.value);
    return { json: `(SELECT ${objectSql(b, s, type, inner, nodes)} FROM ${s.table} ${inner} WHERE ${inner}.id = ${outer}.${foreignKey})` };
  };
}

/**
 * A Relay connection, oldest first, of which only `first`, `edges { node }` and
 * `totalCount` are planned (`cursor` and `pageInfo` take the general path). With
 * `rootOnly`, only on the object at the root of the plan, whose authorization the
 * caller checked.
 */
function connection(
  spec: () => TableSpec,
  where: (b: Builder, inner: string, outer: string) => string,
  { rootOnly = false } = {},
): FieldSql {
  const field: FieldSql = (b, outer, nodes, parent) => {
    if (rootOnly && (!b.scope.readableRootOrganizationId || outer !== ROOT)) unplannable(`${parent.name}.${nodes[0]!.name.value} below the root`);
    const { first } = b.args(parent, nodes, ['first']) as { first?: number | null };
    if (first != null && (!Number.isInteger(first) || first < 1 || first > MAX_PAGE)) unplannable(`first: ${first}`);
    const s = spec();
    const connectionType = b.fieldType(parent, nodes[0]!.name.value);
    const pairs: [string, Value][] = [];
    for (const [key, fieldNodes] of b.collect(connectionType, nodes)) {
      const name = fieldNodes[0]!.name.value;
      if (name === '__typename') pairs.push([key, typename(connectionType.name)]);
      else if (name === 'totalCount') {
        const inner = b.alias(s.prefix);
        pairs.push([key, `(SELECT count(*) FROM ${s.table} ${inner} WHERE ${where(b, inner, outer)})`]);
      } else if (name === 'edges') {
        const edgeType = b.fieldType(connectionType, 'edges');
        const inner = b.alias(s.prefix);
        const edge: [string, Value][] = [];
        for (const [edgeKey, edgeNodes] of b.collect(edgeType, fieldNodes)) {
          const edgeField = edgeNodes[0]!.name.value;
          if (edgeField === '__typename') edge.push([edgeKey, typename(edgeType.name)]);
          else if (edgeField === 'node') edge.push([edgeKey, objectOf(b, s, b.fieldType(edgeType, 'node'), inner, edgeNodes)]);
          else unplannable(`${edgeType.name}.${edgeField}`);
        }
        const page = b.param(first ?? DEFAULT_PAGE, 'int');
        pairs.push([
          key,
          {
            json: `(SELECT ${b.list(b.object(edge), `${inner}.created_at, ${inner}.id`)}
            FROM (SELECT * FROM ${s.table} ${inner} WHERE ${where(b, inner, outer)} ORDER BY ${inner}.created_at, ${inner}.id LIMIT ${page}) ${inner})`,
          },
        ]);
      } else unplannable(`${connectionType.name}.${name}`);
    }
    return { pairs };
  };
  TAKES_ARGUMENTS.add(field);
  return field;
}

const ORGANIZATION: TableSpec = {
  table: 'organizations',
  prefix: 'o',
  fields: {
    id: id('Organization'),
    slug: column('slug'),
    name: column('name'),
    autoApproveLinkConfidence: column('auto_approve_link_confidence'),
    defaultPhoneRegion: column('default_phone_region'),
    createdAt: timestamp('created_at'),
    updatedAt: timestamp('updated_at'),
    // Connections of an organization are planned only at the root, where the viewer's
    // right to read it was checked (their authScopes: orgRead).
    members: connection(() => MEMBER, (_b, inner, outer) => `${inner}.organization_id = ${outer}.id`, { rootOnly: true }),
  },
};

const SOURCE: TableSpec = {
  table: 'integration_sources',
  prefix: 's',
  fields: {
    id: id('IntegrationSource'),
    kind: column('kind'),
    key: column('key'),
    name: column('name'),
    createdAt: timestamp('created_at'),
    updatedAt: timestamp('updated_at'),
  },
};

const IDENTIFIER: TableSpec = {
  table: 'identifiers',
  prefix: 'i',
  fields: {
    id: id('Identifier'),
    identifierKey: column('identifier_key'),
    identifierValue: column('identifier_value'),
    valueKind: column('value_kind'),
    normalizedValue: column('normalized_value'),
    discoveryMethod: column('discovery_method'),
    confidenceScore: column('confidence_score'),
    discoveryMetadata: (_b, a) => ({ json: `${a}.discovery_metadata::text` }),
    createdAt: timestamp('created_at'),
    updatedAt: timestamp('updated_at'),
    source: belongsTo(() => SOURCE, 'source_id'),
    user: belongsTo(() => USER, 'user_id'),
  },
};

const MEMBER: TableSpec = {
  table: 'members',
  prefix: 'm',
  fields: {
    id: id('Member'),
    role: column('role'),
    state: column('state'),
    createdAt: timestamp('created_at'),
    updatedAt: timestamp('updated_at'),
    organization: belongsTo(() => ORGANIZATION, 'organization_id'),
    user: belongsTo(() => USER, 'user_id'),
  },
};

const USER: TableSpec = {
  table: 'users',
  prefix: 'u',
  fields: {
    id: id('User'),
    email: column('email'),
    givenName: column('given_name'),
    familyName: column('family_name'),
    nickname: column('nickname'),
    name: column('name'),
    picture: column('picture'),
    isSystemAdmin: column('is_system_admin'),
    createdAt: timestamp('created_at'),
    updatedAt: timestamp('updated_at'),
    // Those in organizations you may read, and your own (ownMembershipsWhere); oldest first.
    memberships: (b, a, nodes, parent) => {
      const m = b.alias('m');
      const type = b.fieldType(parent, 'memberships');
      const own = `${a}.id = ${b.viewer()}${b.scope.narrowedTo ? ` AND ${m}.organization_id = ${b.param(b.scope.narrowedTo, 'uuid')}` : ''}`;
      return {
        json: `(SELECT ${b.list(objectSql(b, MEMBER, type, m, nodes), `${m}.created_at, ${m}.id`)}
        FROM members ${m} WHERE ${m}.user_id = ${a}.id AND ((${own}) OR ${b.readable(`${m}.organization_id`)}))`,
      };
    },
    // Identifiers in the organizations you may read.
    identifiers: connection(
      () => IDENTIFIER,
      (b, inner, outer) => `${inner}.user_id = ${outer}.id AND ${b.readable(`${inner}.organization_id`)}`,
    ),
  },
};

// ---- statements ---------------------------------------------------------------------

/** Prepared statements are kept for this many distinct plans; more run unprepared. */
const MAX_NAMED = 200;
const named = new Map<string, Statement>();

export function statementFor(text: string): Statement {
  let s = named.get(text);
  if (!s) {
    const name = `plan_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
    s = named.size < MAX_NAMED ? statement(name, text) : { name: '', text };
    if (s.name) named.set(text, s);
  }
  return s;
}

async function runPlan(text: string, params: unknown[]): Promise<PlanRow | null> {
  const rows = await sql<PlanRow>(statementFor(text), params);
  return rows[0] ?? null;
}

/** A plan's statement and how its answer is put together. */
interface Plan {
  parts: Parts;
  /** The statement, given the SELECT list of the parts. */
  text: string;
}

/** Root field nodes (of cached documents) whose plan filtered by the viewer's organizations. */
const filtersByReadable = new WeakMap<FieldNode, true>();

/**
 * Plans the subtree under the field being resolved and runs it: its JSON answer, or
 * undefined when it cannot be planned.
 */
async function planAndRun(info: PlanInfo, scope: PlanScope, build: (b: Builder) => Plan): Promise<JsonText | null | undefined> {
  if (!planning) return undefined;
  // A selection that filtered by the viewer's organizations before is built once, with
  // them; any other is built first without them, and again only if it turns out to.
  const node = info.fieldNodes[0]!;
  const filtered = filtersByReadable.get(node) === true;
  let b = new Builder(info, scope, filtered ? await scope.readable() : []);
  let plan: Plan;
  try {
    plan = build(b);
  } catch (err) {
    if (err instanceof Unplannable) {
      logger.debug({ reason: err.message }, 'read not planned');
      return undefined;
    }
    throw err;
  }
  // Read the viewer's organizations only when the selection filters by them (with a
  // token narrowed to an organization they come with the credential, at no cost).
  if (b.usesReadable && !filtered) {
    filtersByReadable.set(node, true);
    b = new Builder(info, scope, await scope.readable());
    plan = build(b);
  }
  const row = await (scope.capture ? scope.capture.run(plan.text, b.params) : runPlan(plan.text, b.params));
  return plan.parts.render(row);
}

/** A plan of the object `shape`: `from` gets the SELECT list of its parts. */
function planOf(shape: Shape, from: (select: string) => string): Plan {
  const parts = new Parts(shape);
  return { parts, text: from(parts.select()) };
}

function scopeOf(ctx: Context): PlanScope {
  return {
    readable: () => ctx.access.readableOrganizationIds(),
    viewerUserId: ctx.viewer.kind === 'user' ? ctx.viewer.userId : null,
    narrowedTo: ctx.access.organizationFor(null),
    ...(ctx.planCapture && { capture: ctx.planCapture }),
  };
}

/**
 * `organization(id)` built in SQL: the organization and what is selected of it,
 * members included. The caller has checked that the viewer may read it. Undefined
 * when the selection cannot be planned.
 */
export async function prebuiltOrganization(ctx: Context, info: PlanInfo, organizationId: string): Promise<JsonText | null | undefined> {
  const scope = { ...scopeOf(ctx), readableRootOrganizationId: organizationId };
  const type = info.schema.getType('Organization') as GraphQLObjectType;
  return planAndRun(info, scope, (b) => {
    const where = b.param(organizationId, 'uuid');
    return planOf(objectOf(b, ORGANIZATION, type, ROOT, info.fieldNodes), (select) => `SELECT ${select} FROM organizations ${ROOT} WHERE ${ROOT}.id = ${where}`);
  });
}

/**
 * SQL true when the user `alias` is visible to the viewer (themself, or a member of an
 * organization the viewer may read; anyone for a system admin) and not merged away.
 */
function visibleUser(b: Builder, alias: string): string {
  const m = b.alias('m');
  return `${alias}.merged_into_id IS NULL
    AND (${alias}.id = ${b.viewer()} OR EXISTS (SELECT 1 FROM members ${m} WHERE ${m}.user_id = ${alias}.id AND ${b.readable(`${m}.organization_id`)}))`;
}

/**
 * A visible user (see `visibleUser`) built in SQL; null when there is none such,
 * undefined when the selection cannot be planned.
 */
export async function prebuiltUser(ctx: Context, info: PlanInfo, userId: string): Promise<JsonText | null | undefined> {
  const type = info.schema.getType('User') as GraphQLObjectType;
  return planAndRun(info, scopeOf(ctx), (b) =>
    planOf(
      objectOf(b, USER, type, ROOT, info.fieldNodes),
      (select) => `SELECT ${select} FROM users ${ROOT} WHERE ${ROOT}.id = ${b.param(userId, 'uuid')} AND ${visibleUser(b, ROOT)}`,
    ),
  );
}

/**
 * Users by id, in order, built in SQL under the visibility rule of `visibleUser`:
 * the list, or undefined when the selection cannot be planned or any id finds no
 * visible user (the general path then follows merged users to their survivors).
 */
export async function prebuiltUsers(ctx: Context, info: PlanInfo, userIds: string[]): Promise<JsonText | undefined> {
  const type = info.schema.getType('User') as GraphQLObjectType;
  // The list's only part is null when any id finds no visible user.
  const list = await planAndRun(info, scopeOf(ctx), (b) => {
    const object = objectSql(b, USER, type, ROOT, info.fieldNodes);
    const parts = new Parts({ json: `CASE WHEN bool_and(${ROOT}.id IS NOT NULL) THEN ${b.list(object, 'r.n')} END` });
    return {
      parts,
      text: `SELECT ${parts.select()}
      FROM unnest(${b.param(userIds, 'uuid[]')}) WITH ORDINALITY AS r(id, n)
      LEFT JOIN users ${ROOT} ON ${ROOT}.id = r.id AND ${visibleUser(b, ROOT)}`,
    };
  });
  return list && list.text !== 'null' ? list : undefined;
}

/**
 * `resolve` of one identifier built in SQL, by its normalised value (as resolveKeys
 * finds it), when it selects only `user` (and `__typename`) of the resolution: the user of the best match (highest
 * confidence, unscored counting as certain, then the newest), or null. Undefined when
 * the selection cannot be planned.
 */
export async function prebuiltResolution(
  ctx: Context,
  info: PlanInfo,
  organizationId: string,
  key: { source: string; identifierKey: string; normalizedValue: string },
): Promise<JsonText | null | undefined> {
  const resolution = info.schema.getType('Resolution') as GraphQLObjectType;
  return planAndRun(info, scopeOf(ctx), (b) => {
    const pairs: [string, Value][] = [];
    for (const [k, nodes] of b.collect(resolution, info.fieldNodes)) {
      const name = nodes[0]!.name.value;
      if (name === '__typename') pairs.push([k, typename('Resolution')]);
      else if (name === 'user') pairs.push([k, objectOf(b, USER, b.fieldType(resolution, 'user'), ROOT, nodes)]);
      else unplannable(`Resolution.${name}`);
    }
    const org = b.param(organizationId, 'uuid');
    const source = b.param(key.source, 'text');
    const sourceId = b.param(sourceIdOf(key.source), 'uuid');
    return planOf({ pairs }, (select) => `SELECT ${select}
      FROM (SELECT i.user_id FROM identifiers i JOIN integration_sources s ON s.id = i.source_id AND s.organization_id = ${org}
            WHERE i.organization_id = ${org} AND (s.key = ${source} OR s.id = ${sourceId})
              AND i.identifier_key = ${b.param(key.identifierKey, 'text')} AND i.normalized_value = ${b.param(key.normalizedValue, 'text')}
            ORDER BY coalesce(i.confidence_score, 1) DESC, i.updated_at DESC LIMIT 1) hit
      JOIN users ${ROOT} ON ${ROOT}.id = hit.user_id`);
  });
}

/**
 * Root query fields that can answer a whole operation from one statement: given the
 * field's arguments, the answer of the field, or undefined when it cannot be planned.
 * They check the arguments and the viewer's access exactly as the field's resolver.
 */
export type RootPlanner = (ctx: Context, info: PlanInfo, args: Record<string, unknown>) => Promise<unknown>;
export const rootPlanners = new Map<string, RootPlanner>();

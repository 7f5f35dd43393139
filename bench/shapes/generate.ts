// Operations the benchmark never tunes for, drawn from the schema by a seeded generator:
// one or two of the compiled roots, each with a random selection walked from its type
// (fields, nested objects and connections to a few hops, paging and filter arguments
// with values of the data, aliases, fragments, inline fragments, @include/@skip on
// variables). Pure: the data and cursors come in, operation texts come out.
import fc from 'fast-check';
import {
  getNamedType,
  isAbstractType,
  isEnumType,
  isLeafType,
  isNonNullType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';

/** The rows of one organization the operations name, read from the seeded database. */
export interface OrgData {
  id: string;
  /** Whether the viewer (the benchmark's token of the organization) administers it, else an analyst. */
  admin: boolean;
  members: { id: string; userId: string; email: string; name: string }[];
  identifiers: { id: string; userId: string; source: string; sourceId: string; key: string; value: string }[];
  identities: { id: string; key: string; email: string | null; phone: string | null; externalId: string | null; sourceKey: string | null; userId: string | null; name: string }[];
  sources: { id: string; key: string }[];
  /** Cursors of earlier pages, by `<parent global id or "org">.<connection field>`. */
  cursors: Record<string, string[]>;
}

export interface ShapeOperation {
  index: number;
  organizationId: string;
  roots: string[];
  query: string;
  variables: Record<string, unknown>;
}

/** The server's default limits on an operation (src/config.ts), kept below. */
export const LIMITS = { depth: 12, aliases: 30, directives: 20, tokens: 5000 };

export const gid = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString('base64');

export const ROOTS = ['organization', 'node', 'nodes', 'identity', 'resolve', 'resolveMany', 'user', 'viewer', '_entities'] as const;

// Fields read for what they hold, not walked: the schema's text, and the point-in-time
// argument (asOf), whose reads the benchmark's data holds no history for.
const SKIPPED_FIELDS = new Set(['_service']);
const SKIPPED_ARGS = new Set(['asOf']);
// Forbidden to an analyst by design (FORBIDDEN and null): asked only by an organization's admin.
const ADMIN_ONLY = new Set(['Organization.apiKeys', 'Organization.webhookEndpoints', 'Organization.deletedItems']);

// fast-check biases its integers towards small values and bounds; a draw wants them even.
const even = (c: { min: number; max: number }) => fc.noBias(fc.integer(c));

class Draw {
  constructor(private readonly g: fc.GeneratorValue) {}
  int(min: number, max: number): number {
    return this.g(even, { min, max });
  }
  chance(p: number): boolean {
    return this.int(0, 999) < p * 1000;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(0, xs.length - 1)]!;
  }
  some<T>(xs: readonly T[], p: number): T[] {
    return xs.filter(() => this.chance(p));
  }
}

interface Ctx {
  d: Draw;
  schema: GraphQLSchema;
  org: OrgData;
  fragments: string[];
  variables: Map<string, { type: string; value: unknown }>;
  aliases: number;
  directives: number;
}

const wraps = (name: string) => name.endsWith('Connection') || name.endsWith('ConnectionEdge') || name === 'PageInfo';
const needsArgument = (a: GraphQLArgument) => isNonNullType(a.type) && a.defaultValue === undefined;
const str = JSON.stringify;

function variable(ctx: Ctx, type: string, value: unknown): string {
  const name = `v${ctx.variables.size}`;
  ctx.variables.set(name, { type, value });
  return `$${name}`;
}

/** A literal, or sometimes the same value as a variable. */
function value(ctx: Ctx, type: string, v: unknown, enumValue = false): string {
  if (ctx.d.chance(0.25)) return variable(ctx, type, v);
  return enumValue ? String(v) : str(v);
}

/** One row of each kind, whose values a field's filters take together (so that they can match). */
interface Rows { identifier: OrgData['identifiers'][number]; identity: OrgData['identities'][number]; member: OrgData['members'][number] }
const rowsOf = (ctx: Ctx): Rows => ({ identifier: ctx.d.pick(ctx.org.identifiers), identity: ctx.d.pick(ctx.org.identities), member: ctx.d.pick(ctx.org.members) });

/** A value of the data for an optional argument of a nested field, or undefined to leave it out. */
function argument(ctx: Ctx, field: string, a: GraphQLArgument, { identifier, identity, member }: Rows): string | undefined {
  const { d, org } = ctx;
  const named = getNamedType(a.type);
  if (SKIPPED_ARGS.has(a.name) || ['first', 'last', 'after', 'before'].includes(a.name) || !d.chance(0.2)) return undefined;
  if (isEnumType(named)) return value(ctx, named.name, d.pick(named.getValues()).name, true);
  switch (a.name) {
    case 'sourceKey':
      return value(ctx, 'String', identifier.source);
    case 'sourceId':
      return value(ctx, 'ID', gid('IntegrationSource', identifier.sourceId));
    case 'identifierKey':
      return value(ctx, 'String', field === 'identities' ? identity.key : identifier.key);
    case 'identifierValue':
      return value(ctx, 'String', identifier.value);
    case 'minConfidence':
      return value(ctx, 'Float', d.pick([0, 0.3, 0.5, 0.9]));
    case 'userId':
      return value(ctx, 'ID', gid('User', member.userId));
    case 'organizationId':
      return value(ctx, 'ID', org.id);
    case 'email':
      return identity.email ? value(ctx, 'String', identity.email) : undefined;
    case 'phoneNumber':
      return identity.phone ? value(ctx, 'String', identity.phone) : undefined;
    case 'search':
      return value(ctx, 'String', d.pick(field === 'members' ? [member.name, member.email.split('@')[0]!, 'User 1'] : [identity.name, 'Identity 1']));
    case 'linked':
    case 'includeRevoked':
      return value(ctx, 'Boolean', d.chance(0.5));
    default:
      return undefined; // projectId and input objects (history filters): none in the data
  }
}

function maybeDirective(ctx: Ctx): string {
  if (ctx.directives >= 6 || !ctx.d.chance(0.04)) return '';
  ctx.directives++;
  const on = ctx.d.chance(0.5);
  return ` @${ctx.d.pick(['include', 'skip'])}(if: ${variable(ctx, 'Boolean!', on)})`;
}

function maybeAlias(ctx: Ctx, name: string): string {
  if (ctx.aliases >= 10 || !ctx.d.chance(0.06)) return name;
  ctx.aliases++;
  return `${name}_${ctx.aliases}: ${name}`;
}

/** A connection's arguments and selection: paging (after/before from an earlier page of the same parent), filters, then totalCount, edges and pageInfo in any mix. */
function connection(ctx: Ctx, field: GraphQLField<unknown, unknown>, type: GraphQLObjectType, hops: number, parent: string | null, prefix: string): string {
  const { d } = ctx;
  const args: string[] = [];
  const cursors = parent ? ctx.org.cursors[`${parent}.${field.name}`] ?? [] : [];
  const size = () => d.int(0, parent ? 10 : 4);
  const paging = d.int(0, 9);
  if (paging < 4) args.push(`first: ${value(ctx, 'Int', size())}`);
  else if (paging < 6) args.push(`last: ${value(ctx, 'Int', size())}`);
  if (cursors.length && paging < 6 && d.chance(0.6)) args.push(`${paging < 4 ? 'after' : 'before'}: ${value(ctx, 'String', d.pick(cursors))}`);
  if (paging >= 6 && !parent) args.push('first: 3'); // nested pages stay small
  const rows = rowsOf(ctx);
  for (const a of field.args) {
    const v = argument(ctx, field.name, a, rows);
    if (v !== undefined) args.push(`${a.name}: ${v}`);
  }
  const edgeType = getNamedType(type.getFields().edges!.type) as GraphQLObjectType;
  const nodeType = getNamedType(edgeType.getFields().node!.type);
  const parts: string[] = [];
  if (d.chance(0.5)) parts.push('totalCount');
  if (d.chance(0.8) || !parts.length) {
    const cursor = d.chance(0.4) ? 'cursor ' : '';
    parts.push(`edges { ${cursor}node { ${selection(ctx, nodeType, hops - 1, null)} } }`);
  }
  if (d.chance(0.5)) {
    const info = d.some(['hasNextPage', 'hasPreviousPage', 'startCursor', 'endCursor'], 0.5);
    parts.push(`pageInfo { ${(info.length ? info : ['hasNextPage']).join(' ')} }`);
  }
  if (prefix) ctx.aliases++;
  return `${prefix ? `${prefix}${field.name}: ${field.name}` : maybeAlias(ctx, field.name)}${args.length ? `(${args.join(', ')})` : ''}${maybeDirective(ctx)} { ${parts.join(' ')} }`;
}

/**
 * A random selection of `type`: some of its leaves, and within `hops` object hops some
 * of its objects and connections; parts of it sometimes inside an inline or a named
 * fragment. `parent` names the object when it is a root's (its pages' cursors are known).
 */
export function selection(ctx: Ctx, type: GraphQLNamedType, hops: number, parent: string | null, only?: string[], prefix = ''): string {
  const { d, schema } = ctx;
  if (isAbstractType(type)) {
    // Two types' fields of one name may differ in type: each type after the first has its own response keys.
    const possible = schema.getPossibleTypes(type).map((t) => t.name);
    const chosen = [...(only ?? [])];
    if (!chosen.length) chosen.push(d.pick(possible));
    for (const t of d.some(possible, 0.15)) if (!chosen.includes(t) && ctx.aliases < LIMITS.aliases - 12) chosen.push(t);
    const inner = chosen.map((t, i) => `... on ${t} { ${selection(ctx, schema.getType(t)!, hops, parent, undefined, i > 0 ? `${t}_` : '')} }`);
    return ['__typename', ...inner].join(' ');
  }
  const object = type as GraphQLObjectType;
  const fields = Object.values(object.getFields()).filter(
    (f) => !SKIPPED_FIELDS.has(f.name) && !f.args.some(needsArgument) && (ctx.org.admin || !ADMIN_ONLY.has(`${object.name}.${f.name}`)),
  );
  const leaves = fields.filter((f) => isLeafType(getNamedType(f.type)));
  const objects = hops > 0 ? fields.filter((f) => !isLeafType(getNamedType(f.type))) : [];
  const out: string[] = [];
  const key = (name: string) => {
    if (!prefix) return maybeAlias(ctx, name);
    ctx.aliases++;
    return `${prefix}${name}: ${name}`;
  };
  for (const f of d.some(leaves, 0.3)) out.push(`${key(f.name)}${maybeDirective(ctx)}`);
  if (!out.length) out.push(key(d.chance(0.5) && leaves.some((f) => f.name === 'id') ? 'id' : d.pick(leaves).name));
  let nested = 0;
  for (const f of d.some(objects, 0.2)) {
    if (nested++ >= 3) break;
    const named = getNamedType(f.type);
    if (wraps(named.name) && named.name.endsWith('Connection')) out.push(connection(ctx, f, named as GraphQLObjectType, hops, parent, prefix));
    else {
      const rows = rowsOf(ctx);
      const args = f.args.map((a) => [a.name, argument(ctx, f.name, a, rows)] as const).filter(([, v]) => v !== undefined);
      const given = args.length ? `(${args.map(([n, v]) => `${n}: ${v}`).join(', ')})` : '';
      out.push(`${key(f.name)}${given}${maybeDirective(ctx)} { ${selection(ctx, named, hops - 1, null)} }`);
    }
  }
  // Part of the selection moved into a fragment: named (declared once, at the end) or inline.
  if (out.length > 1 && d.chance(0.3)) {
    const cut = d.int(1, out.length - 1);
    const moved = out.splice(cut).join(' ');
    if (d.chance(0.5)) {
      const name = `F${ctx.fragments.length}`;
      ctx.fragments.push(`fragment ${name} on ${object.name} { ${moved} }`);
      out.push(`...${name}`);
    } else out.push(`... on ${object.name}${maybeDirective(ctx)} { ${moved} }`);
  }
  return out.join(' ');
}

/** A resolve input of the data: an identifier, a user's or identity's email, an identity key, a phone number, a provider account. */
function resolveInput(ctx: Ctx): string {
  const { d, org } = ctx;
  const i = d.pick(org.identifiers);
  const withPhone = org.identities.filter((x) => x.phone);
  const withAccount = org.identities.filter((x) => x.externalId && x.sourceKey);
  const withEmail = org.identities.filter((x) => x.email);
  const kinds = [
    () => `{ identifier: { sourceKey: ${str(i.source)}, identifierKey: ${str(i.key)}, identifierValue: ${str(i.value)} } }`,
    () => `{ email: ${str(d.pick(org.members).email)} }`,
    () => `{ identityKey: ${str(d.pick(org.identities).key)} }`,
    ...(withEmail.length ? [() => `{ email: ${str(d.pick(withEmail).email)} }`] : []),
    ...(withPhone.length ? [() => `{ phoneNumber: ${str(d.pick(withPhone).phone)} }`] : []),
    ...(withAccount.length ? [() => { const a = d.pick(withAccount); return `{ externalAccount: { sourceKey: ${str(a.sourceKey)}, externalId: ${str(a.externalId)} } }`; }] : []),
  ];
  return d.pick(kinds)();
}

/** An id of the organization's data, of any type a node may be. */
function anyId(ctx: Ctx): [string, string] {
  const { d, org } = ctx;
  const m = d.pick(org.members);
  const options: [string, string][] = [
    ['User', m.userId],
    ['Member', m.id],
    ['Identifier', d.pick(org.identifiers).id],
    ['Identity', d.pick(org.identities).id],
    ['IntegrationSource', d.pick(org.sources).id],
    ['Organization', org.id],
  ];
  return d.pick(options);
}

/** One root field with its arguments and selection. */
function root(ctx: Ctx, name: (typeof ROOTS)[number], hops: number): string {
  const { d, schema, org } = ctx;
  const field = schema.getQueryType()!.getFields()[name]!;
  const type = getNamedType(field.type);
  const orgArg = () => (d.chance(0.3) ? `organizationId: ${value(ctx, 'ID', d.chance(0.5) ? org.id : gid('Organization', org.id))}, ` : '');
  const member = d.pick(org.members);
  switch (name) {
    case 'organization':
      return `organization(id: ${value(ctx, 'ID', d.chance(0.5) ? org.id : gid('Organization', org.id))}) { ${selection(ctx, type, hops, 'org')} }`;
    case 'node': {
      const [t, id] = anyId(ctx);
      return `node(id: ${value(ctx, 'ID!', gid(t, id))}) { ${d.chance(0.5) ? 'id ' : ''}${selection(ctx, type, hops, t === 'User' ? gid(t, id) : null, [t])} }`;
    }
    case 'nodes': {
      const ids = Array.from({ length: d.int(1, 8) }, () => anyId(ctx));
      const types = [...new Set(ids.map(([t]) => t))];
      return `nodes(ids: ${value(ctx, '[ID!]!', ids.map(([t, id]) => gid(t, id)))}) { ${selection(ctx, type, Math.min(hops, 2), null, types)} }`;
    }
    case 'identity': {
      const i = d.pick(org.identities);
      const by = [`id: ${str(gid('Identity', i.id))}`, `identifierKey: ${str(i.key)}`];
      if (i.email) by.push(`email: ${str(i.email)}`);
      if (i.phone) by.push(`phoneNumber: ${str(i.phone)}`);
      if (i.externalId && i.sourceKey) by.push(`sourceKey: ${str(i.sourceKey)}, externalId: ${str(i.externalId)}`);
      return `identity(${orgArg()}${d.pick(by)}) { ${selection(ctx, type, hops, null)} }`;
    }
    case 'resolve':
      return `resolve(${orgArg()}input: ${resolveInput(ctx)}) { ${selection(ctx, type, hops, null)} }`;
    case 'resolveMany':
      return `resolveMany(${orgArg()}inputs: [${Array.from({ length: d.int(1, 5) }, () => resolveInput(ctx)).join(', ')}]) { ${selection(ctx, type, Math.min(hops, 3), null)} }`;
    case 'user':
      return d.chance(0.7)
        ? `user(id: ${value(ctx, 'ID', gid('User', member.userId))}) { ${selection(ctx, type, hops, gid('User', member.userId))} }`
        : `user(email: ${value(ctx, 'String', member.email)}) { ${selection(ctx, type, hops, null)} }`;
    case 'viewer':
      return `viewer { ${selection(ctx, type, hops, null)} }`;
    case '_entities': {
      const kinds = ['User', 'Organization', 'Member', 'Identifier', 'Identity'];
      const reps = Array.from({ length: d.int(1, 6) }, () => {
        const [t, id] = anyId(ctx);
        return kinds.includes(t) ? [t, id] : ['User', member.userId];
      });
      const list = reps.map(([t, id]) => ({ __typename: t, id: gid(t!, id!) }));
      return `_entities(representations: ${variable(ctx, '[_Any!]!', list)}) { ${selection(ctx, type, Math.min(hops, 2), null, [...new Set(reps.map(([t]) => t!))])} }`;
    }
  }
}

/** Nesting depth of braces and a rough token count: what the server's limits count. */
export function measureText(query: string): { depth: number; tokens: number; aliases: number; directives: number } {
  let depth = 0;
  let max = 0;
  for (const ch of query) if (ch === '{') max = Math.max(max, ++depth); else if (ch === '}') depth--;
  return {
    depth: max,
    tokens: (query.match(/[A-Za-z_][A-Za-z0-9_]*|"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|[{}()[\]:!$@=,.]+/g) ?? []).length,
    aliases: (query.match(/\b\w+: [A-Za-z_]\w*(?=[\s(@{])/g) ?? []).length,
    directives: (query.match(/@(include|skip)/g) ?? []).length,
  };
}

/** One operation drawn by `g` for one of the organizations: retried (by the same draw) until it fits the server's limits. */
function operation(g: fc.GeneratorValue, schema: GraphQLSchema, orgs: OrgData[], index: number): ShapeOperation {
  const d = new Draw(g);
  for (;;) {
    const org = d.pick(orgs);
    const ctx: Ctx = { d, schema, org, fragments: [], variables: new Map(), aliases: 0, directives: 0 };
    const roots = [d.pick(ROOTS)];
    if (d.chance(0.25)) roots.push(d.pick(ROOTS));
    const hops = d.pick([2, 3, 3, 3, 4]);
    const fields = roots.map((r, i) => (i > 0 ? `second: ${root(ctx, r, hops)}` : root(ctx, r, hops)));
    const defs = [...ctx.variables].map(([n, v]) => `$${n}: ${v.type}`);
    const query = `query Shape${index}${defs.length ? `(${defs.join(', ')})` : ''} { ${fields.join(' ')} }${ctx.fragments.map((f) => `\n${f}`).join('')}`;
    const m = measureText(query);
    if (m.depth > LIMITS.depth - 1 || m.tokens > LIMITS.tokens * 0.8 || m.aliases > LIMITS.aliases || m.directives > LIMITS.directives) continue;
    return { index, organizationId: org.id, roots, query, variables: Object.fromEntries([...ctx.variables].map(([n, v]) => [n, v.value])) };
  }
}

/** `count` operations for `seed`: the same seed and data give the same operations. */
export function generateOperations(schema: GraphQLSchema, orgs: OrgData[], count: number, seed: number): ShapeOperation[] {
  const draws = fc.sample(fc.gen(), { seed, numRuns: count });
  return draws.map((g, i) => operation(g, schema, orgs, i));
}

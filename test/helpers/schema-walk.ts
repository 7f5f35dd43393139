import {
  getNamedType,
  isAbstractType,
  isLeafType,
  isNonNullType,
  type GraphQLArgument,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';

// Selections that walk every field of the schema reachable from a type, to a bounded
// depth, and a search of answers for values that must not be in them: the tenancy
// walk (test/tenancy-walk.test.ts) asks every root with them.

export interface Walk {
  schema: GraphQLSchema;
  /** How many object hops below the root are expanded; connections and their edges do not count. */
  depth: number;
  /** The page size asked of every connection. */
  page: number;
  /** A literal for an optional argument of a nested field, or undefined to leave it out. */
  argument?: (type: string, field: string, arg: GraphQLArgument) => string | undefined;
  /** Whether an object field is expanded (default: every one); leaves are always selected. */
  expand?: (type: string, field: string) => boolean;
}

/** Connection and edge types wrap the objects they page; they cost no depth. */
const wraps = (name: string) => name.endsWith('Connection') || name.endsWith('ConnectionEdge') || name === 'PageInfo';

const needsArgument = (arg: GraphQLArgument) => isNonNullType(arg.type) && arg.defaultValue === undefined;

function argumentsOf(walk: Walk, type: string, field: string, args: readonly GraphQLArgument[]): string {
  const given: string[] = [];
  for (const arg of args) {
    if (arg.name === 'first') given.push(`first: ${walk.page}`);
    else {
      const value = walk.argument?.(type, field, arg);
      if (value !== undefined) given.push(`${arg.name}: ${value}`);
    }
  }
  return given.length ? `(${given.join(', ')})` : '';
}

/** The leaf fields of a type (of each possible type, for an abstract one): what a walk selects where it stops. */
function leaves(walk: Walk, type: GraphQLNamedType, alias = ''): string {
  if (isAbstractType(type)) {
    return ['__typename', ...walk.schema.getPossibleTypes(type).map((t) => `... on ${t.name} { ${leaves(walk, t, `${t.name}_`)} }`)].join(' ');
  }
  const fields = Object.values((type as GraphQLObjectType).getFields());
  return [
    '__typename',
    ...fields.filter((f) => isLeafType(getNamedType(f.type)) && !f.args.some(needsArgument)).map((f) => (alias ? `${alias}${f.name}: ${f.name}` : f.name)),
  ].join(' ');
}

/**
 * The selection of every field of `type` (of each possible type of an abstract one)
 * reachable within `depth` object hops, leaves included wherever it stops; a field is
 * not expanded again below itself (it selects its leaves there). Fields with required
 * arguments are left out. Fields of each possible type of an abstract one are aliased
 * by their type's name (`User_email: email`), as two types' fields of one name may
 * differ in type.
 */
export function selectionOf(walk: Walk, type: GraphQLNamedType, depth = walk.depth, path: string[] = [], alias = ''): string {
  if (isLeafType(type)) return '';
  if (isAbstractType(type)) {
    return ['__typename', ...walk.schema.getPossibleTypes(type).map((t) => `... on ${t.name} { ${selectionOf(walk, t, depth, path, `${t.name}_`)} }`)].join(' ');
  }
  const object = type as GraphQLObjectType;
  const out = ['__typename'];
  for (const field of Object.values(object.getFields())) {
    if (field.args.some(needsArgument)) continue;
    const named = getNamedType(field.type);
    const args = argumentsOf(walk, object.name, field.name, field.args);
    const name = alias ? `${alias}${field.name}: ${field.name}` : field.name;
    if (isLeafType(named)) {
      out.push(name + args);
      continue;
    }
    const edge = `${object.name}.${field.name}`;
    const below = wraps(named.name) ? depth : depth - 1;
    const stop = below < 0 || path.includes(edge) || walk.expand?.(object.name, field.name) === false;
    const inner = stop ? leaves(walk, named) : selectionOf(walk, named, below, [...path, edge]);
    out.push(`${name}${args} { ${inner} }`);
  }
  return out.join(' ');
}

/** A value the walk must never find in an answer, and what it is. */
export type Forbidden = Map<string, string>;

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/** The texts a string of an answer may carry a value in: itself, and what it decodes to when it is base64 (global ids, cursors). */
function readings(s: string): string[] {
  if (s.length < 8 || !/^[A-Za-z0-9+/_-]+=*$/.test(s)) return [s];
  const decoded = Buffer.from(s, 'base64').toString('utf8');
  return /^[\x20-\x7e]+$/.test(decoded) ? [s, decoded] : [s];
}

/** Every string of an answer (numbers and keys too), with where it is. */
function strings(value: unknown, at: string, out: [string, string][]): [string, string][] {
  if (typeof value === 'string') out.push([value, at]);
  else if (typeof value === 'number' || typeof value === 'boolean') out.push([String(value), at]);
  else if (Array.isArray(value)) value.forEach((v, i) => strings(v, `${at}.${i}`, out));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) strings(v, `${at}.${k}`, strings(k, at, out));
  return out;
}

const UUID_ONLY = new RegExp(`^${UUID.source}$`, 'i');
const BASE64_STRING = /"([A-Za-z0-9+/_-]{8,}=*)"/g;

/** Whether a forbidden value is anywhere in the text (JSON of a part of an answer) or in what its base64 strings decode to. */
function mentions(text: string, forbidden: Forbidden, skip: (value: string) => boolean): boolean {
  const decoded = [...text.matchAll(BASE64_STRING)].flatMap((m) => readings(m[1]!).slice(1));
  const all = [text, ...decoded].join('\n').toLowerCase();
  for (const value of forbidden.keys()) if (all.includes(value.toLowerCase()) && !skip(value)) return true;
  return false;
}

/**
 * Every forbidden value found in `answer` (anywhere in it: data, errors and their
 * extensions, decoded global ids and cursors), each once, named, with the path of its
 * first place. Values in `asked` (the operation's own text) are not looked for in
 * errors, whose messages may quote it. The whole answer is searched at once; only an
 * answer with a leak is walked string by string to say where.
 */
export function leaksIn(answer: { data?: unknown; errors?: unknown }, forbidden: Forbidden, asked = ''): string[] {
  const inAsked = (v: string) => asked.toLowerCase().includes(v.toLowerCase());
  const dataLeaks = mentions(JSON.stringify(answer.data ?? null), forbidden, () => false);
  const errorLeaks = mentions(JSON.stringify(answer.errors ?? null), forbidden, inAsked);
  if (!dataLeaks && !errorLeaks) return [];
  const found = new Map<string, string>();
  const byLower = new Map([...forbidden].map(([k, what]) => [k.toLowerCase(), what]));
  const values = [...forbidden.keys()].filter((k) => !UUID_ONLY.test(k));
  const search = (texts: [string, string][], skip: (value: string) => boolean) => {
    for (const [s, at] of texts) {
      for (const text of readings(s)) {
        for (const m of text.match(UUID) ?? []) {
          const id = m.toLowerCase();
          if (byLower.has(id) && !skip(m) && !found.has(id)) found.set(id, `${id} (${byLower.get(id)}) at ${at}`);
        }
        for (const v of values) if (text.includes(v) && !skip(v) && !found.has(v)) found.set(v, `${v} (${forbidden.get(v)}) at ${at}`);
      }
    }
  };
  search(strings(answer.data, 'data', []), () => false);
  search(strings(answer.errors, 'errors', []), inAsked);
  return [...found.values()];
}

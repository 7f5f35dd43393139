import { isUuid } from '../visibility.ts';

// How an answer is written as JSON text in SQL, and put together from the parts a
// statement returns. The formats here (global ids, cursors, dates) are the ones the
// general path's scalars and plugins write: test/engine-equivalence.test.ts compares them.

/** A selection, argument or field the engine does not compile: that read takes the general path. */
export class Unplannable extends Error {}
export const unplannable = (reason: string): never => {
  throw new Unplannable(reason);
};

/** The key of an object's row id, in an object with fields left to the general path (compiled.ts). */
export const ROW_KEY = '\u0000row';

/** The key of an object's type, in an object of a union with fields left to the general path (compiled.ts). */
export const TYPE_KEY = '\u0000type';

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

/** A plan's row: `found`, and the JSON text of each part of the answer (c0, c1, …). */
export type PlanRow = Record<string, unknown>;

/**
 * A value of the answer: SQL of a scalar, SQL of a JSON text (null for JSON's null),
 * or an object of values. Objects inside a list are JSON texts written in SQL, by
 * concatenation (`objectText`, `listText`): json_build_object and json_agg look up the
 * type of every key and value of every row. The objects above the lists (the root
 * and its connections) stay objects, and the answer is put together from their parts'
 * JSON texts outside PostgreSQL (`Parts`): wrapping a long list in one more object
 * copies it once more.
 */
export type Value = string | { json: string; rowHole?: true } | Shape;
export interface Shape {
  pairs: [string, Value][];
}

/**
 * A field whose value is `v` in the rows where `when` (SQL) holds, and left to the
 * general path in the others: its key is missing from their objects, which carry their
 * row's id (compiled.ts answers such a field by its resolver).
 */
export const rowHole = (when: string, v: Value): Value => ({ json: `CASE WHEN ${when} THEN ${jsonText(v)} END`, rowHole: true });

export const isRowHole = (v: Value) => typeof v === 'object' && 'rowHole' in v;

/** The pairs of an object, those missing from some rows last: a key written in every row comes first (and opens the object). */
function inOrder(pairs: [string, Value][]): [string, Value][] {
  const ordered = [...pairs.filter(([, v]) => !isRowHole(v)), ...pairs.filter(([, v]) => isRowHole(v))];
  if (ordered.length && isRowHole(ordered[0]![1])) throw new Error('an object whose every field may be missing');
  return ordered;
}

/** SQL of a row hole's key and JSON text, after another pair: empty where the field is left to the general path. */
const optionalPair = (key: string, v: Value) => `coalesce(${literal(`,${JSON.stringify(key)}:`)} || ${(v as { json: string }).json}, '')`;

export const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;
/** `__typename`: a string (typed, so that to_json takes it). */
export const typename = (name: string) => `${literal(name)}::text`;
/** A DateTime as the DateTime scalar writes it. */
export const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
// Global ids are base64 of `Type:uuid` and cursors of `GPC:S:uuid` (the relay and
// prisma plugins' formats): under 57 bytes, so PostgreSQL's encoding has no line breaks.
export const globalId = (type: string, column: string) => `encode(convert_to(${literal(`${type}:`)} || ${column}::text, 'UTF8'), 'base64')`;
/** A global id whose type is a column (or SQL text): a long type may break PostgreSQL's base64 into lines, which are joined. */
export const typedGlobalId = (typeSql: string, idColumn: string) =>
  `translate(encode(convert_to(${typeSql} || ':' || ${idColumn}::text, 'UTF8'), 'base64'), chr(10), '')`;
export const cursorOf = (column: string) => `encode(convert_to('GPC:S:' || ${column}::text, 'UTF8'), 'base64')`;

/** The id a cursor of `cursorOf` holds, or undefined when it is not one. */
export function idOfCursor(cursor: unknown): string | undefined {
  if (typeof cursor !== 'string') return undefined;
  const decoded = Buffer.from(cursor, 'base64').toString('utf8');
  const id = decoded.startsWith('GPC:S:') ? decoded.slice(6) : '';
  return isUuid(id) && Buffer.from(decoded).toString('base64') === cursor ? id : undefined;
}

/** SQL of the JSON text of a value, never null. */
export function jsonText(v: Value): string {
  if (typeof v === 'string') return `coalesce(to_json(${v})::text, 'null')`;
  return 'json' in v ? `coalesce(${v.json}, 'null')` : objectText(v.pairs);
}

/** SQL of the JSON text of the object `pairs` (response name, value). */
export function objectText(pairs: [string, Value][]): string {
  if (!pairs.length) return `'{}'::text`;
  const text = inOrder(pairs).map(([k, v], i) => (isRowHole(v) ? optionalPair(k, v) : `${literal(`${i ? ',' : '{'}${JSON.stringify(k)}:`)} || ${jsonText(v)}`));
  return `(${text.join(' || ')} || '}')`;
}

/** SQL of the JSON text of a list (an aggregate) of `element`'s JSON text, in `order`; `[]` when there is none. */
export const listText = (element: string, order: string) => `coalesce('[' || string_agg(${element}, ',' ORDER BY ${order}) || ']', '[]')`;

/** The parts of an answer: the SQL of each (c0, c1, …) and, in order, JSON text between them and their numbers. */
export class Parts {
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
      inOrder(v.pairs).forEach(([k, inner], i) => {
        if (isRowHole(inner)) return this.column(`${optionalPair(k, inner)} AS c${this.columns.length}`);
        this.text(`${i ? ',' : ''}${JSON.stringify(k)}:`);
        this.add(inner);
      });
      this.text('}');
      return;
    }
    this.column(typeof v === 'string' ? `to_json(${v})::text AS c${this.columns.length}` : `(${v.json})::text AS c${this.columns.length}`);
  }

  private column(sql: string) {
    this.template.push(this.columns.length);
    this.columns.push(sql);
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

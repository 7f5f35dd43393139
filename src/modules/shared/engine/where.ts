import type { Builder } from './builder.ts';
import { model, type Model } from './datamodel.ts';
import type { RankTerm } from '../rules.ts';
import { unplannable } from './text.ts';

// Prisma filters and orders rendered in SQL. The rules of the read paths (which rows a
// viewer sees, what a filter argument means, the order of a list) are written once, as
// the Prisma `where` and `orderBy` the general path gives Prisma; the engine renders
// the same objects here, so the two paths cannot drift apart. Only the forms the rules
// use are rendered; any other is not compiled (the read takes the general path).

type Where = Record<string, unknown>;

/** The id of a connection's parent row, as its query's where names it: rendered as that column. */
export class ParentId {
  constructor(readonly column: string) {}
}

const OPERATORS: Record<string, string> = { gt: '>', gte: '>=', lt: '<', lte: '<=' };

function scalar(b: Builder, col: string, filter: unknown): string {
  if (filter === null) return `${col} IS NULL`;
  if (filter instanceof ParentId) return `${col} = ${filter.column}`;
  if (typeof filter !== 'object' || filter instanceof Date) return `${col} = ${b.param(filter)}`;
  const f = filter as Record<string, unknown>;
  const insensitive = f.mode === 'insensitive';
  const parts: string[] = [];
  for (const [op, value] of Object.entries(f)) {
    if (op === 'mode') continue;
    if (value === undefined) continue;
    if (op === 'equals') parts.push(scalar(b, col, value));
    else if (op === 'not') parts.push(value === null ? `${col} IS NOT NULL` : `NOT (${scalar(b, col, value)}) `);
    else if (op === 'in' || op === 'notIn') {
      const list = value as unknown[];
      const test = list.length === 1 ? `${col} = ${b.param(list[0])}` : list.length ? `${col} = ANY(${b.param(list)})` : 'false';
      parts.push(op === 'in' ? test : `NOT (${test})`);
    } else if (OPERATORS[op]) parts.push(`${col} ${OPERATORS[op]} ${b.param(value)}`);
    else if (op === 'contains' || op === 'startsWith' || op === 'endsWith') {
      const pattern = `${op === 'startsWith' ? '' : `'%' || `}${b.param(value, 'text')}${op === 'endsWith' ? '' : ` || '%'`}`;
      parts.push(`${col} ${insensitive ? 'ILIKE' : 'LIKE'} ${pattern}`);
    } else if (op === 'has') parts.push(value === null ? unplannable('has: null') : `${b.param(value)} = ANY(${col})`);
    // An untyped parameter takes the type of the array column it is compared with.
    else if (op === 'hasSome') parts.push(`${col} && ${b.param(value)}`);
    else if (op === 'hasEvery') parts.push(`${col} @> ${b.param(value)}`);
    else if (op === 'isEmpty') parts.push(value ? `coalesce(cardinality(${col}), 0) = 0` : `cardinality(${col}) > 0`);
    else unplannable(`the filter ${op}`);
  }
  return parts.length ? parts.join(' AND ') : 'true';
}

/** SQL true for the rows `alias` of `m` that `where` matches. */
export function whereSql(b: Builder, m: Model, alias: string, where: unknown): string {
  if (where == null) return 'true';
  if (typeof where !== 'object') return unplannable('a filter that is not an object');
  const parts: string[] = [];
  for (const [key, value] of Object.entries(where as Where)) {
    if (value === undefined) continue;
    if (key === 'AND') parts.push(...(Array.isArray(value) ? value : [value]).map((w) => `(${whereSql(b, m, alias, w)})`));
    else if (key === 'OR') parts.push(`(${(value as unknown[]).map((w) => `(${whereSql(b, m, alias, w)})`).join(' OR ') || 'false'})`);
    else if (key === 'NOT') parts.push(...(Array.isArray(value) ? value : [value]).map((w) => `NOT (${whereSql(b, m, alias, w)})`));
    else if (m.fields.has(key)) parts.push(scalar(b, `${alias}.${m.fields.get(key)!.column}`, value));
    else if (m.relations.has(key)) parts.push(relation(b, m, alias, key, value as Where));
    else unplannable(`the filter ${m.name}.${key}`);
  }
  return parts.length ? parts.join(' AND ') : 'true';
}

function relation(b: Builder, m: Model, alias: string, key: string, filter: Where): string {
  const r = m.relations.get(key)!;
  const target = model(r.model);
  const inner = b.alias(target.table[0]!);
  if (!r.list) {
    const { is, isNot, ...rest } = filter;
    const tenant = r.tenantColumn ? ` AND ${inner}.${target.fields.get('organizationId')!.column} = ${alias}.${r.tenantColumn}` : '';
    const link = `${inner}.${target.fields.get('id')!.column} = ${alias}.${r.column}${tenant}`;
    const exists = (w: unknown) => `EXISTS (SELECT 1 FROM ${b.from(target)} ${inner} WHERE ${link} AND ${whereSql(b, target, inner, w)})`;
    if (isNot !== undefined) return `NOT ${exists(isNot)}`;
    return exists(is !== undefined ? is : rest);
  }
  const link = `${inner}.${r.column} = ${alias}.${m.fields.get('id')!.column}`;
  const from = `FROM ${b.from(target)} ${inner} WHERE ${link}`;
  const parts: string[] = [];
  for (const [op, w] of Object.entries(filter)) {
    if (op === 'some') parts.push(`EXISTS (SELECT 1 ${from} AND ${whereSql(b, target, inner, w)})`);
    else if (op === 'none') parts.push(`NOT EXISTS (SELECT 1 ${from} AND ${whereSql(b, target, inner, w)})`);
    else if (op === 'every') parts.push(`NOT EXISTS (SELECT 1 ${from} AND NOT (${whereSql(b, target, inner, w)}))`);
    else unplannable(`the filter ${m.name}.${key}.${op}`);
  }
  return parts.join(' AND ') || 'true';
}

export interface OrderTerm {
  column: string;
  descending: boolean;
}

/** The terms of a Prisma orderBy of scalar fields; it must end with the unique id for keyset paging. */
export function orderTerms(m: Model, orderBy: unknown): OrderTerm[] {
  const list = Array.isArray(orderBy) ? orderBy : orderBy ? [orderBy] : [];
  const terms = list.flatMap((o: Record<string, unknown>) =>
    Object.entries(o).map(([field, dir]) => {
      const column = m.fields.get(field)?.column;
      if (!column || (dir !== 'asc' && dir !== 'desc')) return unplannable(`the order ${JSON.stringify(o)}`);
      return { column, descending: dir === 'desc' };
    }),
  );
  if (terms.at(-1)?.column !== m.fields.get('id')!.column) unplannable('an order without a tie-break by id');
  return terms;
}

/** SQL of an ORDER BY of `terms` on `alias`, or the reverse. */
export const orderSql = (terms: OrderTerm[], alias: string, reverse = false) =>
  terms.map((t) => `${alias}.${t.column}${t.descending !== reverse ? ' DESC' : ''}`).join(', ');

/** SQL of an ORDER BY of a ranking (rules.ts, RankTerm) on `alias`: a null counts as its term says. */
export function rankSql(m: Model, terms: RankTerm[], alias: string): string {
  return terms
    .map((t) => {
      const column = `${alias}.${(m.fields.get(t.field) ?? unplannable(`the rank ${m.name}.${t.field}`)).column}`;
      const value = t.nullAs === undefined ? column : Number.isFinite(t.nullAs) ? `coalesce(${column}, ${t.nullAs})` : unplannable(`the rank ${t.field}`);
      return `${value}${t.descending ? ' DESC' : ''}`;
    })
    .join(', ');
}

/** Whether a plain row (as Prisma returns it) matches `where`: the same rule in JavaScript, for lists filtered after loading. */
export function matches(row: Record<string, unknown>, where: unknown): boolean {
  if (where == null) return true;
  return Object.entries(where as Where).every(([key, value]) => {
    if (value === undefined) return true;
    if (key === 'AND') return (Array.isArray(value) ? value : [value]).every((w) => matches(row, w));
    if (key === 'OR') return (value as unknown[]).some((w) => matches(row, w));
    if (key === 'NOT') return !(Array.isArray(value) ? value : [value]).some((w) => matches(row, w));
    if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
      const f = value as Record<string, unknown>;
      if (Object.keys(f).some((k) => k !== 'in' && k !== 'equals')) throw new Error(`matches: the filter ${key} ${JSON.stringify(f)}`);
      return (f.in === undefined || (f.in as unknown[]).includes(row[key])) && (f.equals === undefined || f.equals === row[key]);
    }
    return row[key] === value;
  });
}

import type { FieldNode, GraphQLObjectType } from 'graphql';
import type { Builder, ConnectionQuery } from './builder.ts';
import { model, type Model } from './datamodel.ts';
import { PAGE } from '../rules.ts';
import { cursorOf, idOfCursor, listText, objectText, typename, unplannable, type Shape, type Value } from './text.ts';
import { orderSql, orderTerms, ParentId, whereSql, type OrderTerm } from './where.ts';

// A Relay connection of a to-many relation, compiled with the paging of the prisma
// plugin's connections: first/after forward, last/before backward, keyset on the
// connection's order (which ends with the id), one row more than the page to tell
// whether another follows, pageInfo and cursors as the plugin writes them, and
// totalCount over every row the filters match. A connection over a model with no
// relation to its parent (`over`) is linked by its query's where alone; one at the
// root of a plan has no parent row (`parentModel` null) and is always `over` a model.

const PAGING = new Set(['first', 'last', 'after', 'before']);
const isCount = (n: unknown) => n == null || (Number.isInteger(n) && (n as number) >= 0);

/** The object of a node of the connection (fields.ts, objectOf). */
type NodeOf = (b: Builder, type: GraphQLObjectType, alias: string, nodes: readonly FieldNode[]) => Shape;

export function connectionOf(
  b: Builder,
  parentModel: Model | null,
  outer: string,
  parent: GraphQLObjectType,
  nodes: FieldNode[],
  query: ConnectionQuery,
  objectOf: NodeOf,
  over?: string,
): Value {
  const name = nodes[0]!.name.value;
  const args = b.args(parent, nodes);
  const { first, last, after, before } = args as { first?: number | null; last?: number | null; after?: string | null; before?: string | null };
  // Arguments the general path refuses are left to it, with its errors.
  if (!isCount(first) || !isCount(last) || (first != null && last != null)) unplannable('page size');
  if ((before != null && after != null) || (before != null && first != null) || (after != null && last != null)) unplannable('cursors');
  const cursorId = after ?? before;
  const cursor = cursorId == null ? undefined : (idOfCursor(cursorId) ?? unplannable('a cursor'));
  let q: { where?: unknown; orderBy?: unknown };
  try {
    const parentId = parentModel && new ParentId(`${outer}.${parentModel.fields.get('id')!.column}`);
    q = query(args, b.ctx, parentId as unknown as string, b.readable);
  } catch {
    return unplannable(`arguments of ${parent.name}.${name}`);
  }
  const r = over ? undefined : (parentModel?.relations.get(name) ?? unplannable(`${parent.name}.${name}`));
  const m = model(over ?? r!.model);
  const terms = orderTerms(m, q.orderBy);
  const size = Math.min(first ?? last ?? PAGE.default, PAGE.max);
  const backward = before != null || last != null;
  const idColumn = m.fields.get('id')!.column;

  const inner = b.alias(m.table[0]!);
  const link = r ? `${inner}.${r.column} = ${outer}.${parentModel!.fields.get('id')!.column} AND ` : '';
  const filtered = `${link}${whereSql(b, m, inner, q.where)}`;
  // The page's rows are read once, one more than the page to tell whether another
  // follows, numbered in the order they are fetched; edges, cursors and hasNextPage all
  // read them (a CTE inside the connection's own subquery, correlated to its parent).
  const rows = b.alias('pg');
  const n = `${rows}_n`;
  // A filtered page without a cursor reads every row the filters leave to find its
  // first rows, as the count does: the count comes from that same scan. Unfiltered, an
  // index in the connection's order may serve the page alone, and the count stays apart.
  const countInScan = cursor === undefined && Object.entries(args).some(([k, v]) => v != null && !PAGING.has(k));
  const total = `${rows}_total`;
  let countWithRows = false;
  // Built only when read: every parameter must appear in the statement.
  const keyset = () => (cursor === undefined ? 'true' : keysetSql(b, m, inner, terms, cursor, backward));
  const fetched = () =>
    `SELECT ${inner}.*, row_number() OVER (ORDER BY ${orderSql(terms, inner, backward)}) AS ${n}${countWithRows ? `, count(*) OVER () AS ${total}` : ''}
      FROM ${b.from(m)} ${inner} WHERE ${filtered} AND ${keyset()} ORDER BY ${orderSql(terms, inner, backward)} LIMIT ${b.param(size + 1, 'int')}`;
  let usesRows = false;
  let pages = 0;
  // Where the page's rows go: known only once the whole selection is read (below).
  const PAGE_ROWS = `\u0000${rows}\u0000`;
  /** SQL of the page's rows (without the extra one), as a derived table. */
  const page = () => {
    pages++;
    return PAGE_ROWS;
  };
  const more = () => {
    usesRows = true;
    return `(SELECT count(*) > ${b.param(size, 'int')} FROM ${rows})`;
  };

  const connectionType = b.fieldType(parent, name);
  const pairs: [string, Value][] = [];
  for (const [key, fieldNodes] of b.collect(connectionType, nodes)) {
    const field = fieldNodes[0]!.name.value;
    if (field === '__typename') pairs.push([key, typename(connectionType.name)]);
    else if (field === 'totalCount' && countInScan) {
      countWithRows = usesRows = true;
      pairs.push([key, `coalesce((SELECT ${total} FROM ${rows} LIMIT 1), 0)`]);
    } else if (field === 'totalCount') pairs.push([key, `(SELECT count(*) FROM ${b.from(m)} ${inner} WHERE ${filtered})`]);
    else if (field === 'edges') {
      const edgeType = b.fieldType(connectionType, 'edges');
      const edge: [string, Value][] = [];
      for (const [edgeKey, edgeNodes] of b.collect(edgeType, fieldNodes)) {
        const edgeField = edgeNodes[0]!.name.value;
        if (edgeField === '__typename') edge.push([edgeKey, typename(edgeType.name)]);
        else if (edgeField === 'cursor') edge.push([edgeKey, cursorOf(`${inner}.${idColumn}`)]);
        else if (edgeField === 'node') edge.push([edgeKey, objectOf(b, b.fieldType(edgeType, 'node'), inner, edgeNodes)]);
        else unplannable(`${edgeType.name}.${edgeField}`);
      }
      pairs.push([key, { json: `(SELECT ${listText(objectText(edge), orderSql(terms, inner))} FROM (${page()}) ${inner})` }]);
    } else if (field === 'pageInfo') {
      const infoType = b.fieldType(connectionType, 'pageInfo');
      const info: [string, Value][] = [];
      for (const [infoKey, infoNodes] of b.collect(infoType, fieldNodes)) {
        const f = infoNodes[0]!.name.value;
        if (f === '__typename') info.push([infoKey, typename(infoType.name)]);
        // As the prisma plugin answers: a page before a cursor has a next page, one after a cursor a previous one.
        else if (f === 'hasNextPage') info.push([infoKey, before != null ? 'true' : last != null ? 'false' : more()]);
        else if (f === 'hasPreviousPage') info.push([infoKey, after != null ? 'true' : backward ? more() : 'false']);
        else if (f === 'startCursor' || f === 'endCursor') {
          info.push([infoKey, `(SELECT ${cursorOf(`${inner}.${idColumn}`)} FROM (${page()}) ${inner} ORDER BY ${orderSql(terms, inner, f === 'endCursor')} LIMIT 1)`]);
        } else unplannable(`PageInfo.${f}`);
      }
      pairs.push([key, { pairs: info }]);
    } else unplannable(`${connectionType.name}.${field}`);
  }
  if (!usesRows && pages === 0) return { pairs };
  const text = objectText(pairs);
  // Edges alone read the page once: a plain LIMIT, with no numbering and no extra row.
  if (!usesRows && pages === 1) {
    const direct = `SELECT ${inner}.* FROM ${b.from(m)} ${inner} WHERE ${filtered} AND ${keyset()} ORDER BY ${orderSql(terms, inner, backward)} LIMIT ${b.param(size, 'int')}`;
    return { json: text.replace(PAGE_ROWS, () => direct) };
  }
  const shown = pages ? `SELECT * FROM ${rows} WHERE ${n} <= ${b.param(size, 'int')}` : '';
  return { json: `(WITH ${rows} AS MATERIALIZED (${fetched()}) SELECT ${text.split(PAGE_ROWS).join(shown)})` };
}

/** SQL true for the rows after (or, backward, before) the row `id` in the order `terms`, all one way (a row comparison an index serves). */
function keysetSql(b: Builder, m: Model, alias: string, terms: OrderTerm[], id: string, backward: boolean): string {
  if (terms.some((t) => t.descending !== terms[0]!.descending)) unplannable('cursors on a mixed order');
  const c = b.alias('c');
  const op = terms[0]!.descending !== backward ? '<' : '>';
  const cols = (a: string) => terms.map((t) => `${a}.${t.column}`).join(', ');
  return `(${cols(alias)}) ${op} (SELECT ${cols(c)} FROM ${b.from(m)} ${c} WHERE ${c}.${m.fields.get('id')!.column} = ${b.param(id, 'uuid')})`;
}

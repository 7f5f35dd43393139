import type { FieldNode, GraphQLObjectType } from 'graphql';
import type { Context } from '../../../context.ts';
import { Builder, ROOT, type PlanInfo } from './builder.ts';
import { Compiled } from './compiled.ts';
import { modelOf, objectOf } from './fields.ts';
import { compiledNodeRule } from './roots.ts';
import { planAndRun } from './run.ts';
import { listText, objectText, Parts, TYPE_KEY, typename, unplannable, type Value } from './text.ts';
import { whereSql } from './where.ts';

// Objects a root resolver computes in JS (matchCandidates' candidates, with scores and
// evidence) that name table rows by id: the rows, and everything selected under them,
// are read by one statement for the whole list, each under the rule node(id) reads its
// type by. Fields with no SQL form are left to the general path (holes, compiled.ts).

/**
 * SQL of the JSON text of the row of `type` whose id is `id` (SQL), with what `nodes`
 * select of it, among the rows node(id) of that type finds (compiledNode); null when none.
 * `typed`: in an answer with holes the object carries its type (TYPE_KEY), for a list
 * of an abstract type that graphql-js reads without being told each item's type.
 */
export function nodeRowSql(b: Builder, type: GraphQLObjectType, nodes: readonly FieldNode[], id: string, typed = false): string {
  const m = modelOf(type) ?? unplannable(`${type.name} is not a table`);
  const visible = compiledNodeRule(type.name) ?? unplannable(`node(id) of ${type.name}`);
  const { pairs } = objectOf(b, type, ROOT, nodes);
  if (typed && b.holes) pairs.push([TYPE_KEY, typename(type.name)]);
  const object = objectText(pairs);
  const where = whereSql(b, m, ROOT, visible(b.ctx, b.readable, b.administered));
  return `(SELECT ${object} FROM ${b.from(m)} ${ROOT} WHERE ${ROOT}.${m.fields.get('id')!.column} = ${id} AND ${where} LIMIT 1)`;
}

/** The objects of one computed item, by response name: compiled objects, null where no visible row. */
export type NamedRows = Record<string, Compiled | null>;

/**
 * For each item of the list the field being resolved returns (items of type `item`),
 * the rows its fields in `named` name (field name → one id per item, null for none):
 * what is selected of them, by response name. Undefined when the selection is not
 * compiled (the general path answers it).
 */
export async function prebuiltNamedRows(ctx: Context, info: PlanInfo, item: GraphQLObjectType, named: Record<string, (string | null)[]>): Promise<NamedRows[] | undefined> {
  const fields = Object.keys(named);
  const types = new Map<string, string>();
  // Nothing named selected (only what the resolver computed): no statement.
  const selected = [...new Builder(info, ctx, [], []).collect(item, info.fieldNodes).values()].some((nodes) => fields.includes(nodes[0]!.name.value));
  if (!selected) return undefined;
  const answer = await planAndRun(
    ctx,
    info,
    (b) => {
      const pairs: [string, Value][] = [];
      for (const [key, nodes] of b.collect(item, info.fieldNodes)) {
        const field = nodes[0]!.name.value;
        const at = fields.indexOf(field);
        if (at < 0) continue;
        const type = b.fieldType(item, field);
        types.set(key, type.name);
        pairs.push([key, { json: nodeRowSql(b, type, nodes, `wanted.id${at}`) }]);
      }
      const parts = new Parts({ json: listText(objectText(pairs), 'wanted.n') });
      const ids = fields.map((f) => b.param(named[f], 'uuid[]'));
      const columns = fields.map((_f, i) => `id${i}`);
      return { parts, text: `SELECT ${parts.select()} FROM unnest(${ids.join(', ')}) WITH ORDINALITY AS wanted(${columns.join(', ')}, n)` };
    },
    { holes: true },
  );
  if (!answer) return undefined;
  const list = JSON.parse(answer.text) as Record<string, Record<string, unknown> | null>[];
  return list.map((objects) =>
    Object.fromEntries(Object.entries(objects).map(([key, data]) => [key, data ? new Compiled(types.get(key)!, data) : null])),
  );
}

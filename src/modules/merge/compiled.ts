import { compiledField, derivedModel, model, whereSql } from '../shared/engine/index.ts';
import { globalId, listText, objectText, typename, unplannable, type Value } from '../shared/engine/text.ts';
import { readableWhere } from '../shared/rules.ts';
import type { MergeConflict } from './plan.ts';
import { readablePartsWhere } from './service.ts';

// A merge's organizations and conflicts, compiled from its columns under the rules their
// resolvers apply (readableWhere over each organization id, readablePartsWhere over each
// conflict), in the order stored. `changedSinceMerge` is not compiled: it is no column,
// only the answer of a forced unmerge carries it.

const column = (alias: string, field: string) => `${alias}.${model('Merge').fields.get(field)!.column}`;
/** An organization id of a merge, or the organization of one of its conflicts, as the rules name it. */
const PART = derivedModel('MergePart', ['organizationId']);
const organizationOf = (alias: string) => `${alias}.${PART.fields.get('organizationId')!.column}`;

compiledField('UserMerge', 'organizationIds', (b, alias) => {
  const o = b.alias('o');
  const element = `to_json(${globalId('Organization', organizationOf(o))})::text`;
  return {
    json: `(SELECT ${listText(element, `${o}.n`)} FROM unnest(${column(alias, 'organizationIds')}) WITH ORDINALITY AS ${o}(${PART.fields.get('organizationId')!.column}, n)
      WHERE ${whereSql(b, PART, o, readableWhere(b.readable))})`,
  };
});

/** SQL of each field of a conflict, from its element `e` of the decisions (stored as MergeConflict, plan.ts). */
const CONFLICT: Record<string, (e: string) => Value> = {
  key: (e) => `${e}->>${key('key')}`,
  kind: (e) => `${e}->>${key('kind')}`,
  organizationId: (e) => `CASE WHEN nullif(${e}->>${key('organizationId')}, '') IS NOT NULL THEN ${globalId('Organization', `(${e}->>${key('organizationId')})`)} END`,
  field: (e) => `${e}->>${key('field')}`,
  survivorValue: (e) => ({ json: `(${e}->${key('survivorValue')})::text` }),
  mergedValue: (e) => ({ json: `(${e}->${key('mergedValue')})::text` }),
  keep: (e) => `${e}->>${key('keep')}`,
  chosen: (e) => `(${e}->${key('chosen')})::boolean`,
  rule: (e) => `${e}->>${key('rule')}`,
};
function key(name: keyof MergeConflict): string {
  return `'${name}'`;
}

compiledField('UserMerge', 'conflicts', (b, alias, nodes, parent) => {
  const type = b.fieldType(parent, nodes[0]!.name.value);
  const [d, p] = [b.alias('d'), b.alias('p')];
  const pairs: [string, Value][] = [];
  for (const [response, fieldNodes] of b.collect(type, nodes)) {
    const field = fieldNodes[0]!.name.value;
    pairs.push([response, field === '__typename' ? typename(type.name) : (CONFLICT[field] ?? unplannable(`${type.name}.${field}`))(`${d}.part`)]);
  }
  return {
    json: `(SELECT ${listText(objectText(pairs), `${d}.n`)} FROM jsonb_array_elements(${column(alias, 'decisions')}) WITH ORDINALITY AS ${d}(part, n)
      CROSS JOIN LATERAL (SELECT nullif(${d}.part->>${key('organizationId')}, '') AS ${PART.fields.get('organizationId')!.column}) ${p}
      WHERE ${whereSql(b, PART, p, readablePartsWhere(b.readable))})`,
  };
});

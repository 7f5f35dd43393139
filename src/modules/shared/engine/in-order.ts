import type { GraphQLObjectType } from 'graphql';
import type { Context } from '../../../context.ts';
import { sourceIdOf } from '../inputs.ts';
import { ROOT, type Builder, type PlanInfo } from './builder.ts';
import { model } from './datamodel.ts';
import { visibleUserRule } from '../rules.ts';
import { resolutionPairs } from './roots.ts';
import { nodeRowSql } from './named.ts';
import { planAndRun } from './run.ts';
import { JsonText, listText, objectText, Parts } from './text.ts';
import { whereSql } from './where.ts';

// Lists read now or as of a past moment, each answered by one statement whatever its
// length: the objects of several ids (`nodes`) and the resolutions of several
// identifiers (`resolveMany`). Each position follows the rule of its single read
// (roots.ts) and is null where that finds nothing; the list keeps the order asked.

/** SQL of the id a node's id leads to (an SQL uuid), read now or as of the plan's moment. */
export type NodeLead = (b: Builder, id: string) => string;
const leads = new Map<string, NodeLead>();
const leadsNow = new Map<string, NodeLead>();

/** Declares where ids of `type` lead as of a moment (a merged user to its survivor then); `nodes` reads the row led to. */
export function leadNodeAsOf(type: string, lead: NodeLead): void {
  leads.set(type, lead);
}

/** Declares where ids of `type` lead now, as node.ts's redirect does (a merged user to its survivor); `nodes` reads the row led to. */
export function leadNode(type: string, lead: NodeLead): void {
  leadsNow.set(type, lead);
}

/** A position of `nodes`: an id of a type declared with compiledNode, an answer already known, or null. */
export type NodePosition = { typename: string; id: string } | JsonText | null;

/**
 * `nodes(ids)` as of `asOf`, in order: each id's row under its type's rule (compiledNode),
 * from where its type leads it (leadNodeAsOf). Every id's type must be compiled.
 */
export async function prebuiltNodesAsOf(ctx: Context, info: PlanInfo, positions: NodePosition[], asOf: Date): Promise<JsonText> {
  return (await prebuiltNodes(ctx, info, positions, asOf))!;
}

/**
 * `nodes(ids)` now (asOf null: leads of leadNode) or as of `asOf` (leads of
 * leadNodeAsOf), as prebuiltNodesAsOf; undefined when the general path answers instead.
 * With `holes`, fields with no SQL form are left to the general path (compiled.ts), and
 * with `typed` too each object then carries its type (named.ts, nodeRowSql).
 */
export async function prebuiltNodes(ctx: Context, info: PlanInfo, positions: NodePosition[], asOf: Date | null, holes = false, typed = false): Promise<JsonText | undefined> {
  const types = [...new Set(positions.flatMap((p) => (p && !(p instanceof JsonText) ? [p.typename] : [])))];
  const list = await planAndRun(
    ctx,
    info,
    (b) => {
      // Each type's row is a subquery of its own, chosen by the position's type number.
      const branches = types.map((type, t) => {
        const id = (asOf ? leads : leadsNow).get(type)?.(b, 'wanted.id') ?? 'wanted.id';
        return `WHEN ${t} THEN coalesce(${nodeRowSql(b, info.schema.getType(type) as GraphQLObjectType, info.fieldNodes, id, typed)}, 'null')`;
      });
      const ids = positions.map((p) => (p && !(p instanceof JsonText) ? p.id : null));
      const typeOf = positions.map((p) => (p && !(p instanceof JsonText) ? types.indexOf(p.typename) : null));
      const texts = positions.map((p) => (p instanceof JsonText ? p.text : null));
      const given = `coalesce(wanted.given, 'null')`;
      const element = branches.length ? `CASE wanted.t ${branches.join(' ')} ELSE ${given} END` : given;
      const parts = new Parts({ json: listText(element, 'wanted.n') });
      return {
        parts,
        text: `SELECT ${parts.select()}
        FROM unnest(${b.param(ids, 'uuid[]')}, ${b.param(typeOf, 'int[]')}, ${b.param(texts, 'text[]')}) WITH ORDINALITY AS wanted(id, t, given, n)`,
      };
    },
    { asOf, holes },
  );
  return list ?? undefined;
}

/** The element of a list of one (the single read of a list read). */
export function soleElement(list: JsonText): JsonText | null {
  const text = list.text.slice(1, -1);
  return text === 'null' ? null : new JsonText(text);
}

/** An identifier to resolve: its source (key or id), key, and the normalised forms to try, first first. */
export interface ResolutionKey {
  source: string;
  identifierKey: string;
  forms: string[];
}

/**
 * `resolveMany` of identifiers as of `asOf`, in order: each key's resolution by the first
 * of its forms that matched anything (null when none did): the identifiers of the
 * organization with that key and normalised value in that source (by key or id), and
 * their user when they belong to exactly one. (The present's resolve is compiled by
 * graph/compiled.ts.)
 */
export async function prebuiltResolutionsAsOf(ctx: Context, info: PlanInfo, organizationId: string, keys: ResolutionKey[], asOf: Date): Promise<JsonText> {
  const identifier = model('Identifier');
  const source = model('IntegrationSource');
  const users = model('User');
  const col = (m: typeof identifier, field: string) => m.fields.get(field)!.column;
  const forms = keys.flatMap((k, n) => k.forms.map((value, j) => ({ n: n + 1, j, source: k.source, sourceId: sourceIdOf(k.source), key: k.identifierKey, value })));
  const list = await planAndRun(
    ctx,
    info,
    (b) => {
      const element = `CASE WHEN hit.n IS NULL THEN 'null' ELSE ${objectText(resolutionPairs(b, info))} END`;
      const parts = new Parts({ json: listText(element, 'wanted.n') });
      const userId = `i.${col(identifier, 'userId')}`;
      const column = (field: keyof (typeof forms)[number], cast: string) => b.param(forms.map((f) => f[field]), cast);
      // Each form's matches (one row when any), then each key's first form that matched.
      return {
        parts,
        text: `SELECT ${parts.select()}
        FROM generate_series(1, ${b.param(keys.length, 'int')}) AS wanted(n)
        LEFT JOIN (SELECT DISTINCT ON (form.n) form.n, hit.user_id, hit.users
          FROM unnest(${column('n', 'int[]')}, ${column('j', 'int[]')}, ${column('source', 'text[]')}, ${column('sourceId', 'uuid[]')}, ${column('key', 'text[]')}, ${column('value', 'text[]')})
            AS form(n, j, source, source_id, identifier_key, normalized_value)
          CROSS JOIN LATERAL (SELECT (array_agg(DISTINCT ${userId}))[1] AS user_id, count(DISTINCT ${userId}) AS users
            FROM ${b.from(identifier)} i
            WHERE i.${col(identifier, 'organizationId')} = ${b.param(organizationId, 'uuid')}
              AND i.${col(identifier, 'identifierKey')} = form.identifier_key AND i.${col(identifier, 'normalizedValue')} = form.normalized_value
              AND EXISTS (SELECT 1 FROM ${b.from(source)} s WHERE s.${col(source, 'id')} = i.${identifier.relations.get('source')!.column}
                AND (s.${col(source, 'key')} = form.source OR s.${col(source, 'id')} = form.source_id))
            HAVING count(*) > 0) hit
          ORDER BY form.n, form.j) hit ON hit.n = wanted.n
        LEFT JOIN ${b.from(users)} ${ROOT} ON ${ROOT}.${col(users, 'id')} = hit.user_id AND hit.users = 1 AND ${whereSql(b, users, ROOT, visibleUserRule(ctx, b.readable))}`,
      };
    },
    { asOf },
  );
  return list!;
}

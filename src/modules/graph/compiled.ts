import type { FieldNode, GraphQLObjectType } from 'graphql';
import type { Context } from '../../context.ts';
import type { Builder, PlanInfo } from '../shared/engine/builder.ts';
import { model, type Model } from '../shared/engine/datamodel.ts';
import { objectOf } from '../shared/engine/fields.ts';
import { planAndRun } from '../shared/engine/run.ts';
import { JsonText, listText, literal, objectText, Parts, typename, unplannable, type Value } from '../shared/engine/text.ts';
import { ParentId, rankSql, whereSql } from '../shared/engine/where.ts';
import { lookupNeedsRegion, lookupValues, normalisePhone } from '../matching/normalise.ts';
import { rememberedRegion, rememberedSourceRegion, rememberRegion, rememberSourceRegion } from '../matching/regions.ts';
import { sourceIdOf } from '../shared/inputs.ts';
import { MATCH_RANK, visibleUserRule } from '../shared/rules.ts';
import { survivorNow } from '../user/tombstones.ts';
import { emailHolderWhere, identifierMatchWhere, identityNamedWhere, inOrganizationWhere, providerAccountWhere, sourceNamedWhere, valueHolderWhere } from './lookups.ts';
import { isNationalPhone, type ResolveKey } from './resolve.ts';

// `resolve` and `resolveMany` compiled: every key of every kind, with everything selected
// under its resolution, in one statement. Values are normalised in JS by the general
// path's own functions (lookupValues, normalisePhone); a value read in a region (a
// national phone number in its organization's, an identifier value that may be one in
// its source's) is normalised for no region and for the region as last read, and the
// statement takes the form for the region stored now (a region it was not given, the
// statement says, and is run again with it: see prebuiltResolutions). What each kind matches is lookups.ts's filters
// and the ranking rules.ts's MATCH_RANK, rendered in SQL. The answer is resolveKeys's:
// candidates are the user whose own email it is (a merged user led to its survivor),
// the user of the identity named, then the users of the matches as they rank, each once;
// `user` is the one candidate when there is exactly one and the viewer may see them;
// `ambiguous` counts candidates the viewer may not see too (schema.ts, visibleUsersOf).

/**
 * One row of the statement's keys: a key (n, from 1), its kind, a normalised value it
 * compares, the source it names, and the region the value was normalised for: null
 * for any, '' for none (a regional key, see isRegional, has rows for each region it was given).
 */
interface Form {
  n: number;
  kind: ResolveKey['kind'];
  value: string;
  source: string | null;
  sourceId: string | null;
  identifierKey: string | null;
  region: string | null;
}

/** Whether a key's value is read in a region: a national phone number (its organization's), an identifier value that may be one (its source's). */
const isRegional = (k: ResolveKey): boolean => isNationalPhone(k) || (k.kind === 'identifier' && lookupNeedsRegion(k.identifierKey, k.identifierValue));

/** The region a regional key was last read in (its source's or its organization's; null: none, or not read yet). */
const rememberedFor = (organizationId: string, k: ResolveKey): string | null =>
  (k.kind === 'identifier' ? rememberedSourceRegion(organizationId, k.source) : rememberedRegion(organizationId)) ?? null;
/** Remembers the region a statement read for a regional key. */
const rememberFor = (organizationId: string, k: ResolveKey, region: string): unknown =>
  k.kind === 'identifier' ? rememberSourceRegion(organizationId, k.source, region) : rememberRegion(organizationId, region);

/**
 * The rows of `keys`: an identifier key has one per normalised form it is looked up by
 * (lookupValues), any other key one; a regional key (`regions[i]` not undefined) has
 * them for no region and for `regions[i]` when it is one.
 */
function formsOf(keys: readonly ResolveKey[], regions: readonly (string | null | undefined)[]): Form[] {
  const forms: Form[] = [];
  keys.forEach((k, i) => {
    const form = (value: string, region: string | null, source: string | null = null, identifierKey: string | null = null): Form => ({
      n: i + 1,
      kind: k.kind,
      value,
      source,
      sourceId: source && sourceIdOf(source),
      identifierKey,
      region,
    });
    const tags = regions[i] === undefined ? [null] : ['', ...(regions[i] ? [regions[i]] : [])];
    for (const tag of tags) {
      const region = tag || null;
      if (k.kind === 'identifier') forms.push(...lookupValues(k.identifierKey, k.identifierValue, region).map((v) => form(v, tag, k.source, k.identifierKey)));
      else if (k.kind === 'phone') forms.push(form(normalisePhone(k.phoneNumber, region), tag));
    }
    if (k.kind === 'email') forms.push(form(k.email, null));
    else if (k.kind === 'external') forms.push(form(k.externalId, null, k.source));
    else if (k.kind === 'identityKey') forms.push(form(k.identityKey, null));
  });
  return forms;
}

const column = (m: Model, field: string) => m.fields.get(field)!.column;
/** A column of the keys' rows, as the lookups' filters compare with it. */
const formColumn = (name: 'value' | 'source' | 'source_id' | 'identifier_key') => new ParentId(`f.${name}`);
const isKind = (kind: ResolveKey['kind']) => `f.kind = ${literal(kind)}`;

/**
 * The statement's common table expressions: `f` the keys' rows (of a regional key, those
 * for the region stored now: see regionalRowsSql); `hit` each key's matched
 * identifiers, ranked when `ranked` (pos from 1, else all 1); `named` the identity each names; `owner` the user whose
 * own email it is; `cand` each key's candidates, each once at its best place.
 */
function lookupsSql(b: Builder, organizationId: string, forms: Form[], ranked: boolean): string {
  const [identifier, identity, user] = [model('Identifier'), model('Identity'), model('User')];
  const array = (field: keyof Form, cast: string) => b.param(forms.map((f) => f[field]), cast);
  const value = formColumn('value');
  const account = { source: formColumn('source'), sourceId: formColumn('source_id') };
  const identityOf = (kind: ResolveKey['kind'], where: object) =>
    `SELECT f.n, d.${column(identity, 'id')} AS id, d.${column(identity, 'userId')} AS user_id FROM f JOIN ${b.from(identity)} d ON ${isKind(kind)} AND ${whereSql(b, identity, 'd', where)}`;
  const id = column(user, 'id');
  // Only the kinds some key has are read: another kind's branch would cost its planning
  // and scans for nothing. Each is built only then (a statement must use every parameter).
  const kinds = new Set(forms.map((f) => f.kind));
  const asked = (branches: [ResolveKey['kind'][], () => string][]) => branches.filter(([ks]) => ks.some((k) => kinds.has(k))).map(([, sql]) => sql());
  const none = (columns: string) => `SELECT ${columns} WHERE false`;
  const matches = asked([
    [
      ['identifier'],
      () => `SELECT f.n, i.* FROM f JOIN ${b.from(identifier)} i ON ${isKind('identifier')}
      AND ${whereSql(b, identifier, 'i', identifierMatchWhere(organizationId, { identifierKey: formColumn('identifier_key'), normalizedValue: value, ...account }))}`,
    ],
    [
      ['email', 'phone'],
      () => `SELECT f.n, i.* FROM f JOIN ${b.from(identifier)} i ON (${isKind('email')} OR ${isKind('phone')})
      AND ${whereSql(b, identifier, 'i', valueHolderWhere(organizationId, value))}`,
    ],
  ]);
  const named = asked([
    [['email'], () => identityOf('email', identityNamedWhere(organizationId, 'email', value))],
    [['phone'], () => identityOf('phone', identityNamedWhere(organizationId, 'phone', value))],
    [['identityKey'], () => identityOf('identityKey', identityNamedWhere(organizationId, 'identityKey', value))],
    [['external'], () => identityOf('external', providerAccountWhere(organizationId, { externalId: value, ...account }))],
  ]);
  const [owner] = asked([
    [
      ['email'],
      () => `SELECT f.n, s.${id} AS user_id FROM f JOIN ${b.from(user)} holder ON ${isKind('email')} AND ${whereSql(b, user, 'holder', emailHolderWhere(organizationId, value))}
      CROSS JOIN LATERAL (SELECT ${survivorNow(b.from(user), `holder.${id}`)} AS ${id}) s
      WHERE ${whereSql(b, user, 's', inOrganizationWhere(organizationId))}`,
    ],
  ]);
  const rows = `unnest(${array('n', 'int[]')}, ${array('kind', 'text[]')}, ${array('value', 'text[]')}, ${array('source', 'text[]')},
        ${array('sourceId', 'uuid[]')}, ${array('identifierKey', 'text[]')}`;
  const keyRows = forms.some((f) => f.region !== null)
    ? regionalRowsSql(b, organizationId, forms, `${rows}, ${array('region', 'text[]')}) AS f(n, kind, value, source, source_id, identifier_key, region)`)
    : `f AS (SELECT * FROM ${rows}) AS f(n, kind, value, source, source_id, identifier_key))`;
  return `${keyRows},
    hit AS (${
      matches.length
        ? `SELECT m.n, m.${column(identifier, 'id')} AS id, m.${column(identifier, 'userId')} AS user_id,
        ${ranked ? `row_number() OVER (PARTITION BY m.n ORDER BY ${rankSql(identifier, MATCH_RANK, 'm')})` : '1::bigint'} AS pos
      FROM (${matches.join(' UNION ALL ')}) m`
        : none('NULL::int AS n, NULL::uuid AS id, NULL::uuid AS user_id, NULL::bigint AS pos')
    }),
    named AS (${named.length ? `SELECT DISTINCT ON (x.n) x.n, x.id, x.user_id FROM (${named.join(' UNION ALL ')}) x ORDER BY x.n, x.id` : none('NULL::int AS n, NULL::uuid AS id, NULL::uuid AS user_id')}),
    owner AS (${owner ?? none('NULL::int AS n, NULL::uuid AS user_id')}),
    cand AS (SELECT c.n, c.user_id, min(c.pos) AS pos FROM (
        SELECT n, user_id, 0::bigint AS pos FROM owner
        UNION ALL SELECT n, user_id, 1 FROM named WHERE user_id IS NOT NULL
        UNION ALL SELECT n, user_id, 1 + pos FROM hit) c
      GROUP BY c.n, c.user_id)`;
}

/**
 * The keys' rows when some are regional (`rows`, FROM items of the rows as Form has them):
 * `k` each with the region stored now for its key ('' for none, or for a source not
 * found, whose identifiers match nothing); `f` those for any region or for the one stored;
 * `missed` each key given no form for its region, with that region (never '').
 */
function regionalRowsSql(b: Builder, organizationId: string, forms: Form[], rows: string): string {
  const [org, source] = [model('Organization'), model('IntegrationSource')];
  const kinds = new Set(forms.flatMap((f) => (f.region === null ? [] : [f.kind])));
  const orgRegion = () => `(SELECT o.${column(org, 'defaultPhoneRegion')} FROM ${b.from(org)} o WHERE ${whereSql(b, org, 'o', { id: organizationId })})`;
  // A source's own region, else its organization's: as sourceRegions reads it for the general path.
  const sourceRegion = () => `(SELECT coalesce(s.${column(source, 'defaultPhoneRegion')}, ${orgRegion()}) FROM ${b.from(source)} s
        WHERE ${whereSql(b, source, 's', sourceNamedWhere(organizationId, formColumn('source'), formColumn('source_id')))} LIMIT 1)`;
  const now = [
    ...(kinds.has('phone') ? [`WHEN ${isKind('phone')} THEN ${orgRegion()}`] : []),
    ...(kinds.has('identifier') ? [`WHEN ${isKind('identifier')} THEN ${sourceRegion()}`] : []),
  ];
  return `k AS (SELECT f.*, coalesce(CASE WHEN f.region IS NULL THEN NULL ${now.join(' ')} END, '') AS now FROM ${rows}),
    f AS (SELECT * FROM k WHERE k.region IS NULL OR k.region = k.now),
    missed AS (SELECT k.n, min(k.now) AS region FROM k WHERE k.region IS NOT NULL GROUP BY k.n HAVING NOT bool_or(k.region = k.now))`;
}

/**
 * The statement of the resolutions of `forms`' keys (`count` of them), in order, with what
 * is selected of each: null where nothing matched.
 */
function resolutionsSql(b: Builder, info: PlanInfo, organizationId: string, forms: Form[], count: number): { parts: Parts; text: string } {
  const resolution = info.schema.getType('Resolution') as GraphQLObjectType;
  const [identifier, identity, user] = [model('Identifier'), model('Identity'), model('User')];
  const [cu, mi, nd] = [b.alias('cu'), b.alias('mi'), b.alias('nd')];
  // Rendered once, and only when used: a statement must use every parameter it is given.
  let rendered: string | undefined;
  const visible = () => (rendered ??= whereSql(b, user, cu, visibleUserRule(b.ctx, b.readable)));
  const object = (field: string, alias: string, nodes: readonly FieldNode[]) => objectText(objectOf(b, b.fieldType(resolution, field), alias, nodes).pairs);
  // Each key's candidates (pc) and matches (ph), aggregated once per key.
  const candidates = ['count(*) AS users'];
  const matched: string[] = [];
  const pairs: [string, Value][] = [];
  const collected = b.collect(resolution, info.fieldNodes);
  for (const [key, nodes] of collected) {
    const name = nodes[0]!.name.value;
    const v = `v${pairs.length}`;
    if (name === '__typename') pairs.push([key, typename('Resolution')]);
    else if (name === 'ambiguous') pairs.push([key, 'coalesce(pc.users, 0) > 1']);
    else if (name === 'user') {
      candidates.push(`CASE WHEN count(*) = 1 THEN min(CASE WHEN ${visible()} THEN ${object(name, cu, nodes)} END) END AS ${v}`);
      pairs.push([key, { json: `pc.${v}` }]);
    } else if (name === 'candidates') {
      candidates.push(`'[' || string_agg(CASE WHEN ${visible()} THEN ${object(name, cu, nodes)} END, ',' ORDER BY c.pos) || ']' AS ${v}`);
      pairs.push([key, { json: `coalesce(pc.${v}, '[]')` }]);
    } else if (name === 'identity') pairs.push([key, { json: `CASE WHEN ${nd}.${column(identity, 'id')} IS NOT NULL THEN ${object(name, nd, nodes)} END` }]);
    else if (name === 'matchedIdentifiers') {
      matched.push(`${listText(object(name, mi, nodes), 'h.pos')} AS ${v}`);
      pairs.push([key, { json: `coalesce(ph.${v}, '[]')` }]);
    } else unplannable(`Resolution.${name}`);
  }
  // Matches are ranked only for what lists them in order: a lone user needs no order.
  const ranked = matched.length > 0 || pairs.some(([key]) => collected.get(key)![0]!.name.value === 'candidates');
  const element = `CASE WHEN pc.n IS NULL AND ph.n IS NULL AND named.n IS NULL THEN 'null' ELSE ${objectText(pairs)} END`;
  const list = { json: listText('x.e', 'x.n') };
  // With regional keys, the answer says which were not given their region stored now,
  // and that region, by key (null: none; else the list is not to be used).
  const regional = forms.some((f) => f.region !== null);
  const missed = { json: `json_agg(json_build_array(x.n, x.missed) ORDER BY x.n) FILTER (WHERE x.missed IS NOT NULL)` };
  const parts = new Parts(regional ? { pairs: [['missed', missed], ['list', list]] } : list);
  // A lone key is one row the planner knows of: joined by nested loops, not hash tables
  // sized for the thousand rows it would guess of a series.
  return {
    parts,
    text: `SELECT ${parts.select()} FROM (WITH ${lookupsSql(b, organizationId, forms, ranked)},
      pc AS (SELECT c.n, ${candidates.join(', ')} FROM cand c JOIN ${b.from(user)} ${cu} ON ${cu}.${column(user, 'id')} = c.user_id GROUP BY c.n),
      ph AS (SELECT h.n${matched.map((m) => `, ${m}`).join('')} FROM hit h${matched.length ? ` JOIN ${b.from(identifier)} ${mi} ON ${mi}.${column(identifier, 'id')} = h.id` : ''} GROUP BY h.n)
    SELECT wanted.n, ${element} AS e${regional ? ', missed.region AS missed' : ''}
    FROM ${count === 1 ? '(VALUES (1))' : `generate_series(1, ${b.param(count, 'int')})`} AS wanted(n)
      LEFT JOIN pc ON pc.n = wanted.n LEFT JOIN ph ON ph.n = wanted.n LEFT JOIN named ON named.n = wanted.n${regional ? ' LEFT JOIN missed ON missed.n = wanted.n' : ''}
      LEFT JOIN ${b.from(identity)} ${nd} ON ${nd}.${column(identity, 'id')} = named.id) x`,
  };
}

/**
 * `resolveMany` of `keys` now, in order, compiled (with `holes`, fields with no SQL form
 * left to the general path): the list, or undefined when the general path answers.
 */
export async function prebuiltResolutions(ctx: Context, info: PlanInfo, organizationId: string, keys: readonly ResolveKey[], holes: boolean): Promise<JsonText | undefined> {
  // Each regional key is normalised for the region remembered for it (undefined: not regional).
  const regions = keys.map((k) => (isRegional(k) ? rememberedFor(organizationId, k) : undefined));
  const run = () => {
    const forms = formsOf(keys, regions);
    return planAndRun(ctx, info, (b) => resolutionsSql(b, info, organizationId, forms, keys.length), { holes });
  };
  const answer = await run();
  if (!answer || !regions.some((r) => r !== undefined)) return answer ?? undefined;
  const read = regionAnswer(answer);
  if (!read.missed) return read.list;
  // Regions other than those remembered (or none remembered yet): remembered, and the keys normalised for them read again.
  for (const [n, region] of read.missed) {
    rememberFor(organizationId, keys[n - 1]!, region);
    regions[n - 1] = region;
  }
  const again = await run();
  if (!again) return undefined;
  const reread = regionAnswer(again);
  return reread.missed ? undefined : reread.list;
}

const LIST_START = ',"list":';

/**
 * The parts of an answer with regional keys (resolutionsSql): the keys (n from 1) not
 * given their region, with it, or null; and the list. Before the list no object has a
 * key, and a JSON string escapes its quotes, so the list starts after the first LIST_START.
 */
function regionAnswer(answer: JsonText): { missed: [number, string][] | null; list: JsonText } {
  const at = answer.text.indexOf(LIST_START);
  const { missed } = JSON.parse(`${answer.text.slice(0, at)}}`) as { missed: [number, string][] | null };
  return { missed, list: new JsonText(answer.text.slice(at + LIST_START.length, -1)) };
}

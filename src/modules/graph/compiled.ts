import type { FieldNode, GraphQLObjectType } from 'graphql';
import type { Context } from '../../context.ts';
import type { Builder, PlanInfo } from '../shared/engine/builder.ts';
import { model, type Model } from '../shared/engine/datamodel.ts';
import { objectOf } from '../shared/engine/fields.ts';
import { planAndRun } from '../shared/engine/run.ts';
import { JsonText, listText, literal, objectText, Parts, typename, unplannable, type Value } from '../shared/engine/text.ts';
import { ParentId, rankSql, whereSql } from '../shared/engine/where.ts';
import { normalisePhone } from '../matching/normalise.ts';
import { rememberedRegion, rememberRegion } from '../matching/regions.ts';
import { sourceIdOf } from '../shared/inputs.ts';
import { MATCH_RANK, visibleUserRule } from '../shared/rules.ts';
import { survivorNow } from '../user/tombstones.ts';
import { emailHolderWhere, identifierMatchWhere, identityNamedWhere, inOrganizationWhere, providerAccountWhere, valueHolderWhere } from './lookups.ts';
import { isNationalPhone, normalisedKeys, type ResolveKey } from './resolve.ts';

// `resolve` and `resolveMany` compiled: every key of every kind, with everything selected
// under its resolution, in one statement. Values are normalised in JS by the general
// path's own functions (normalisedKeys, normalisePhone); a national phone number is
// normalised for no region and for the organization's as last read, and the statement
// takes the form for the region stored now (a region it was not given, the statement
// says, and is run again with it: see prebuiltResolutions). What each kind matches is lookups.ts's filters
// and the ranking rules.ts's MATCH_RANK, rendered in SQL. The answer is resolveKeys's:
// candidates are the user whose own email it is (a merged user led to its survivor),
// the user of the identity named, then the users of the matches as they rank, each once;
// `user` is the one candidate when there is exactly one and the viewer may see them;
// `ambiguous` counts candidates the viewer may not see too (schema.ts, visibleUsersOf).

/**
 * One row of the statement's keys: a key (n, from 1), its kind, a normalised value it
 * compares, the source it names, and the region the value was normalised for: null
 * for any, '' for none (a national phone number has one row for each region it was given).
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

/** The regions beside none a national phone number of `keys` is normalised for: the organization's as last read, if any; null when there is no such number. */
function regionsOf(organizationId: string, keys: readonly ResolveKey[]): string[] | null {
  if (!keys.some(isNationalPhone)) return null;
  const region = rememberedRegion(organizationId);
  return region ? [region] : [];
}

/** The rows of `keys`: an identifier key has one per normalised form it is looked up by (lookupValues, in `identifierKeys`), a national phone number one per region, any other key one. */
function formsOf(keys: readonly ResolveKey[], identifierKeys: Awaited<ReturnType<typeof normalisedKeys>>, regions: readonly string[] | null): Form[] {
  const forms: Form[] = identifierKeys.map((k) => ({
    n: k.i + 1,
    kind: 'identifier',
    value: k.normalizedValue,
    source: k.source,
    sourceId: sourceIdOf(k.source),
    identifierKey: k.identifierKey,
    region: null,
  }));
  keys.forEach((k, i) => {
    const form = (value: string, source: string | null = null, region: string | null = null): Form => ({
      n: i + 1,
      kind: k.kind,
      value,
      source,
      sourceId: source && sourceIdOf(source),
      identifierKey: null,
      region,
    });
    if (k.kind === 'email') forms.push(form(k.email));
    else if (k.kind === 'phone' && isNationalPhone(k)) forms.push(form(normalisePhone(k.phoneNumber, null), null, ''), ...regions!.map((r) => form(normalisePhone(k.phoneNumber, r), null, r)));
    else if (k.kind === 'phone') forms.push(form(normalisePhone(k.phoneNumber, null)));
    else if (k.kind === 'external') forms.push(form(k.externalId, k.source));
    else if (k.kind === 'identityKey') forms.push(form(k.identityKey));
  });
  return forms;
}

const column = (m: Model, field: string) => m.fields.get(field)!.column;
/** A column of the keys' rows, as the lookups' filters compare with it. */
const formColumn = (name: 'value' | 'source' | 'source_id' | 'identifier_key') => new ParentId(`f.${name}`);
const isKind = (kind: ResolveKey['kind']) => `f.kind = ${literal(kind)}`;

/**
 * The statement's common table expressions: `f` the keys' rows (for the organization's
 * region `region`, SQL, when a row is for one); `hit` each key's matched
 * identifiers, ranked when `ranked` (pos from 1, else all 1); `named` the identity each names; `owner` the user whose
 * own email it is; `cand` each key's candidates, each once at its best place.
 */
function lookupsSql(b: Builder, organizationId: string, forms: Form[], ranked: boolean, region: string | null): string {
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
  const keyRows =
    region === null
      ? `SELECT * FROM ${rows}) AS f(n, kind, value, source, source_id, identifier_key)`
      : `SELECT * FROM ${rows}, ${array('region', 'text[]')}) AS f(n, kind, value, source, source_id, identifier_key, region)
        WHERE f.region IS NULL OR f.region = coalesce(${region}, '')`;
  return `f AS (${keyRows}),
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
  // With national phone numbers, the answer says the organization's region it read them
  // in, and whether they were given for it (else the list is not to be used).
  const org = model('Organization');
  const region = forms.some((f) => f.region !== null)
    ? `(SELECT o.${column(org, 'defaultPhoneRegion')} FROM ${b.from(org)} o WHERE ${whereSql(b, org, 'o', { id: organizationId })})`
    : null;
  const given = () => `${region} IS NULL OR ${region} = ANY(${b.param([...new Set(forms.flatMap((f) => (f.region ? [f.region] : [])))], 'text[]')})`;
  const parts = new Parts(region === null ? list : { pairs: [['region', region], ['given', given()], ['list', list]] });
  // A lone key is one row the planner knows of: joined by nested loops, not hash tables
  // sized for the thousand rows it would guess of a series.
  return {
    parts,
    text: `SELECT ${parts.select()} FROM (WITH ${lookupsSql(b, organizationId, forms, ranked, region)},
      pc AS (SELECT c.n, ${candidates.join(', ')} FROM cand c JOIN ${b.from(user)} ${cu} ON ${cu}.${column(user, 'id')} = c.user_id GROUP BY c.n),
      ph AS (SELECT h.n${matched.map((m) => `, ${m}`).join('')} FROM hit h${matched.length ? ` JOIN ${b.from(identifier)} ${mi} ON ${mi}.${column(identifier, 'id')} = h.id` : ''} GROUP BY h.n)
    SELECT wanted.n, ${element} AS e
    FROM ${count === 1 ? '(VALUES (1))' : `generate_series(1, ${b.param(count, 'int')})`} AS wanted(n)
      LEFT JOIN pc ON pc.n = wanted.n LEFT JOIN ph ON ph.n = wanted.n LEFT JOIN named ON named.n = wanted.n
      LEFT JOIN ${b.from(identity)} ${nd} ON ${nd}.${column(identity, 'id')} = named.id) x`,
  };
}

/**
 * `resolveMany` of `keys` now, in order, compiled (with `holes`, fields with no SQL form
 * left to the general path): the list, or undefined when the general path answers.
 */
export async function prebuiltResolutions(ctx: Context, info: PlanInfo, organizationId: string, keys: readonly ResolveKey[], holes: boolean): Promise<JsonText | undefined> {
  const [identifierKeys, regions] = [await identifierKeysOf(ctx, organizationId, keys), regionsOf(organizationId, keys)];
  const run = (given: readonly string[] | null) => {
    const forms = formsOf(keys, identifierKeys, given);
    return planAndRun(ctx, info, (b) => resolutionsSql(b, info, organizationId, forms, keys.length), { holes });
  };
  const answer = await run(regions);
  if (!answer || regions === null) return answer ?? undefined;
  // A region other than the one remembered (or none remembered yet): the numbers are normalised for it, and read again.
  const read = regionAnswer(answer);
  rememberRegion(organizationId, read.region);
  if (read.given) return read.list;
  const again = await run([read.region!]);
  if (!again) return undefined;
  const reread = regionAnswer(again);
  return reread.given ? reread.list : undefined;
}

// A read with holes is compiled before execution and again by its resolver: the
// identifier keys' sources' regions are read once per request.
const normalised = new WeakMap<Context, Map<string, ReturnType<typeof normalisedKeys>>>();

function identifierKeysOf(ctx: Context, organizationId: string, keys: readonly ResolveKey[]): ReturnType<typeof normalisedKeys> {
  let byKeys = normalised.get(ctx);
  if (!byKeys) normalised.set(ctx, (byKeys = new Map()));
  const key = JSON.stringify([organizationId, keys]);
  let found = byKeys.get(key);
  if (!found) byKeys.set(key, (found = normalisedKeys(organizationId, keys)));
  return found;
}

const LIST_START = ',"list":';

/**
 * The parts of an answer that reads national phone numbers (resolutionsSql): the region,
 * whether the numbers were given for it, and the list. The first two hold no comma in
 * a string, so the list starts after the first LIST_START.
 */
function regionAnswer(answer: JsonText): { region: string | null; given: boolean; list: JsonText } {
  const at = answer.text.indexOf(LIST_START);
  const { region, given } = JSON.parse(`${answer.text.slice(0, at)}}`) as { region: string | null; given: boolean };
  return { region, given, list: new JsonText(answer.text.slice(at + LIST_START.length, -1)) };
}

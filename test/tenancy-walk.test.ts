import { getNamedType, getNullableType, isScalarType, type GraphQLArgument } from 'graphql';
import { afterEach, describe, expect, it } from 'vitest';
import { schema } from '../src/schema.ts';
import { setPlannedReads } from '../src/modules/shared/engine/index.ts';
import { appWith, globalId, gql, type GqlOptions } from './helpers/app.ts';
import { fc, seed } from './helpers/property-runs.ts';
import { leaksIn, selectionOf, type Walk } from './helpers/schema-walk.ts';
import { tenancyWorld, type TenancyWorld } from './helpers/tenancy-world.ts';

// Cross-tenant isolation as a property of the whole schema: every query root is asked,
// with ids of B's rows, of rows A and B share, and of A's own, for every field reachable
// from it (to a bounded depth, each connection's first page), by viewers of every role
// in A acting in A, on both read paths. No id or value that belongs to B alone may
// appear anywhere in any answer. A second test walks deeper along fields, ids, argument
// values and viewers drawn by fast-check.

afterEach(() => setPlannedReads(true));

// Walked operations are far larger than a client's; only the limits on their size and rate are lifted.
const walker = appWith({
  MAX_QUERY_DEPTH: '40',
  MAX_TOKENS: '200000',
  MAX_QUERY_COST: '1000000000',
  MAX_ALIASES: '100000',
  RATE_LIMIT_PER_CREDENTIAL: '0',
  RATE_LIMIT_PER_ORGANIZATION: '0',
});

const str = (value: string) => JSON.stringify(value);
const rootType = (field: string) => getNamedType(schema.getQueryType()!.getFields()[field]!.type);

/** One operation of one root field: its text, and the values it names (which error messages may quote). */
interface Asked { label: string; root: string; query: string; names: string[] }

/** The operations of a walk: every root field of the query type, asked with the world's ids and values. */
function rootsOf(world: TenancyWorld, walk: Walk, idOf: (typename: string, of: string, ids: string[]) => string): Asked[] {
  const { a, b, ids, people, sources, identifiers, identities } = world;
  const g = globalId;
  const ask = (label: string, root: string, args: string, names: string[] = [], only?: string, w = walk): Asked => {
    const type = only ? schema.getType(only)! : rootType(root);
    const inner = only ? `__typename ... on ${only} { ${selectionOf(w, type)} }` : selectionOf(w, type);
    return { label, root, query: `query { ${root}${args ? `(${args})` : ''} { ${inner} } }`, names: [...names, ...names.map((n) => g('x', n))] };
  };
  // Lists of ids are asked for their objects' own fields: node(id) walks each type further.
  const shallow = { ...walk, depth: -1 };
  const idB = identities.identitiesB;
  const [identifierB] = identifiers.inB;
  // One id of each type and owner (A, B, shared), as `idOf` picks it.
  const groups = new Map<string, { typename: string; id: string }[]>();
  for (const { typename, id, of } of ids) groups.set(`${typename} ${of}`, [...(groups.get(`${typename} ${of}`) ?? []), { typename, id }]);
  const picked = [...groups].map(([group, rows]) => {
    const id = idOf(group.split(' ')[0]!, group.split(' ')[1]!, rows.map((r) => r.id));
    return { group, typename: rows[0]!.typename, id };
  });
  const asked: Asked[] = [
    ask('viewer', 'viewer', ''),
    ask('organizations', 'organizations', 'first: 10'),
    ask('organization A', 'organization', `id: ${str(g('Organization', a.id))}`),
    ask('organization B', 'organization', `id: ${str(g('Organization', b.id))}`, [b.id]),
    ask('organization B by slug', 'organization', `slug: ${str(b.slug)}`, [b.slug]),
    ask('user by a B email', 'user', `email: ${str(people.bActive.email)}`, [people.bActive.email]),
    ask('nodes of an id of each type and owner', 'nodes', `ids: ${JSON.stringify(picked.map((i) => g(i.typename, i.id)))}`, picked.map((i) => i.id), undefined, shallow),
    ask('_entities of an id of each type and owner', '_entities', `representations: [${picked
      .filter((i) => ['Organization', 'User', 'Member', 'Identifier', 'Identity'].includes(i.typename))
      .map((i) => `{ __typename: ${str(i.typename)}, id: ${str(g(i.typename, i.id))} }`)
      .join(', ')}]`, picked.map((i) => i.id), undefined, shallow),
  ];
  for (const who of ['shared', 'bActive', 'former', 'formerMerged'] as const) asked.push(ask(`user(id) of ${who}`, 'user', `id: ${str(g('User', people[who].id))}`, [people[who].id]));
  for (const { group, typename, id } of picked) asked.push(ask(`node(id) of a ${group}`, 'node', `id: ${str(g(typename, id))}`, [id], typename));
  const inputs = [
    `{ identifier: { sourceKey: ${str(sources.sourceB.key)}, identifierKey: "owner_id", identifierValue: ${str(identifierB!.identifierValue)} } }`,
    `{ identifier: { sourceKey: "crm-a", identifierKey: "owner_id", identifierValue: "a-shared-1" } }`,
    `{ identifier: { sourceKey: "crm-a", identifierKey: "owner_id", identifierValue: "a-former-1" } }`,
    `{ email: ${str(idB[0]!.email!)} }`,
    `{ email: ${str(people.bActive.email)} }`,
    `{ email: ${str(people.shared.email)} }`,
    `{ phoneNumber: ${str(idB[1]!.phoneNumber!)} }`,
    `{ identityKey: ${str(idB[0]!.identifierKey)} }`,
    `{ externalAccount: { sourceKey: ${str(sources.providerB.key)}, externalId: ${str(idB[2]!.externalId!)} } }`,
  ];
  const inputNames = [identifierB!.identifierValue, sources.sourceB.key, idB[0]!.email!, people.bActive.email, idB[1]!.phoneNumber!, idB[0]!.identifierKey, sources.providerB.key, idB[2]!.externalId!];
  // Each kind of input alone (B's identifier, a former member's in A, B's identity email and provider account), and all at once.
  for (const i of [0, 2, 3, 8]) asked.push(ask(`resolve ${inputs[i]}`, 'resolve', `input: ${inputs[i]}`, inputNames));
  asked.push(ask('resolveMany of every input', 'resolveMany', `inputs: [${inputs.join(', ')}]`, inputNames));
  const parties: [string, string][] = [
    ['User', people.shared.id], ['User', people.analyst.id], ['User', people.former.id], ['User', people.bActive.id],
    ['Identity', identities.identityA.id], ['Identity', idB[0]!.id], ['Identifier', identifiers.inA.id], ['Identifier', identifierB!.id],
    ['Identity', identities.identityOfFormer.id], ['Identifier', identifiers.identifierOfFormer.id],
  ];
  for (const [typename, id] of [parties[0]!, parties[2]!, parties[4]!, parties[7]!, parties[8]!, parties[9]!]) {
    asked.push(ask(`graph from a ${typename}`, 'graph', `from: ${str(g(typename, id))}, depth: 3`, [id]));
    const arg = typename === 'User' ? 'userId' : typename === 'Identity' ? 'identityId' : null;
    if (arg) asked.push(ask(`matchCandidates of a ${typename}`, 'matchCandidates', `${arg}: ${str(g(typename, id))}`, [id]));
  }
  for (const [x, y] of [[0, 3], [6, 0], [4, 5], [0, 9]] as const) {
    const [p, q] = [parties[x]!, parties[y]!];
    asked.push(ask(`explainLink of a ${p[0]} and a ${q[0]}`, 'explainLink', `a: ${str(g(p[0], p[1]))}, b: ${str(g(q[0], q[1]))}`, [p[1], q[1]]));
  }
  for (const args of [
    `id: ${str(g('Identity', idB[0]!.id))}`,
    `email: ${str(idB[0]!.email!)}`,
    `sourceKey: ${str(sources.providerB.key)}, externalId: ${str(idB[2]!.externalId!)}`,
    `id: ${str(g('Identity', identities.identityA.id))}`,
  ]) asked.push(ask(`identity(${args})`, 'identity', args, [idB[0]!.id, ...inputNames]));
  for (const [survivor, merged] of [[people.shared, people.former], [people.admin, people.analyst]] as const) {
    asked.push(ask('previewMergeUsers', 'previewMergeUsers', `survivorId: ${str(g('User', survivor.id))}, mergedId: ${str(g('User', merged.id))}`, [survivor.id, merged.id]));
  }
  return asked;
}

// Every root of the query type but `_service` (the schema's own text).
const ROOTS = Object.keys(schema.getQueryType()!.getFields()).filter((f) => f !== '_service').sort();

/** The leaks of every operation asked as every viewer, on both paths; and how many answers held anything. */
async function leaksOf(world: TenancyWorld, asked: Asked[], viewers: [string, GqlOptions][]) {
  const found = new Set<string>();
  let answered = 0;
  for (const [who, options] of viewers) {
    for (const planned of [true, false]) {
      setPlannedReads(planned);
      for (const { label, query, names } of asked) {
        const answer = await gql(query, { ...options, app: walker });
        if (answer.data && Object.values(answer.data).some((v) => v !== null && !(Array.isArray(v) && v.every((x) => x === null)))) answered++;
        const at = `${who}, ${planned ? 'compiled' : 'general'} path, ${label}`;
        for (const leak of leaksIn(answer, world.forbidden, names.join(' ') + query)) found.add(`${at}: ${leak}`);
        // A field that fails may hide a leak: its object was loaded by a rule other than its type's (its own fields then find nothing).
        for (const e of answer.errors ?? []) if (e.extensions?.code === 'INTERNAL_SERVER_ERROR') found.add(`${at}: failed at ${e.path?.join('.')}`);
      }
    }
  }
  setPlannedReads(true);
  return { found: [...found], answered };
}

describe('tenancy, walked over the whole schema', () => {
  it('no viewer acting in A reads anything of B alone, through any field of any root, on either path', async () => {
    const world = await tenancyWorld();
    const walk: Walk = { schema, depth: 1, page: 5 };
    const asked = rootsOf(world, walk, (_t, _o, ids) => ids[0]!);
    expect([...new Set(asked.map((q) => q.root))].sort()).toEqual(ROOTS);
    // A's roles (a system admin acting in A is among the viewers drawn below).
    const { found, answered } = await leaksOf(world, asked, world.viewers.filter(([who]) => !who.startsWith('a system admin')));
    expect(found).toEqual([]);
    // The walk reads rows: A's admin, analyst and key are answered by most roots.
    expect(answered).toBeGreaterThan(asked.length * 2);
  }, 120_000);

  it('nor along fields, ids, nested arguments and viewers drawn at random, deeper', async () => {
    const world = await tenancyWorld();
    // Values for the optional arguments of nested fields: ids and texts of A, B and both.
    const ids = world.ids.map((i) => globalId(i.typename, i.id));
    const texts = [...world.forbidden.keys()].filter((k) => !/^[0-9a-f-]{36}$/.test(k)).concat(['a-shared-1', 'crm-a', 'ida-1']);
    const hash = (s: string) => [...s].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
    await fc.assert(
      fc.asyncProperty(
        fc.nat(world.viewers.length - 1),
        fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }),
        fc.array(fc.nat(), { minLength: 64, maxLength: 64 }),
        fc.nat(),
        async (viewer, expand, values, pick) => {
          const argument = (type: string, field: string, arg: GraphQLArgument) => {
            const scalar = getNullableType(arg.type);
            if (!isScalarType(scalar) || ['first', 'last', 'after', 'before'].includes(arg.name)) return undefined;
            const v = values[hash(`${type}.${field}.${arg.name}`) % 64]!;
            if (v % 3 === 0) return undefined;
            if (scalar.name === 'ID') return str(ids[v % ids.length]!);
            return scalar.name === 'String' ? str(texts[v % texts.length]!) : undefined;
          };
          const walk: Walk = { schema, depth: 3, page: 5, argument, expand: (type, field) => expand[hash(`${type}.${field}`) % 64]! };
          const all = rootsOf(world, walk, (_t, _o, members) => members[pick % members.length]!);
          const asked = [all[pick % all.length]!, all[(pick * 7 + 3) % all.length]!];
          const { found } = await leaksOf(world, asked, [world.viewers[viewer]!]);
          expect(found, `fast-check seed ${seed}`).toEqual([]);
        },
      ),
      { numRuns: Number(process.env.FC_RUNS ?? 8) },
    );
  }, 120_000);
});

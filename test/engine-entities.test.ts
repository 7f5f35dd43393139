import { encodeGlobalID } from '@pothos/plugin-relay';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { setPlannedReads } from '../src/modules/shared/engine/index.ts';
import { globalIdParts } from '../src/modules/shared/validate.ts';
import { gql, tokenFor, type GqlOptions } from './helpers/app.ts';
import { bothWays, isPlan } from './helpers/engine.ts';
import { aMember, anApiKey, aUser } from './helpers/factories.ts';
import { fc } from './helpers/property-runs.ts';
import { leaksIn } from './helpers/schema-walk.ts';
import { withSqlLog } from './helpers/sql-count.ts';
import { tenancyWorld, type TenancyWorld } from './helpers/tenancy-world.ts';

// `_entities(representations)`, compiled: for generated lists of representations
// (organizations, users, members, identifiers and identities of both organizations,
// unknown ids, ids of another type than the representation's, merged users down
// chains, repeated) and viewers of every role, the compiled answer equals the general
// path's, holds nothing of another tenant, and a whole operation is one statement for a
// credential the server has seen.

afterEach(() => setPlannedReads(true));

const ENTITY_TYPES = ['Organization', 'User', 'Member', 'Identifier', 'Identity'];

const SELECTION = `__typename
  ... on Organization { id name slug }
  ... on User { id email userName: name memberships { role organization { slug } } }
  ... on Member { id role state memberUser: user { email } organization { slug } }
  ... on Identifier { id identifierKey identifierValue user { email } source { key } }
  ... on Identity { id identifierKey identityName: name user { email } }`;
const ENTITIES = `query ($reps: [_Any!]!) { _entities(representations: $reps) { ${SELECTION} } }`;
// authSubject has no SQL form, nor has an organization's member list below the root:
// the planner leaves the operation, the resolver compiles the rest.
const ENTITIES_WITH_HOLES = `query ($reps: [_Any!]!) { _entities(representations: $reps) { ${SELECTION}
  ... on User { authSubject } ... on Organization { members(first: 2) { totalCount } } } }`;

type Representation = { __typename: string; id: string };

interface World {
  w: TenancyWorld;
  /** Representations the generated lists are drawn from. */
  representations: Representation[];
  /** Users merged away, each leading down its chain: the first to the last. */
  chains: { tombstone: string; end: string | null }[];
  viewers: [string, GqlOptions][];
}

// Each test starts from an empty database.
async function makeWorld(): Promise<World> {
  const w = await tenancyWorld();
  const { a, b, people } = w;
  // Chains of merged users: of two steps to an analyst of A, of one to a user of B alone, and a cycle.
  const tombstones = async (n: number, into: string | null) => {
    const chain: string[] = [];
    for (let i = 0; i < n; i++) chain.unshift((await aUser()).id);
    for (const [i, id] of chain.entries()) {
      const next = chain[i + 1] ?? into;
      if (next) await prisma.user.update({ where: { id }, data: { mergedIntoId: next } });
    }
    return chain;
  };
  const short = await tombstones(2, people.analyst.id);
  const ofB = await tombstones(1, people.bActive.id);
  const cycle = await tombstones(2, null);
  await prisma.user.update({ where: { id: cycle[1]! }, data: { mergedIntoId: cycle[0]! } });
  const chains = [
    { tombstone: short[0]!, end: people.analyst.id },
    { tombstone: short[1]!, end: people.analyst.id },
    { tombstone: ofB[0]!, end: people.bActive.id },
    { tombstone: people.formerMerged.id, end: people.former.id },
    { tombstone: cycle[0]!, end: null },
  ];
  const rep = (typename: string, id: string) => ({ __typename: typename, id: encodeGlobalID(typename, id) });
  const entities = w.ids.filter((x) => ENTITY_TYPES.includes(x.typename));
  const representations = [
    ...entities.map((x) => rep(x.typename, x.id)),
    ...chains.map((c) => rep('User', c.tombstone)),
    ...ENTITY_TYPES.map((t) => rep(t, randomUUID())),
    // An id of another type than the representation's, a bare UUID, no global id at all.
    { __typename: 'User', id: encodeGlobalID('Organization', a.id) },
    { __typename: 'Member', id: encodeGlobalID('User', people.shared.id) },
    { __typename: 'Identity', id: w.identities.identityA.id },
    { __typename: 'Organization', id: 'nonsense' },
    // The same id written in capitals.
    rep('User', people.shared.id.toUpperCase()),
  ];
  expect(new Set(entities.map((x) => x.typename))).toEqual(new Set(ENTITY_TYPES));
  const keyOfB = `igk_${randomBytes(32).toString('base64url')}`;
  await anApiKey(b.id, createHash('sha256').update(keyOfB).digest('hex'), { role: 'ORGANIZATION_ADMIN' });
  const system = await aUser({ isSystemAdmin: true });
  const both = await aUser();
  await aMember(a.id, both.id);
  await aMember(b.id, both.id, { role: 'ORGANIZATION_ADMIN' });
  const viewers: [string, GqlOptions][] = [
    ...w.viewers,
    ['a system admin, not narrowed', { token: await tokenFor(system.authSubject!) }],
    ['an analyst of A and admin of B, not narrowed', { token: await tokenFor(both.authSubject!) }],
    ['the admin of A, not narrowed', { token: await tokenFor(people.admin.authSubject!) }],
    ['a pending member of B, not narrowed', { token: await tokenFor(people.bPending.authSubject!) }],
    ['a member of B alone, acting in B', { token: await tokenFor(people.bActive.authSubject!), organizationId: b.id }],
    ['a member who left A, acting in B', { token: await tokenFor(people.former.authSubject!), organizationId: b.id }],
    ['an admin API key of B', { headers: { 'x-api-key': keyOfB } }],
    ['a person of both organizations, as themself', { token: await tokenFor(people.shared.authSubject!) }],
  ];
  return { w, representations, chains, viewers };
}

// Only a pending or suspended member acting in the organization is refused whatever is asked.
const refusedViewer = (viewer: [string, GqlOptions]) => /pending member of A|suspended/.test(viewer[0]);
// A credential acting in an organization (a key, a token with X-Organization-ID) is remembered: its next compiled read is one statement.
const remembered = (viewer: [string, GqlOptions]) => Boolean(viewer[1].organizationId ?? viewer[1].headers?.['x-api-key']);
// Viewers acting in A (a system admin aside, who reads everything): nothing of B may show.
const ofAOnly = (viewer: [string, GqlOptions], w: TenancyWorld) => viewer[1].organizationId === w.a.id && !viewer[0].startsWith('a system admin');

/**
 * Both paths of one request, which must answer alike. When the general path answers
 * without errors, compiled statements did (`whole`: one, answering it all; and for a
 * credential the server has seen, the operation's only statement).
 */
async function expectSame(query: string, reps: Representation[], viewer: [string, GqlOptions], whole: boolean) {
  const options = { ...viewer[1], variables: { reps } };
  const both = await bothWays(query, options);
  const label = `${viewer[0]}: ${JSON.stringify(reps)}`;
  expect(both.planned, label).toEqual(both.general);
  if (both.general.errors) return both;
  expect(both.plans, label).toBeGreaterThanOrEqual(1);
  if (whole) {
    expect(both.usedPlan, label).toBe(true);
    expect(both.plans, label).toBe(1);
    if (remembered(viewer)) {
      // bothWays sent the credential already.
      const { statements } = await withSqlLog(() => gql(query, options));
      expect(statements.length, `${label}\n${statements.join('\n')}`).toBe(1);
      expect(isPlan(statements[0]!), label).toBe(true);
    }
  }
  return both;
}

describe('_entities(representations), compiled', () => {
  it('answers generated lists of representations of mixed types as the general path does, in one statement, for viewers of every role', async () => {
    const { w, representations, viewers } = await makeWorld();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(...representations), { maxLength: 12 }),
        fc.constantFrom(...viewers),
        fc.boolean(),
        async (reps, viewer, holes) => {
          const both = await expectSame(holes ? ENTITIES_WITH_HOLES : ENTITIES, reps, viewer, !holes);
          expect(Boolean(both.general.errors), JSON.stringify(both.general.errors)).toBe(refusedViewer(viewer));
          if (ofAOnly(viewer, w)) expect(leaksIn(both.planned, w.forbidden, JSON.stringify(reps))).toEqual([]);
        },
      ),
      { numRuns: 50 },
    );
  }, 300_000);

  it('answers one representation of every type and owner, in order, holding nothing of another tenant', async () => {
    const { w, representations, viewers } = await makeWorld();
    for (const viewer of viewers) {
      const both = await expectSame(ENTITIES, representations, viewer, true);
      expect(Boolean(both.general.errors), JSON.stringify(both.general.errors)).toBe(refusedViewer(viewer));
      if (both.general.errors) continue;
      const answers = both.planned.data!._entities as ({ __typename: string } | null)[];
      expect(answers).toHaveLength(representations.length);
      // Each answer is of its representation's type.
      answers.forEach((e, i) => e && expect(e.__typename).toBe(representations[i]!.__typename));
      if (ofAOnly(viewer, w)) expect(leaksIn(both.planned, w.forbidden, JSON.stringify(representations))).toEqual([]);
      // What node(id) answers for each id, member's own memberships included.
      const typed = representations.map((r, i) => [r, i] as const).filter(([r]) => globalIdParts(r.id)?.typename === r.__typename);
      const nodes = await gql(`query ($ids: [ID!]!) { nodes(ids: $ids) { ${SELECTION} } }`, { ...viewer[1], variables: { ids: typed.map(([r]) => r.id) } });
      expect(nodes.data!.nodes, viewer[0]).toEqual(typed.map(([, i]) => answers[i]));
      if (viewer[0] === 'a system admin, not narrowed') {
        // Everything that exists is found (the misses and the ids of another type aside).
        expect(answers.filter(Boolean).length).toBe(representations.length - 5 - 4 - 1);
      }
    }
  }, 120_000);

  it('leads a merged user down its chain as the general path does, for every viewer', async () => {
    const { chains, viewers } = await makeWorld();
    const reps = chains.flatMap((c) => [{ __typename: 'User', id: encodeGlobalID('User', c.tombstone) }, { __typename: 'User', id: encodeGlobalID('User', c.tombstone) }]);
    for (const viewer of viewers) {
      const both = await expectSame(ENTITIES, reps, viewer, true);
      if (viewer[0] !== 'a system admin, not narrowed') continue;
      // A system admin sees every survivor: each tombstone is answered by where its chain ends.
      const emails = (both.planned.data!._entities as ({ email: string } | null)[]).map((n) => n?.email ?? null);
      const ends = await Promise.all(chains.map(async (c) => (c.end ? (await prisma.user.findUniqueOrThrow({ where: { id: c.end } })).email : null)));
      expect(emails).toEqual(ends.flatMap((e) => [e, e]));
    }
  });

  it('leaves representations of no entity type, or without a string id, to the general path, which refuses them alike', async () => {
    const { representations, viewers } = await makeWorld();
    const viewer = viewers.find((v) => v[0] === 'the API key of A')!;
    // Unexpected errors are masked, each with its request's id.
    const masked = (result: { errors?: readonly { extensions?: Record<string, unknown> }[] }) =>
      JSON.parse(JSON.stringify(result, (k, v: unknown) => (k === 'requestId' ? undefined : v)));
    for (const odd of [{ __typename: 'ApiKey', id: representations[0]!.id }, { __typename: 'Nothing', id: 'x' }, { __typename: 'User', id: 42 }]) {
      const both = await bothWays(ENTITIES, { ...viewer[1], variables: { reps: [odd] } });
      expect(masked(both.planned)).toEqual(masked(both.general));
      expect(both.usedPlan).toBe(false);
      expect(both.planned.errors?.length).toBeGreaterThan(0);
    }
    await expectSame(ENTITIES, [], viewer, true);
  });
});

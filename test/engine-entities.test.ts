import { encodeGlobalID } from '@pothos/plugin-relay';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { setPlannedReads } from '../src/modules/shared/engine/index.ts';
import { globalIdParts } from '../src/modules/shared/validate.ts';
import { gql, tokenFor } from './helpers/app.ts';
import { bothWays, USER_HOLE } from './helpers/engine.ts';
import { expectSame, listsWorld, type Viewer } from './helpers/lists-world.ts';
import { fc } from './helpers/property-runs.ts';
import { leaksIn } from './helpers/schema-walk.ts';
import type { TenancyWorld } from './helpers/tenancy-world.ts';

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
// A field with no SQL form, and an organization's member list below the root: the
// planner leaves the operation, the resolver compiles the rest.
const ENTITIES_WITH_HOLES = `query ($reps: [_Any!]!) { _entities(representations: $reps) { ${SELECTION}
  ... on User { authSubject ${USER_HOLE} } ... on Organization { members(first: 2) { totalCount } } } }`;

type Representation = { __typename: string; id: string };

interface World {
  w: TenancyWorld;
  /** Representations the generated lists are drawn from. */
  representations: Representation[];
  /** Users merged away, each leading down its chain: the first to the last. */
  chains: { tombstone: string; end: string | null }[];
  viewers: Viewer[];
}

// Each test starts from an empty database.
async function makeWorld(): Promise<World> {
  const { w, chains, viewers } = await listsWorld();
  const { a, b, people } = w;
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
  // Viewers who see their own memberships in organizations they may not read, and of B alone.
  viewers.push(
    ['a pending member of B, not narrowed', { token: await tokenFor(people.bPending.authSubject!) }],
    ['a member of B alone, acting in B', { token: await tokenFor(people.bActive.authSubject!), organizationId: b.id }],
    ['a member who left A, acting in B', { token: await tokenFor(people.former.authSubject!), organizationId: b.id }],
  );
  return { w, representations, chains, viewers };
}

// Only a pending or suspended member acting in the organization is refused whatever is asked.
const refusedViewer = (viewer: Viewer) => /pending member of A|suspended/.test(viewer[0]);
// Viewers acting in A (a system admin aside, who reads everything): nothing of B may show.
const ofAOnly = (viewer: Viewer, w: TenancyWorld) => viewer[1].organizationId === w.a.id && !viewer[0].startsWith('a system admin');

describe('_entities(representations), compiled', () => {
  it('answers generated lists of representations of mixed types as the general path does, in one statement, for viewers of every role', async () => {
    const { w, representations, viewers } = await makeWorld();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(...representations), { maxLength: 12 }),
        fc.constantFrom(...viewers),
        fc.boolean(),
        async (reps, viewer, holes) => {
          const both = await expectSame(holes ? ENTITIES_WITH_HOLES : ENTITIES, { reps }, viewer, !holes);
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
      const both = await expectSame(ENTITIES, { reps: representations }, viewer, true);
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
      const both = await expectSame(ENTITIES, { reps }, viewer, true);
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
    await expectSame(ENTITIES, { reps: [] }, viewer, true);
  });
});

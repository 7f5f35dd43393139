import { encodeGlobalID } from '@pothos/plugin-relay';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { setPlannedReads } from '../src/modules/shared/engine/index.ts';
import { bothWays, USER_HOLE } from './helpers/engine.ts';
import { anIdentifier } from './helpers/factories.ts';
import { expectSame, listsWorld, type Viewer } from './helpers/lists-world.ts';
import { fc } from './helpers/property-runs.ts';
import type { TenancyWorld } from './helpers/tenancy-world.ts';

// `nodes(ids)` and `resolveMany(inputs)` now, compiled: for generated lists (ids of every
// compiled type, of both organizations, unknown, of merged users down chains of any
// length, repeated; identifiers matching one user, several, one not visible, none) and
// viewers of every role, the compiled answer equals the general path's, and a whole
// operation is one statement for a credential the server has seen.

afterEach(() => setPlannedReads(true));

const SELECTION = `__typename id
  ... on User { email userName: name }
  ... on Identifier { identifierKey identifierValue user { email } }
  ... on Identity { identityName: name }
  ... on IntegrationSource { key kind }
  ... on AuditEvent { action entityType }
  ... on LinkSuggestion { state confidence }
  ... on UserMerge { mergedUserId }
  ... on ApiKey { keyName: name role }
  ... on WebhookEndpoint { url }
  ... on WebhookDelivery { status eventType }
  ... on Organization { slug orgName: name }
  ... on Member { memberRole: role memberState: state memberUser: user { email } }`;
const NODES = `query ($ids: [ID!]!) { nodes(ids: $ids) { ${SELECTION} } }`;
// A field with no SQL form: the planner leaves the operation, the resolver compiles the rest.
const NODES_WITH_HOLE = `query ($ids: [ID!]!) { nodes(ids: $ids) { ${SELECTION} ... on User { ${USER_HOLE} } } }`;
const RESOLVE_MANY = `query ($inputs: [ResolveInput!]!, $org: ID) { resolveMany(inputs: $inputs, organizationId: $org) { __typename user { id email name } } }`;
const RESOLVE_MANY_WITH_HOLE = `query ($inputs: [ResolveInput!]!, $org: ID) { resolveMany(inputs: $inputs, organizationId: $org) { user { id email ${USER_HOLE} } } }`;

const COMPILED = ['User', 'Identifier', 'Identity', 'IntegrationSource', 'AuditEvent', 'LinkSuggestion', 'UserMerge', 'ApiKey', 'WebhookEndpoint', 'WebhookDelivery', 'Organization', 'Member'];

interface World {
  w: TenancyWorld;
  /** Global ids the generated lists are drawn from. */
  ids: string[];
  /** Ids `nodes` does not compile (of a type that is no Node, of no UUID): the general path answers. */
  others: string[];
  /** Users merged away, each leading down its chain: the first to the last. */
  chains: { tombstone: string; end: string | null }[];
  viewers: Viewer[];
  identifiers: { sourceKey?: string; sourceId?: string; identifierKey: string; identifierValue: string }[];
}

// Each test starts from an empty database.
async function makeWorld(): Promise<World> {
  const { w, chains, viewers } = await listsWorld();
  const { a, people } = w;
  // An identifier value two people of A hold (ambiguous), one a person who left A holds
  // beside a person of A, and values of B.
  const sourceA = w.sources.sourceA;
  await anIdentifier(a.id, people.admin.id, sourceA.id, { identifierKey: 'owner_id', identifierValue: 'a-two' });
  await anIdentifier(a.id, people.analyst.id, sourceA.id, { identifierKey: 'owner_id', identifierValue: 'a-two' });
  await anIdentifier(a.id, people.analyst.id, sourceA.id, { identifierKey: 'email', identifierValue: 'Analyst@Example.com' });
  await anIdentifier(a.id, people.analyst.id, sourceA.id, { identifierKey: 'phone', identifierValue: '+1 415 555 0100' });
  await anIdentifier(a.id, people.former.id, sourceA.id, { identifierKey: 'legacy_id', identifierValue: 'a-left' });
  const ofA = (identifierKey: string, identifierValue: string) => [
    { sourceKey: 'crm-a', identifierKey, identifierValue },
    { sourceId: encodeGlobalID('IntegrationSource', sourceA.id), identifierKey, identifierValue },
  ];
  const identifiers = [
    ...ofA('owner_id', 'a-shared-1'),
    ...ofA('owner_id', 'a-former-1'),
    ...ofA('owner_id', 'a-two'),
    ...ofA('legacy_id', 'a-left'),
    ...ofA('owner_id', 'nobody'),
    { sourceId: sourceA.id, identifierKey: 'owner_id', identifierValue: 'a-shared-1' },
    { sourceKey: 'crm-a', identifierKey: 'email', identifierValue: 'analyst@example.COM' },
    { sourceKey: 'crm-a', identifierKey: 'phone', identifierValue: '+14155550100' },
    { sourceKey: 'no-such-source', identifierKey: 'owner_id', identifierValue: 'a-shared-1' },
    ...w.identifiers.inB.map((i) => ({ sourceKey: w.sources.sourceB.key, identifierKey: i.identifierKey, identifierValue: i.identifierValue })),
  ];
  const gid = (typename: string, id: string) => encodeGlobalID(typename, id);
  const ids = [
    ...w.ids.filter((x) => COMPILED.includes(x.typename)).map((x) => gid(x.typename, x.id)),
    ...chains.map((c) => gid('User', c.tombstone)),
    ...COMPILED.map((t) => gid(t, randomUUID())),
    gid('User', people.bPending.id),
    // The same id written in capitals.
    gid('User', people.shared.id.toUpperCase()),
  ];
  const others = [gid('DeletedItem', randomUUID()), gid('User', 'not-a-uuid')];
  expect(new Set(w.ids.map((x) => x.typename))).toEqual(new Set(COMPILED));
  return { w, ids, others, chains, viewers, identifiers };
}

// Only a pending or suspended member is refused whatever is asked.
const refusedViewer = (viewer: Viewer) => /pending|suspended/.test(viewer[0]);

describe('nodes(ids) now, compiled', () => {
  it('answers generated lists of ids as the general path does, in one statement, for viewers of every role', async () => {
    const { ids, viewers } = await makeWorld();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(...ids), { maxLength: 12 }),
        fc.constantFrom(...viewers),
        fc.boolean(),
        async (list, viewer, hole) => {
          const both = await expectSame(hole ? NODES_WITH_HOLE : NODES, { ids: list }, viewer, !hole);
          expect(Boolean(both.general.errors), JSON.stringify(both.general.errors)).toBe(refusedViewer(viewer));
        },
      ),
      { numRuns: 40 },
    );
  }, 300_000);

  it('leads a merged user down its chain as the general path does, for every viewer', async () => {
    const { chains, viewers, w } = await makeWorld();
    const ids = chains.flatMap((c) => [encodeGlobalID('User', c.tombstone), encodeGlobalID('User', c.tombstone)]);
    for (const viewer of viewers) {
      const both = await expectSame(NODES, { ids }, viewer, true);
      expect(Boolean(both.general.errors), JSON.stringify(both.general.errors)).toBe(refusedViewer(viewer));
      if (viewer[0] !== 'a system admin, not narrowed') continue;
      // A system admin sees every survivor: each tombstone is answered by where its chain ends.
      const emails = (both.planned.data!.nodes as ({ email: string } | null)[]).map((n) => n?.email ?? null);
      const ends = await Promise.all(chains.map(async (c) => (c.end ? (await prisma.user.findUniqueOrThrow({ where: { id: c.end } })).email : null)));
      expect(emails).toEqual(ends.flatMap((e) => [e, e]));
    }
    expect(w.people.shared.id).toBe(chains[0]!.end);
  });

  it('leaves a list with an id of no Node type or of no UUID to the general path alike, and answers an empty list', async () => {
    const { ids, others, viewers } = await makeWorld();
    for (const viewer of viewers.slice(0, 3)) {
      for (const other of others) {
        const both = await bothWays(NODES, { ...viewer[1], variables: { ids: [ids[0], other, ids[1]] } });
        expect(both.planned).toEqual(both.general);
        expect(both.usedPlan).toBe(false);
      }
      await expectSame(NODES, { ids: [] }, viewer, true);
    }
  });
});

describe('resolveMany(inputs) now, compiled', () => {
  it('answers generated lists of identifiers as the general path does, in one statement, for viewers of every role', async () => {
    const { identifiers, viewers, w } = await makeWorld();
    let answered = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(...identifiers), { maxLength: 10 }),
        fc.constantFrom(...viewers),
        fc.constantFrom(undefined, w.a.id, encodeGlobalID('Organization', w.b.id)),
        fc.boolean(),
        async (list, viewer, org, hole) => {
          const inputs = list.map((identifier) => ({ identifier }));
          const both = await expectSame(hole ? RESOLVE_MANY_WITH_HOLE : RESOLVE_MANY, { inputs, org }, viewer, !hole);
          if (!both.general.errors) answered++;
        },
      ),
      { numRuns: 60 },
    );
    // Most draws are answered (the rest refused alike: another organization, none named).
    expect(answered).toBeGreaterThan(10);
  }, 300_000);

  it('compiles keys of every kind beside identifiers, and refuses alike', async () => {
    const { identifiers, viewers, w } = await makeWorld();
    const viewer = viewers[0]!;
    const national = { identifier: { sourceKey: 'crm-a', identifierKey: 'phone', identifierValue: '(415) 555-0100' } };
    const mixed = [{ identifier: identifiers[0] }, { email: 'analyst@example.com' }, national];
    const both = await bothWays(RESOLVE_MANY, { ...viewer[1], variables: { inputs: mixed } });
    expect(both.planned).toEqual(both.general);
    expect(both.usedPlan).toBe(true);
    const tooMany = Array.from({ length: 1001 }, () => ({ identifier: identifiers[0] }));
    const refused = await bothWays(RESOLVE_MANY, { ...viewer[1], variables: { inputs: tooMany } });
    expect(refused.planned).toEqual(refused.general);
    expect(refused.planned.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const invalid = await bothWays(RESOLVE_MANY, { ...viewer[1], variables: { inputs: [{ identifier: { identifierKey: 'owner_id', identifierValue: 'x' } }] } });
    expect(invalid.planned).toEqual(invalid.general);
    expect(invalid.planned.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const other = await bothWays(RESOLVE_MANY, { ...viewers.find((v) => v[0] === 'the API key of A')![1], variables: { inputs: [{ identifier: identifiers[0] }], org: w.b.id } });
    expect(other.planned).toEqual(other.general);
    expect(other.planned.errors?.[0]?.extensions?.code).toBe('TENANT_MISMATCH');
  });
});

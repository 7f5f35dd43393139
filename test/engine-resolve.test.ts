import { encodeGlobalID } from '@pothos/plugin-relay';
import { afterEach, describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { model, setPlannedReads } from '../src/modules/shared/engine/index.ts';
import { gql } from './helpers/app.ts';
import { bothWays, isPlan, USER_HOLE } from './helpers/engine.ts';
import { expectSame, listsWorld, remembered } from './helpers/lists-world.ts';
import { withSqlLog } from './helpers/sql-count.ts';
import { anIdentifier, anIdentity, aSource, aUser } from './helpers/factories.ts';
import { fc } from './helpers/property-runs.ts';

// `resolve` and `resolveMany` compiled for every kind of key (an identifier by source
// key or id, an email, a phone number, a provider account, an identity key): for
// generated inputs (emails in any case and with stray spaces, phone numbers written
// several ways and in the organization's national format, misses, values of another
// organization, keys several users hold, ties broken by id, merged users, a user who
// left), organizations with different default phone regions and none, and viewers of
// every role, the compiled answer equals the general path's, and a whole operation is
// one statement for a credential the server has seen: a national phone number, and an
// identifier value that may be one (in sources with regions of their own, different
// ones and none), is normalised for the region the server last read and the statement
// takes it as stored (one more statement when it changed since).

afterEach(() => setPlannedReads(true));

const FIELDS = [
  '__typename',
  'ambiguous',
  'user { __typename id email name memberships { role } }',
  'candidates { id email }',
  'first: candidates { name }',
  'identity { __typename id identifierKey name email phoneNumber user { email } }',
  'matchedIdentifiers { id identifierKey identifierValue confidenceScore discoveryMethod user { email } source { key } }',
];
const SELECTION = FIELDS.join(' ');
const resolveOf = (selection: string) => `query ($input: ResolveInput!, $org: ID) { resolve(input: $input, organizationId: $org) { ${selection} } }`;
const resolveManyOf = (selection: string) => `query ($inputs: [ResolveInput!]!, $org: ID) { resolveMany(inputs: $inputs, organizationId: $org) { ${selection} } }`;
const RESOLVE = resolveOf(SELECTION);
const RESOLVE_MANY = resolveManyOf(SELECTION);
/** Selections of some of the fields of a resolution. */
const selections = fc.subarray(FIELDS, { minLength: 1 }).map((fields) => fields.join(' '));
// A field with no SQL form: the planner leaves the operation, the resolver compiles the rest.
const HOLE_SELECTION = `ambiguous candidates { email authSubject ${USER_HOLE} } user { authSubject }`;
const WITH_HOLE = `query ($inputs: [ResolveInput!]!, $org: ID) { resolveMany(inputs: $inputs, organizationId: $org) { ${HOLE_SELECTION} } }`;

type Input = Record<string, unknown>;

async function makeWorld() {
  const { w, viewers } = await listsWorld();
  const { a, people, sources } = w;
  await prisma.organization.update({ where: { id: a.id }, data: { defaultPhoneRegion: 'US' } });
  const crm = sources.sourceA;
  const idp = await aSource(a.id, { key: 'idp-a', kind: 'IDENTITY_PROVIDER' });
  // Sources with phone regions of their own (set by setRegions): national numbers of the United Kingdom and Germany.
  const [x, y] = [await aSource(a.id, { key: 'crm-x' }), await aSource(a.id, { key: 'crm-y' })];
  await anIdentifier(a.id, people.analyst.id, x.id, { identifierKey: 'phone', identifierValue: '+44 20 7946 0958' });
  await anIdentifier(a.id, people.shared.id, x.id, { identifierKey: 'contact', identifierValue: '+44 20 7946 0958', confidenceScore: 0.4 });
  await anIdentifier(a.id, people.admin.id, x.id, { identifierKey: 'contact', identifierValue: '020 7946 0958' });
  await anIdentifier(a.id, people.admin.id, y.id, { identifierKey: 'phone', identifierValue: '+49 30 901820' });
  await anIdentifier(a.id, people.former.id, y.id, { identifierKey: 'mobile', identifierValue: '+49 30 901820' });
  // A mailbox: an identity of one person, identifiers of two others (one scored, one not).
  await anIdentity(a.id, { identifierKey: 'team', name: 'Team', email: 'team@example.com', userId: people.shared.id });
  await anIdentifier(a.id, people.analyst.id, crm.id, { identifierKey: 'work_email', identifierValue: 'Team@Example.com', confidenceScore: 0.5 });
  await anIdentifier(a.id, people.admin.id, crm.id, { identifierKey: 'email', identifierValue: 'team@example.com' });
  // A desk phone: an identity, and identifiers of a person of A and of one who left A.
  await anIdentity(a.id, { identifierKey: 'desk', name: 'Desk', phoneNumber: '+14155550100', userId: people.analyst.id });
  await anIdentifier(a.id, people.shared.id, crm.id, { identifierKey: 'phone', identifierValue: '+1 415 555 0100', confidenceScore: 0.9 });
  await anIdentifier(a.id, people.former.id, crm.id, { identifierKey: 'mobile', identifierValue: '+14155550100' });
  await anIdentifier(a.id, people.analyst.id, crm.id, { identifierKey: 'contact', identifierValue: '+44 20 7946 0958' });
  await anIdentifier(a.id, people.admin.id, crm.id, { identifierKey: 'phone', identifierValue: '+49 30 901820' });
  // A value two people hold with the same score at the same moment: ranked by id.
  const tie = new Date(Date.UTC(2026, 0, 2));
  const tied: { id: string; email: string }[] = [];
  for (const who of [people.admin, people.analyst, people.shared]) {
    const row = await anIdentifier(a.id, who.id, crm.id, { identifierKey: 'legacy_id', identifierValue: 'tie-1', confidenceScore: 0.7 });
    await prisma.identifier.update({ where: { id: row.id }, data: { updatedAt: tie } });
    tied.push({ id: row.id, email: who.email });
  }
  // Provider accounts: one linked to a user, one not.
  await anIdentity(a.id, { identifierKey: 'acct', name: 'Account', sourceId: idp.id, externalId: 'ext-1', userId: people.admin.id });
  await anIdentity(a.id, { identifierKey: 'orphan', name: 'Orphan', sourceId: idp.id, externalId: 'ext-2' });
  // A user merged into the analyst: their email leads to the analyst.
  const merged = await aUser({ email: 'old-analyst@example.com' });
  await prisma.user.update({ where: { id: merged.id }, data: { mergedIntoId: people.analyst.id } });
  const [identityB, phoneB, accountB] = w.identities.identitiesB;
  const emails = [
    'team@example.com',
    'old-analyst@example.com',
    'a-identity@example.com',
    people.analyst.email,
    people.former.email,
    people.formerMerged.email,
    people.bActive.email,
    identityB!.email!,
    'nobody@example.com',
  ];
  // National numbers of the United States, the United Kingdom and Germany, each read otherwise (or not at all) in another region.
  const phones = [
    '+1 415 555 0100',
    '+1 (415) 555-0100',
    '+14155550100',
    '(415) 555-0100',
    '415.555.0100',
    ' 415-555-0100 ',
    '+44 20 7946 0958',
    '020 7946 0958',
    '030 901820',
    phoneB!.phoneNumber!,
    phoneB!.phoneNumber!.slice(2),
    '+1 212 555 0199',
  ];
  const identityKeys = ['team', 'desk', 'acct', 'orphan', 'ida-1', 'ida-former', identityB!.identifierKey, 'nope'];
  const accounts: Input[] = [
    { sourceKey: 'idp-a', externalId: 'ext-1' },
    { sourceId: idp.id, externalId: 'ext-1' },
    { sourceId: encodeGlobalID('IntegrationSource', idp.id), externalId: 'ext-2' },
    { sourceKey: 'idp-a', externalId: 'ext-3' },
    { sourceKey: 'crm-a', externalId: 'ext-1' },
    { sourceId: sources.providerB.id, externalId: accountB!.externalId },
  ];
  const identifiers: Input[] = [
    { sourceKey: 'crm-a', identifierKey: 'legacy_id', identifierValue: 'tie-1' },
    { sourceId: crm.id, identifierKey: 'owner_id', identifierValue: 'a-shared-1' },
    { sourceId: encodeGlobalID('IntegrationSource', crm.id), identifierKey: 'owner_id', identifierValue: 'a-former-1' },
    { sourceKey: 'crm-a', identifierKey: 'work_email', identifierValue: ' TEAM@example.com' },
    { sourceKey: 'crm-a', identifierKey: 'phone', identifierValue: '(415) 555-0100' },
    { sourceKey: 'crm-a', identifierKey: 'mobile', identifierValue: '+1 415-555-0100' },
    { sourceKey: 'crm-a', identifierKey: 'contact', identifierValue: '+44 (20) 7946 0958' },
    { sourceKey: 'crm-a', identifierKey: 'owner_id', identifierValue: 'nobody' },
    { sourceKey: 'no-such-source', identifierKey: 'legacy_id', identifierValue: 'tie-1' },
    { sourceKey: sources.sourceB.key, identifierKey: 'owner_id', identifierValue: w.identifiers.inB[0]!.identifierValue },
  ];
  // Values that may be national phone numbers, read in their source's region: its own, else the organization's (or none).
  const regionalIdentifiers: Input[] = [
    { sourceKey: 'crm-a', identifierKey: 'phone', identifierValue: '030 901820' },
    { sourceKey: 'crm-a', identifierKey: 'contact', identifierValue: '020 7946 0958' },
    { sourceKey: 'crm-x', identifierKey: 'phone', identifierValue: '020 7946 0958' },
    { sourceKey: 'crm-x', identifierKey: 'contact', identifierValue: '020 7946 0958' },
    { sourceId: x.id, identifierKey: 'phone', identifierValue: '(020) 7946-0958' },
    { sourceKey: 'crm-y', identifierKey: 'phone', identifierValue: '030 901820' },
    { sourceId: encodeGlobalID('IntegrationSource', y.id), identifierKey: 'mobile', identifierValue: '(415) 555-0100' },
    { sourceKey: 'crm-y', identifierKey: 'contact', identifierValue: '415.555.0100' },
    { sourceKey: 'no-such-source', identifierKey: 'phone', identifierValue: '020 7946 0958' },
  ];
  return { w, x, y, emails, phones, identityKeys, accounts, identifiers, regionalIdentifiers, viewers, tied };
}

type World = Awaited<ReturnType<typeof makeWorld>>;

/** An email as someone might type it: in another case, with stray spaces. */
const typedEmail = (emails: string[]) =>
  fc
    .tuple(fc.constantFrom(...emails), fc.constantFrom('as is', 'upper', 'first upper'), fc.constantFrom('', ' ', '  \t'))
    .map(([e, c, pad]) => `${pad}${c === 'upper' ? e.toUpperCase() : c === 'first upper' ? e[0]!.toUpperCase() + e.slice(1) : e}${pad}`);

/** Inputs of every kind, drawn from the world's values. */
function inputs(world: World) {
  return fc.oneof(
    fc.constantFrom(...world.identifiers).map((identifier) => ({ identifier })),
    fc.constantFrom(...world.regionalIdentifiers).map((identifier) => ({ identifier })),
    typedEmail(world.emails).map((email) => ({ email })),
    fc.constantFrom(...world.phones).map((phoneNumber) => ({ phoneNumber })),
    fc.constantFrom(...world.accounts).map((externalAccount) => ({ externalAccount })),
    fc.constantFrom(...world.identityKeys).map((identityKey) => ({ identityKey })),
  );
}

const regionColumn = () => `"${model('Organization').fields.get('defaultPhoneRegion')!.column}"`;

/**
 * Waits out the reads an earlier request left running: when a non-null root field fails,
 * graphql-js answers while the other roots' resolvers still read, and those reads would
 * be counted with the next request's.
 */
async function quiet() {
  // Three quiet windows in a row: a stray resolver between two of its statements (a
  // busy machine, a connection awaited) can leave one window empty and still read next.
  let empty = 0;
  for (let i = 0; i < 100 && empty < 3; i++) {
    const { statements } = await withSqlLog(() => new Promise((resolve) => setTimeout(resolve, 30)));
    empty = statements.length ? 0 : empty + 1;
  }
}

/** The tables the general path looks keys up in (an identifier's source region is read with a join to its source's, not these). */
const LOOKUP_TABLES = () => ['Identifier', 'Identity'].map((m) => `"${model(m).table}"`);

/** Default phone regions the properties run under, of A, B, and A's sources crm-x and crm-y: different ones, the same, and none set. */
const REGIONS: [string | null, string | null, string | null, string | null][] = [
  ['US', 'GB', 'GB', 'DE'],
  [null, 'US', 'GB', null],
  ['GB', null, null, 'US'],
  ['DE', 'DE', 'US', 'GB'],
];

/**
 * Sets the default phone regions of A, B and A's sources, and looks each national
 * number up as the general path answers it (a phone number in A and B, an identifier
 * value in A): the first compiled read of a region the server has not read (or read
 * before a change) finds one it was not given and runs again (counted in its own tests
 * below); the server remembers it.
 */
async function setRegions(world: World, [inA, inB, inX, inY]: [string | null, string | null, string | null, string | null]) {
  await prisma.organization.update({ where: { id: world.w.a.id }, data: { defaultPhoneRegion: inA } });
  await prisma.organization.update({ where: { id: world.w.b.id }, data: { defaultPhoneRegion: inB } });
  await prisma.integrationSource.update({ where: { id: world.x.id }, data: { defaultPhoneRegion: inX } });
  await prisma.integrationSource.update({ where: { id: world.y.id }, data: { defaultPhoneRegion: inY } });
  const admin = world.viewers.find((v) => v[0] === 'a system admin, not narrowed')!;
  const asked = [
    ...[world.w.a.id, world.w.b.id].map((org) => ({ input: { phoneNumber: '020 7946 0958' }, org })),
    ...[...world.identifiers, ...world.regionalIdentifiers].map((identifier) => ({ input: { identifier }, org: world.w.a.id })),
  ];
  for (const variables of asked) {
    const both = await bothWays(RESOLVE, { ...admin[1], variables });
    expect(both.planned).toEqual(both.general);
  }
}

describe('resolve and resolveMany of every kind of key, compiled', () => {
  it('answers a generated resolve as the general path does, in one statement, for viewers of every role', async () => {
    const world = await makeWorld();
    let answered = 0;
    for (const regions of REGIONS) {
      await setRegions(world, regions);
      await fc.assert(
        fc.asyncProperty(
          inputs(world),
          fc.constantFrom(...world.viewers),
          fc.constantFrom(undefined, world.w.a.id, encodeGlobalID('Organization', world.w.b.id)),
          selections,
          async (input, viewer, org, selection) => {
            const both = await expectSame(resolveOf(selection), { input, org }, viewer, true);
            if (!both.general.errors) answered++;
          },
        ),
        { numRuns: 20 },
      );
    }
    expect(answered).toBeGreaterThan(15);
  }, 300_000);

  it('answers generated lists of keys of every kind as the general path does, in one statement, for viewers of every role', async () => {
    const world = await makeWorld();
    let answered = 0;
    for (const regions of REGIONS) {
      await setRegions(world, regions);
      await fc.assert(
        fc.asyncProperty(
          fc.array(inputs(world), { maxLength: 8 }),
          fc.constantFrom(...world.viewers),
          fc.constantFrom(undefined, world.w.a.id, encodeGlobalID('Organization', world.w.b.id)),
          fc.boolean(),
          selections,
          async (list, viewer, org, hole, selection) => {
            const both = await expectSame(hole ? WITH_HOLE : resolveManyOf(selection), { inputs: list, org }, viewer, !hole);
            if (!both.general.errors) answered++;
            // With fields left to the general path, national numbers too are read in the one statement.
            if (hole && !both.general.errors && remembered(viewer)) {
              const { statements } = await withSqlLog(() => gql(WITH_HOLE, { ...viewer[1], variables: { inputs: list, org } }));
              expect(statements.filter(isPlan)).toHaveLength(1);
              expect(statements.filter((s) => s.includes(regionColumn()) && !isPlan(s))).toEqual([]);
            }
          },
        ),
        { numRuns: 15 },
      );
    }
    expect(answered).toBeGreaterThan(10);
  }, 300_000);

  it('answers generated operations of several resolve and resolveMany fields as the general path does, in one statement', async () => {
    const world = await makeWorld();
    const orgs = [undefined, world.w.a.id, encodeGlobalID('Organization', world.w.b.id)];
    // With `hole`, a root selects fields left to the general path too.
    const root = fc.oneof(
      fc.record({ many: fc.constant(false), keys: inputs(world).map((i) => [i]), selection: selections, hole: fc.boolean() }),
      fc.record({ many: fc.constant(true), keys: fc.array(inputs(world), { maxLength: 4 }), selection: selections, hole: fc.boolean() }),
    );
    let answered = 0;
    for (const regions of REGIONS.slice(0, 2)) {
      await setRegions(world, regions);
      await fc.assert(
        // Each root in the operation's organization, or (`other`) in the one the viewer acts in.
        fc.asyncProperty(fc.array(root, { minLength: 2, maxLength: 4 }), fc.constantFrom(...world.viewers), fc.constantFrom(...orgs), fc.boolean(), async (roots, viewer, org, other) => {
          await quiet();
          const query = `query (${roots.map((r, i) => `$k${i}: ${r.many ? '[ResolveInput!]!' : 'ResolveInput!'}, $o${i}: ID`).join(', ')}) {
            ${roots.map((r, i) => `r${i}: ${r.many ? `resolveMany(inputs: $k${i}` : `resolve(input: $k${i}`}, organizationId: $o${i}) { ${r.selection} ${r.hole ? HOLE_SELECTION : ''} }`).join('\n')}
          }`;
          const variables = Object.fromEntries(roots.flatMap((r, i) => [[`k${i}`, r.many ? r.keys : r.keys[0]], [`o${i}`, other && i % 2 ? undefined : org]]));
          const holes = roots.some((r) => r.hole);
          const both = await expectSame(query, variables, viewer, !holes);
          if (both.general.errors) return;
          answered++;
          // Fields left to the general path or not, the roots' reads went as one statement,
          // and their resolvers took them: no other statement looks a key up.
          expect(both.plans, query).toBe(1);
          const lookups = both.statements.filter((s) => !isPlan(s) && LOOKUP_TABLES().some((t) => s.includes(t)));
          expect(lookups, query).toHaveLength(0);
        }),
        { numRuns: 30 },
      );
    }
    expect(answered).toBeGreaterThan(8);
  }, 300_000);

  it('ranks candidates and matches alike: the email holder, the identity named, then matches by score, newest, then id', async () => {
    const world = await makeWorld();
    // As a server that has read the organizations' regions.
    await setRegions(world, ['US', null, 'GB', null]);
    const { people } = world.w;
    const viewer = world.viewers.find((v) => v[0] === 'the admin of A')!;
    const ask = async (input: Input) => {
      const both = await expectSame(RESOLVE, { input }, viewer, true);
      return both.planned.data!.resolve;
    };
    const emailOf = (u: { email: string }) => u.email;
    const mailbox = await ask({ email: ' TEAM@Example.COM ' });
    expect(mailbox.ambiguous).toBe(true);
    expect(mailbox.user).toBeNull();
    expect(mailbox.identity.identifierKey).toBe('team');
    // The identity's user, then the unscored match (certain) before the one scored 0.5.
    expect(mailbox.candidates.map(emailOf)).toEqual([people.shared, people.admin, people.analyst].map(emailOf));
    // The same number in national and international formats; the user who left A counts but is not shown.
    for (const phoneNumber of ['(415) 555-0100', '+1 415 555 0100']) {
      const desk = await ask({ phoneNumber });
      expect(desk.identity.identifierKey).toBe('desk');
      expect(desk.candidates.map(emailOf)).toEqual([people.analyst, people.shared].map(emailOf));
      expect(desk.matchedIdentifiers.map((m: { identifierKey: string }) => m.identifierKey)).toEqual(['mobile', 'phone']);
    }
    const tie = await ask({ identifier: { sourceKey: 'crm-a', identifierKey: 'legacy_id', identifierValue: 'tie-1' } });
    const byId = world.tied.sort((x, y) => (x.id < y.id ? -1 : 1));
    expect(tie.matchedIdentifiers.map((m: { id: string }) => m.id)).toEqual(byId.map((t) => encodeGlobalID('Identifier', t.id)));
    expect(tie.candidates.map(emailOf)).toEqual(byId.map(emailOf));
    // A merged user's email leads to the user they were merged into.
    const merged = await ask({ email: 'old-analyst@example.com' });
    expect(merged).toMatchObject({ ambiguous: false, user: { email: people.analyst.email }, identity: null, matchedIdentifiers: [] });
    // A provider account with no user: the identity alone.
    expect(await ask({ externalAccount: { sourceKey: 'idp-a', externalId: 'ext-2' } })).toMatchObject({ ambiguous: false, user: null, candidates: [], identity: { identifierKey: 'orphan' } });
    expect((await ask({ identityKey: 'acct' })).user.email).toBe(people.admin.email);
    expect(await ask({ identityKey: 'nope' })).toBeNull();
  });

  it('reads a national number in the region stored now: one changed since the server read it costs one statement more, once', async () => {
    const world = await makeWorld();
    const viewer = world.viewers.find((v) => v[0] === 'the admin of A')!;
    const options = { ...viewer[1], variables: { input: { phoneNumber: '020 7946 0958' } } };
    // A region not read yet is found by the statement, which runs again with it.
    const first = await withSqlLog(() => gql(RESOLVE, options));
    expect(first.statements.filter(isPlan)).toHaveLength(2);
    const steps: [string | null, number, boolean][] = [
      ['GB', 2, true],
      [null, 1, false],
      ['US', 2, false],
      ['US', 1, false],
      ['GB', 2, true],
    ];
    for (const [region, statementCount, found] of steps) {
      await prisma.organization.update({ where: { id: world.w.a.id }, data: { defaultPhoneRegion: region } });
      const { result, statements } = await withSqlLog(() => gql(RESOLVE, options));
      expect(statements.filter(isPlan), `${region}\n${statements.join('\n')}`).toHaveLength(statementCount);
      expect(statements).toHaveLength(statementCount);
      setPlannedReads(false);
      expect(result).toEqual(await gql(RESOLVE, options));
      setPlannedReads(true);
      expect(Boolean(result.data?.resolve), String(region)).toBe(found);
      const again = await withSqlLog(() => gql(RESOLVE, options));
      expect(again.result).toEqual(result);
      expect(again.statements.filter(isPlan)).toHaveLength(1);
      expect(again.statements).toHaveLength(1);
    }
  });

  it("reads an identifier value that may be a national number in its source's region stored now: one changed since costs one statement more, once", async () => {
    const world = await makeWorld();
    const viewer = world.viewers.find((v) => v[0] === 'the admin of A')!;
    // In crm-x, by key and by id: the admin's contact holds the digits, another person's the number of the United Kingdom.
    const inputs = [
      { identifier: { sourceKey: 'crm-x', identifierKey: 'contact', identifierValue: '020 7946 0958' } },
      { identifier: { sourceId: world.x.id, identifierKey: 'contact', identifierValue: ' 020 7946 0958' } },
    ];
    const query = resolveManyOf('matchedIdentifiers { identifierValue user { email } }');
    const options = { ...viewer[1], variables: { inputs } };
    // Regions not read yet (crm-x has none of its own: A's, US) are found by the statement, which runs again with them.
    const first = await withSqlLog(() => gql(query, options));
    expect(first.statements.filter(isPlan)).toHaveLength(2);
    // A's region, crm-x's own, statements, and how many identifiers each key matches.
    const steps: [string | null, string | null, number, number][] = [
      ['US', 'GB', 2, 2],
      ['US', 'GB', 1, 2],
      ['US', null, 2, 1],
      // crm-x reads A's region.
      ['GB', null, 2, 2],
      ['GB', 'DE', 2, 1],
      // A's region changed, but crm-x has its own; then none, to read A's, which is the region it had.
      ['DE', 'DE', 1, 1],
      ['DE', null, 1, 1],
      ['DE', 'GB', 2, 2],
    ];
    for (const [inA, inX, statementCount, matches] of steps) {
      await prisma.organization.update({ where: { id: world.w.a.id }, data: { defaultPhoneRegion: inA } });
      await prisma.integrationSource.update({ where: { id: world.x.id }, data: { defaultPhoneRegion: inX } });
      const label = `A ${inA}, crm-x ${inX}`;
      const { result, statements } = await withSqlLog(() => gql(query, options));
      expect(statements.filter(isPlan), `${label}\n${statements.join('\n')}`).toHaveLength(statementCount);
      expect(statements, label).toHaveLength(statementCount);
      setPlannedReads(false);
      expect(result, label).toEqual(await gql(query, options));
      setPlannedReads(true);
      const resolved = result.data?.resolveMany as { matchedIdentifiers: unknown[] }[];
      expect(resolved.map((r) => r.matchedIdentifiers.length), label).toEqual([matches, matches]);
      const again = await withSqlLog(() => gql(query, options));
      expect(again.result, label).toEqual(result);
      expect(again.statements.filter(isPlan), label).toHaveLength(1);
      expect(again.statements, label).toHaveLength(1);
    }
  });

  it('counts one compiled statement for each kind of key, and for a list of every kind', async () => {
    const world = await makeWorld();
    await setRegions(world, ['US', null, 'GB', null]);
    const viewer = world.viewers.find((v) => v[0] === 'an analyst of A')!;
    const kinds: Input[] = [
      { identifier: world.identifiers[0] },
      { identifier: world.identifiers[4] },
      { email: 'Team@Example.com' },
      { phoneNumber: '+1 (415) 555-0100' },
      { phoneNumber: '415.555.0100' },
      { externalAccount: world.accounts[1] },
      { identityKey: 'desk' },
    ];
    for (const input of kinds) {
      for (const query of [RESOLVE, resolveOf('ambiguous'), resolveOf('user { email }')]) await expectSame(query, { input }, viewer, true);
    }
    await expectSame(RESOLVE_MANY, { inputs: kinds }, viewer, true);
    await expectSame(RESOLVE_MANY, { inputs: [] }, viewer, true, 0);
  });
});

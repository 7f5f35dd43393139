import { encodeGlobalID } from '@pothos/plugin-relay';
import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { expectNoErrors, gql, type GqlOptions } from './helpers/app.ts';
import { aMember, anIdentifier, anIdentity, anOrganization, aSource, aUser } from './helpers/factories.ts';
import { momentNow } from './helpers/moments.ts';
import { fc } from './helpers/property-runs.ts';

// Every version of a row is kept with the period it was valid in, written by the
// database itself; reads as of a past moment are answered from these versions.

interface Version {
  identifier_value: string;
  valid_from: Date;
  deleted: boolean;
}

const versionsOf = (id: string) =>
  prisma.$queryRawUnsafe<Version[]>(
    'SELECT identifier_value, valid_from, deleted FROM identifiers_history WHERE id = $1::uuid ORDER BY valid_from',
    id,
  );

describe('row history', () => {
  it('records a version per change, each valid until the next one, and the deletion as one more', async () => {
    const org = await anOrganization();
    const crm = await aSource(org.id, { key: 'crm' });
    const user = await aUser();
    const ident = await anIdentifier(org.id, user.id, crm.id, { identifierKey: 'email', identifierValue: 'a@example.com' });
    // Apart in time: the embedded database's clock counts milliseconds, and changes within one are one version.
    await momentNow();
    await prisma.identifier.update({ where: { id: ident.id }, data: { identifierValue: 'b@example.com' } });
    await momentNow();
    await prisma.identifier.update({ where: { id: ident.id }, data: { identifierValue: 'c@example.com' } });
    await momentNow();
    let versions = await versionsOf(ident.id);
    expect(versions.map((v) => [v.identifier_value, v.deleted])).toEqual([['a@example.com', false], ['b@example.com', false], ['c@example.com', false]]);
    expect(versions[0]!.valid_from < versions[1]!.valid_from && versions[1]!.valid_from < versions[2]!.valid_from).toBe(true);

    await prisma.identifier.delete({ where: { id: ident.id } });
    versions = await versionsOf(ident.id);
    expect(versions.map((v) => [v.identifier_value, v.deleted])).toEqual([['a@example.com', false], ['b@example.com', false], ['c@example.com', false], ['c@example.com', true]]);
  });

  it('keeps one version per transaction: the changes of one transaction share its moment', async () => {
    const org = await anOrganization();
    const crm = await aSource(org.id, { key: 'crm' });
    const user = await aUser();
    const ident = await prisma.$transaction(async (tx) => {
      const created = await tx.identifier.create({
        data: { organizationId: org.id, userId: user.id, sourceId: crm.id, identifierKey: 'k', identifierValue: 'one', normalizedValue: 'one', discoveryMethod: 'MANUAL' },
      });
      await tx.identifier.update({ where: { id: created.id }, data: { identifierValue: 'two' } });
      await tx.identifier.update({ where: { id: created.id }, data: { identifierValue: 'three' } });
      return created;
    });
    expect((await versionsOf(ident.id)).map((v) => [v.identifier_value, v.deleted])).toEqual([['three', false]]);
    // Deleted and written again in one transaction: one version, the row as it stands.
    await prisma.$transaction(async (tx) => {
      await tx.identifier.update({ where: { id: ident.id }, data: { identifierValue: 'four' } });
      await tx.identifier.delete({ where: { id: ident.id } });
      await tx.identifier.create({ data: { id: ident.id, organizationId: org.id, userId: user.id, sourceId: crm.id, identifierKey: 'k', identifierValue: 'five', normalizedValue: 'five', discoveryMethod: 'MANUAL' } });
    });
    expect((await versionsOf(ident.id)).map((v) => [v.identifier_value, v.deleted])).toEqual([['three', false], ['five', false]]);
  });

  it('writes the versions of a bulk write of many rows, one per row, with the columns the rows hold', async () => {
    const org = await anOrganization();
    const crm = await aSource(org.id, { key: 'crm' });
    const user = await aUser();
    const rows = Array.from({ length: 200 }, (_, i) => ({
      organizationId: org.id, userId: user.id, sourceId: crm.id, identifierKey: `k${i}`, identifierValue: `v${i}`, normalizedValue: `v${i}`, discoveryMethod: 'MANUAL' as const, confidenceScore: i / 200,
    }));
    await prisma.identifier.createMany({ data: rows });
    await prisma.identifier.updateMany({ where: { organizationId: org.id }, data: { confidenceScore: 1 } });
    const counts = await prisma.$queryRawUnsafe<{ versions: bigint; latest: bigint; same: boolean }[]>(
      `SELECT count(*) AS versions, count(*) FILTER (WHERE i.id IS NOT NULL) AS latest,
              bool_and(i.id IS NULL OR (h.identifier_value, h.confidence_score, h.updated_at) IS NOT DISTINCT FROM (i.identifier_value, i.confidence_score, i.updated_at)) AS same
         FROM identifiers_history h
         LEFT JOIN identifiers i ON i.id = h.id AND h.valid_from = (SELECT max(valid_from) FROM identifiers_history l WHERE l.id = h.id)
        WHERE h.organization_id = $1::uuid`,
      org.id,
    );
    expect(counts[0]).toEqual({ versions: 400n, latest: 200n, same: true });
  });

  it('versions the other tables an as-of read needs', async () => {
    const org = await anOrganization({ name: 'Before' });
    await prisma.organization.update({ where: { id: org.id }, data: { name: 'After' } });
    const names = await prisma.$queryRawUnsafe<{ name: string }[]>(
      'SELECT name FROM organizations_history WHERE id = $1::uuid ORDER BY valid_from',
      org.id,
    );
    expect(names.map((n) => n.name)).toEqual(['Before', 'After']);
    for (const table of ['users', 'members', 'integration_sources', 'identities', 'identity_properties']) {
      const [row] = await prisma.$queryRawUnsafe<{ triggers: bigint }[]>(
        `SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = $1::regclass AND tgname LIKE '%_history_%'`,
        table,
      );
      expect(row?.triggers, table).toBe(3n);
    }
  });
});

const RESOLVE = `query ($key: String!, $value: String!, $asOf: DateTime) {
  resolve(input: { identifier: { sourceKey: "crm", identifierKey: $key, identifierValue: $value } }, asOf: $asOf) { user { id email } }
}`;
const RESOLVE_MANY = `query ($inputs: [ResolveInput!]!, $asOf: DateTime) { resolveMany(inputs: $inputs, asOf: $asOf) { user { id } } }`;
const USER = `query ($id: ID!, $asOf: DateTime) { user(id: $id, asOf: $asOf) { id identifiers(first: 50) { edges { node { identifierKey identifierValue } } } memberships { role } } }`;
const UPSERT = `mutation ($input: UpsertIdentifierInput!) { upsertIdentifier(input: $input) { __typename ... on UpsertIdentifierSuccess { identifier { id } } } }`;
const DELETE = `mutation ($id: ID!) { deleteIdentifier(input: { id: $id }) { __typename } }`;
const MERGE = `mutation ($input: MergeUsersInput!) { mergeUsers(input: $input) { __typename ... on MergeUsersSuccess { merge { id } } } }`;
const UNMERGE = `mutation ($input: UnmergeUserInput!) { unmergeUser(input: $input) { __typename } }`;

const userGid = (id: string) => encodeGlobalID('User', id);

async function tenant() {
  const org = await anOrganization();
  await aSource(org.id, { key: 'crm' });
  const admin = await aUser();
  await aMember(org.id, admin.id, { role: 'ORGANIZATION_ADMIN' });
  const people = [await aUser(), await aUser()];
  for (const p of people) await aMember(org.id, p.id);
  return { org, admin, people, as: { asUser: admin, organizationId: org.id } as GqlOptions };
}

const resolveAt = async (as: GqlOptions, key: string, value: string, asOf?: Date) => {
  const r = await gql(RESOLVE, { ...as, variables: { key, value, asOf: asOf?.toISOString() } });
  expectNoErrors(r);
  return r.data!.resolve as { user: { id: string } | null } | null;
};

describe('reads as of a past moment', () => {
  it('answers, at moments before, between and after a series of changes, what a model of them says', async () => {
    const KEYS = ['owner_id', 'member_id'];
    const VALUES = ['v1', 'v2', 'v3'];
    const change = fc.record({ person: fc.nat(1), key: fc.constantFrom(...KEYS), value: fc.option(fc.constantFrom(...VALUES), { nil: null }) });
    await fc.assert(
      fc.asyncProperty(fc.array(change, { minLength: 1, maxLength: 6 }), async (changes) => {
        const { people, as } = await tenant();
        // The model: each person's value under each key, after each change.
        const held = new Map<string, { value: string; id: string }>();
        const states: { at: Date; values: Map<string, string> }[] = [];
        const record = async () => states.push({ at: await momentNow(), values: new Map([...held].map(([k, v]) => [k, v.value])) });
        await record();
        for (const c of changes) {
          const slot = `${c.person}:${c.key}`;
          if (c.value === null) {
            const had = held.get(slot);
            if (!had) continue;
            const r = await gql(DELETE, { ...as, variables: { id: had.id } });
            expectNoErrors(r);
            held.delete(slot);
          } else {
            const r = await gql(UPSERT, { ...as, variables: { input: { userId: people[c.person]!.id, sourceKey: 'crm', identifierKey: c.key, identifierValue: c.value, discoveryMethod: 'MANUAL' } } });
            expectNoErrors(r);
            held.set(slot, { value: c.value, id: r.data!.upsertIdentifier.identifier.id });
          }
          await record();
        }
        for (const state of states) {
          const all: { user: { id: string } | null }[] = [];
          for (const key of KEYS) {
            for (const value of VALUES) {
              const holders = [0, 1].filter((p) => state.values.get(`${p}:${key}`) === value);
              const expected = holders.length === 0 ? null : { user: holders.length === 1 ? { id: userGid(people[holders[0]!]!.id) } : null };
              const got = await resolveAt(as, key, value, state.at);
              expect(got && { user: got.user && { id: got.user.id } }, `${key}=${value} as of change ${states.indexOf(state)}`).toEqual(expected);
              all.push(expected!);
            }
          }
          const inputs = KEYS.flatMap((identifierKey) => VALUES.map((identifierValue) => ({ identifier: { sourceKey: 'crm', identifierKey, identifierValue } })));
          const many = await gql(RESOLVE_MANY, { ...as, variables: { inputs, asOf: state.at.toISOString() } });
          expectNoErrors(many);
          expect(many.data!.resolveMany, `resolveMany as of change ${states.indexOf(state)}`).toEqual(all);
          for (const [p, person] of people.entries()) {
            const r = await gql(USER, { ...as, variables: { id: userGid(person.id), asOf: state.at.toISOString() } });
            expectNoErrors(r);
            const had = KEYS.flatMap((k) => (state.values.has(`${p}:${k}`) ? [`${k}=${state.values.get(`${p}:${k}`)}`] : []));
            const got = r.data!.user.identifiers.edges.map((e: { node: { identifierKey: string; identifierValue: string } }) => `${e.node.identifierKey}=${e.node.identifierValue}`);
            expect(got.sort(), `user ${p} as of change ${states.indexOf(state)}`).toEqual(had.sort());
            expect(r.data!.user.memberships).toEqual([{ role: 'ANALYST' }]);
          }
        }
      }),
      { numRuns: 4 },
    );
  });

  it('answers the merged-away user before a merge, the survivor after it, and the merged-away one again after the unmerge', async () => {
    const { org, people, as } = await tenant();
    const survivor = people[0]!;
    const merged = people[1]!;
    const crm = await prisma.integrationSource.findFirstOrThrow({ where: { organizationId: org.id, key: 'crm' } });
    await anIdentifier(org.id, merged.id, crm.id, { identifierKey: 'owner_id', identifierValue: 'm-1' });
    const beforeMerge = await momentNow();
    const m = await gql(MERGE, { ...as, variables: { input: { survivorId: survivor.id, mergedId: merged.id } } });
    expectNoErrors(m);
    expect(m.data!.mergeUsers.__typename).toBe('MergeUsersSuccess');
    const afterMerge = await momentNow();
    const u = await gql(UNMERGE, { ...as, variables: { input: { mergeId: m.data!.mergeUsers.merge.id } } });
    expectNoErrors(u);
    expect(u.data!.unmergeUser.__typename).toBe('UnmergeUserSuccess');
    const afterUnmerge = await momentNow();
    expect((await resolveAt(as, 'owner_id', 'm-1', beforeMerge))?.user).toEqual({ id: userGid(merged.id), email: merged.email });
    expect((await resolveAt(as, 'owner_id', 'm-1', afterMerge))?.user).toEqual({ id: userGid(survivor.id), email: survivor.email });
    expect((await resolveAt(as, 'owner_id', 'm-1', afterUnmerge))?.user).toEqual({ id: userGid(merged.id), email: merged.email });
    // What is selected of the user is read as of the same moment.
    const NESTED = `query ($asOf: DateTime) { resolve(input: { identifier: { sourceKey: "crm", identifierKey: "owner_id", identifierValue: "m-1" } }, asOf: $asOf) {
      user { id identifiers(first: 10) { totalCount edges { node { identifierValue } } } memberships { role state } } } }`;
    const nested = async (asOf: Date) => {
      const r = await gql(NESTED, { ...as, variables: { asOf: asOf.toISOString() } });
      expectNoErrors(r);
      return r.data!.resolve.user;
    };
    const one = { totalCount: 1, edges: [{ node: { identifierValue: 'm-1' } }] };
    expect(await nested(beforeMerge)).toEqual({ id: userGid(merged.id), identifiers: one, memberships: [{ role: 'ANALYST', state: 'ACTIVE' }] });
    expect(await nested(afterMerge)).toEqual({ id: userGid(survivor.id), identifiers: one, memberships: [{ role: 'ANALYST', state: 'ACTIVE' }] });
    expect((await nested(afterUnmerge)).identifiers).toEqual(one);
  });

  it("never shows another organization's past", async () => {
    const a = await tenant();
    const b = await tenant();
    const crmB = await prisma.integrationSource.findFirstOrThrow({ where: { organizationId: b.org.id, key: 'crm' } });
    await anIdentifier(b.org.id, b.people[0]!.id, crmB.id, { identifierKey: 'owner_id', identifierValue: 'secret' });
    const then = await momentNow();
    await prisma.identifier.deleteMany({ where: { organizationId: b.org.id } });
    expect(await resolveAt(b.as, 'owner_id', 'secret', then)).toMatchObject({ user: { id: userGid(b.people[0]!.id) } });
    // A's admin, asking in A, finds nothing of B's past; asking in B is refused.
    expect(await resolveAt(a.as, 'owner_id', 'secret', then)).toBeNull();
    const r = await gql(RESOLVE, { asUser: a.admin, variables: { key: 'owner_id', value: 'secret', asOf: then.toISOString() }, organizationId: b.org.id });
    expect(r.data?.resolve ?? null).toBeNull();
    expect(r.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    // Nor does A's admin see B's people as they were, by id or email.
    for (const lookup of [`id: "${userGid(b.people[0]!.id)}"`, `email: "${b.people[0]!.email}"`]) {
      const u = await gql(`query ($asOf: DateTime) { user(${lookup}, asOf: $asOf) { id } }`, { ...a.as, variables: { asOf: then.toISOString() } });
      expectNoErrors(u);
      expect(u.data!.user).toBeNull();
    }
    const org = await gql(`query ($id: ID!, $asOf: DateTime) { organization(id: $id, asOf: $asOf) { name identifiers(first: 5) { totalCount } } }`, { asUser: a.admin, variables: { id: b.org.id, asOf: then.toISOString() } });
    expect(org.data?.organization ?? null).toBeNull();
    expect(org.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const seen = await gql(`query ($asOf: DateTime) { user(id: "${userGid(b.people[0]!.id)}", asOf: $asOf) { id identifiers(first: 5) { totalCount } } }`, { ...b.as, variables: { asOf: then.toISOString() } });
    expectNoErrors(seen);
    expect(seen.data!.user.identifiers.totalCount).toBe(1);
  });

  it('answers an organization as it was, with its members, identifiers and sources then', async () => {
    const { org, people, as } = await tenant();
    const crm = await prisma.integrationSource.findFirstOrThrow({ where: { organizationId: org.id, key: 'crm' } });
    const sources = async () =>
      (await prisma.integrationSource.findMany({ where: { organizationId: org.id }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] })).map((s) => ({ node: { key: s.key, name: s.name } }));
    const sourcesBefore = await sources();
    const before = await momentNow();
    await prisma.organization.update({ where: { id: org.id }, data: { name: 'Renamed' } });
    await anIdentifier(org.id, people[0]!.id, crm.id, { identifierKey: 'owner_id', identifierValue: 'o-1' });
    const newcomer = await aUser();
    await aMember(org.id, newcomer.id);
    await prisma.integrationSource.update({ where: { id: crm.id }, data: { name: 'Renamed CRM' } });
    await aSource(org.id, { key: 'erp' });
    const ORG = `query ($id: ID!, $asOf: DateTime) { organization(id: $id, asOf: $asOf) {
      name members(first: 50) { totalCount } identifiers(first: 50) { totalCount } sources { totalCount edges { node { key name } } } } }`;
    const at = async (asOf?: Date) => {
      const r = await gql(ORG, { ...as, variables: { id: org.id, asOf: asOf?.toISOString() } });
      expectNoErrors(r);
      return r.data!.organization;
    };
    const sourcesThen = { totalCount: sourcesBefore.length, edges: sourcesBefore };
    expect(await at(before)).toEqual({ name: org.name, members: { totalCount: 3 }, identifiers: { totalCount: 0 }, sources: sourcesThen });
    const sourcesNow = await sources();
    expect(sourcesNow).toContainEqual({ node: { key: 'crm', name: 'Renamed CRM' } });
    const after = { name: 'Renamed', members: { totalCount: 4 }, identifiers: { totalCount: 1 }, sources: { totalCount: sourcesNow.length, edges: sourcesNow } };
    expect(await at(await momentNow())).toEqual(after);
    expect(await at()).toEqual(after);
    // Link suggestions keep no history: refused as of a moment, naming them.
    const r = await gql(`query ($id: ID!, $asOf: DateTime) { organization(id: $id, asOf: $asOf) { linkSuggestions { totalCount } } }`, { ...as, variables: { id: org.id, asOf: before.toISOString() } });
    expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(r.errors?.[0]?.message).toMatch(/LinkSuggestion is not available as of a past moment/);
  });

  it("answers a user's identities with their properties as they were", async () => {
    const { org, people, as } = await tenant();
    const person = people[0]!;
    const identity = await anIdentity(org.id, { name: 'Old name', userId: person.id });
    await prisma.identityProperty.create({ data: { organizationId: org.id, identityId: identity.id, key: 'team', type: 'STRING', value: 'red' } });
    const linked = await momentNow();
    await prisma.identityProperty.updateMany({ where: { identityId: identity.id }, data: { value: 'blue' } });
    await prisma.identity.update({ where: { id: identity.id }, data: { name: 'New name' } });
    const renamed = await momentNow();
    await prisma.identity.update({ where: { id: identity.id }, data: { userId: null } });
    const unlinked = await momentNow();
    const Q = `query ($id: ID!, $asOf: DateTime) { user(id: $id, asOf: $asOf) { identities(first: 10) { edges { node { name properties { key value } } } } } }`;
    const at = async (asOf: Date) => {
      const r = await gql(Q, { ...as, variables: { id: userGid(person.id), asOf: asOf.toISOString() } });
      expectNoErrors(r);
      return r.data!.user.identities.edges.map((e: { node: unknown }) => e.node);
    };
    expect(await at(linked)).toEqual([{ name: 'Old name', properties: [{ key: 'team', value: 'red' }] }]);
    expect(await at(renamed)).toEqual([{ name: 'New name', properties: [{ key: 'team', value: 'blue' }] }]);
    expect(await at(unlinked)).toEqual([]);
  });

  it("answers a user's sign-in subject as it was, to whom the rule shows it: the user, and admins now of an organization the user belonged to then", async () => {
    const { org, admin, people, as } = await tenant();
    const person = people[0]!;
    const analyst = people[1]!;
    await prisma.user.update({ where: { id: person.id }, data: { authSubject: 'idp|before' } });
    const member = await momentNow();
    await prisma.member.deleteMany({ where: { organizationId: org.id, userId: person.id } });
    await prisma.user.update({ where: { id: person.id }, data: { authSubject: 'idp|after' } });
    const left = await momentNow();
    const Q = `query ($id: ID!, $asOf: DateTime) { user(id: $id, asOf: $asOf) { authSubject } }`;
    const subject = async (opts: GqlOptions, asOf: Date) => {
      const r = await gql(Q, { ...opts, variables: { id: userGid(person.id), asOf: asOf.toISOString() } });
      expectNoErrors(r);
      return r.data!.user as { authSubject: string | null } | null;
    };
    expect(await subject(as, member)).toEqual({ authSubject: 'idp|before' });
    // The user themself, signed in with their present subject and outside the organization now.
    expect(await subject({ asUser: { authSubject: 'idp|after' } }, member)).toEqual({ authSubject: 'idp|before' });
    expect(await subject({ asUser: analyst, organizationId: org.id }, member)).toEqual({ authSubject: null });
    // Gone from the organization, the user is no longer the admin's to read.
    expect(await subject(as, left)).toBeNull();
    // Rights are the viewer's present ones: an admin demoted since sees the subject no more.
    await prisma.member.updateMany({ where: { organizationId: org.id, userId: admin.id }, data: { role: 'ANALYST' } });
    expect(await subject(as, member)).toEqual({ authSubject: null });
  });

  it('refuses a moment before the history horizon or in the future, and what it cannot read as of a moment, naming each', async () => {
    const { org, as, people } = await tenant();
    const crm = await prisma.integrationSource.findFirstOrThrow({ where: { organizationId: org.id, key: 'crm' } });
    await anIdentifier(org.id, people[0]!.id, crm.id, { identifierKey: 'owner_id', identifierValue: 'x' });
    const [first] = await prisma.$queryRawUnsafe<{ at: Date }[]>('SELECT min(valid_from) AS at FROM organizations_history WHERE id = $1::uuid', org.id);
    const early = new Date(first!.at.getTime() - 1000);
    let r = await gql(RESOLVE, { ...as, variables: { key: 'owner_id', value: 'x', asOf: early.toISOString() } });
    expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(r.errors?.[0]?.message).toMatch(/asOf.*history horizon of this organization, \d{4}-/);
    r = await gql(RESOLVE, { ...as, variables: { key: 'owner_id', value: 'x', asOf: new Date(Date.now() + 60_000).toISOString() } });
    expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(r.errors?.[0]?.message).toMatch(/asOf.*future/);
    const now = (await momentNow()).toISOString();
    r = await gql(`query ($asOf: DateTime) { resolve(input: { identifier: { sourceKey: "crm", identifierKey: "k", identifierValue: "v" } }, asOf: $asOf) { matchedIdentifiers { id } } }`, { ...as, variables: { asOf: now } });
    expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(r.errors?.[0]?.message).toMatch(/Resolution.matchedIdentifiers is not available as of a past moment/);
    r = await gql(`query ($asOf: DateTime) { resolve(input: { email: "a@example.com" }, asOf: $asOf) { user { id } } }`, { ...as, variables: { asOf: now } });
    expect(r.errors?.[0]?.message).toMatch(/resolving by email is not available as of a past moment/);
    // Beside other root fields, as alone.
    const alone = await gql(`query ($asOf: DateTime) { a: resolve(input: { identifier: { sourceKey: "crm", identifierKey: "owner_id", identifierValue: "x" } }, asOf: $asOf) { user { id } } }`, { ...as, variables: { asOf: now } });
    r = await gql(`query ($asOf: DateTime) { a: resolve(input: { identifier: { sourceKey: "crm", identifierKey: "owner_id", identifierValue: "x" } }, asOf: $asOf) { user { id } } viewer { id } }`, { ...as, variables: { asOf: now } });
    expect(r.errors).toBeUndefined();
    expect(r.data?.a).toEqual(alone.data?.a);
    expect(r.data?.a).not.toBeNull();
  });
});

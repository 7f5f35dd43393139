import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { database, prisma, sql, statement } from '../src/db.ts';
import { JsonText, setPlannedReads } from '../src/modules/shared/engine/index.ts';
import { app, globalId, gql, tokenFor, type GqlOptions } from './helpers/app.ts';
import { aMember, anApiKey, anIdentifier, anOrganization, aSource, aUser } from './helpers/factories.ts';
import { withSqlLog } from './helpers/sql-count.ts';
import { bothWays, isPlan, readersOf, USER_HOLE, viewersOf } from './helpers/engine.ts';

// A query of one `resolve` of an identifier, `organization(id)` with its connections,
// `node(id)` or `_entities` is answered by one statement compiled for the
// selection (src/modules/shared/engine) when it only selects what the engine compiles. Every answer here is compared with the general path's answer to the same
// request, for several viewers; each case also checks which path answered.

afterEach(() => setPlannedReads(true));



async function world() {
  const org = await anOrganization();
  const other = await anOrganization();
  const crm = await aSource(org.id, { key: 'crm', name: "O'Brien CRM" });
  const hr = await aSource(org.id, { key: 'hr', kind: 'IDENTITY_PROVIDER' });
  const otherCrm = await aSource(other.id, { key: 'crm' });
  const { analyst, auditor, admin } = await readersOf(org.id, other.id);
  // A person in both organizations, with identifiers in each, scored and unscored.
  const person = await aUser({ name: 'Zoë "Z" Ünal', givenName: 'Zoë', familyName: null as never });
  await aMember(org.id, person.id, { role: 'ORGANIZATION_ADMIN' });
  await aMember(other.id, person.id, { role: 'ANALYST', state: 'SUSPENDED' });
  for (let i = 0; i < 25; i++) {
    await anIdentifier(org.id, person.id, i % 2 ? crm.id : hr.id, {
      identifierKey: `k${i}`,
      identifierValue: i === 0 ? 'shared' : `v${i}`,
      confidenceScore: i % 3 === 0 ? null : i / 30,
      discoveryMethod: i % 2 ? 'MCP_TOOL' : 'LLM_DISCOVERY',
    });
  }
  await prisma.identifier.updateMany({ where: { userId: person.id, identifierKey: 'k2' }, data: { discoveryMetadata: { tool: 'scan', hits: [1, 2.5], nested: { ok: true } } } });
  await anIdentifier(other.id, person.id, otherCrm.id, { identifierKey: 'k0', identifierValue: 'shared' });
  // Another holder of the same value with a higher score: the best match.
  const rival = await aUser();
  await aMember(org.id, rival.id, { state: 'PENDING' });
  await anIdentifier(org.id, rival.id, crm.id, { identifierKey: 'owner_id', identifierValue: 'contested', confidenceScore: 0.9 });
  await anIdentifier(org.id, person.id, crm.id, { identifierKey: 'owner_id', identifierValue: 'contested', confidenceScore: 0.4 });
  const secret = `igk_${randomBytes(32).toString('base64url')}`;
  await anApiKey(org.id, createHash('sha256').update(secret).digest('hex'));
  const viewers = await viewersOf({ analyst, admin, person, auditor }, org.id, secret);
  // A pending member may read nothing: refused alike on both paths.
  const refused: GqlOptions = { token: await tokenFor(rival.authSubject!), organizationId: org.id };
  return { org, other, person, rival, crm, viewers, refused };
}

const USER_FIELDS = `
  id __typename email givenName familyName nickname name picture isSystemAdmin createdAt updatedAt
  memberships { id __typename role state createdAt updatedAt organization { id slug name autoApproveLinkConfidence createdAt updatedAt } user { email } }
  identifiers(first: 100) {
    __typename totalCount
    edges { __typename node { id identifierKey identifierValue discoveryMethod confidenceScore discoveryMetadata createdAt updatedAt
      source { id key name kind createdAt updatedAt __typename } user { id email } } }
  }`;

describe('answers built in one statement', () => {
  it('run on connections that plan each statement once, without JIT (on PostgreSQL)', async () => {
    const [row] = await sql<{ plan_cache_mode: string; jit: string }>(
      statement('show_plan_cache_mode', "SELECT current_setting('plan_cache_mode') AS plan_cache_mode, current_setting('jit', true) AS jit"),
      [],
    );
    // The embedded database has one connection, prepares nothing across calls, and has no JIT.
    expect(row!.plan_cache_mode).toBe(database!.kind === 'postgres' ? 'force_generic_plan' : 'auto');
    if (database!.kind === 'postgres') expect(row!.jit).toBe('off');
  });

  it('resolve: the same answer as the general path for every viewer, selection and match', async () => {
    const { org, viewers, refused } = await world();
    const lookup = (source: string, key: string, value: string, selection: string) =>
      `{ resolve(organizationId: "${org.id}", input: { identifier: { source: "${source}", identifierKey: "${key}", identifierValue: "${value}" } }) { ${selection} } }`;
    const cases: [string, string, boolean][] = [
      ['everything planned', lookup('hr', 'k0', 'shared', `__typename user { ${USER_FIELDS} }`), true],
      ['two matches: ambiguous, no user', lookup('crm', 'owner_id', 'contested', 'user { email memberships { role state } }'), true],
      ['no match', lookup('crm', 'owner_id', 'nobody', 'user { id }'), true],
      ['a source by its id, in capitals', lookup('CRM-ID', 'k1', 'v1', 'user { name }'), true],
      [
        'aliases, fragments and pages of 1 and of the default size',
        `{ resolve(organizationId: "${org.id}", input: { identifier: { source: "crm", identifierKey: "k1", identifierValue: "v1" } }) {
            who: user { ...Person handle: email ... on User { again: email }
              first: identifiers(first: 1) { edges { node { identifierKey } } }
              all: identifiers { totalCount edges { node { identifierValue } } } } } }
         fragment Person on User { id name memberships { organization { name } } ... on Node { id } }`,
        true,
      ],
      ['every resolution field', lookup('crm', 'k1', 'v1', 'ambiguous candidates { email } user { email } identity { name } matchedIdentifiers { identifierKey }'), true],
      ['a page larger than allowed takes the general path', lookup('crm', 'k1', 'v1', 'user { identifiers(first: 500) { totalCount } }'), false],
    ];
    for (const [viewer, options] of viewers) {
      for (const [name, query, planned] of cases) {
        const q = name.includes('its id') ? query.replace('CRM-ID', (await prisma.integrationSource.findFirstOrThrow({ where: { organizationId: org.id, key: 'crm' } })).id.toUpperCase()) : query;
        const both = await bothWays(q, options);
        expect(both.planned, `${name}, as ${viewer}`).toEqual(both.general);
        if (planned) expect(both.planned.errors, `${name}, as ${viewer}`).toBeUndefined();
        expect(both.usedPlan, `${name}, as ${viewer}`).toBe(planned);
        if (name === 'everything planned') {
          // Every identifier of the person in the organization, whoever asks (all 25 when the viewer is narrowed to it).
          expect(both.planned.data!.resolve.user.identifiers.totalCount).toBeGreaterThanOrEqual(25);
        }
      }
    }
    for (const [name, query] of cases) {
      const both = await bothWays(query, refused);
      expect(both.planned, `${name}, as a pending member`).toEqual(both.general);
      // (A page over the limit is refused as bad input before anything is read.)
      expect(both.planned.errors?.[0]?.extensions?.code).toBe(name.includes('larger') ? 'BAD_USER_INPUT' : 'FORBIDDEN');
    }
  });

  it('resolve: pages by cursor, filter arguments, @include/@skip; only a field with a resolver of its own is left to the general path', async () => {
    const { org, viewers } = await world();
    const lookup = (source: string, key: string, value: string, selection: string) =>
      `{ resolve(organizationId: "${org.id}", input: { identifier: { source: "${source}", identifierKey: "${key}", identifierValue: "${value}" } }) { ${selection} } }`;
    const cases: [string, string, boolean][] = [
      ['cursors and pageInfo', lookup('crm', 'k1', 'v1', 'user { identifiers(first: 2) { edges { cursor } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }'), true],
      ['a filter argument', lookup('crm', 'k1', 'v1', 'user { identifiers(first: 5, sourceKey: "crm", minConfidence: 0.2) { totalCount edges { node { identifierKey confidenceScore } } } }'), true],
      [
        '@include and @skip',
        `query ($yes: Boolean = true) { resolve(organizationId: "${org.id}", input: { identifier: { source: "crm", identifierKey: "k1", identifierValue: "v1" } }) {
            user { email @include(if: $yes) name @skip(if: $yes) memberships @include(if: false) { role } } } }`,
        true,
      ],
      ['authSubject, compiled under the rule of who may read it', lookup('crm', 'k1', 'v1', 'user { email authSubject }'), true],
      ['a field with a resolver of its own: only it takes the general path', lookup('crm', 'k1', 'v1', `user { email ${USER_HOLE} }`), false],
    ];
    for (const [viewer, options] of viewers) {
      for (const [name, query, planned] of cases) {
        const both = await bothWays(query, options);
        expect(both.planned, `${name}, as ${viewer}`).toEqual(both.general);
        expect(both.planned.errors, `${name}, as ${viewer}`).toBeUndefined();
        expect(both.usedPlan, `${name}, as ${viewer}`).toBe(planned);
      }
    }
  });

  it('node(id) of a user: the same answer as the general path, visible or not', async () => {
    const { org, person, rival, viewers, refused } = await world();
    const outsider = await aUser();
    const node = (id: string, selection: string) => `{ node(id: "${id}") { ${selection} } }`;
    const cases: [string, string, boolean][] = [
      ['a member', node(globalId('User', person.id), `id __typename ... on User { ${USER_FIELDS} }`), true],
      ['a pending member', node(globalId('User', rival.id), 'id ... on User { email name }'), true],
      // Planned, not found (or found, by a system admin); a miss is answered by the general path.
      ['a user of no organization', node(globalId('User', outsider.id), 'id ... on User { email }'), true],
      ['an organization', node(globalId('Organization', org.id), 'id ... on Organization { name }'), true],
      ['not a global id', node('nonsense', 'id'), false],
    ];
    for (const [viewer, options] of viewers) {
      for (const [name, query, planned] of cases) {
        const both = await bothWays(query, options);
        expect(both.planned, `${name}, as ${viewer}`).toEqual(both.general);
        expect(both.usedPlan, `${name}, as ${viewer}`).toBe(planned);
        if (name === 'a user of no organization') {
          expect(both.planned.data?.node, `${name}, as ${viewer}`).toEqual(viewer.startsWith('a system admin, not narrowed') ? expect.anything() : null);
        }
      }
    }
    // Refused before anything runs, alike.
    const both = await bothWays(cases[0]![1], refused);
    expect(both.planned).toEqual(both.general);
    expect(both.planned.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('_entities of users and other types: the same answer as the general path', async () => {
    const { org, person, rival, viewers } = await world();
    const outsider = await aUser();
    const entities = (reps: { __typename: string; id: string }[], selection: string) =>
      `{ _entities(representations: ${JSON.stringify(reps).replace(/"(__typename|id)":/g, '$1:')}) { ${selection} } }`;
    const user = (id: string) => ({ __typename: 'User', id: globalId('User', id) });
    const cases: [string, string, boolean][] = [
      ['visible users, in order, twice over', entities([user(rival.id), user(person.id), user(rival.id)], `__typename ... on User { id email name memberships { role } }`), true],
      ['one not visible', entities([user(person.id), user(outsider.id)], '... on User { email }'), true],
      ['users and an organization', entities([user(person.id), { __typename: 'Organization', id: globalId('Organization', org.id) }], '... on User { email } ... on Organization { name }'), true],
    ];
    for (const [viewer, options] of viewers) {
      for (const [name, query, planned] of cases) {
        const both = await bothWays(query, options);
        expect(both.planned, `${name}, as ${viewer}`).toEqual(both.general);
        expect(both.planned.errors, `${name}, as ${viewer}`).toBeUndefined();
        expect(both.usedPlan, `${name}, as ${viewer}`).toBe(planned);
      }
    }
  });

  it('a planned answer goes into the response as its JSON text, and into any other serialization as its value', async () => {
    const { org, viewers } = await world();
    const query = `{ org: organization(id: "${org.id}") { __typename name members(first: 3) { totalCount edges { node { role user { name } } } } } }`;
    for (const [viewer, options] of viewers.slice(0, 2)) {
      const both = await bothWays(query, options);
      expect(both.usedPlan, viewer).toBe(true);
      expect(both.planned, viewer).toEqual(both.general);
      // Over server-sent events, one event with the same result.
      const { token, organizationId } = options;
      const response = await app.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'text/event-stream',
          ...options.headers,
          ...(token && { authorization: `Bearer ${token}` }),
          ...(organizationId && { 'x-organization-id': organizationId }),
        },
        body: JSON.stringify({ query }),
      });
      const events = (await response.text()).split('\n').filter((l) => l.startsWith('data: ') && l !== 'data: ');
      expect(events.map((l) => JSON.parse(l.slice(6))), viewer).toEqual([{ data: both.general.data }]);
    }
    // Anything else that serializes it gets the value of the text.
    const text = '{"a":[1,null,"Zo\\u00eb \\"Z\\""],"b":{}}';
    expect(JSON.parse(JSON.stringify({ x: new JsonText(text), y: [new JsonText('null')] }))).toEqual({ x: { a: [1, null, 'Zoë "Z"'], b: {} }, y: [null] });
  });

  it('organization(id): the same members page, users and identifiers as the general path', async () => {
    const { org, other, viewers, refused } = await world();
    const page = (id: string, selection: string) => `{ organization(id: "${id}") { ${selection} } }`;
    const cases: [string, string, boolean | ((viewer: string) => boolean)][] = [
      [
        'a page of members with users',
        page(org.id, `id slug name __typename members(first: 30) { totalCount __typename edges { __typename node { id role state createdAt updatedAt
          organization { slug } user { id email name memberships { role }
          identifiers(first: 5) { totalCount edges { node { identifierKey confidenceScore discoveryMetadata source { key kind } } } } } } } }`),
        true,
      ],
      ['the default page size', page(org.id, 'members { edges { node { role user { email } } } }'), true],
      ['only the organization', page(org.id, 'name autoApproveLinkConfidence'), true],
      // Beside another root field: compiled, and executed by graphql-js.
      ['beside another root field', `{ __typename org: organization(id: "${org.id}") { id members(first: 3) { totalCount edges { node { role user { email } } } } } }`, true],
      ['filters', page(org.id, 'members(first: 10, role: ANALYST) { totalCount edges { node { role } } }'), true],
      ['a search', page(org.id, 'members(search: "ÜNAL") { totalCount edges { node { user { name } } } }'), true],
      ['identifiers of the organization', page(org.id, 'identifiers(first: 5, discoveryMethod: MCP_TOOL) { totalCount pageInfo { hasNextPage endCursor } }'), true],
      ['the last page', page(org.id, 'members(last: 2) { edges { cursor node { role } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } }'), true],
      ['members\' authSubject, compiled under the rule of who may read it', page(org.id, 'name m: members(first: 3) { edges { node { user { email authSubject } } } }'), true],
      // A field with no SQL form (a resolver of its own): only it takes the general path.
      ['a field with no SQL form beside compiled fields', page(org.id, `name m: members(first: 1) { edges { node { user { email ${USER_HOLE} } } } } members(first: 2) { edges { node { role } } }`), false],
      // Compiled for the viewers who administer the organization (the person does); anyone else gets its resolver's FORBIDDEN.
      ['deleted items beside compiled fields', page(org.id, 'name deletedItems(first: 1) { totalCount } members(first: 2) { edges { node { role } } }'), (viewer) => viewer.startsWith('a system admin') || viewer.startsWith('the person')],
    ];
    for (const [viewer, options] of viewers) {
      for (const [name, query, planned] of cases) {
        const both = await bothWays(query, options);
        expect(both.planned, `${name}, as ${viewer}`).toEqual(both.general);
        const whole = typeof planned === 'function' ? planned(viewer) : planned;
        if (whole) expect(both.planned.errors, `${name}, as ${viewer}`).toBeUndefined();
        expect(both.usedPlan, `${name}, as ${viewer}`).toBe(whole);
      }
      // Another organization: refused (or, for the system admin, answered) alike.
      for (const [name, query] of cases) {
        const both = await bothWays(query, refused);
        expect(both.planned, `${name}, as a pending member`).toEqual(both.general);
        expect(both.planned.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      }
      const both = await bothWays(page(other.id, 'name members(first: 5) { edges { node { role } } }'), options);
      expect(both.planned, `another organization, as ${viewer}`).toEqual(both.general);
    }
  });
  it('counts compiled reads and fallbacks in /metrics', async () => {
    const { org, viewers } = await world();
    const analyst = viewers[0]![1];
    await gql(`{ organization(id: "${org.id}") { name } }`, analyst);
    await gql(`{ organization(id: "${org.id}") { deletedItems(first: 1) { totalCount } } }`, analyst);
    const text = await (await app.fetch('http://localhost/metrics')).text();
    expect(text).toMatch(/graphql_compiled_reads_total\{field="organization",outcome="compiled"\} [1-9]/);
    expect(text).toMatch(/graphql_compiled_reads_total\{field="organization",outcome="fallback"\} [1-9]/);
  });

  it('with a bearer token acting in the organization: one statement, checking the credential in it; refused alike for a viewer who may not read', async () => {
    const { org, person, crm, viewers, refused } = await world();
    const analyst = viewers[0]![1];
    const resolve = `{ resolve(input: { identifier: { source: "crm", identifierKey: "k1", identifierValue: "v1" } }) { user { email memberships { role } identifiers { totalCount } } } }`;
    const members = `{ organization(id: "${org.id}") { name members(first: 5) { totalCount edges { cursor node { role user { email } } } pageInfo { hasNextPage endCursor } } } }`;
    const miss = `{ resolve(input: { identifier: { source: "crm", identifierKey: "k1", identifierValue: "nobody" } }) { user { email } } }`;
    for (const query of [resolve, members, miss]) {
      const both = await bothWays(query, analyst);
      expect(both.planned).toEqual(both.general);
      expect(both.planned.errors).toBeUndefined();
      const { statements } = await withSqlLog(() => gql(query, analyst));
      expect(statements).toHaveLength(1);
      expect(isPlan(statements[0]!)).toBe(true);
    }
    const pending = await gql(resolve, refused);
    expect(pending.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(pending.data ?? null).toBeNull();
    const suspended = await aUser();
    await aMember(org.id, suspended.id, { state: 'SUSPENDED' });
    const asSuspended = await gql(resolve, { token: await tokenFor(suspended.authSubject!), organizationId: org.id });
    expect(asSuspended.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    // A merged user's token acts as the user it was merged into.
    const merged = await aUser();
    await prisma.user.update({ where: { id: merged.id }, data: { mergedIntoId: person.id } });
    const asMerged: GqlOptions = { token: await tokenFor(merged.authSubject!), organizationId: org.id };
    const both = await bothWays(`{ resolve(input: { identifier: { source: "${crm.key}", identifierKey: "k1", identifierValue: "v1" } }) { user { email memberships { role } } } }`, asMerged);
    expect(both.planned).toEqual(both.general);
    expect(both.planned.data?.resolve?.user?.email).toBe(person.email);
    // Acting in the organization, the survivor sees its own membership there only.
    expect(both.planned.data?.resolve?.user?.memberships).toEqual([{ role: 'ORGANIZATION_ADMIN' }]);
  });
});

import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { setPlannedReads } from '../src/modules/shared/engine/index.ts';
import { appWith, globalId, gql, tokenFor, type GqlOptions } from './helpers/app.ts';
import { aMember, anApiKey, anIdentifier, anIdentity, anOrganization, aSource, aUser } from './helpers/factories.ts';
import { isPlan } from './helpers/engine.ts';
import { fc } from './helpers/property-runs.ts';
import { withSqlLog } from './helpers/sql-count.ts';
import { normalisedPair } from '../src/modules/suggestion/pairs.ts';

// Generated worlds (people, memberships of every role and state or none, scored and
// unscored identifiers in two sources, identities with properties and provider accounts,
// link suggestions of a user or an identity, scored or not, in every state) and
// generated selections under the compiled roots (page sizes given or by a variable, the
// same list again under an alias with other arguments or merged from a fragment,
// fragments on interfaces and unions, @include and @skip): for viewers of every role,
// narrowed to the organization or not, the compiled answer equals the general path's,
// and the compiled statement answered it. Other pages are read by the first page's
// cursors, again both ways.

afterEach(() => setPlannedReads(true));

const roomy = appWith({ MAX_QUERY_COST: '10000000', MAX_QUERY_DEPTH: '20' });

const ROLES = ['ANALYST', 'ORGANIZATION_ADMIN'] as const;
const STATES = ['ACTIVE', 'ACTIVE', 'PENDING', 'SUSPENDED'] as const;
const METHODS = ['MANUAL', 'MCP_TOOL', 'LLM_DISCOVERY'] as const;
const SUGGESTION_STATES = ['SUGGESTED', 'APPROVED', 'REJECTED'] as const;

const worldShape = fc.record({
  people: fc.array(
    fc.record({
      role: fc.constantFrom(...ROLES),
      // LEFT: no membership in the organization, though identifiers there still name them.
      state: fc.constantFrom(...STATES, 'LEFT' as const),
      alsoOther: fc.boolean(),
      identifiers: fc.array(
        fc.record({ crm: fc.boolean(), method: fc.constantFrom(...METHODS), score: fc.option(fc.integer({ min: 0, max: 10 }), { nil: null }) }),
        { maxLength: 4 },
      ),
    }),
    { minLength: 2, maxLength: 6 },
  ),
  identities: fc.array(fc.record({ provider: fc.boolean(), properties: fc.integer({ min: 0, max: 3 }), linked: fc.boolean() }), { maxLength: 3 }),
  suggestions: fc.array(
    fc.record({
      state: fc.constantFrom(...SUGGESTION_STATES),
      score: fc.option(fc.integer({ min: 0, max: 10 }), { nil: null }),
      metadata: fc.boolean(),
      // The candidate: a user of no organization, or an identity of the organization (when there is one).
      identity: fc.boolean(),
    }),
    { maxLength: 4 },
  ),
  // Whether the first person and the system admin act in the organization (X-Organization-ID) or are not narrowed to one.
  personNarrowed: fc.boolean(),
  adminNarrowed: fc.boolean(),
  apiKeyRole: fc.constantFrom(...ROLES),
});

type WorldShape = typeof worldShape extends fc.Arbitrary<infer T> ? T : never;

async function world(shape: WorldShape) {
  const org = await anOrganization();
  const other = await anOrganization();
  const crm = await aSource(org.id, { key: 'crm' });
  const hr = await aSource(org.id, { key: 'hr', kind: 'IDENTITY_PROVIDER' });
  const otherCrm = await aSource(other.id, { key: 'crm' });
  const people = [];
  for (const [i, p] of shape.people.entries()) {
    const user = await aUser({ name: i % 2 ? `Zoë ${i}` : `Ada ${i}` });
    // The first person is a viewer: active.
    if (i === 0 || p.state !== 'LEFT') await aMember(org.id, user.id, { role: p.role, state: i === 0 || p.state === 'LEFT' ? 'ACTIVE' : p.state });
    if (p.alsoOther) await aMember(other.id, user.id);
    for (const [k, d] of p.identifiers.entries()) {
      await anIdentifier(org.id, user.id, d.crm ? crm.id : hr.id, {
        identifierKey: `k${k}`,
        identifierValue: `v-${i}-${k}`,
        discoveryMethod: d.method,
        confidenceScore: d.score === null ? null : d.score / 10,
      });
    }
    if (p.alsoOther) await anIdentifier(other.id, user.id, otherCrm.id, { identifierKey: 'k0', identifierValue: `v-${i}-0` });
    people.push(user);
  }
  const identities = [];
  for (const [i, d] of shape.identities.entries()) {
    const identity = await anIdentity(org.id, { sourceId: d.provider ? hr.id : null, userId: d.linked ? people[0]!.id : null, name: `Identity ${i}` });
    for (let k = 0; k < d.properties; k++) {
      await prisma.identityProperty.create({ data: { organizationId: org.id, identityId: identity.id, key: `p${k}`, type: 'NUMBER', value: k * 1.5 } });
    }
    identities.push(identity);
  }
  // Suggestions that the first person is someone else (a user or an identity), scored or not, in every state.
  const suggestions = [];
  for (const [i, d] of shape.suggestions.entries()) {
    const candidate = d.identity && identities[i] ? { type: 'IDENTITY' as const, id: identities[i]!.id } : { type: 'USER' as const, id: (await aUser()).id };
    const suggestion = await prisma.linkSuggestion.create({
      data: {
        organizationId: org.id,
        ...normalisedPair({ type: 'USER', id: people[0]!.id }, candidate),
        state: d.state,
        decidedAt: d.state === 'SUGGESTED' ? null : new Date(Date.UTC(2026, 0, 1 + i)),
        confidence: d.score === null ? null : d.score / 10,
        evidence: [{ kind: 'EMAIL', weight: i / 4 }],
        ...(d.metadata && { metadata: { job: `run ${i}`, seen: [i, 0.5] } }),
        createdBy: i % 2 ? 'SERVER' : 'LLM_DISCOVERY',
      },
    });
    suggestions.push(suggestion);
  }
  const secret = `igk_${randomBytes(32).toString('base64url')}`;
  await anApiKey(org.id, createHash('sha256').update(secret).digest('hex'), { role: shape.apiKeyRole });
  const admin = await aUser({ isSystemAdmin: true });
  const both = await aUser();
  await aMember(org.id, both.id);
  await aMember(other.id, both.id);
  const viewers: [string, GqlOptions][] = [
    [
      `the first person, ${shape.personNarrowed ? 'acting in the organization' : 'not narrowed'}`,
      { token: await tokenFor(people[0]!.authSubject!), ...(shape.personNarrowed && { organizationId: org.id }) },
    ],
    [`an API key of an ${shape.apiKeyRole}`, { headers: { 'x-api-key': secret } }],
    [`a system admin, ${shape.adminNarrowed ? 'acting in the organization' : 'not narrowed'}`, { token: await tokenFor(admin.authSubject!), ...(shape.adminNarrowed && { organizationId: org.id }) }],
    ['an analyst of both organizations, not narrowed', { token: await tokenFor(both.authSubject!) }],
  ];
  return { org, other, crm, otherCrm, people, identities, suggestions, viewers };
}

const pick = <T>(xs: readonly T[]) => fc.subarray([...xs], { minLength: 1 });
// A page size is also given by the variable $size (declared by the operation that uses it, with a default).
const paging = fc.oneof(
  fc.record({ first: fc.integer({ min: 0, max: 4 }) }),
  fc.record({ last: fc.integer({ min: 0, max: 4 }) }),
  fc.record({ first: fc.constant('$size') }),
  fc.record({ last: fc.constant('$size') }),
  fc.constant({}),
);
const args = (a: Record<string, unknown>) => {
  const list = Object.entries(a).map(([k, v]) => `${k}: ${typeof v === 'string' && /^([A-Z_]+|\$\w+)$/.test(v) ? v : JSON.stringify(v)}`);
  return list.length ? `(${list.join(', ')})` : '';
};
const connection = (node: fc.Arbitrary<string>, filters: fc.Arbitrary<Record<string, unknown>>) =>
  fc
    .record({
      paging,
      filters,
      node,
      total: fc.constantFrom('', 'totalCount', 'totalCount @include(if: true)', 'totalCount @skip(if: true)'),
      info: fc.subarray(['hasNextPage', 'hasPreviousPage', 'startCursor', 'endCursor', '__typename']),
      cursor: fc.boolean(),
    })
    .map(
      ({ paging: p, filters: f, node: n, total, info, cursor }) =>
        `${args({ ...p, ...f })} { ${total} edges { ${cursor ? 'cursor' : ''} node { ${n} } } ${info.length ? `pageInfo { ${info.join(' ')} }` : ''} }`,
    );
/** The arguments of a connection drawn by `connection`, to select it again under the same response name. */
const argumentsOf = (drawn: string) => drawn.slice(0, drawn.indexOf(' { '));

// A field with no SQL form (authSubject) is among them: only it takes the general path.
// An organization reached below the root, with connections whose auth scopes ask to read it (each viewer reads it).
const belowOrganization = fc.constantFrom(
  'organization { slug }',
  'organization { slug members(first: 1) { totalCount edges { node { role } } } history(first: 1) { totalCount } }',
  'organization { sources(last: 1) { totalCount edges { node { key history { totalCount } identifiers(first: 1) { totalCount } } } } auditEvents(first: 1) { edges { node { action actor { email } } } } }',
  'organization { identifiers(first: 1) { edges { node { identifierKey } } } identities { totalCount } linkSuggestions { totalCount } }',
);
const identifierNode = fc
  .tuple(pick(['id', 'identifierKey', 'confidenceScore', 'discoveryMethod', 'createdAt', 'discoveryMetadata', 'source { key kind }', 'user { email }', 'history(first: 1) { totalCount }']), fc.option(belowOrganization, { nil: null }))
  .map(([f, organization]) => [...f, organization ?? ''].join(' '));
const identifierFilters = fc.record(
  { sourceKey: fc.constantFrom('crm', 'hr'), minConfidence: fc.constantFrom(0, 0.3, 0.75), discoveryMethod: fc.constantFrom(...METHODS) },
  { requiredKeys: [] },
);
const identityNode = pick(['id', 'name', 'identityType', 'externalId', 'properties { key type value }', 'source { key name }', 'user { email }', 'linkedBy']).map((f) => f.join(' '));
const identityFilters = fc.record({ identityType: fc.constantFrom('USER', 'OTHER'), search: fc.constantFrom('Identity 1', 'ident', '%') }, { requiredKeys: [] });
// A user's lists also filter by organization: the world's own (org-id, replaced by its global id) or the other (other-id).
const ofOrganization = fc.record({ organizationId: fc.constantFrom('org-id', 'other-id') }, { requiredKeys: [] });
const userSelection = fc
  .record({
    scalars: pick(['id', 'email', 'name', 'givenName', 'isSystemAdmin', 'updatedAt', '__typename', 'authSubject', '... on Node { nodeId: id }']),
    memberships: fc.option(fc.tuple(pick(['role', 'state', 'user { email }']), fc.option(belowOrganization, { nil: null })).map(([f, o]) => (o ? [...f, o] : f)), { nil: null }),
    identifiers: fc.option(connection(identifierNode, fc.tuple(identifierFilters, ofOrganization).map(([f, o]) => ({ ...f, ...o }))), { nil: null }),
    identities: fc.option(connection(identityNode, fc.tuple(identityFilters, ofOrganization).map(([f, o]) => ({ ...f, ...o }))), { nil: null }),
  })
  .map(({ scalars, memberships, identifiers, identities }) =>
    [scalars.join(' '), memberships ? `memberships { ${memberships.join(' ')} }` : '', identifiers ? `identifiers${identifiers}` : '', identities ? `identities${identities}` : ''].join(' '),
  );
/** A selection with the world's organizations' global ids in place of org-id and other-id. */
const inWorld = (selection: string, org: { id: string }, other: { id: string }) =>
  selection.replaceAll('"org-id"', JSON.stringify(globalId('Organization', org.id))).replaceAll('"other-id"', JSON.stringify(globalId('Organization', other.id)));
const memberFilters = fc.record({ role: fc.constantFrom(...ROLES), state: fc.constantFrom(...STATES), search: fc.constantFrom('zoë', 'Ada', '1') }, { requiredKeys: [] });
const memberNode = fc
  .record({ scalars: pick(['id', 'role', 'state', 'createdAt']), user: fc.option(userSelection, { nil: null }) })
  .map(({ scalars, user }) => `${scalars.join(' ')} ${user ? `user { ${user} }` : ''}`);
const sourceNode = fc
  .tuple(pick(['id', 'key', 'name', 'kind', 'createdAt', 'updatedAt']), fc.option(belowOrganization, { nil: null }))
  .map(([f, organization]) => [...f, organization ?? ''].join(' '));
const sourceFilters = fc.record({ kind: fc.constantFrom('INTEGRATION', 'IDENTITY_PROVIDER') }, { requiredKeys: [] });
// A suggestion's ends are a union (a user or an identity): fragments on its members and on the Node interface.
const suggestionNode = pick([
  'id', 'state', 'confidence', 'evidence', 'metadata', 'createdBy', 'decidedAt', 'createdAt', 'organization { name }', 'merge { id }',
  'subject { __typename ... on User { email } ... on Identity { name } }',
  'candidate { ... on Node { id } ... on User { name memberships { role } } }',
]).map((f) => f.join(' '));
const suggestionFilters = fc.record({ state: fc.constantFrom(...SUGGESTION_STATES), minConfidence: fc.constantFrom(0, 0.3, 0.75) }, { requiredKeys: [] });

const organizationSelection = fc
  .record({
    scalars: pick(['id', 'slug', 'name', 'createdAt']),
    members: fc.option(connection(memberNode, memberFilters), { nil: null }),
    // The same connection again under an alias, with arguments of its own.
    again: fc.option(fc.oneof(connection(memberNode, memberFilters).map((c) => `members${c}`), connection(identifierNode, identifierFilters).map((c) => `identifiers${c}`)), { nil: null }),
    identifiers: fc.option(connection(identifierNode, identifierFilters), { nil: null }),
    identities: fc.option(connection(identityNode, fc.tuple(identityFilters, fc.record({ linked: fc.boolean() }, { requiredKeys: [] })).map(([f, l]) => ({ ...f, ...l }))), { nil: null }),
    sources: fc.option(connection(sourceNode, sourceFilters), { nil: null }),
    suggestions: fc.option(connection(suggestionNode, suggestionFilters), { nil: null }),
    alias: fc.boolean(),
    skip: fc.boolean(),
    // The members selected a second time with the same arguments in an inline fragment, graphql-js merging the two.
    merged: fc.boolean(),
  })
  .map(({ scalars, members, again, identifiers, identities, sources, suggestions, alias, skip, merged }) =>
    [
      scalars.join(' '),
      members ? `${alias ? 'people: ' : ''}members${members}` : '',
      members && merged ? `... on Organization { ${alias ? 'people: ' : ''}members${argumentsOf(members)} { totalCount pageInfo { hasNextPage endCursor } } }` : '',
      again ? `again: ${again}` : '',
      identifiers ? `identifiers${identifiers}` : '',
      identities ? `identities${identities.replace(' { ', ' @skip(if: $skip) { ')}` : '',
      sources ? `sources${sources}` : '',
      suggestions ? `${alias ? 'review: ' : ''}linkSuggestions${suggestions}` : '',
      skip ? '...Extra' : '... on Organization { ...Extra }',
      'kind: __typename @include(if: $skip)',
    ].join(' '),
  );

/** Both paths' answers to one request; the compiled one must have run. */
async function expectSame(query: string, options: GqlOptions, label: string) {
  setPlannedReads(true);
  const { result: compiled, statements } = await withSqlLog(() => gql(query, { ...options, app: roomy }));
  setPlannedReads(false);
  const general = await gql(query, { ...options, app: roomy });
  setPlannedReads(true);
  expect(compiled, label).toEqual(general);
  expect(compiled.errors, label).toBeUndefined();
  expect(statements.some(isPlan), `${label}: compiled`).toBe(true);
  return compiled;
}

describe('compiled answers equal the general path on generated worlds and selections', () => {
  it('organization(id) with members, identifiers, identities, sources and suggestions pages, and other pages by cursor', async () => {
    await fc.assert(
      fc.asyncProperty(worldShape, fc.array(organizationSelection, { minLength: 2, maxLength: 3 }), fc.boolean(), fc.constantFrom('uuid', 'global id', 'slug'), async (shape, selections, skip, by) => {
        const { org, other, viewers } = await world(shape);
        // The organization by its UUID, its global id or its slug.
        const root = by === 'slug' ? `slug: "${org.slug}"` : `id: "${by === 'uuid' ? org.id : globalId('Organization', org.id)}"`;
        for (const drawn of selections) {
          const selection = inWorld(drawn, org, other);
          const size = selection.includes('$size') ? `, $size: Int = ${shape.people.length % 4}` : '';
          const query = `query ($skip: Boolean = ${skip}${size}) { organization(${root}) { ${selection} } } fragment Extra on Organization { __typename name }`;
          for (const [viewer, options] of viewers) {
            const answer = await expectSame(query, options, `${query}\nas ${viewer}`);
            // The next page of the members by the first page's endCursor.
            const page = answer.data?.organization?.members ?? answer.data?.organization?.people;
            const end = page?.pageInfo?.endCursor;
            if (end && !/last:/.test(selection)) {
              const next = `{ organization(id: "${org.id}") { members(first: 2, after: "${end}") { edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage endCursor } } } }`;
              await expectSame(next, options, `${next}\nas ${viewer}`);
            }
            // The suggestions before the page's last one, by its cursor, backward.
            const review = answer.data?.organization?.linkSuggestions ?? answer.data?.organization?.review;
            const last = review?.pageInfo?.endCursor ?? review?.edges?.at(-1)?.cursor;
            if (last) {
              const previous = `{ organization(id: "${org.id}") { linkSuggestions(last: 2, before: "${last}") { totalCount edges { node { id state } } pageInfo { hasNextPage hasPreviousPage startCursor } } } }`;
              await expectSame(previous, options, `${previous}\nas ${viewer}`);
            }
          }
        }
      }),
      { numRuns: 3 },
    );
  }, 240_000);

  it('resolve, node(id) of users, identifiers, identities, sources and suggestions, and identity lookups', async () => {
    await fc.assert(
      fc.asyncProperty(worldShape, userSelection, identityNode, sourceNode, suggestionNode, async (shape, drawnUserFields, identityFields, sourceFields, suggestionFields) => {
        const { org, other, crm, otherCrm, people, identities, suggestions, viewers } = await world(shape);
        const userFields = inWorld(drawnUserFields, org, other);
        const withIdentifier = shape.people.findIndex((p) => p.identifiers.length > 0);
        // Root fields, each asked alone and then all in one operation (each root compiled, executed together).
        const roots = [
          `node(id: "${globalId('User', people[people.length - 1]!.id)}") { id ... on User { ${userFields} } }`,
          ...(withIdentifier >= 0
            ? [
                `resolve(organizationId: "${org.id}", input: { identifier: { source: "${shape.people[withIdentifier]!.identifiers[0]!.crm ? 'crm' : 'hr'}", identifierKey: "k0", identifierValue: "v-${withIdentifier}-0" } }) { user { ...U } }`,
              ]
            : []),
          // A source of the organization, and one of the other (null to a viewer who may not read it).
          ...[crm, otherCrm].map((source) => `node(id: "${globalId('IntegrationSource', source.id)}") { id ... on IntegrationSource { ${sourceFields} } }`),
          ...suggestions.map((suggestion) => `node(id: "${globalId('LinkSuggestion', suggestion.id)}") { ... on LinkSuggestion { ${suggestionFields} } }`),
          ...identities.flatMap((identity) => [
            `node(id: "${globalId('Identity', identity.id)}") { ... on Identity { ${identityFields} } }`,
            `identity(organizationId: "${org.id}", identifierKey: "${identity.identifierKey}") { ${identityFields} }`,
          ]),
          `user(id: "${globalId('User', people[0]!.id)}") { ...U }`,
        ];
        const fragment = `fragment U on User { ${userFields} }`;
        const operation = (fields: string[]) => {
          const text = `{ ${fields.join(' ')} } ${fields.some((f) => f.includes('...U')) ? fragment : ''}`;
          return `${text.includes('$size') ? 'query ($size: Int = 1) ' : ''}${text}`;
        };
        const queries = [...roots.map((r) => operation([r])), operation(roots.map((r, i) => `q${i}: ${r}`))];
        for (const query of queries) for (const [viewer, options] of viewers) await expectSame(query, options, `${query}\nas ${viewer}`);
      }),
      { numRuns: 3 },
    );
  }, 240_000);
});

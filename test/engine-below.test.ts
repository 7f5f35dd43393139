import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { setPlannedReads } from '../src/modules/shared/engine/index.ts';
import { globalId, gql, tokenFor, type GqlOptions } from './helpers/app.ts';
import { aMember, anIdentifier, anIdentity, anOrganization, aSource, aUser } from './helpers/factories.ts';
import { bothWays, isPlan } from './helpers/engine.ts';
import { fc } from './helpers/property-runs.ts';
import { withSqlLog } from './helpers/sql-count.ts';

// An organization's connections with auth scopes (members, sources, identifiers,
// auditEvents, deletedItems, webhookEndpoints…) compiled where the organization is
// reached below the root: through an identifier, an identity, a source, an API key, an
// endpoint or a membership. Whether the viewer may read (or administer) it is known
// from how the row was reached, or decided per row; a row the general path answers
// FORBIDDEN for is left to it. Every answer is compared with the general path's, for
// viewers of every role and state.

afterEach(() => setPlannedReads(true));

const hashOf = (secret: string) => createHash('sha256').update(secret).digest('hex');

/** A viewer, with what it holds in the organization A and whether it is narrowed to one. */
interface Viewer {
  name: string;
  options: GqlOptions;
  /** Reads A. */
  reads: boolean;
  /** Administers A. */
  admin: boolean;
  /** Administers every organization it reads. */
  adminAll: boolean;
  /** Has a membership it cannot read through (pending or suspended), not narrowed. */
  unreadable: boolean;
  /** A user (not an API key). */
  user: boolean;
  /** Refused before anything is read (a pending member acting in A). */
  refused: boolean;
}

async function world() {
  const a = await anOrganization();
  const b = await anOrganization();
  const c = await anOrganization();
  const crm = await aSource(a.id, { key: 'crm' });
  const hr = await aSource(a.id, { key: 'hr', kind: 'IDENTITY_PROVIDER' });
  const bCrm = await aSource(b.id, { key: 'crm' });

  // The person: an analyst of A, an admin of B, invited to C; identifiers in A and B.
  const person = await aUser({ name: 'Zoë Ünal' });
  const membership = await aMember(a.id, person.id, { role: 'ANALYST' });
  await aMember(b.id, person.id, { role: 'ORGANIZATION_ADMIN' });
  await aMember(c.id, person.id, { state: 'PENDING' });
  const identifier = await anIdentifier(a.id, person.id, crm.id, { identifierKey: 'email', identifierValue: 'zoe@example.com' });
  await anIdentifier(a.id, person.id, hr.id, { identifierKey: 'employee_id', identifierValue: '42' });
  await anIdentifier(b.id, person.id, bCrm.id, { identifierKey: 'email', identifierValue: 'zoe@example.com' });
  const identity = await anIdentity(a.id, { identifierKey: 'acct-1', sourceId: hr.id, userId: person.id });

  const user = async (memberships: [string, 'ORGANIZATION_ADMIN' | 'ANALYST', ('ACTIVE' | 'PENDING' | 'SUSPENDED')?][], systemAdmin = false) => {
    const u = await aUser({ isSystemAdmin: systemAdmin });
    for (const [org, role, state] of memberships) await aMember(org, u.id, { role, state: state ?? 'ACTIVE' });
    return u;
  };
  const admin = await user([[a.id, 'ORGANIZATION_ADMIN']]);
  const analyst = await user([[a.id, 'ANALYST']]);
  const outsider = await user([[b.id, 'ORGANIZATION_ADMIN']]);
  const invited = await user([[a.id, 'ANALYST', 'PENDING']]);
  const suspended = await user([[a.id, 'ORGANIZATION_ADMIN', 'SUSPENDED'], [b.id, 'ANALYST']]);
  const systemAdmin = await user([], true);

  const keys: Record<string, string> = {};
  const apiKeys = [];
  for (const role of ['ORGANIZATION_ADMIN', 'ANALYST'] as const) {
    const secret = `igk_${randomBytes(32).toString('base64url')}`;
    apiKeys.push(await prisma.apiKey.create({ data: { organizationId: a.id, secretHash: hashOf(secret), prefix: secret.slice(0, 12), name: `viewer ${role}`, role } }));
    keys[role] = secret;
  }
  const endpoint = await prisma.webhookEndpoint.create({ data: { organizationId: a.id, url: 'https://hooks.example.com/a', secret: 'whsec_a' } });
  await prisma.webhookEndpoint.create({ data: { organizationId: b.id, url: 'https://hooks.example.com/b', secret: 'whsec_b' } });
  for (const [org, label] of [[a, 'a crm email'], [a, 'a hr id'], [b, 'b crm email']] as const) {
    await prisma.deletedItem.create({ data: { organizationId: org.id, entityType: 'Identifier', entityId: crypto.randomUUID(), rows: {}, label, deletedByUserId: admin.id } });
  }
  const at = (minute: number) => new Date(Date.UTC(2026, 3, 1, 0, minute));
  const events = [
    { organizationId: a.id, entityType: 'Organization', entityId: a.id, action: 'UPDATE', actorType: 'USER', actorUserId: admin.id },
    { organizationId: a.id, entityType: 'Identifier', entityId: identifier.id, action: 'CREATE', actorType: 'USER', actorUserId: person.id },
    { organizationId: a.id, entityType: 'Identifier', entityId: identifier.id, action: 'UPDATE', actorType: 'USER', actorUserId: outsider.id },
    { organizationId: a.id, entityType: 'IntegrationSource', entityId: crm.id, action: 'CREATE', actorType: 'SYSTEM' },
    { organizationId: a.id, entityType: 'Member', entityId: membership.id, action: 'CREATE', actorType: 'USER', actorUserId: admin.id },
    { organizationId: b.id, entityType: 'Organization', entityId: b.id, action: 'UPDATE', actorType: 'USER', actorUserId: outsider.id },
  ] as const;
  for (const [i, e] of events.entries()) await prisma.auditEvent.create({ data: { changes: {}, ...e, createdAt: at(i) } });

  const token = (u: { authSubject: string | null }) => tokenFor(u.authSubject!);
  const v = (name: string, options: GqlOptions, flags: Partial<Omit<Viewer, 'name' | 'options'>>): Viewer => ({
    name, options, reads: false, admin: false, adminAll: false, unreadable: false, user: true, refused: false, ...flags,
  });
  const viewers: Viewer[] = [
    v('a system admin, not narrowed', { token: await token(systemAdmin) }, { reads: true, admin: true, adminAll: true }),
    v('a system admin acting in A', { token: await token(systemAdmin), organizationId: a.id }, { reads: true, admin: true, adminAll: true }),
    v('an admin of A acting in A', { token: await token(admin), organizationId: a.id }, { reads: true, admin: true, adminAll: true }),
    v('an admin of A, not narrowed', { token: await token(admin) }, { reads: true, admin: true, adminAll: true }),
    v('an analyst of A acting in A', { token: await token(analyst), organizationId: a.id }, { reads: true }),
    v('an analyst of A, an admin of B and invited to C (the person)', { token: await token(person) }, { reads: true, unreadable: true }),
    v('an admin of B only', { token: await token(outsider) }, { adminAll: true }),
    v('a user invited to A, not narrowed', { token: await token(invited) }, { unreadable: true, adminAll: true }),
    v('a user invited to A, acting in A', { token: await token(invited), organizationId: a.id }, { refused: true }),
    v('a user suspended in A, an analyst of B', { token: await token(suspended) }, { unreadable: true }),
    v('an admin API key of A', { headers: { 'x-api-key': keys.ORGANIZATION_ADMIN! } }, { reads: true, admin: true, adminAll: true, user: false }),
    v('an analyst API key of A', { headers: { 'x-api-key': keys.ANALYST! } }, { reads: true, user: false }),
  ];
  return { a, b, crm, person, membership, identifier, identity, apiKey: apiKeys[0]!, endpoint, viewers };
}

type World = Awaited<ReturnType<typeof world>>;
type Case = [name: string, query: string, whole: (v: Viewer) => boolean];

const EVENTS = 'totalCount edges { node { action entityType actor { email } } }';

/** The cases: each with whether compiled statements answer it whole, given the viewer. */
function casesOf(w: World): Case[] {
  const node = (type: string, id: string, selection: string) => `{ node(id: "${globalId(type, id)}") { id ... on ${type} { ${selection} } } }`;
  const readLists = `slug members(first: 2) { totalCount edges { node { role user { email } } } } identifiers(first: 2) { totalCount edges { node { identifierKey history { ${EVENTS} } } } }
    identities { totalCount edges { node { identifierKey } } } sources { totalCount } linkSuggestions { totalCount } auditEvents(first: 2) { ${EVENTS} } history(first: 1) { totalCount }`;
  const adminLists = 'slug apiKeys { totalCount } webhookEndpoints { totalCount edges { node { url } } } deletedItems(first: 2) { totalCount edges { node { label } } }';
  return [
    [
      "the viewer's identifiers, their organization's history and members",
      `{ viewer { identifiers { edges { node { identifierKey organization { slug history(first: 2) { ${EVENTS} } members(last: 3) { totalCount edges { node { role state user { email } history { totalCount } } } } } } } } } }`,
      (v) => v.user,
    ],
    [
      "an identity's organization, its sources and their histories and lists",
      `{ identity(organizationId: "${w.a.id}", identifierKey: "acct-1") { name organization { sources(first: 3) { totalCount edges { node { key history(last: 3) { ${EVENTS} }
        identifiers(first: 2) { totalCount edges { node { identifierKey organization { slug } } } } identities { totalCount } organization { members(first: 1) { totalCount } } } } } } } }`,
      (v) => v.reads,
    ],
    [
      "members' organization: its trail and deleted items",
      `{ organization(id: "${w.a.id}") { members(first: 2) { edges { node { role history { totalCount } organization { auditEvents(first: 1) { ${EVENTS} } deletedItems(first: 3) { totalCount edges { node { label } } } } } } } } }`,
      (v) => v.admin,
    ],
    ["an identifier's organization: every read list", node('Identifier', w.identifier.id, `history { ${EVENTS} } source { history { totalCount } } organization { ${readLists} }`), () => true],
    // Known readable, administered only where the viewer administers every organization it reads.
    ["an identifier's organization: the admins' lists", node('Identifier', w.identifier.id, `organization { ${adminLists} }`), (v) => v.adminAll],
    ["a source's lists and its organization", node('IntegrationSource', w.crm.id, `key identifiers { totalCount edges { node { organization { slug } } } } identities { totalCount } organization { ${readLists} ${adminLists} }`), (v) => v.adminAll],
    ["an identity's organization", node('Identity', w.identity.id, `organization { ${readLists} }`), () => true],
    ["an API key's organization", node('ApiKey', w.apiKey.id, `name organization { ${adminLists} members(first: 1) { totalCount } }`), () => true],
    ["an endpoint's organization", node('WebhookEndpoint', w.endpoint.id, `url organization { ${adminLists} auditEvents(first: 1) { ${EVENTS} } }`), () => true],
    [
      "the viewer's memberships: their organizations' read lists",
      '{ viewer { memberships { state organization { slug history(first: 1) { totalCount } members(first: 2) { totalCount } sources { totalCount } } } } }',
      (v) => v.user && !v.unreadable,
    ],
    [
      "the viewer's memberships: their organizations' admin lists",
      '{ viewer { memberships { state role organization { slug webhookEndpoints { totalCount } deletedItems { totalCount } } } } }',
      (v) => v.user && v.adminAll && !v.unreadable,
    ],
    ['the organizations listed: admin lists', '{ organizations { edges { node { slug webhookEndpoints { totalCount } deletedItems { totalCount } } } } }', (v) => v.adminAll],
  ];
}

describe('connections with auth scopes below the root', () => {
  it('compile where the viewer’s access to the organization is known or decided per row, with the general path’s answer for every viewer', async () => {
    const w = await world();
    const failures: string[] = [];
    for (const viewer of w.viewers) {
      for (const [name, query, whole] of casesOf(w)) {
        const both = await bothWays(query, viewer.options);
        const label = `${name}, as ${viewer.name}`;
        expect(both.planned, label).toEqual(both.general);
        if (both.usedPlan !== (whole(viewer) && !viewer.refused)) failures.push(`${label}: usedPlan ${both.usedPlan}`);
        if (both.usedPlan) expect(both.statements.filter(isPlan).length, label).toBe(1);
      }
    }
    expect(failures).toEqual([]);
  });

  it('answer FORBIDDEN, as the general path does, for the memberships whose organization the viewer may not read', async () => {
    const w = await world();
    const person = w.viewers.find((v) => v.name.includes('the person'))!;
    const query = '{ viewer { memberships { state organization { slug members(first: 1) { totalCount } } } } }';
    const both = await bothWays(query, person.options);
    expect(both.planned).toEqual(both.general);
    const states = both.planned.data!.viewer.memberships.map((m: any) => [m.state, m.organization.members?.totalCount ?? null]);
    expect(states.sort()).toEqual([['ACTIVE', 3], ['ACTIVE', 5], ['PENDING', null]].sort());
    expect(both.planned.errors!.map((e: any) => e.extensions.code)).toEqual(['FORBIDDEN']);
    // One compiled statement; only the pending membership's organization is read again for its list.
    expect(both.plans).toBe(1);
  });

  it('cost one statement for a credential the server has seen', async () => {
    const w = await world();
    const admin = w.viewers.find((v) => v.name === 'an admin of A acting in A')!;
    for (const [name, query] of casesOf(w)) {
      await gql(query, admin.options);
      const { result, statements } = await withSqlLog(() => gql(query, admin.options));
      expect(result.errors, name).toBeUndefined();
      expect(statements.length, `${name}: ${statements.join('\n')}`).toBe(1);
      expect(isPlan(statements[0]!), name).toBe(true);
    }
  });
});

// Generated selections of an organization reached below the root, through each parent.
const pick = <T>(xs: readonly T[]) => fc.subarray([...xs], { minLength: 1 });
const paging = fc.constantFrom('', 'first: 1', 'last: 2', 'first: 0', 'last: 0');
// Each list's filter arguments, compiled through the query its resolver uses.
const FILTERS: Record<string, string[]> = {
  members: ['role: ANALYST', 'state: PENDING', 'search: "zo"'],
  sources: ['kind: IDENTITY_PROVIDER'],
  identifiers: ['sourceKey: "crm"', 'minConfidence: 0.5'],
  auditEvents: ['filter: { action: "UPDATE" }', 'filter: { actorType: USER, entityType: "Identifier" }'],
  history: ['filter: { action: "CREATE" }'],
  deletedItems: ['filter: { search: "crm" }'],
  apiKeys: ['includeRevoked: true'],
};
const list = (name: string, node: string) =>
  fc
    .record({ paging, filter: fc.constantFrom('', ...(FILTERS[name] ?? [])), total: fc.boolean(), info: fc.boolean() })
    .map(({ paging: p, filter, total, info }) => {
      const args = [p, filter].filter(Boolean).join(', ');
      return `${name}${args ? `(${args})` : ''} { ${total ? 'totalCount' : ''} edges { cursor node { ${node} } } ${info ? 'pageInfo { hasNextPage endCursor }' : ''} }`;
    });
const organizationSelection = fc
  .tuple(
    pick(['slug', 'name', '__typename']),
    fc.option(list('members', 'role state user { email } history(first: 1) { totalCount }'), { nil: null }),
    fc.option(list('sources', 'key history(last: 1) { totalCount edges { node { action actor { email } } } } identifiers(first: 1) { totalCount }'), { nil: null }),
    fc.option(list('identifiers', 'identifierKey organization { slug }'), { nil: null }),
    fc.option(list('auditEvents', 'action actor { email }'), { nil: null }),
    fc.option(list('history', 'action'), { nil: null }),
    fc.option(list('webhookEndpoints', 'url'), { nil: null }),
    fc.option(list('deletedItems', 'label'), { nil: null }),
    fc.option(list('apiKeys', 'name'), { nil: null }),
    // A list selected again under an alias, with arguments of its own.
    fc.option(fc.oneof(list('members', 'role'), list('history', 'action'), list('deletedItems', 'label')).map((l) => `again: ${l}`), { nil: null }),
  )
  .map((parts) => parts.flat().filter((p) => p !== null).join(' '));

/**
 * An answer with its errors in path order: graphql-js lists errors as their resolvers
 * finish, and a field left to the general path in some rows finishes after its row is read.
 */
const inAnyOrder = (answer: { errors?: { path?: readonly (string | number)[] }[] }) => ({
  ...answer,
  errors: answer.errors && [...answer.errors].sort((x, y) => JSON.stringify(x.path).localeCompare(JSON.stringify(y.path))),
});

describe('generated selections below the root', () => {
  it('equal the general path through every parent, for every viewer', async () => {
    const w = await world();
    const parents = [
      (s: string) => `{ viewer { identifiers(first: 2) { edges { node { organization { ${s} } } } } } }`,
      (s: string) => `{ viewer { memberships { organization { ${s} } } } }`,
      (s: string) => `{ node(id: "${globalId('Identifier', w.identifier.id)}") { ... on Identifier { organization { ${s} } } } }`,
      (s: string) => `{ identity(organizationId: "${w.a.id}", identifierKey: "acct-1") { organization { ${s} } } }`,
      (s: string) => `{ node(id: "${globalId('ApiKey', w.apiKey.id)}") { ... on ApiKey { organization { ${s} } } } }`,
      (s: string) => `{ organization(id: "${w.a.id}") { members(first: 3) { edges { node { organization { ${s} } } } } } }`,
    ];
    let compiled = 0;
    await fc.assert(
      fc.asyncProperty(organizationSelection, fc.nat(parents.length - 1), fc.nat(w.viewers.length - 1), async (selection, p, v) => {
        const viewer = w.viewers[v]!;
        const query = parents[p]!(selection);
        const both = await bothWays(query, viewer.options);
        expect(inAnyOrder(both.planned), `${query}\nas ${viewer.name}`).toEqual(inAnyOrder(both.general));
        // One compiled statement at most, whatever is left to the general path.
        expect(both.plans, query).toBeLessThanOrEqual(1);
        if (both.usedPlan) compiled++;
      }),
      { numRuns: 40 },
    );
    // Most draws are answered whole by the compiled statement (the rest hold admin-only lists or unreadable rows).
    expect(compiled).toBeGreaterThan(5);
  }, 240_000);
});

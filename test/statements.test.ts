import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { appWith, expectNoErrors, globalId, gql, tokenFor, type GqlOptions } from './helpers/app.ts';
import { prisma } from '../src/db.ts';
import { anApiKey, aSource, aTenantWithMember, withNormalised } from './helpers/factories.ts';
import { withSqlLog } from './helpers/sql-count.ts';

// Every SQL statement a request of each benchmark scenario sends, authentication and
// authorization included, for both kinds of credential, pinned so a regression fails
// here: resolve one identifier, an organization's members page (whatever its size),
// node(id) and _entities in 1 each once the credential has been seen: the answer's,
// which checks the credential too. The benchmark measures the time they take.

/** Statements of a compiled read of a credential seen lately: the answer's, checking the credential in it. */
const PLANNED_STATEMENTS = 1;

const RESOLVE = `query ($value: String!) {
  resolve(input: { identifier: { source: "salesforce", identifierKey: "owner_id", identifierValue: $value } }) {
    user {
      id email name
      memberships { role state organization { id name } }
      identifiers(first: 50) { edges { node { id identifierKey identifierValue confidenceScore source { key } } } }
    }
  }
}`;

const MEMBERS = `query ($org: ID!, $first: Int!) {
  organization(id: $org) {
    id name
    members(first: $first) {
      edges { cursor node { id role user { id email name identifiers(first: 20) { edges { node { id identifierKey identifierValue } } } } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;

const NODE = `query ($id: ID!) { node(id: $id) { id ... on User { email name } } }`;

const ENTITIES = `query ($reps: [_Any!]!) { _entities(representations: $reps) { ... on User { id email name } } }`;

/** An organization of 120 members with two identifiers each, and both kinds of credential. */
async function world() {
  const { organization, user: analyst } = await aTenantWithMember('ANALYST');
  const salesforce = await aSource(organization.id, { key: 'salesforce' });
  const other = await aTenantWithMember('ANALYST');
  const tag = randomUUID().slice(0, 8);
  await prisma.user.createMany({ data: Array.from({ length: 120 }, (_, i) => ({ email: `s-${tag}-${String(i).padStart(3, '0')}@example.com` })) });
  const people = await prisma.user.findMany({ where: { email: { startsWith: `s-${tag}-` } }, orderBy: { email: 'asc' }, select: { id: true, email: true } });
  await prisma.member.createMany({ data: people.map((p) => ({ organizationId: organization.id, userId: p.id, state: 'ACTIVE' as const })) });
  // Some are members of another organization too, which the requests must not show.
  await prisma.member.createMany({ data: people.slice(0, 3).map((p) => ({ organizationId: other.organization.id, userId: p.id, state: 'ACTIVE' as const })) });
  await prisma.identifier.createMany({
    data: people.flatMap((p) =>
      ['owner_id', 'employee_id'].map((identifierKey) => ({
        organizationId: organization.id,
        userId: p.id,
        sourceId: salesforce.id,
        ...withNormalised(identifierKey, `${identifierKey}-${p.id}`),
        discoveryMethod: 'MANUAL' as const,
      })),
    ),
  });
  const secret = `igk_${randomBytes(32).toString('base64url')}`;
  await anApiKey(organization.id, createHash('sha256').update(secret).digest('hex'));
  const credentials: [string, GqlOptions][] = [
    ['a bearer token', { token: await tokenFor(analyst.authSubject!), organizationId: organization.id }],
    ['an API key', { headers: { 'x-api-key': secret }, organizationId: organization.id }],
  ];
  // The first use of a key records lastUsedAt (then at most once a minute), and the first
  // use of either reads it alone: not counted here (see the last test).
  for (const [, options] of credentials) await gql('{ __typename }', options);
  return { organization, people, credentials };
}

const roomyCost = appWith({ MAX_QUERY_COST: '10000000' });

async function statementsOf(query: string, variables: Record<string, unknown>, options: GqlOptions) {
  const { result, statements } = await withSqlLog(() => gql(query, { ...options, variables }));
  expectNoErrors(result);
  return { data: result.data!, statements: statements.length };
}

describe('SQL statements per request of the benchmark scenarios, authentication included', () => {
  it('resolves an identifier to the user with memberships and identifiers in 1 statement', async () => {
    const { people, credentials } = await world();
    for (const [, options] of credentials) {
      const person = people[1]!; // also a member of the other organization
      const { data, statements } = await statementsOf(RESOLVE, { value: `owner_id-${person.id}` }, options);
      expect(data.resolve.user.email).toBe(person.email);
      // Only the memberships of the organization the request acts in are visible.
      expect(data.resolve.user.memberships).toHaveLength(1);
      expect(data.resolve.user.identifiers.edges).toHaveLength(2);
      // The matching identifiers with their users, memberships and identifiers, and the
      // credential (with the membership in the request's organization).
      expect(statements).toBe(PLANNED_STATEMENTS);
    }
  });

  it('loads a members page of 50 or of 100 with users and their identifiers in 1 statement', async () => {
    const { organization, credentials } = await world();
    for (const [, options] of credentials) {
      // Pages of 100 users with 20 identifiers each are over the default cost limit,
      // which counts variables' page sizes; what is counted here is statements.
      const wide = { ...options, app: roomyCost };
      await gql('{ __typename }', wide); // another server: its first sight of the credential
      const fifty = await statementsOf(MEMBERS, { org: organization.id, first: 50 }, wide);
      const hundred = await statementsOf(MEMBERS, { org: organization.id, first: 100 }, wide);
      expect(fifty.data.organization.members.edges).toHaveLength(50);
      expect(hundred.data.organization.members.edges).toHaveLength(100);
      expect(hundred.data.organization.members.edges[99].node.user.identifiers.edges).toHaveLength(2);
      expect(hundred.statements).toBe(fifty.statements);
      // The organization with the page, users and identifiers, and the credential.
      expect(hundred.statements).toBe(PLANNED_STATEMENTS);
    }
  });

  it('answers node(id) for a user in 1 statement', async () => {
    const { people, credentials } = await world();
    for (const [, options] of credentials) {
      const { data, statements } = await statementsOf(NODE, { id: globalId('User', people[7]!.id) }, options);
      expect(data.node.email).toBe(people[7]!.email);
      expect(statements).toBe(PLANNED_STATEMENTS);
    }
  });

  it('answers an organization switcher (organizations with pageInfo, cursors, totalCount and members) in 1 statement', async () => {
    const { organization, credentials } = await world();
    const query = `query ($first: Int) { organizations(first: $first) {
      totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id slug name members(first: 5) { totalCount edges { node { role } } } } } } }`;
    for (const [, options] of credentials) {
      const { data, statements } = await statementsOf(query, { first: 10 }, options);
      // A credential acting in one organization lists that one.
      expect(data.organizations.totalCount).toBe(1);
      expect(data.organizations.edges[0].node.id).toBe(globalId('Organization', organization.id));
      expect(data.organizations.edges[0].node.members.totalCount).toBe(121);
      expect(statements).toBe(PLANNED_STATEMENTS);
    }
  });

  it('answers viewer, and user by id or by email, in 1 statement', async () => {
    const { people, credentials } = await world();
    const token = credentials[0]![1];
    const viewer = await statementsOf('{ viewer { id email memberships { role } } }', {}, token);
    expect(viewer.data.viewer.memberships).toEqual([{ role: 'ANALYST' }]);
    expect(viewer.statements).toBe(PLANNED_STATEMENTS);
    for (const [, options] of credentials) {
      const byId = await statementsOf('query ($id: ID!) { user(id: $id) { email identifiers(first: 5) { totalCount } } }', { id: globalId('User', people[3]!.id) }, options);
      expect(byId.data.user).toEqual({ email: people[3]!.email, identifiers: { totalCount: 2 } });
      expect(byId.statements).toBe(PLANNED_STATEMENTS);
      const byEmail = await statementsOf('query ($email: String!) { user(email: $email) { id } }', { email: people[4]!.email.toUpperCase() }, options);
      expect(byEmail.data.user.id).toBe(globalId('User', people[4]!.id));
      expect(byEmail.statements).toBe(PLANNED_STATEMENTS);
    }
  });

  it('answers _entities for 10 or 100 User representations in 1 statement', async () => {
    const { people, credentials } = await world();
    const reps = (n: number) => people.slice(0, n).map((p) => ({ __typename: 'User', id: globalId('User', p.id) }));
    for (const [, options] of credentials) {
      const ten = await statementsOf(ENTITIES, { reps: reps(10) }, options);
      const hundred = await statementsOf(ENTITIES, { reps: reps(100) }, options);
      expect(hundred.data._entities.map((e: { email: string }) => e.email)).toEqual(people.slice(0, 100).map((p) => p.email));
      expect(hundred.statements).toBe(ten.statements);
      expect(hundred.statements).toBe(PLANNED_STATEMENTS);
    }
  });

  it('reads a credential not seen lately in a statement of its own, before the answer', async () => {
    const { organization, user } = await aTenantWithMember('ANALYST');
    const options = { token: await tokenFor(user.authSubject!), organizationId: organization.id };
    const first = await statementsOf(NODE, { id: globalId('User', user.id) }, options);
    const second = await statementsOf(NODE, { id: globalId('User', user.id) }, options);
    expect(first.data).toEqual(second.data);
    expect([first.statements, second.statements]).toEqual([2, 1]);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { setPlannedReads } from '../src/modules/shared/engine/index.ts';
import { globalId, gql, tokenFor, type GqlOptions } from './helpers/app.ts';
import { bothWays, isPlan, USER_HOLE } from './helpers/engine.ts';
import { aMember, anIdentifier, anIdentity, anOrganization, aSource, aUser } from './helpers/factories.ts';
import { fc } from './helpers/property-runs.ts';

// Several root fields in one operation: the compiled reads of those planned before
// execution go to PostgreSQL as one statement. For generated operations of two to five
// root fields (compiled whole, refused, missing, forbidden, beside a root the engine
// does not plan) and viewers of every role, the answer equals the general path's; an
// operation whose roots all compile whole is one statement for a credential the server
// has seen; a credential changed in between is seen by that one statement.

afterEach(() => setPlannedReads(true));

async function world() {
  const org = await anOrganization();
  const other = await anOrganization();
  const crm = await aSource(org.id, { key: 'crm' });
  const admin = await aUser({ name: 'Ada Admin' });
  await aMember(org.id, admin.id, { role: 'ORGANIZATION_ADMIN' });
  const analyst = await aUser();
  await aMember(org.id, analyst.id, { role: 'ANALYST' });
  const outsider = await aUser();
  await aMember(other.id, outsider.id, { role: 'ORGANIZATION_ADMIN' });
  const system = await aUser({ isSystemAdmin: true });
  const people = [];
  for (let i = 0; i < 3; i++) {
    const person = await aUser({ name: `Person ${i}` });
    await aMember(org.id, person.id, { role: 'ANALYST' });
    await anIdentifier(org.id, person.id, crm.id, { identifierKey: 'owner_id', identifierValue: `o${i}` });
    people.push(person);
  }
  const identity = await anIdentity(org.id, { sourceId: crm.id, userId: people[0]!.id, name: 'Work account' });
  const token = (u: { authSubject: string | null }) => tokenFor(u.authSubject!);
  const viewers: [string, GqlOptions][] = [
    ['an organization admin acting in it', { token: await token(admin), organizationId: org.id }],
    ['an analyst acting in it', { token: await token(analyst), organizationId: org.id }],
    ['an analyst, not narrowed', { token: await token(analyst) }],
    ['an admin of another organization', { token: await token(outsider) }],
    ['a system admin, not narrowed', { token: await token(system) }],
  ];
  // Root fields, each under a name of its own; `whole` says it compiles whole for a reader of the organization.
  const roots: { field: string; whole: boolean }[] = [
    { field: `organization(id: "${org.id}") { name members(first: 2) { totalCount edges { cursor node { role user { email } } } pageInfo { hasNextPage endCursor } } }`, whole: true },
    { field: `organization(id: "${other.id}") { name }`, whole: false },
    { field: 'viewer { email memberships { role } }', whole: true },
    { field: `user(id: "${globalId('User', people[1]!.id)}") { email identifiers(first: 2) { totalCount } }`, whole: true },
    { field: `user(id: "${globalId('User', '00000000-0000-4000-8000-000000000000')}") { email }`, whole: false },
    { field: `node(id: "${globalId('Identity', identity.id)}") { id ... on Identity { name user { name } } }`, whole: true },
    { field: `identity(id: "${globalId('Identity', identity.id)}") { name identityType }`, whole: true },
    { field: 'organizations(first: 2) { totalCount edges { node { slug } } }', whole: true },
    { field: `graph(from: "${globalId('User', people[2]!.id)}") { nodes { id } }`, whole: false },
  ];
  return { org, other, admin, analyst, people, viewers, roots };
}

const operationOf = (picked: string[]) => `{ ${picked.map((field, i) => `r${i}: ${field}`).join('\n')} }`;
/** A root field as selected: plain, in an inline fragment on Query, or under @include(if: true). */
const ROOT_FORMS = [(f: string) => f, (f: string) => `... on Query { ${f} }`, (f: string) => f.replace(/^(r\d+: \w+(\([^)]*\))?)/, '$1 @include(if: true)')];
const operationIn = (picked: [string, number][]) => `{ ${picked.map(([field, form], i) => ROOT_FORMS[form]!(`r${i}: ${field}`)).join('\n')} }`;

describe('several root fields, one statement', () => {
  it('answers generated operations as the general path does, for viewers of every role', async () => {
    const { viewers, roots } = await world();
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom(...roots), fc.nat(ROOT_FORMS.length - 1)), { minLength: 2, maxLength: 5 }), fc.constantFrom(...viewers), async (drawn, [name, options]) => {
        const picked = drawn.map(([r]) => r);
        const query = operationIn(drawn.map(([r, form]) => [r.field, form]));
        const both = await bothWays(query, options);
        expect(both.planned, `${query}\nas ${name}`).toEqual(both.general);
        expect(Object.keys(both.planned.data ?? {})).toEqual(picked.map((_, i) => `r${i}`));
      }),
      { numRuns: 40 },
    );
  });

  it('sends the roots that compile whole as one statement, for a credential the server has seen', async () => {
    const { viewers, roots } = await world();
    const options = viewers[0]![1];
    await gql('{ viewer { id } }', options);
    const whole = roots.filter((r) => r.whole);
    await fc.assert(
      fc.asyncProperty(fc.shuffledSubarray(whole, { minLength: 2 }), async (picked) => {
        const query = operationOf(picked.map((r) => r.field));
        const { planned, general, statements } = await bothWays(query, options);
        expect(planned).toEqual(general);
        expect(planned.errors).toBeUndefined();
        expect(statements, query).toHaveLength(1);
        expect(statements.filter(isPlan), query).toHaveLength(1);
      }),
      { numRuns: 15 },
    );
  });

  it('reads a remembered credential no more than the compiled statement does, beside a root the engine does not plan', async () => {
    const { viewers, roots } = await world();
    const options = viewers[1]![1];
    const query = operationOf([roots[0]!.field, roots[8]!.field]);
    await gql(query, options);
    const { planned, general, statements } = await bothWays(query, options);
    expect(planned).toEqual(general);
    expect(planned.errors).toBeUndefined();
    // The compiled statement checked the credential: graph's reads follow without reading it apart.
    const credentialReads = statements.filter((s) => !isPlan(s) && s.includes('"auth_subject" ='));
    expect(statements.filter(isPlan)).toHaveLength(1);
    expect(credentialReads).toEqual([]);
  });

  it('reads a remembered credential only in the compiled statement, for roots whose selections leave fields to the general path', async () => {
    const { people, viewers } = await world();
    const options = viewers[1]![1];
    const roots = [
      `viewer { email ${USER_HOLE} }`,
      `user(id: "${globalId('User', people[1]!.id)}") { email ${USER_HOLE} }`,
      `organization(id: "${(options as { organizationId: string }).organizationId}") { name members(first: 2) { edges { node { user { email ${USER_HOLE} } } } } }`,
    ];
    for (const picked of [[roots[0]!], [roots[1]!], [roots[2]!], roots]) {
      const query = operationOf(picked);
      await gql(query, options);
      const { planned, general, statements } = await bothWays(query, options);
      expect(planned, query).toEqual(general);
      expect(planned.errors).toBeUndefined();
      expect(statements.filter(isPlan), query).toHaveLength(1);
      expect(statements.filter((s) => !isPlan(s) && s.includes('"auth_subject" =')), query).toEqual([]);
    }
  });

  it('sees a role changed since the credential was remembered, for all the roots at once', async () => {
    const { org, analyst, viewers, roots } = await world();
    const options = viewers[1]![1];
    const query = operationOf([roots[0]!.field, roots[2]!.field, roots[6]!.field]);
    const before = await gql(query, options);
    expect(before.errors).toBeUndefined();
    // Suspended: the next request must be refused, as the general path refuses it.
    await prisma.member.updateMany({ where: { organizationId: org.id, userId: analyst.id }, data: { state: 'SUSPENDED' } });
    const both = await bothWays(query, options);
    expect(both.planned).toEqual(both.general);
    expect(both.planned.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});

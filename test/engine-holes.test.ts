import { afterEach, describe, expect, it, vi } from 'vitest';
import { Builder } from '../src/modules/shared/engine/builder.ts';
import { prisma } from '../src/db.ts';
import { engineCounts, setPlannedReads } from '../src/modules/shared/engine/index.ts';
import { globalId, gql, tokenFor, type GqlOptions } from './helpers/app.ts';
import { aMember, anIdentifier, anIdentity, anOrganization, aSource, aUser } from './helpers/factories.ts';
import { bothWays, isPlan, USER_HOLE } from './helpers/engine.ts';
import { withSqlLog } from './helpers/sql-count.ts';

// Operations the engine cannot answer whole: several root fields, or fields with no SQL
// form below a compiled root. Each root is still compiled; only the fields it cannot
// compile take the general path, given their parent's row. The answers equal the
// general path's for every viewer.

afterEach(() => setPlannedReads(true));



async function world() {
  const org = await anOrganization();
  const crm = await aSource(org.id, { key: 'crm' });
  const admin = await aUser({ name: 'Ada Admin' });
  await aMember(org.id, admin.id, { role: 'ORGANIZATION_ADMIN' });
  const analyst = await aUser();
  await aMember(org.id, analyst.id, { role: 'ANALYST' });
  const people = [];
  for (let i = 0; i < 4; i++) {
    const person = await aUser({ name: `Person ${i}` });
    await aMember(org.id, person.id, { role: 'ANALYST', state: i === 3 ? 'SUSPENDED' : 'ACTIVE' });
    await anIdentifier(org.id, person.id, crm.id, { identifierKey: 'owner_id', identifierValue: `o${i}`, confidenceScore: i / 4 });
    people.push(person);
  }
  const identity = await anIdentity(org.id, { sourceId: crm.id, userId: people[0]!.id, name: 'Work account' });
  // An audit event to read beside the fields left to the general path.
  await gql(`mutation ($id: ID!) { updateOrganization(input: { id: $id, name: "Renamed" }) { __typename } }`, {
    token: await tokenFor(admin.authSubject!),
    organizationId: org.id,
    variables: { id: org.id },
  });
  const viewers: [string, GqlOptions][] = [
    ['an organization admin', { token: await tokenFor(admin.authSubject!), organizationId: org.id }],
    ['an analyst', { token: await tokenFor(analyst.authSubject!), organizationId: org.id }],
    ['a person, not narrowed', { token: await tokenFor(people[1]!.authSubject!) }],
  ];
  return { org, crm, admin, people, identity, viewers };
}

describe('holes: only what the engine cannot compile takes the general path', () => {
  it('fields with resolvers of their own, at every depth below compiled roots', async () => {
    const { org, people, identity, viewers } = await world();
    const queries = [
      // A connection with a resolver of its own beside compiled connections.
      `{ organization(id: "${org.id}") { name auditEvents(first: 2) { totalCount edges { node { action } } } deletedItems(first: 2) { totalCount } members(first: 10) { totalCount edges { node { role user { email ${USER_HOLE} memberships { role } } } } } } }`,
      // A field with a resolver inside a compiled list, and a compiled relation under it.
      `{ organization(id: "${org.id}") { identifiers(first: 10) { edges { cursor node { identifierKey user { name ${USER_HOLE} identifiers(first: 1) { totalCount } } } } pageInfo { hasNextPage endCursor } } } }`,
      `{ user(id: "${globalId('User', people[0]!.id)}") { email ${USER_HOLE} identities(first: 5) { edges { node { name } } } } }`,
      `{ viewer { email ${USER_HOLE} memberships { role organization { name } } } }`,
      `{ node(id: "${globalId('User', people[2]!.id)}") { id ... on User { name ${USER_HOLE} } } }`,
      `{ nodes(ids: ["${globalId('User', people[2]!.id)}", "${globalId('Identity', identity.id)}"]) { id ... on User { name ${USER_HOLE} } } }`,
      `{ identity(id: "${globalId('Identity', identity.id)}") { name user { email ${USER_HOLE} } source { key } } }`,
    ];
    for (const [viewer, options] of viewers) {
      for (const query of queries) {
        const both = await bothWays(query, options);
        expect(both.planned, `${query}\nas ${viewer}`).toEqual(both.general);
        expect(both.plans, `${query}\nas ${viewer}`).toBeGreaterThan(0);
      }
    }
  });

  it('several root fields: each compiled, answered as the general path answers them, errors included', async () => {
    const { org, people, identity, viewers } = await world();
    const other = await anOrganization();
    const query = `{
      a: organization(id: "${org.id}") { name members(first: 2) { edges { node { role } } pageInfo { hasNextPage } } }
      b: user(id: "${globalId('User', people[1]!.id)}") { email memberships { role } }
      c: node(id: "${globalId('Identity', identity.id)}") { ... on Identity { name } }
      d: identity(id: "${globalId('Identity', identity.id)}") { name }
      viewer { email }
      forbidden: organization(id: "${other.id}") { name }
      missing: user(id: "${globalId('User', '00000000-0000-4000-8000-000000000000')}") { email }
    }`;
    for (const [viewer, options] of viewers) {
      const both = await bothWays(query, options);
      expect(both.planned, viewer).toEqual(both.general);
      expect(both.planned.errors?.map((e) => e.path), viewer).toEqual([['forbidden']]);
      // The roots compiled before execution go as one statement; the miss is read again by its resolver.
      expect(both.statements.filter(isPlan)[0], viewer).toMatch(/q4_found/);
      expect(both.plans, viewer).toBeLessThanOrEqual(2);
      // Root fields answered by their statements and by graphql-js come in the operation's order.
      expect(Object.keys(both.planned.data!), viewer).toEqual(['a', 'b', 'c', 'd', 'viewer', 'forbidden', 'missing']);
    }
  });

  it("several root fields all compiled whole: one statement for all, in the operation's order", async () => {
    const { org, people, identity, viewers } = await world();
    const query = `{
      d: identity(id: "${globalId('Identity', identity.id)}") { name }
      a: organization(id: "${org.id}") { name members(first: 2) { totalCount } }
      b: node(id: "${globalId('User', people[1]!.id)}") { ... on User { email } }
    }`;
    const options = viewers[0]![1];
    await gql(query, options); // the credential, seen once
    const { planned, plans, statements } = await bothWays(query, options);
    expect(planned.errors).toBeUndefined();
    expect(Object.keys(planned.data!)).toEqual(['d', 'a', 'b']);
    expect([plans, statements.length]).toEqual([1, 1]);
  });

  it('loads the rows under holes in one statement per type, and counts each hole in /metrics', async () => {
    const { org, people, viewers } = await world();
    // A merge into each person: the rows under the field with no SQL form.
    const gone = await aUser();
    for (const person of people) await prisma.merge.create({ data: { survivorId: person.id, mergedId: gone.id, organizationIds: [org.id], before: {}, after: {} } });
    const before = engineCounts.fallback.get('UserMerge.changedSinceMerge') ?? 0;
    const query = `{ organization(id: "${org.id}") { members(first: 10) { edges { node { user { email ${USER_HOLE} } } } } } }`;
    const { planned, statements } = await bothWays(query, viewers[0]![1]);
    expect(planned.errors).toBeUndefined();
    expect(planned.data!.organization.members.edges).toHaveLength(6);
    // The merges' rows, once for the four people's merges.
    expect(statements.filter((s) => /FROM "public"\."merges" AS "t0" WHERE "t0"\."id" IN/.test(s))).toHaveLength(1);
    expect(engineCounts.fallback.get('UserMerge.changedSinceMerge')).toBe(before + 1);
  });

  it('builds the plan of a root with holes once per request, answering as before, for a new credential and a remembered one', async () => {
    const { org, admin, people, identity, viewers } = await world();
    const cases = [
      `{ organization(id: "${org.id}") { name apiKeys(first: 1) { totalCount } members(first: 10) { edges { node { user { email ${USER_HOLE} } } } } } }`,
      `{ node(id: "${globalId('User', people[2]!.id)}") { id ... on User { name ${USER_HOLE} } } }`,
      `{ nodes(ids: ["${globalId('User', people[2]!.id)}", "${globalId('Identity', identity.id)}"]) { id ... on User { name ${USER_HOLE} } } }`,
      `{ identity(id: "${globalId('Identity', identity.id)}") { name user { email ${USER_HOLE} } } }`,
      `{ resolve(input: { identifier: { source: "crm", identifierKey: "owner_id", identifierValue: "o1" } }) { user { name ${USER_HOLE} } } }`,
      `{ resolveMany(inputs: [{ identifier: { source: "crm", identifierKey: "owner_id", identifierValue: "o1" } }]) { user { name ${USER_HOLE} } } }`,
    ];
    // Each build of a plan is a builder that collects its root's selection.
    const collect = vi.spyOn(Builder.prototype, 'collect');
    const rootBuilds = () => new Set(collect.mock.contexts.filter((b, i) => collect.mock.calls[i]![1] === (b as Builder).info.fieldNodes)).size;
    try {
      for (const query of cases) {
        // A credential not seen yet, then the same one remembered.
        const fresh = { token: await tokenFor(admin.authSubject!, { jti: `${Math.random()}` }), organizationId: org.id };
        for (const options of [fresh, fresh, viewers[1]![1]]) {
          collect.mockClear();
          const { result, statements } = await withSqlLog(() => gql(query, options));
          expect(rootBuilds(), query).toBe(1);
          expect(statements.filter(isPlan), query).toHaveLength(1);
          setPlannedReads(false);
          const general = await gql(query, options);
          setPlannedReads(true);
          expect(result, query).toEqual(general);
        }
      }
    } finally {
      collect.mockRestore();
    }
  });
});

import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { globalId, gql, tokenFor, type GqlOptions } from './helpers/app.ts';
import { bothWays, isPlan } from './helpers/engine.ts';
import { aMember, anApiKey, anOrganization, aUser } from './helpers/factories.ts';
import { withSqlLog } from './helpers/sql-count.ts';

// A user's authSubject is compiled under the rule its resolver applies (rules.ts
// authSubjectReadersWhere): the user themself, and admins of an organization the user
// belongs to in any state, read it; anyone else who sees the user gets null.

async function world() {
  const here = await anOrganization();
  const there = await anOrganization();
  const member = async (memberships: [string, 'ORGANIZATION_ADMIN' | 'ANALYST', ('ACTIVE' | 'PENDING' | 'SUSPENDED')?][], isSystemAdmin = false) => {
    const u = await aUser({ isSystemAdmin });
    for (const [org, role, state] of memberships) await aMember(org, u.id, { role, state: state ?? 'ACTIVE' });
    return u;
  };
  const admin = await member([[here.id, 'ORGANIZATION_ADMIN']]);
  const analyst = await member([[here.id, 'ANALYST']]);
  // Reads this organization, administers the other: sees the users here, not their subjects.
  const adminElsewhere = await member([[here.id, 'ANALYST'], [there.id, 'ORGANIZATION_ADMIN']]);
  const pendingAdmin = await member([[here.id, 'ORGANIZATION_ADMIN', 'PENDING']]);
  const systemAdmin = await member([], true);
  const people = [
    await member([[here.id, 'ANALYST']]),
    await member([[here.id, 'ANALYST', 'PENDING']]),
    await member([[here.id, 'ANALYST', 'SUSPENDED'], [there.id, 'ANALYST']]),
  ];
  const outsider = await member([]);
  const key = async (role: 'ORGANIZATION_ADMIN' | 'ANALYST') => {
    const secret = `igk_${randomBytes(32).toString('base64url')}`;
    await anApiKey(here.id, createHash('sha256').update(secret).digest('hex'), { role });
    return { headers: { 'x-api-key': secret } };
  };
  const token = (u: { authSubject: string | null }) => tokenFor(u.authSubject!);
  const viewers: [string, GqlOptions][] = [
    ['an admin acting in the organization', { token: await token(admin), organizationId: here.id }],
    ['an admin, not narrowed', { token: await token(admin) }],
    ['an analyst acting in the organization', { token: await token(analyst), organizationId: here.id }],
    ['an analyst here and an admin of the other organization', { token: await token(adminElsewhere) }],
    ['an admin of the other organization acting there', { token: await token(adminElsewhere), organizationId: there.id }],
    ['a pending admin, not narrowed', { token: await token(pendingAdmin) }],
    ['a system admin, not narrowed', { token: await token(systemAdmin) }],
    ['a system admin acting in the organization', { token: await token(systemAdmin), organizationId: here.id }],
    ['an admin API key', await key('ORGANIZATION_ADMIN')],
    ['an analyst API key', await key('ANALYST')],
    ['a person themself, not narrowed', { token: await token(people[0]!) }],
  ];
  return { here, admin, analyst, people, outsider, viewers };
}

describe('User.authSubject, compiled', () => {
  it('answers as the general path for viewers of every role, in one compiled statement', async () => {
    const { here, people, outsider, viewers } = await world();
    const ids = [...people, outsider].map((p) => `"${globalId('User', p.id)}"`).join(', ');
    const queries = [
      `{ organization(id: "${here.id}") { members(first: 20) { edges { node { state user { email authSubject } } } } } }`,
      '{ viewer { authSubject nickname } }',
      `{ nodes(ids: [${ids}]) { ... on User { email authSubject } } }`,
      `{ user(id: "${globalId('User', people[1]!.id)}") { authSubject memberships { role user { authSubject } } } }`,
      `{ user(id: "${globalId('User', outsider.id)}") { authSubject } }`,
    ];
    for (const [viewer, options] of viewers) {
      for (const query of queries) {
        const both = await bothWays(query, options);
        const label = `${query}\nas ${viewer}`;
        expect(both.planned, label).toEqual(both.general);
        // An API key has no viewer: nothing to compile.
        const whole = !both.planned.errors && !(query.includes('viewer') && !options.token);
        if (whole) expect(both.usedPlan, label).toBe(true);
      }
    }
  });

  it('shows the subject to the user and to admins of its organizations, null to other readers', async () => {
    const { here, people, viewers } = await world();
    const query = `{ organization(id: "${here.id}") { members(first: 20) { edges { node { user { id authSubject } } } } } }`;
    const subjects = async (options: GqlOptions) => {
      const r = await gql(query, options);
      const edges = (r.data?.organization?.members?.edges ?? []) as { node: { user: { id: string; authSubject: string | null } } }[];
      return new Map(edges.map((e) => [e.node.user.id, e.node.user.authSubject]));
    };
    const as = (name: string) => viewers.find(([v]) => v === name)![1];
    const ofPeople = (m: Map<string, string | null>) => people.map((p) => m.get(globalId('User', p.id)));
    const all = people.map((p) => p.authSubject);
    expect(ofPeople(await subjects(as('an admin acting in the organization')))).toEqual(all);
    expect(ofPeople(await subjects(as('an admin API key')))).toEqual(all);
    expect(ofPeople(await subjects(as('a system admin acting in the organization')))).toEqual(all);
    expect(ofPeople(await subjects(as('an analyst acting in the organization')))).toEqual([null, null, null]);
    expect(ofPeople(await subjects(as('an analyst API key')))).toEqual([null, null, null]);
    // Administers the other organization, which only the third person belongs to.
    expect(ofPeople(await subjects(as('an analyst here and an admin of the other organization')))).toEqual([null, null, people[2]!.authSubject]);
    expect(ofPeople(await subjects(as('a person themself, not narrowed')))).toEqual([people[0]!.authSubject, null, null]);
  });

  it('is one statement for a seen token, with and without X-Organization-ID', async () => {
    const { here, admin } = await world();
    const token = await tokenFor(admin.authSubject!);
    for (const options of [{ token, organizationId: here.id }, { token }]) {
      await gql('{ viewer { authSubject nickname } }', options);
      const { result, statements } = await withSqlLog(() => gql('{ viewer { authSubject nickname } }', options));
      expect(result.data?.viewer).toEqual({ authSubject: admin.authSubject, nickname: null });
      expect(statements, JSON.stringify(options)).toHaveLength(1);
      expect(statements.filter(isPlan)).toHaveLength(1);
    }
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { isPlan } from './helpers/engine.ts';
import { setPlannedReads } from '../src/modules/shared/engine/index.ts';
import { expectNoErrors, globalId, gql, tokenFor, type GqlOptions } from './helpers/app.ts';
import { aMember, anOrganization, aUser } from './helpers/factories.ts';
import { withSqlLog } from './helpers/sql-count.ts';

// A request that names one organization (X-Organization-ID, or a token bound to one)
// acts in it only: the viewer's own memberships elsewhere do not show, on the general
// path nor on the planned one (shared/engine).

afterEach(() => setPlannedReads(true));


/** A user who is an ANALYST of A, an ORGANIZATION_ADMIN of B and invited to C. */
async function memberOfThree() {
  const a = await anOrganization();
  const b = await anOrganization();
  const c = await anOrganization();
  const user = await aUser();
  const inA = await aMember(a.id, user.id, { role: 'ANALYST' });
  const inB = await aMember(b.id, user.id, { role: 'ORGANIZATION_ADMIN' });
  const inC = await aMember(c.id, user.id, { state: 'PENDING' });
  const token = await tokenFor(user.authSubject!);
  return { a, b, c, user, inA, inB, inC, token };
}

const orgIds = (memberships: { organization: { id: string } }[]) => memberships.map((m) => m.organization.id).sort();

describe('a request narrowed to one organization', () => {
  it("shows the viewer's own memberships in that organization only, through viewer, node and nested member lists", async () => {
    const { a, b, c, user, inA, inB, inC, token } = await memberOfThree();
    const narrowed: GqlOptions = { token, organizationId: a.id };
    const query = `query ($id: ID!, $members: [ID!]!) {
      viewer { memberships { organization { id members { totalCount } } } }
      node(id: $id) { ... on User { memberships { id organization { id } } } }
      nodes(ids: $members) { id }
    }`;
    const variables = { id: globalId('User', user.id), members: [inA, inB, inC].map((m) => globalId('Member', m.id)) };
    const result = await gql(query, { ...narrowed, variables });
    expectNoErrors(result);
    expect(orgIds(result.data!.viewer.memberships)).toEqual([globalId('Organization', a.id)]);
    expect(result.data!.viewer.memberships[0].organization.members.totalCount).toBe(1);
    expect(orgIds(result.data!.node.memberships)).toEqual([globalId('Organization', a.id)]);
    expect(result.data!.nodes).toEqual([{ id: globalId('Member', inA.id) }, null, null]);

    // Not narrowed, the same viewer sees all three memberships (the invitation too).
    const wide = await gql(query.replace(' members { totalCount }', ''), { token, variables });
    expectNoErrors(wide);
    expect(orgIds(wide.data!.viewer.memberships)).toEqual([a.id, b.id, c.id].map((id) => globalId('Organization', id)).sort());
    expect(wide.data!.nodes.map((n: { id: string } | null) => n?.id)).toEqual(variables.members);
  });

  it('answers a planned node(user) with the memberships of that organization only, as the general path does', async () => {
    const { a, b, user, token } = await memberOfThree();
    const query = `{ node(id: "${globalId('User', user.id)}") { ... on User { email memberships { role state organization { id } } } } }`;
    for (const [organizationId, expected] of [
      [a.id, [a.id]],
      [b.id, [b.id]],
    ] as const) {
      setPlannedReads(true);
      const { result: planned, statements } = await withSqlLog(() => gql(query, { token, organizationId }));
      expect(statements.some(isPlan), 'the planned path answered').toBe(true);
      setPlannedReads(false);
      const general = await gql(query, { token, organizationId });
      expectNoErrors(planned);
      expect(planned).toEqual(general);
      expect(orgIds(planned.data!.node.memberships)).toEqual(expected.map((id) => globalId('Organization', id)));
    }
  });

  it('binds a token with an organization claim the same way', async () => {
    const { a, user } = await memberOfThree();
    const token = await tokenFor(user.authSubject!, { org_id: a.id });
    const result = await gql('{ viewer { memberships { organization { id } } } }', { token });
    expectNoErrors(result);
    expect(orgIds(result.data!.viewer.memberships)).toEqual([globalId('Organization', a.id)]);
  });
});

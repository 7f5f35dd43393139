import { afterEach, describe, expect, it } from 'vitest';
import { isPlan } from './helpers/engine.ts';
import { setPlannedReads } from '../src/modules/shared/engine/index.ts';
import { meetsMinimum } from '../src/modules/shared/rules.ts';
import { expectNoErrors, gql, type GqlOptions } from './helpers/app.ts';
import { aMember, anIdentifier, anOrganization, aSource, aUser } from './helpers/factories.ts';
import { bothWays as compareWays } from './helpers/both-ways.ts';

// An unscored identifier counts as certain wherever a minimum confidence applies: the
// identifier lists keep it, on the compiled read and the general path, as matching does.

afterEach(() => setPlannedReads(true));

const SCORES = [null, 0, 0.3, 0.5, 0.99, 1];
const MINIMUMS = [0, 0.3, 0.5, 0.6, 1];

async function world() {
  const org = await anOrganization();
  const crm = await aSource(org.id, { key: 'crm' });
  const analyst = await aUser();
  await aMember(org.id, analyst.id);
  const person = await aUser();
  await aMember(org.id, person.id);
  for (const [i, confidenceScore] of SCORES.entries()) {
    await anIdentifier(org.id, person.id, crm.id, { identifierKey: `k${i}`, identifierValue: `v${i}`, confidenceScore });
  }
  return { org, as: { asUser: analyst, organizationId: org.id } as GqlOptions };
}

/** The answer with compiled reads on and off, and whether the compiled statement ran. */
async function bothWays(query: string, variables: Record<string, unknown>, as: GqlOptions) {
  const { planned, general, usedPlan } = await compareWays(query, variables, as, isPlan);
  expectNoErrors(planned);
  expectNoErrors(general);
  return { planned: planned.data!, general: general.data!, usedPlan };
}

const scoresOf = (connection: { edges: { node: { confidenceScore: number | null } }[] }) => connection.edges.map((e) => e.node.confidenceScore);

describe('minConfidence', () => {
  it('keeps unscored identifiers in Organization.identifiers and User.identifiers, compiled or not, by the rule matching uses', async () => {
    const { org, as } = await world();
    const ORG = `query ($id: ID!, $min: Float) { organization(id: $id) { identifiers(first: 50, minConfidence: $min) { totalCount edges { node { confidenceScore } } } } }`;
    const USER = `query ($min: Float) { resolve(input: { identifier: { sourceKey: "crm", identifierKey: "k0", identifierValue: "v0" } }) {
      user { identifiers(first: 50, minConfidence: $min) { totalCount edges { node { confidenceScore } } } } } }`;
    for (const min of MINIMUMS) {
      const expected = SCORES.filter((s) => meetsMinimum(s, min));
      // The unscored one passes every minimum, 1 included.
      expect(expected[0]).toBeNull();
      const byOrg = await bothWays(ORG, { id: org.id, min }, as);
      expect(byOrg.usedPlan, `organization, min ${min}`).toBe(true);
      expect(scoresOf(byOrg.planned.organization.identifiers), `organization, min ${min}`).toEqual(expected);
      expect(byOrg.general).toEqual(byOrg.planned);
      const byUser = await bothWays(USER, { min }, as);
      expect(byUser.usedPlan, `user, min ${min}`).toBe(true);
      expect(scoresOf(byUser.planned.resolve.user.identifiers), `user, min ${min}`).toEqual(expected);
      expect(byUser.general).toEqual(byUser.planned);
    }
    const all = await bothWays(ORG, { id: org.id, min: null }, as);
    expect(all.planned.organization.identifiers.totalCount).toBe(SCORES.length);
  });

  it('counts unscored as certain in the rule itself, and refuses a minimum outside 0 to 1', async () => {
    expect(meetsMinimum(null, 1)).toBe(true);
    expect(meetsMinimum(0.99, 1)).toBe(false);
    expect(meetsMinimum(0, null)).toBe(true);
    const { org, as } = await world();
    const bad = await gql(`query ($id: ID!) { organization(id: $id) { identifiers(minConfidence: 1.5) { totalCount } } }`, { ...as, variables: { id: org.id } });
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

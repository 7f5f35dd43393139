import { afterEach, describe, expect, it } from 'vitest';
import { isCompiledStatement as isPlan, setPlannedReads } from '../src/modules/shared/engine/index.ts';
import { expectNoErrors, globalId, gql, type GqlOptions } from './helpers/app.ts';
import { aMember, anIdentifier, anIdentity, anOrganization, aSource, aUser } from './helpers/factories.ts';
import { bothWays as compareWays } from './helpers/both-ways.ts';

// A key several users hold names no one: `user` is null and `candidates` ranks them,
// on the compiled read and the general one alike, in `resolve` and `resolveMany`;
// once the users are merged the key names the survivor again.

const USER_ONLY = `query ($input: ResolveInput!) { resolve(input: $input) { user { email identifiers { totalCount } } } }`;
const FULL = `query ($input: ResolveInput!) { resolve(input: $input) { ambiguous user { email } candidates { email } } }`;
const MANY = `query ($inputs: [ResolveInput!]!) { resolveMany(inputs: $inputs) { ambiguous user { email } candidates { email } } }`;
const MERGE = `mutation ($input: MergeUsersInput!) { mergeUsers(input: $input) { __typename } }`;


afterEach(() => setPlannedReads(true));

async function world() {
  const org = await anOrganization();
  const crm = await aSource(org.id, { key: 'crm' });
  const admin = await aUser();
  await aMember(org.id, admin.id, { role: 'ORGANIZATION_ADMIN' });
  const ada = await aUser({ email: 'ada@example.com' });
  const twin = await aUser({ email: 'twin@example.com' });
  const loner = await aUser({ email: 'loner@example.com' });
  for (const u of [ada, twin, loner]) await aMember(org.id, u.id);
  // A value both hold, the twin's scored higher; a mailbox and a phone they share.
  await anIdentifier(org.id, ada.id, crm.id, { identifierKey: 'owner_id', identifierValue: '005SHARED', confidenceScore: 0.6 });
  await anIdentifier(org.id, twin.id, crm.id, { identifierKey: 'owner_id', identifierValue: '005SHARED', confidenceScore: 0.9 });
  await anIdentifier(org.id, loner.id, crm.id, { identifierKey: 'owner_id', identifierValue: '005LONER' });
  await anIdentifier(org.id, twin.id, crm.id, { identifierKey: 'work_email', identifierValue: 'Team@Example.com', confidenceScore: 0.5 });
  await anIdentity(org.id, { identifierKey: 'team', email: 'team@example.com', userId: ada.id });
  await anIdentifier(org.id, ada.id, crm.id, { identifierKey: 'phone', identifierValue: '+1 415 500 0042' });
  await anIdentifier(org.id, twin.id, crm.id, { identifierKey: 'mobile', identifierValue: '+14155000042', confidenceScore: 0.7 });
  const as: GqlOptions = { asUser: admin, organizationId: org.id };
  return { org, admin, ada, twin, loner, as };
}

const shared = { identifier: { sourceKey: 'crm', identifierKey: 'owner_id', identifierValue: '005SHARED' } };
const emails = (r: { candidates: { email: string }[] }) => r.candidates.map((c) => c.email);

/** The answer with compiled reads on and off, and whether the compiled statement ran. */
const bothWays = (query: string, variables: Record<string, unknown>, as: GqlOptions) => compareWays(query, variables, as, isPlan);

describe('resolve of a key several users hold', () => {
  it('answers no user, and ranks the candidates, for an identifier value, an email and a phone number', async () => {
    const { as } = await world();
    const ask = async (input: object) => {
      const result = await gql(FULL, { ...as, variables: { input } });
      expectNoErrors(result);
      return result.data!.resolve;
    };
    // By confidence: the twin's 0.9 before Ada's 0.6.
    expect(await ask(shared)).toEqual({ ambiguous: true, user: null, candidates: [{ email: 'twin@example.com' }, { email: 'ada@example.com' }] });
    // The identity's user before the holder of an identifier with the value.
    expect(await ask({ email: 'TEAM@example.com' })).toEqual({ ambiguous: true, user: null, candidates: [{ email: 'ada@example.com' }, { email: 'twin@example.com' }] });
    // Unscored counts as certain: Ada's unscored phone before the twin's 0.7.
    const byPhone = await ask({ phoneNumber: '+1 (415) 500-0042' });
    expect(byPhone).toMatchObject({ ambiguous: true, user: null });
    expect(emails(byPhone)).toEqual(['ada@example.com', 'twin@example.com']);
    // One holder: the user, not ambiguous.
    expect(await ask({ identifier: { sourceKey: 'crm', identifierKey: 'owner_id', identifierValue: '005LONER' } })).toEqual({
      ambiguous: false,
      user: { email: 'loner@example.com' },
      candidates: [{ email: 'loner@example.com' }],
    });
  });

  it('resolveMany answers each key as resolve does', async () => {
    const { as } = await world();
    const many = await gql(MANY, { ...as, variables: { inputs: [shared, { email: 'loner@example.com' }, { phoneNumber: '+14155000042' }, { email: 'nobody@example.com' }] } });
    expectNoErrors(many);
    const [a, b, c, d] = many.data!.resolveMany;
    expect(a).toEqual({ ambiguous: true, user: null, candidates: [{ email: 'twin@example.com' }, { email: 'ada@example.com' }] });
    expect(b).toEqual({ ambiguous: false, user: { email: 'loner@example.com' }, candidates: [{ email: 'loner@example.com' }] });
    expect(c).toMatchObject({ ambiguous: true, user: null });
    expect(d).toBeNull();
  });

  it('the compiled read and the general path agree: no user when ambiguous, the user when one, null when none', async () => {
    const { as } = await world();
    const cases: [object, unknown][] = [
      [shared, { resolve: { user: null } }],
      [{ identifier: { sourceKey: 'crm', identifierKey: 'owner_id', identifierValue: '005LONER' } }, { resolve: { user: { email: 'loner@example.com', identifiers: { totalCount: 1 } } } }],
      [{ identifier: { sourceKey: 'crm', identifierKey: 'owner_id', identifierValue: 'nobody' } }, { resolve: null }],
    ];
    for (const [input, expected] of cases) {
      const both = await bothWays(USER_ONLY, { input }, as);
      expect(both.usedPlan, JSON.stringify(input)).toBe(true);
      expectNoErrors(both.planned);
      expect(both.planned.data).toEqual(expected);
      expect(both.general.data).toEqual(expected);
    }
  });

  it('names the survivor once the users holding the key are merged', async () => {
    const { as, admin, ada, twin } = await world();
    const merged = await gql(MERGE, { asUser: admin, variables: { input: { survivorId: globalId('User', twin.id), mergedId: globalId('User', ada.id) } } });
    expectNoErrors(merged);
    expect(merged.data!.mergeUsers.__typename).toBe('MergeUsersSuccess');
    for (const input of [shared, { email: 'team@example.com' }, { phoneNumber: '+14155000042' }, { email: 'ada@example.com' }]) {
      const result = await gql(FULL, { ...as, variables: { input } });
      expectNoErrors(result);
      expect(result.data!.resolve, JSON.stringify(input)).toEqual({ ambiguous: false, user: { email: 'twin@example.com' }, candidates: [{ email: 'twin@example.com' }] });
    }
    const both = await bothWays(USER_ONLY, { input: shared }, as);
    expect(both.usedPlan).toBe(true);
    expect(both.planned.data!.resolve.user.email).toBe('twin@example.com');
    expect(both.general.data).toEqual(both.planned.data);
  });
});

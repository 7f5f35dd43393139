import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { expectNoErrors, globalId, gql } from './helpers/app.ts';
import { aMember, anOrganization, aSource, aUser } from './helpers/factories.ts';

// A value several users hold (a team mailbox, a desk phone) is weak evidence that any
// two of them are one person: found by npm run eval:matching, where colleagues sharing
// both were suggested at 0.98, above an organization's 0.95 auto-approve threshold.

const UPSERT = `mutation ($input: UpsertIdentifiersInput!) { upsertIdentifiers(input: $input) { __typename ... on Error { message } } }`;
const CANDIDATES = `query ($user: ID!) { matchCandidates(userId: $user) { user { id } score evidence { value weight } } }`;

async function team(size: number) {
  const org = await anOrganization();
  const admin = await aUser();
  await aMember(org.id, admin.id, { role: 'ORGANIZATION_ADMIN' });
  await aSource(org.id, { key: 'zendesk' });
  const members = [];
  for (let i = 0; i < size; i++) {
    const u = await aUser();
    await aMember(org.id, u.id);
    members.push(u);
  }
  const items = members.flatMap((u, i) => [
    // The same two values for everyone, written in varied case and format.
    { userId: u.id, sourceKey: 'zendesk', identifierKey: 'team_email', identifierValue: i % 2 ? 'Support@Corp.test' : 'support@corp.test', discoveryMethod: 'MANUAL' },
    { userId: u.id, sourceKey: 'zendesk', identifierKey: 'desk_phone', identifierValue: i % 2 ? '+1 (415) 555-0100' : '+14155550100', discoveryMethod: 'MANUAL' },
  ]);
  const written = await gql(UPSERT, { asUser: admin, organizationId: org.id, variables: { input: { items } } });
  expectNoErrors(written);
  expect(written.data!.upsertIdentifiers.__typename).toBe('UpsertIdentifiersSuccess');
  return { org, admin, members };
}

describe('values several users hold', () => {
  it('count 1 / (users - 1) each: four colleagues sharing a mailbox and a desk phone are suggested at 0.49, not 0.98', async () => {
    const { admin, members, org } = await team(4);
    const suggestions = await prisma.linkSuggestion.findMany({ where: { organizationId: org.id } });
    // Every pair of the four is suggested (an email and a phone are distinctive), all weakly.
    expect(suggestions).toHaveLength(6);
    // 1 - (1 - 0.9 / 3)(1 - 0.8 / 3)
    for (const s of suggestions) expect(s.confidence).toBeCloseTo(0.486667, 5);

    const result = await gql(CANDIDATES, { asUser: admin, organizationId: org.id, variables: { user: globalId('User', members[0]!.id) } });
    expectNoErrors(result);
    expect(result.data!.matchCandidates).toHaveLength(3);
    for (const c of result.data!.matchCandidates) {
      expect(c.evidence).toEqual([{ value: 'support@corp.test', weight: 0.3 }, { value: '+14155550100', weight: expect.closeTo(0.266667, 5) }]);
    }
  });

  it('count fully when two users hold them, as one person’s two accounts do', async () => {
    const { members, org } = await team(2);
    const [s] = await prisma.linkSuggestion.findMany({ where: { organizationId: org.id } });
    expect(s).toMatchObject({ aType: 'USER', bType: 'USER', confidence: 0.98 });
    expect([s!.aId, s!.bId].sort()).toEqual(members.map((u) => u.id).sort());
  });
});

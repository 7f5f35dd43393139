import { describe, expect, it } from 'vitest';
import { expectErrorCode, expectNoErrors, globalId, gql } from './helpers/app.ts';
import { aMember, anOrganization, aUser } from './helpers/factories.ts';
import { prisma } from '../src/db.ts';

const VIEWER = `{
  viewer {
    id email
    memberships { role state organization { id slug members { totalCount } } }
  }
}`;

describe('viewer', () => {
  it('returns the signed-in user with every membership: organization, role and state', async () => {
    const user = await aUser();
    const states = ['ACTIVE', 'PENDING', 'SUSPENDED'] as const;
    const organizations = [];
    for (const [i, state] of states.entries()) {
      const organization = await anOrganization({ slug: `org-${i}` });
      const member = await aMember(organization.id, user.id, { role: i === 0 ? 'ORGANIZATION_ADMIN' : 'ANALYST', state });
      await prisma.member.update({ where: { id: member.id }, data: { createdAt: new Date(Date.UTC(2030, 0, 1 + i)) } });
      organizations.push(organization);
    }
    const result = await gql(VIEWER, { asUser: user });
    expect(result.data?.viewer).toMatchObject({ id: globalId('User', user.id), email: user.email });
    expect(result.data?.viewer.memberships).toEqual([
      { role: 'ORGANIZATION_ADMIN', state: 'ACTIVE', organization: { id: globalId('Organization', organizations[0]!.id), slug: 'org-0', members: { totalCount: 1 } } },
      { role: 'ANALYST', state: 'PENDING', organization: { id: globalId('Organization', organizations[1]!.id), slug: 'org-1', members: null } },
      { role: 'ANALYST', state: 'SUSPENDED', organization: { id: globalId('Organization', organizations[2]!.id), slug: 'org-2', members: null } },
    ]);
    // An invitation shows, but the organization's members stay hidden until it is accepted.
    expect(result.errors?.map((e) => [e.extensions?.code, e.path?.join('.')])).toEqual([
      ['FORBIDDEN', 'viewer.memberships.1.organization.members'],
      ['FORBIDDEN', 'viewer.memberships.2.organization.members'],
    ]);
  });

  it('answers null without a credential', async () => {
    const result = await gql(VIEWER);
    expectNoErrors(result);
    expect(result.data?.viewer).toBeNull();
  });

  it('answers UNAUTHENTICATED for an invalid token', async () => {
    expectErrorCode(await gql(VIEWER, { token: 'not-a-token' }), 'UNAUTHENTICATED');
  });
});

import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { expectNoErrors, gql } from './helpers/app.ts';
import { aMember, anOrganization, aTenantWithMember } from './helpers/factories.ts';

// `organizationId` may be left out of every input whose organization the request
// already names (X-Organization-ID): addMember and createIntegrationSource as much as
// the rest. With neither, the input says what is missing and nothing is written.

const ADD_MEMBER = `mutation ($input: AddMemberInput!) {
  addMember(input: $input) { __typename ... on AddMemberSuccess { member { organization { slug } } } ... on Error { code issues { path message } } }
}`;
const CREATE_SOURCE = `mutation ($input: CreateIntegrationSourceInput!) {
  createIntegrationSource(input: $input) { __typename ... on Error { code issues { path message } } }
}`;

async function adminOfTwo() {
  const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
  const second = await anOrganization();
  await aMember(second.id, user.id, { role: 'ORGANIZATION_ADMIN' });
  return { organization, second, admin: user };
}

describe('the organization of a write, from the request', () => {
  it('adds a member and creates a source in the organization X-Organization-ID names when the input leaves it out', async () => {
    const { second, admin } = await adminOfTwo();
    const added = await gql(ADD_MEMBER, { asUser: admin, organizationId: second.id, variables: { input: { email: 'new@example.com', role: 'ANALYST' } } });
    expectNoErrors(added);
    expect(added.data!.addMember).toMatchObject({ __typename: 'AddMemberSuccess', member: { organization: { slug: second.slug } } });
    const created = await gql(CREATE_SOURCE, { asUser: admin, organizationId: second.id, variables: { input: { kind: 'INTEGRATION', key: 'crm', name: 'CRM' } } });
    expectNoErrors(created);
    expect(created.data!.createIntegrationSource.__typename).toBe('CreateIntegrationSourceSuccess');
    expect(await prisma.integrationSource.count({ where: { organizationId: second.id, key: 'crm' } })).toBe(1);
  });

  it('says organizationId is required when neither the input nor the request names one, writing nothing', async () => {
    const { admin } = await adminOfTwo();
    const members = await prisma.member.count();
    const added = await gql(ADD_MEMBER, { asUser: admin, variables: { input: { email: 'new@example.com', role: 'ANALYST' } } });
    expect(added.data!.addMember).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ path: 'input.organizationId', message: expect.stringMatching(/X-Organization-ID/) }] });
    const created = await gql(CREATE_SOURCE, { asUser: admin, variables: { input: { kind: 'INTEGRATION', key: 'crm', name: 'CRM' } } });
    expect(created.data!.createIntegrationSource).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ path: 'input.organizationId' }] });
    expect(await prisma.member.count()).toBe(members);
    expect(await prisma.integrationSource.count()).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { expectErrorCode, expectNoErrors, globalId, gql } from './helpers/app.ts';
import { aTenantWithMember } from './helpers/factories.ts';

const CREATE = `mutation ($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { __typename ... on CreateApiKeySuccess { secret apiKey { id } } }
}`;
const DELETE = `mutation ($input: DeleteApiKeyInput!) {
  deleteApiKey(input: $input) { __typename ... on DeleteApiKeySuccess { deletedId } ... on Error { code } }
}`;
const RESTORE = `mutation ($id: ID!) {
  restoreApiKey(input: { id: $id }) { __typename ... on RestoreApiKeySuccess { apiKey { id name active } } ... on Error { code } }
}`;
const SLUG = `query ($id: ID!) { node(id: $id) { ... on Organization { slug } } }`;
const KEYS = `query ($id: ID!) { node(id: $id) { ... on Organization { apiKeys(includeRevoked: true) { totalCount } deletedItems(first: 5) { edges { node { entityType label } } } } } }`;

describe('deleting and restoring an API key', () => {
  it('stops it authenticating at once, and a restore makes the same secret work again', async () => {
    const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const orgId = globalId('Organization', organization.id);
    const created = await gql(CREATE, { asUser: admin, variables: { input: { organizationId: orgId, name: 'sync job' } } });
    const { secret, apiKey } = created.data!.createApiKey as { secret: string; apiKey: { id: string } };
    expect((await gql(SLUG, { headers: { 'x-api-key': secret }, variables: { id: orgId } })).data?.node).toEqual({ slug: organization.slug });

    // An ANALYST key cannot delete keys.
    const analyst = await gql(CREATE, { asUser: admin, variables: { input: { organizationId: orgId, name: 'analyst', role: 'ANALYST' } } });
    expectErrorCode(await gql(DELETE, { headers: { 'x-api-key': analyst.data!.createApiKey.secret }, variables: { input: { id: apiKey.id } } }), 'FORBIDDEN');

    const before = await prisma.$queryRawUnsafe<object[]>('SELECT * FROM api_keys WHERE id = $1::uuid', (await prisma.apiKey.findFirstOrThrow({ where: { name: 'sync job' } })).id);
    const deleted = await gql(DELETE, { asUser: admin, variables: { input: { id: apiKey.id, reason: 'leaked' } } });
    expect(deleted.data?.deleteApiKey).toEqual({ __typename: 'DeleteApiKeySuccess', deletedId: apiKey.id });
    expectErrorCode(await gql(SLUG, { headers: { 'x-api-key': secret }, variables: { id: orgId } }), 'UNAUTHENTICATED');
    const listed = await gql(KEYS, { asUser: admin, variables: { id: orgId } });
    expectNoErrors(listed);
    expect(listed.data?.node).toEqual({ apiKeys: { totalCount: 1 }, deletedItems: { edges: [{ node: { entityType: 'ApiKey', label: expect.stringMatching(/^sync job \(/) } }] } });

    const restored = await gql(RESTORE, { asUser: admin, variables: { id: apiKey.id } });
    expect(restored.data?.restoreApiKey).toEqual({ __typename: 'RestoreApiKeySuccess', apiKey: { id: apiKey.id, name: 'sync job', active: true } });
    expect(await prisma.$queryRawUnsafe<object[]>('SELECT * FROM api_keys WHERE id = $1::uuid', (before[0] as { id: string }).id)).toEqual(before);
    expect((await gql(SLUG, { headers: { 'x-api-key': secret }, variables: { id: orgId } })).data?.node).toEqual({ slug: organization.slug });
    const actions = (await prisma.auditEvent.findMany({ where: { entityType: 'ApiKey' }, orderBy: { createdAt: 'asc' } })).map((e) => e.action);
    expect(actions.filter((a) => a === 'DELETE' || a === 'RESTORE')).toEqual(['DELETE', 'RESTORE']);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { prisma } from '../src/db.ts';
import { useWebhookSettings } from '../src/modules/webhook/settings.ts';
import { expectErrorCode, expectNoErrors, globalId, gql } from './helpers/app.ts';
import { aTenantWithMember } from './helpers/factories.ts';

// Webhook endpoints: created, changed, disabled, rotated and deleted by an
// organization's admins through GraphQL, every change audited without its secret.

const CREATE = `mutation ($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) {
    __typename
    ... on WebhookEndpointWithSecret { secret endpoint { id url eventTypes enabled } }
    ... on Error { code }
    ... on ValidationError { issues { path message } }
  }
}`;

const UPDATE = `mutation ($input: UpdateWebhookEndpointInput!) {
  updateWebhookEndpoint(input: $input) {
    __typename
    ... on UpdateWebhookEndpointSuccess { endpoint { id url description eventTypes enabled disabledReason disabledAt } }
    ... on Error { code }
  }
}`;

const ROTATE = `mutation ($input: RotateWebhookEndpointSecretInput!) {
  rotateWebhookEndpointSecret(input: $input) {
    __typename
    ... on WebhookEndpointWithSecret { secret endpoint { id previousSecretExpiresAt } }
    ... on Error { code }
  }
}`;

const DELETE = `mutation ($id: ID!) {
  deleteWebhookEndpoint(input: { id: $id }) { __typename ... on DeleteWebhookEndpointSuccess { deletedId } ... on Error { code } }
}`;

const LIST = `query ($id: ID!) {
  node(id: $id) { ... on Organization { webhookEndpoints { totalCount edges { node { id url } } } } }
}`;

async function anAdminWithEndpoint(input: Record<string, unknown> = {}) {
  const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
  const created = await gql(CREATE, {
    asUser: user,
    variables: { input: { organizationId: organization.id, url: 'http://127.0.0.1:9/hook', ...input } },
  });
  expectNoErrors(created);
  const { secret, endpoint } = created.data!.createWebhookEndpoint;
  return { organization, admin: user, secret: secret as string, endpoint };
}

afterEach(() => useWebhookSettings(loadConfig().webhooks));

describe('webhook endpoints', () => {
  it('are created with a Standard Webhooks secret that no audit event records', async () => {
    const { endpoint, secret } = await anAdminWithEndpoint({ eventTypes: ['Identifier.CREATE', 'Identity.*'] });
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(endpoint).toMatchObject({ url: 'http://127.0.0.1:9/hook', eventTypes: ['Identifier.CREATE', 'Identity.*'], enabled: true });
    const events = await prisma.auditEvent.findMany({ where: { entityType: 'WebhookEndpoint' } });
    expect(events.map((e) => e.action)).toEqual(['CREATE']);
    expect(JSON.stringify(events)).not.toContain(secret.slice(6));
  });

  it('are refused with unknown event types or a non-URL, writing nothing', async () => {
    const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const result = await gql(CREATE, {
      asUser: user,
      variables: { input: { organizationId: organization.id, url: 'ftp://example.com', eventTypes: ['Identifier.EXPLODE'] } },
    });
    expectErrorCode(result, 'BAD_USER_INPUT');
    expect(result.data!.createWebhookEndpoint.issues.map((i: { path: string }) => i.path).sort()).toEqual(['input.eventTypes.0', 'input.url']);
    expect(await prisma.webhookEndpoint.count()).toBe(0);
  });

  it('must be https and public in production, unless the allow-list names the host', async () => {
    const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
    useWebhookSettings(loadConfig({ NODE_ENV: 'production' }).webhooks);
    const create = (url: string) => gql(CREATE, { asUser: user, variables: { input: { organizationId: organization.id, url } } });
    expectErrorCode(await create('http://example.com/hook'), 'BAD_USER_INPUT');
    expectErrorCode(await create('https://127.0.0.1/hook'), 'BAD_USER_INPUT');
    expectErrorCode(await create('https://[::1]/hook'), 'BAD_USER_INPUT');
    expectErrorCode(await create('https://10.1.2.3/hook'), 'BAD_USER_INPUT');
    expectNoErrors(await create('https://example.com/hook'));
    useWebhookSettings(loadConfig({ NODE_ENV: 'production', WEBHOOK_ALLOWED_HOSTS: '10.0.0.0/8' }).webhooks);
    expectNoErrors(await create('https://10.1.2.3/hook'));
  });

  it('are disabled and enabled again, each change audited', async () => {
    const { endpoint, admin } = await anAdminWithEndpoint();
    const off = await gql(UPDATE, { asUser: admin, variables: { input: { id: endpoint.id, enabled: false, description: 'CRM sync' } } });
    expectNoErrors(off);
    expect(off.data!.updateWebhookEndpoint.endpoint).toMatchObject({ enabled: false, description: 'CRM sync', disabledReason: 'Disabled by an administrator.' });
    const on = await gql(UPDATE, { asUser: admin, variables: { input: { id: endpoint.id, enabled: true } } });
    expect(on.data!.updateWebhookEndpoint.endpoint).toMatchObject({ enabled: true, disabledReason: null, disabledAt: null });
    const events = await prisma.auditEvent.findMany({ where: { entityType: 'WebhookEndpoint' }, orderBy: { createdAt: 'asc' } });
    expect(events.map((e) => e.action)).toEqual(['CREATE', 'UPDATE', 'UPDATE']);
    expect(events[1]!.changes).toMatchObject({ enabled: { before: true, after: false } });
  });

  it('rotate their secret: the old one stays valid for the grace period', async () => {
    const { endpoint, admin, secret } = await anAdminWithEndpoint();
    const rotated = await gql(ROTATE, { asUser: admin, variables: { input: { id: endpoint.id, gracePeriodSeconds: 3600 } } });
    expectNoErrors(rotated);
    const { secret: next, endpoint: after } = rotated.data!.rotateWebhookEndpointSecret;
    expect(next).not.toBe(secret);
    expect(new Date(after.previousSecretExpiresAt).getTime()).toBeGreaterThan(Date.now() + 3500_000);
    const row = await prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: (await prisma.webhookEndpoint.findFirstOrThrow()).id } });
    expect(row).toMatchObject({ secret: next, previousSecret: secret });
    const event = await prisma.auditEvent.findFirstOrThrow({ where: { action: 'ROTATE_SECRET' } });
    expect(JSON.stringify(event.changes)).not.toContain(secret.slice(6));
  });

  it('are visible and writable only to their organization admins', async () => {
    const { organization, endpoint } = await anAdminWithEndpoint();
    const { user: analyst } = await aTenantWithMember('ANALYST');
    await prisma.member.create({ data: { organizationId: organization.id, userId: analyst.id, role: 'ANALYST', state: 'ACTIVE' } });
    const { user: stranger } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const list = await gql(LIST, { asUser: analyst, variables: { id: globalId('Organization', organization.id) } });
    expectErrorCode(list, 'FORBIDDEN');
    const node = await gql(`query ($id: ID!) { node(id: $id) { id } }`, { asUser: analyst, variables: { id: endpoint.id } });
    expect(node.data!.node).toBeNull();
    expectErrorCode(await gql(UPDATE, { asUser: analyst, variables: { input: { id: endpoint.id, enabled: false } } }), 'FORBIDDEN');
    expectErrorCode(await gql(DELETE, { asUser: stranger, variables: { id: endpoint.id } }), 'NOT_FOUND');
    expect(await prisma.webhookEndpoint.count()).toBe(1);
  });

  it('are deleted, the deletion audited', async () => {
    const { organization, admin, endpoint } = await anAdminWithEndpoint();
    const deleted = await gql(DELETE, { asUser: admin, variables: { id: endpoint.id } });
    expect(deleted.data!.deleteWebhookEndpoint.deletedId).toBe(endpoint.id);
    const list = await gql(LIST, { asUser: admin, variables: { id: globalId('Organization', organization.id) } });
    expect(list.data!.node.webhookEndpoints.totalCount).toBe(0);
    expect(await prisma.auditEvent.count({ where: { entityType: 'WebhookEndpoint', action: 'DELETE' } })).toBe(1);
  });
});

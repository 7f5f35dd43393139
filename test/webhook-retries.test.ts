import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type WebhookSettings } from '../src/config.ts';
import { database, prisma } from '../src/db.ts';
import { deliver, expand, RetryLater } from '../src/modules/webhook/delivery.ts';
import { startDelivery, type Workers } from '../src/modules/webhook/queue.ts';
import { isNonPublicAddress, post, urlProblem } from '../src/modules/webhook/safety.ts';
import { useWebhookSettings } from '../src/modules/webhook/settings.ts';
import { expectNoErrors, gql } from './helpers/app.ts';
import { aTenantWithMember } from './helpers/factories.ts';
import { aReceiver, eventually, type Receiver } from './helpers/receiver.ts';

// Failures: retries end in FAILED after the retry window, an endpoint failing that long
// is disabled with its reason, redelivery sends again; and what keeps webhooks from
// reaching into the server's network (SSRF): non-public addresses refused in
// production unless allow-listed, no redirects followed, answers read up to a cap.

const env = { NODE_ENV: 'test', WEBHOOK_POLL_SECONDS: '1', WEBHOOK_RETRY_DELAY_SECONDS: '1', WEBHOOK_MAINTENANCE_SECONDS: '1', WEBHOOK_TIMEOUT_MS: '1000' };
const settings = loadConfig({ ...env, WEBHOOK_RETRY_WINDOW_SECONDS: '3' }).webhooks;
const production = (more: Record<string, string> = {}): WebhookSettings =>
  ({ ...loadConfig({ ...env, ...more }).webhooks, production: true });

const CREATE_ENDPOINT = `mutation ($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { ... on WebhookEndpointWithSecret { secret endpoint { id } } ... on Error { code message } }
}`;
const CREATE_SOURCE = `mutation ($input: CreateIntegrationSourceInput!) {
  createIntegrationSource(input: $input) { ... on Error { code } }
}`;

async function anEndpointWithOneDelivery(receiver: Receiver) {
  const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
  const created = await gql(CREATE_ENDPOINT, {
    asUser: user,
    variables: { input: { organizationId: organization.id, url: receiver.url, eventTypes: ['IntegrationSource.CREATE'] } },
  });
  expectNoErrors(created);
  receiver.secrets.push(created.data!.createWebhookEndpoint.secret);
  expectNoErrors(await gql(CREATE_SOURCE, { asUser: user, variables: { input: { organizationId: organization.id, kind: 'INTEGRATION', key: 'k', name: 'k' } } }));
  // The write left a batch: expanded here, or by a running worker first, it is the delivery.
  await expand();
  const delivery = await prisma.webhookDelivery.findFirstOrThrow({ where: { organizationId: organization.id } });
  return { admin: user, endpointId: created.data!.createWebhookEndpoint.endpoint.id as string, delivery };
}

describe('webhook retries', () => {
  let workers: Workers;
  beforeAll(async () => {
    useWebhookSettings(settings);
    workers = await startDelivery(database!, settings);
  });
  afterAll(() => workers?.stop());

  it('mark a delivery FAILED after the retry window, disable the failing endpoint with its reason, and redeliver on request', async () => {
    const receiver = await aReceiver();
    receiver.answer = () => ({ status: 503, body: 'down for maintenance' });
    const { admin, endpointId, delivery } = await anEndpointWithOneDelivery(receiver);
    await eventually(async () => (await prisma.webhookDelivery.findUniqueOrThrow({ where: { id: delivery.id } })).status === 'FAILED', 30_000, 'FAILED');
    const attempts = await prisma.webhookAttempt.findMany({ where: { deliveryId: delivery.id }, orderBy: { createdAt: 'asc' } });
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    expect(attempts[0]).toMatchObject({ succeeded: false, responseStatus: 503, responseBody: 'down for maintenance' });
    await eventually(async () => !(await prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: delivery.endpointId } })).enabled, 30_000, 'disabled');
    const endpoint = await gql(`query ($id: ID!) { node(id: $id) { ... on WebhookEndpoint { enabled disabledReason } } }`, { asUser: admin, variables: { id: endpointId } });
    expect(endpoint.data!.node.disabledReason).toMatch(/^Every attempt failed since .*HTTP 503$/);

    receiver.answer = () => ({ status: 200 });
    expectNoErrors(await gql(`mutation ($id: ID!) { updateWebhookEndpoint(input: { id: $id, enabled: true }) { __typename } }`, { asUser: admin, variables: { id: endpointId } }));
    const again = await gql(`mutation ($id: ID!) { redeliverFailedWebhooks(input: { endpointId: $id }) { ... on RedeliverFailedWebhooksSuccess { count } } }`, { asUser: admin, variables: { id: endpointId } });
    expect(again.data!.redeliverFailedWebhooks.count).toBe(1);
    await eventually(() => receiver.received.length === 1, 20_000, 'redelivered');
    expect(receiver.received[0]!.id).toBe(delivery.id);
    await receiver.stop();
  });
});

describe('webhook safety', () => {
  it('classifies loopback, link-local, private and mapped addresses as non-public', () => {
    for (const a of ['127.0.0.1', '10.0.0.5', '172.16.3.4', '192.168.1.1', '169.254.169.254', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '0.0.0.0', '100.64.0.1']) {
      expect(isNonPublicAddress(a), a).toBe(true);
    }
    for (const a of ['93.184.216.34', '8.8.8.8', '2606:4700::1111']) expect(isNonPublicAddress(a), a).toBe(false);
    expect(urlProblem('https://169.254.169.254/latest', production())).toMatch(/private/);
    expect(urlProblem('https://user:pw@example.com/', production())).toMatch(/credentials/);
  });

  it('refuses in production to send to a host resolving to loopback, unless the allow-list names it', async () => {
    const receiver = await aReceiver();
    useWebhookSettings(settings);
    const { delivery } = await anEndpointWithOneDelivery(receiver);
    await expect(deliver(delivery.id, production())).rejects.toThrow(RetryLater);
    const [attempt] = await prisma.webhookAttempt.findMany({ where: { deliveryId: delivery.id } });
    expect(attempt).toMatchObject({ succeeded: false, responseStatus: null });
    expect(attempt!.error).toMatch(/non-public/);
    expect(receiver.received).toHaveLength(0);
    await prisma.webhookDelivery.update({ where: { id: delivery.id }, data: { leasedUntil: null } });
    await deliver(delivery.id, production({ WEBHOOK_ALLOWED_HOSTS: '127.0.0.0/8' }));
    expect(receiver.received).toHaveLength(1);
    await receiver.stop();
  });

  it('never follows a redirect, reads at most the configured bytes, and gives up at the timeout', async () => {
    const receiver = await aReceiver(['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw']);
    let redirected = 0;
    receiver.answer = (_n, req) => {
      if (req.url === '/elsewhere') redirected++;
      return req.url === '/hook' ? { status: 307, headers: { location: '/elsewhere' } } : { status: 200, body: 'x'.repeat(100_000) };
    };
    const s = loadConfig({ ...env, WEBHOOK_RESPONSE_BYTES: '16' }).webhooks;
    expect(await post(receiver.url, {}, '{}', s)).toMatchObject({ status: 307 });
    expect(redirected).toBe(0);
    expect(await post(receiver.url.replace('/hook', '/big'), {}, '{}', s)).toEqual({ status: 200, body: 'x'.repeat(16) });
    receiver.answer = () => ({ status: 200 });
    const slow = await aReceiver();
    slow.answer = () => ({ status: 200 });
    const hanging = (await import('node:http')).createServer(() => {});
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', () => r()));
    const port = (hanging.address() as { port: number }).port;
    const started = Date.now();
    await expect(post(`http://127.0.0.1:${port}/`, {}, '{}', s)).rejects.toThrow(/timed out/);
    expect(Date.now() - started).toBeLessThan(3000);
    hanging.closeAllConnections();
    hanging.close();
    await Promise.all([receiver.stop(), slow.stop()]);
  });
});

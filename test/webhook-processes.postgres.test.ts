import { afterEach, describe, expect, inject, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { expectNoErrors, gql } from './helpers/app.ts';
import { aTenantWithMember } from './helpers/factories.ts';
import { testDatabaseUrl, workerDatabaseName } from './helpers/postgres-url.ts';
import { aReceiver, eventually, type Receiver } from './helpers/receiver.ts';
import { startServer, startWorker, type ServerProcess } from './helpers/server-process.ts';

// Webhooks sent by real server processes sharing this test's PostgreSQL database: two
// of them deliver each event once, one killed with SIGKILL in the middle of a delivery
// loses nothing, and `npm run worker` delivers on its own. The embedded database belongs to one process, so this is
// PostgreSQL's alone.

const url = testDatabaseUrl(workerDatabaseName(inject('postgresTemplate')));
const env = {
  DATABASE_URL: url,
  WEBHOOK_POLL_SECONDS: '1',
  WEBHOOK_RETRY_DELAY_SECONDS: '1',
  WEBHOOK_MAINTENANCE_SECONDS: '1',
  WEBHOOK_TIMEOUT_MS: '2000',
  WEBHOOK_EXPIRE_SECONDS: '1',
};
let servers: ServerProcess[] = [];
let receivers: Receiver[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.stop('SIGKILL')));
  await Promise.all(receivers.map((r) => r.stop().catch(() => {})));
  servers = [];
  receivers = [];
});

const CREATE_ENDPOINT = `mutation ($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { ... on WebhookEndpointWithSecret { secret } ... on Error { code } }
}`;
const CREATE_SOURCE = `mutation ($input: CreateIntegrationSourceInput!) {
  createIntegrationSource(input: $input) { ... on Error { code } }
}`;

async function anEndpointWithChanges(receiver: Receiver, n: number) {
  const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
  const created = await gql(CREATE_ENDPOINT, {
    asUser: user,
    variables: { input: { organizationId: organization.id, url: receiver.url, eventTypes: ['IntegrationSource.CREATE'] } },
  });
  expectNoErrors(created);
  receiver.secrets.push(created.data!.createWebhookEndpoint.secret);
  for (let i = 0; i < n; i++) {
    const input = { organizationId: organization.id, kind: 'INTEGRATION', key: `s${i}`, name: `s${i}` };
    expectNoErrors(await gql(CREATE_SOURCE, { asUser: user, variables: { input } }));
  }
  return organization;
}

describe('webhook delivery by server processes', () => {
  it('two servers deliver each event once', async () => {
    const receiver = await aReceiver();
    receivers.push(receiver);
    servers = await Promise.all([startServer(env), startServer(env)]);
    await anEndpointWithChanges(receiver, 20);
    await eventually(() => receiver.received.length >= 20, 60_000, 'twenty deliveries');
    // Time for a duplicate to show up, if there were one.
    await new Promise((r) => setTimeout(r, 3000));
    expect(receiver.rejected).toEqual([]);
    expect(receiver.received).toHaveLength(20);
    expect(new Set(receiver.received.map((r) => r.id)).size).toBe(20);
    await eventually(async () => (await prisma.webhookDelivery.count({ where: { status: 'DELIVERED' } })) === 20, 5000, 'recorded');
  }, 120_000);

  it('a server killed with SIGKILL in the middle of a delivery loses nothing: everything arrives after a restart', async () => {
    const receiver = await aReceiver();
    receivers.push(receiver);
    let hold: (() => void) | null = null;
    const held = new Promise<void>((resolve) => (hold = resolve));
    // The first request is never answered: the server is in the middle of sending it.
    receiver.answer = (n) => (n === 1 ? (hold!(), null) : { status: 204 });
    await anEndpointWithChanges(receiver, 5);
    const server = await startServer({ ...env, WEBHOOK_CONCURRENCY: '1' });
    servers.push(server);
    await held;
    await server.stop('SIGKILL');
    await eventually(async () => (await prisma.webhookDelivery.count({ where: { status: 'PENDING' } })) === 5, 5000, 'all pending');
    servers.push(await startServer(env));
    await eventually(async () => (await prisma.webhookDelivery.count({ where: { status: 'DELIVERED' } })) === 5, 60_000, 'all delivered');
    expect(new Set(receiver.received.map((r) => r.id)).size).toBe(5);
  }, 120_000);

  it('npm run worker, a process of its own, delivers the changes others committed and stops cleanly on SIGTERM', async () => {
    const receiver = await aReceiver();
    receivers.push(receiver);
    // Changes made here (in the test process, which delivers nothing) are only enqueued.
    const organization = await anEndpointWithChanges(receiver, 3);
    const batches = await prisma.webhookBatch.findMany({ where: { organizationId: organization.id } });
    expect(batches.flatMap((b) => b.auditEventIds)).toHaveLength(3);
    const worker = await startWorker(env);
    servers.push(worker);
    await eventually(() => receiver.received.length >= 3, 60_000, 'three deliveries');
    await eventually(async () => (await prisma.webhookDelivery.count({ where: { status: 'DELIVERED' } })) === 3, 5000, 'recorded');
    expect(receiver.rejected).toEqual([]);
    expect(receiver.received.map((r) => r.body.type)).toEqual(Array(3).fill('IntegrationSource.CREATE'));
    expect(await worker.stop('SIGTERM')).toBe(0);
    expect(worker.output()).toContain('SIGTERM: finishing deliveries in progress');
  }, 120_000);
});

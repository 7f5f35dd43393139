import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { database, prisma } from '../src/db.ts';
import { recordAudit } from '../src/modules/audit/service.ts';
import { expand } from '../src/modules/webhook/delivery.ts';
import { startDelivery, type Workers } from '../src/modules/webhook/queue.ts';
import { useWebhookSettings } from '../src/modules/webhook/settings.ts';
import { ANONYMOUS } from '../src/context.ts';
import { expectNoErrors, gql } from './helpers/app.ts';
import { aTenantWithMember } from './helpers/factories.ts';
import { aReceiver, eventually, type Receiver } from './helpers/receiver.ts';

// Webhooks delivered by workers in this process, on the test database, to a real
// receiver on loopback that verifies every signature with standardwebhooks.

const settings = loadConfig({
  NODE_ENV: 'test',
  WEBHOOK_POLL_SECONDS: '1',
  WEBHOOK_RETRY_DELAY_SECONDS: '1',
  WEBHOOK_MAINTENANCE_SECONDS: '1',
  // The receivers share this process's event loop with the workers: on a busy machine
  // they answer late, and a send that times out is sent again (at least once).
  WEBHOOK_TIMEOUT_MS: '10000',
}).webhooks;
let workers: Workers;

beforeAll(async () => {
  useWebhookSettings(settings);
  workers = await startDelivery(database!, settings);
});
afterAll(async () => {
  await workers?.stop();
});

const CREATE_ENDPOINT = `mutation ($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { ... on WebhookEndpointWithSecret { secret endpoint { id } } ... on Error { code message } }
}`;
const CREATE_SOURCE = `mutation ($input: CreateIntegrationSourceInput!) {
  createIntegrationSource(input: $input) { ... on CreateIntegrationSourceSuccess { source { id } } ... on Error { code } }
}`;
const UPDATE_SOURCE = `mutation ($input: UpdateIntegrationSourceInput!) {
  updateIntegrationSource(input: $input) { ... on Error { code } }
}`;
const UPSERT = `mutation ($input: UpsertIdentifiersInput!) {
  upsertIdentifiers(input: $input) { ... on UpsertIdentifiersSuccess { createdCount } ... on Error { code message } }
}`;
const DELIVERIES = `query ($id: ID!) {
  node(id: $id) { ... on WebhookEndpoint { deliveries(first: 50) { totalCount edges { node { id status eventType attemptCount
    attempts { totalCount edges { node { succeeded responseStatus responseBody error } } } } } } } }
}`;

async function anEndpoint(receiver: Receiver, eventTypes?: string[]) {
  const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
  const created = await gql(CREATE_ENDPOINT, {
    asUser: user,
    variables: { input: { organizationId: organization.id, url: receiver.url, eventTypes } },
  });
  expectNoErrors(created);
  const { secret, endpoint } = created.data!.createWebhookEndpoint;
  receiver.secrets.push(secret);
  return { organization, admin: user, secret: secret as string, endpointId: endpoint.id as string };
}

async function aSourceChange(admin: { authSubject: string | null }, organizationId: string, key: string) {
  const created = await gql(CREATE_SOURCE, { asUser: admin, variables: { input: { organizationId, kind: 'INTEGRATION', key, name: key } } });
  expectNoErrors(created);
  return created.data!.createIntegrationSource.source.id as string;
}

describe('webhook delivery', () => {
  it('sends each change once, signed, with the event, before and after, and the actor; attempts are queryable', async () => {
    const receiver = await aReceiver();
    const { organization, admin, endpointId } = await anEndpoint(receiver, ['IntegrationSource.*']);
    const sourceId = await aSourceChange(admin, organization.id, 'crm');
    expectNoErrors(await gql(UPDATE_SOURCE, { asUser: admin, variables: { input: { id: sourceId, name: 'The CRM' } } }));
    await eventually(() => receiver.received.length === 2, 20_000, 'two deliveries');
    // The worker records an attempt once the receiver has answered.
    await eventually(async () => (await prisma.webhookDelivery.count({ where: { status: 'DELIVERED' } })) === 2, 5000, 'recorded');
    expect(receiver.rejected).toEqual([]);
    const [created, updated] = receiver.received;
    expect(created!.body).toMatchObject({
      type: 'IntegrationSource.CREATE',
      data: { entityId: sourceId, action: 'CREATE', before: null, after: { key: 'crm', name: 'crm', kind: 'INTEGRATION' }, actor: { type: 'USER' } },
    });
    expect(updated!.body).toMatchObject({ type: 'IntegrationSource.UPDATE', data: { before: { name: 'crm' }, after: { name: 'The CRM' } } });
    const page = await gql(DELIVERIES, { asUser: admin, variables: { id: endpointId } });
    expectNoErrors(page);
    const deliveries = page.data!.node.deliveries;
    expect(deliveries.totalCount).toBe(2);
    expect(deliveries.edges.map((e: any) => e.node.status)).toEqual(['DELIVERED', 'DELIVERED']);
    expect(new Set(receiver.received.map((r) => r.id))).toEqual(new Set(deliveries.edges.map((e: any) => Buffer.from(e.node.id, 'base64').toString().split(':')[1])));
    expect(deliveries.edges[0].node.attempts.edges[0].node).toMatchObject({ succeeded: true, responseStatus: 204 });
    await receiver.stop();
  });

  it('queues nothing for a write that rolls back', async () => {
    const receiver = await aReceiver();
    const { organization } = await anEndpoint(receiver, ['IntegrationSource.*']);
    const jobsBefore = await database!.query('SELECT count(*)::int AS n FROM pgboss.job');
    await expect(
      prisma.$transaction(async (tx) => {
        await recordAudit(tx, ANONYMOUS, [
          { organizationId: organization.id, entityType: 'IntegrationSource', entityId: organization.id, action: 'CREATE', changes: {} },
        ]);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(await prisma.webhookDelivery.count()).toBe(0);
    expect(await database!.query('SELECT count(*)::int AS n FROM pgboss.job')).toEqual(jobsBefore);
    await receiver.stop();
  });

  it('delivers everything after the receiver comes back, an entity in order, none lost', async () => {
    const receiver = await aReceiver();
    const { organization, admin } = await anEndpoint(receiver, ['IntegrationSource.*']);
    await receiver.stop();
    const sourceId = await aSourceChange(admin, organization.id, 'chat');
    for (const name of ['one', 'two', 'three']) {
      expectNoErrors(await gql(UPDATE_SOURCE, { asUser: admin, variables: { input: { id: sourceId, name } } }));
    }
    await eventually(async () => (await prisma.webhookAttempt.count({ where: { succeeded: false } })) >= 2, 20_000, 'failed attempts');
    expect(receiver.received).toEqual([]);
    await receiver.restart();
    await eventually(() => receiver.received.length === 4, 30_000, 'four deliveries');
    await eventually(async () => (await prisma.webhookDelivery.count({ where: { status: 'DELIVERED' } })) === 4, 5000, 'recorded');
    expect(receiver.received.map((r) => r.body.data.after?.name ?? null)).toEqual(['chat', 'one', 'two', 'three']);
    expect(new Set(receiver.received.map((r) => r.id)).size).toBe(4);
    await receiver.stop();
  });

  it('queues one batch and one job for a bulk write, which a worker expands; each event arrives under one webhook-id, even when the expansion runs again', async () => {
    const receiver = await aReceiver();
    const { organization, admin } = await anEndpoint(receiver, ['Identifier.*']);
    await aSourceChange(admin, organization.id, 'salesforce');
    const since = (await prisma.$queryRaw<{ t: Date }[]>`SELECT now() AS t`)[0]!.t;
    const items = Array.from({ length: 25 }, (_, i) => ({
      userEmail: admin.email, sourceKey: 'salesforce', identifierKey: `k${i}`, identifierValue: `v${i}`, discoveryMethod: 'MANUAL',
    }));
    const written = await gql(UPSERT, { asUser: admin, variables: { input: { organizationId: organization.id, items } } });
    expectNoErrors(written);
    expect(written.data!.upsertIdentifiers.createdCount).toBe(25);
    await eventually(async () => (await prisma.webhookDelivery.count({ where: { status: 'DELIVERED' } })) === 25, 30_000, '25 delivered');
    // The write queued one job, naming no delivery; the worker that ran it queued one per delivery.
    const jobs = await prisma.$queryRaw<{ data: object }[]>`
      SELECT data FROM pgboss.job WHERE name = 'webhook-delivery' AND created_on >= ${since}`;
    const ids = new Set((await prisma.webhookDelivery.findMany({ where: { organizationId: organization.id } })).map((d) => d.id));
    expect(jobs.filter((j) => 'batches' in j.data)).toHaveLength(1);
    expect(jobs.filter((j) => ids.has((j.data as { deliveryId?: string }).deliveryId ?? ''))).toHaveLength(25);
    expect(await prisma.webhookBatch.count({ where: { organizationId: organization.id } })).toBe(0);
    // A worker that died after expanding runs the job again: nothing is queued twice.
    expect(await expand()).toBe(0);
    expect(await prisma.webhookDelivery.count({ where: { organizationId: organization.id } })).toBe(25);
    await new Promise((r) => setTimeout(r, 1500));
    // At least once: every delivery arrived under its own webhook-id with its own event,
    // and arrived again only as the retry of an attempt that failed (a send that timed
    // out after the receiver had it), signed and with the same body.
    const deliveries = await prisma.webhookDelivery.findMany({ where: { organizationId: organization.id }, include: { attempts: true } });
    const copies = new Map<string, typeof receiver.received>();
    for (const r of receiver.received) copies.set(r.id, [...(copies.get(r.id) ?? []), r]);
    expect(new Set(deliveries.map((d) => d.auditEventId)).size).toBe(25);
    expect(new Set(copies.keys())).toEqual(new Set(deliveries.map((d) => d.id)));
    for (const d of deliveries) {
      const [first, ...again] = copies.get(d.id)!;
      expect(Buffer.from(first!.body.data.id, 'base64').toString()).toBe(`AuditEvent:${d.auditEventId}`);
      expect(d.attempts.filter((a) => a.succeeded)).toHaveLength(1);
      expect(again.length).toBeLessThanOrEqual(d.attempts.filter((a) => !a.succeeded).length);
      for (const copy of again) expect(copy.body).toEqual(first!.body);
    }
    expect(receiver.rejected).toEqual([]);
    await receiver.stop();
  });

  it('expands each batch once and in order, however many expansions run at once', async () => {
    const receiver = await aReceiver();
    const { organization, admin } = await anEndpoint(receiver, ['IntegrationSource.*']);
    await receiver.stop();
    const sourceId = await aSourceChange(admin, organization.id, 'erp');
    for (const name of ['a', 'b', 'c', 'd']) {
      expectNoErrors(await gql(UPDATE_SOURCE, { asUser: admin, variables: { input: { id: sourceId, name } } }));
    }
    await Promise.all([expand(), expand(), expand()]);
    const deliveries = await prisma.webhookDelivery.findMany({ where: { organizationId: organization.id }, orderBy: { seq: 'asc' } });
    const events = await prisma.auditEvent.findMany({ where: { id: { in: deliveries.map((d) => d.auditEventId) } } });
    const createdAt = new Map(events.map((e) => [e.id, e.createdAt.getTime()]));
    expect(deliveries).toHaveLength(5);
    expect(new Set(deliveries.map((d) => d.auditEventId)).size).toBe(5);
    const times = deliveries.map((d) => createdAt.get(d.auditEventId)!);
    expect(times).toEqual([...times].sort((x, y) => x - y));
    expect(await prisma.webhookBatch.count({ where: { organizationId: organization.id } })).toBe(0);
  });

  it('signs with both secrets during a rotation grace period, then with the new one alone', async () => {
    const receiver = await aReceiver();
    const { organization, admin, endpointId, secret } = await anEndpoint(receiver, ['IntegrationSource.CREATE']);
    const rotate = `mutation ($input: RotateWebhookEndpointSecretInput!) {
      rotateWebhookEndpointSecret(input: $input) { ... on WebhookEndpointWithSecret { secret } } }`;
    const rotated = await gql(rotate, { asUser: admin, variables: { input: { id: endpointId, gracePeriodSeconds: 600 } } });
    const next = rotated.data!.rotateWebhookEndpointSecret.secret as string;
    receiver.secrets.splice(0, receiver.secrets.length, next);
    await aSourceChange(admin, organization.id, 'during-grace');
    await eventually(() => receiver.received.length === 1, 20_000, 'a delivery signed with the new secret');
    expect(receiver.received[0]!.signatures.split(' ')).toHaveLength(2);
    // A receiver still on the old secret verifies it too.
    receiver.secrets.splice(0, receiver.secrets.length, secret);
    await aSourceChange(admin, organization.id, 'old-secret');
    await eventually(() => receiver.received.length === 2, 20_000, 'a delivery signed with the old secret');
    await gql(rotate, { asUser: admin, variables: { input: { id: endpointId, gracePeriodSeconds: 0 } } });
    await aSourceChange(admin, organization.id, 'after-grace');
    await eventually(() => receiver.rejected.length === 1, 20_000, 'a delivery the old secret does not verify');
    expect(receiver.received).toHaveLength(2);
    await receiver.stop();
  });
});

import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { setPlannedReads } from '../src/modules/shared/engine/index.ts';
import { globalId, type GqlOptions } from './helpers/app.ts';
import { anApiKey, anOrganization } from './helpers/factories.ts';
import { administeringViewersOf, type EngineCase, expectCases, expectRefused } from './helpers/engine.ts';

// What only an organization's admins see, compiled by the read engine: its API keys and
// webhook endpoints (connections whose auth scopes ask the viewer to administer the
// root organization), and node(id) of a key, an endpoint or a delivery (found under the
// administered-row rule). Every answer is compared with the general path's, for viewers
// of every role; a viewer who does not administer the organization gets what the
// general path gives (FORBIDDEN with a null list, or a null node).

afterEach(() => setPlannedReads(true));

const hashOf = (secret: string) => createHash('sha256').update(secret).digest('hex');

async function world() {
  const org = await anOrganization();
  const other = await anOrganization();
  // Keys: two active, one revoked, created a day apart; and one of the other organization.
  const keys = [];
  for (const [i, name] of ['ingest', 'old', 'discovery'].entries()) {
    const key = await anApiKey(org.id, hashOf(`k${i}${randomBytes(8).toString('hex')}`), { name, role: i === 2 ? 'ORGANIZATION_ADMIN' : 'ANALYST' });
    keys.push(await prisma.apiKey.update({ where: { id: key.id }, data: { createdAt: new Date(Date.UTC(2026, 0, 1 + i)), revokedAt: name === 'old' ? new Date() : null, lastUsedAt: i === 0 ? new Date() : null } }));
  }
  const otherKey = await anApiKey(other.id, hashOf(randomBytes(8).toString('hex')), { name: 'elsewhere' });
  // Endpoints: one enabled, one disabled; deliveries in every state, attempts of one.
  const endpoints = [];
  for (const [i, enabled] of [true, false].entries()) {
    endpoints.push(await prisma.webhookEndpoint.create({
      data: {
        organizationId: org.id,
        url: `https://hooks.example.com/${i}`,
        description: i ? null : 'CRM sync',
        eventTypes: i ? [] : ['Identifier.*', 'User.UPDATE'],
        enabled,
        disabledReason: enabled ? null : 'disabled by an administrator',
        disabledAt: enabled ? null : new Date(),
        secret: `whsec_${randomBytes(24).toString('base64')}`,
        previousSecret: i ? null : `whsec_${randomBytes(24).toString('base64')}`,
        previousSecretExpiresAt: i ? null : new Date(Date.now() + 86_400_000),
        createdAt: new Date(Date.UTC(2026, 1, 1 + i)),
      },
    }));
  }
  const otherEndpoint = await prisma.webhookEndpoint.create({ data: { organizationId: other.id, url: 'https://hooks.example.com/other', secret: 'whsec_other' } });
  const deliveries = [];
  for (const [i, status] of (['DELIVERED', 'FAILED', 'PENDING', 'PENDING'] as const).entries()) {
    deliveries.push(await prisma.webhookDelivery.create({
      data: {
        organizationId: org.id,
        endpointId: endpoints[0]!.id,
        auditEventId: crypto.randomUUID(),
        eventType: 'Identifier.CREATE',
        entityId: crypto.randomUUID(),
        status,
        attemptCount: status === 'PENDING' ? 0 : 2,
        deliveredAt: status === 'DELIVERED' ? new Date() : null,
        createdAt: new Date(Date.UTC(2026, 2, 1 + i)),
      },
    }));
  }
  for (const [i, succeeded] of [false, true].entries()) {
    await prisma.webhookAttempt.create({
      data: { organizationId: org.id, deliveryId: deliveries[0]!.id, succeeded, responseStatus: succeeded ? 200 : 503, responseBody: succeeded ? 'ok' : null, error: null, durationMs: 10 + i, createdAt: new Date(Date.UTC(2026, 2, 1, i)) },
    });
  }

  const { viewers, refused } = await administeringViewersOf(org.id, other.id);
  return { org, keys, otherKey, endpoints, otherEndpoint, deliveries, viewers, refused };
}

const KEY = 'id __typename name role prefix active lastUsedAt revokedAt createdAt organization { slug }';
const ENDPOINT = 'id __typename url description eventTypes enabled disabledReason disabledAt failingSince previousSecretExpiresAt createdAt updatedAt organization { slug }';
const DELIVERY = 'id __typename eventType auditEventId status attemptCount lastAttemptAt deliveredAt createdAt endpoint { url }';
const ATTEMPTS = 'attempts { totalCount edges { cursor node { id succeeded responseStatus responseBody error durationMs createdAt } } }';
const PAGE_INFO = 'pageInfo { hasNextPage hasPreviousPage startCursor endCursor }';

type Case = EngineCase<[string, GqlOptions, boolean]>;



const administers = ([, , yes]: [string, GqlOptions, boolean]) => yes;

describe('API keys and webhook endpoints of an organization, compiled for its admins', () => {
  it('organization(id): keys and endpoints with filters, pages, pageInfo and totalCount; FORBIDDEN alike for anyone else', async () => {
    const { org, viewers, refused } = await world();
    const page = (selection: string) => `{ organization(id: "${org.id}") { name ${selection} } }`;
    const cases: Case[] = [
      ['every field of the keys', page(`apiKeys { totalCount __typename edges { __typename cursor node { ${KEY} } } ${PAGE_INFO} }`), administers],
      ['revoked keys too', page(`apiKeys(includeRevoked: true) { totalCount edges { node { name active revokedAt } } }`), administers],
      ['a first page of keys', page(`apiKeys(first: 1, includeRevoked: true) { totalCount edges { cursor node { name } } ${PAGE_INFO} }`), administers],
      ['the last page of keys', page(`apiKeys(last: 2) { edges { cursor node { name } } ${PAGE_INFO} }`), administers],
      ['every field of the endpoints', page(`webhookEndpoints { totalCount edges { cursor node { ${ENDPOINT} } } ${PAGE_INFO} }`), administers],
      ['deliveries of the endpoints, by state', page(`webhookEndpoints(first: 1) { edges { node { url deliveries(status: PENDING) { totalCount edges { node { ${DELIVERY} } } } } } }`), administers],
      ['attempts of the deliveries', page(`webhookEndpoints { edges { node { deliveries(last: 1) { edges { node { id ${ATTEMPTS} } } ${PAGE_INFO} } } } }`), administers],
      ['keys and endpoints beside other lists', page('sources { totalCount } apiKeys(first: 1) { totalCount } webhookEndpoints(last: 1) { edges { node { enabled } } }'), administers],
      // Only the organization's admins see an endpoint: so is its organization, whose keys compile too.
      ['keys of the organization of an endpoint', page('webhookEndpoints { edges { node { organization { apiKeys { totalCount } } } } }'), administers],
    ];
    const answers = await expectCases(cases, viewers);
    for (const [viewer, , admin] of viewers) {
      const keys = answers.get(`every field of the keys, as ${viewer}`)!;
      const endpoints = answers.get(`every field of the endpoints, as ${viewer}`)!;
      if (admin) {
        // Two keys of the world and the two viewers' keys are active; revoked ones only when asked.
        expect(keys.data.organization.apiKeys.totalCount, viewer).toBe(4);
        expect(answers.get(`revoked keys too, as ${viewer}`)!.data.organization.apiKeys.totalCount, viewer).toBe(5);
        expect(endpoints.data.organization.webhookEndpoints.edges.map((e: any) => e.node.url), viewer).toEqual(['https://hooks.example.com/0', 'https://hooks.example.com/1']);
        expect(answers.get(`deliveries of the endpoints, by state, as ${viewer}`)!.data.organization.webhookEndpoints.edges[0].node.deliveries.totalCount, viewer).toBe(2);
      } else {
        for (const answer of [keys, endpoints]) {
          expect(answer.errors?.[0]?.extensions?.code, viewer).toBe('FORBIDDEN');
          expect(answer.data.organization.name, viewer).toBe(org.name);
        }
        expect(keys.data.organization.apiKeys, viewer).toBeNull();
        expect(endpoints.data.organization.webhookEndpoints, viewer).toBeNull();
      }
    }

    // The next page after a cursor and the one before it, both ways.
    for (const [viewer, options, admin] of viewers.filter(([, , admin]) => admin)) {
      const first = answers.get(`a first page of keys, as ${viewer}`)!.data.organization.apiKeys;
      const end = first.pageInfo.endCursor;
      const last = answers.get(`every field of the endpoints, as ${viewer}`)!.data.organization.webhookEndpoints.pageInfo.endCursor;
      const next = await expectCases(
        [
          ['the keys after a cursor', page(`apiKeys(first: 2, after: "${end}", includeRevoked: true) { totalCount edges { cursor node { name } } ${PAGE_INFO} }`), true],
          ['the keys before a cursor', page(`apiKeys(last: 1, before: "${end}", includeRevoked: true) { edges { node { name } } ${PAGE_INFO} }`), true],
          ['the endpoints before the last', page(`webhookEndpoints(last: 1, before: "${last}") { totalCount edges { node { url } } ${PAGE_INFO} }`), true],
        ],
        [[viewer, options, admin]],
      );
      expect(next.get(`the keys after a cursor, as ${viewer}`)!.data.organization.apiKeys.edges.length, viewer).toBe(2);
      expect(next.get(`the endpoints before the last, as ${viewer}`)!.data.organization.webhookEndpoints.edges.map((e: any) => e.node.url), viewer).toEqual(['https://hooks.example.com/0']);
    }

    await expectRefused(cases, refused);
  });

  it('node(id) of a key, an endpoint or a delivery: found under the administered-row rule, null for anyone else, on both paths', async () => {
    const { keys, otherKey, endpoints, otherEndpoint, deliveries, viewers, refused } = await world();
    const node = (type: string, id: string, selection: string) => `{ node(id: "${globalId(type, id)}") { id ... on ${type} { ${selection} } } }`;
    const cases: Case[] = [
      ['a key', node('ApiKey', keys[0]!.id, KEY), true],
      ['a revoked key', node('ApiKey', keys[1]!.id, 'name active revokedAt'), true],
      ['a key of the other organization', node('ApiKey', otherKey.id, 'name'), true],
      ['an endpoint and its deliveries', node('WebhookEndpoint', endpoints[0]!.id, `${ENDPOINT} deliveries(first: 2) { totalCount edges { cursor node { ${DELIVERY} } } ${PAGE_INFO} }`), true],
      ['failed deliveries of an endpoint', node('WebhookEndpoint', endpoints[0]!.id, 'deliveries(status: FAILED) { totalCount edges { node { status } } }'), true],
      ['an endpoint of the other organization', node('WebhookEndpoint', otherEndpoint.id, 'url'), true],
      ['a delivery and its attempts', node('WebhookDelivery', deliveries[0]!.id, `${DELIVERY} ${ATTEMPTS}`), true],
      // A key is seen only by its organization's admins, who administer its organization: compiled (a null node for anyone else).
      ['the keys of the organization of a key', node('ApiKey', keys[0]!.id, 'organization { apiKeys { totalCount } }'), true],
    ];
    const answers = await expectCases(cases, viewers);
    const sees = (name: string, viewer: string) => answers.get(`${name}, as ${viewer}`)!.data.node !== null;
    for (const [viewer, , admin] of viewers) {
      for (const name of ['a key', 'a revoked key', 'an endpoint and its deliveries', 'a delivery and its attempts']) expect(sees(name, viewer), `${name}, as ${viewer}`).toBe(admin);
      const administersOther = viewer === 'a system admin, not narrowed' || viewer.endsWith('an admin of the other organization');
      expect(sees('a key of the other organization', viewer), viewer).toBe(administersOther);
      expect(sees('an endpoint of the other organization', viewer), viewer).toBe(administersOther);
    }
    const admin = viewers[0]![0];
    const endpoint = answers.get(`an endpoint and its deliveries, as ${admin}`)!.data.node;
    expect(endpoint.eventTypes).toEqual(['Identifier.*', 'User.UPDATE']);
    expect(endpoint.deliveries.totalCount).toBe(4);
    expect(answers.get(`a key, as ${admin}`)!.data.node).toMatchObject({ name: 'ingest', role: 'ANALYST', active: true });
    expect(answers.get(`a revoked key, as ${admin}`)!.data.node.active).toBe(false);
    expect(answers.get(`a delivery and its attempts, as ${admin}`)!.data.node.auditEventId).toBe(globalId('AuditEvent', deliveries[0]!.auditEventId));
    await expectRefused(cases, refused);
  });
});

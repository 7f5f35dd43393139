import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { setPlannedReads } from '../src/modules/shared/engine/index.ts';
import { globalId, tokenFor, type GqlOptions } from './helpers/app.ts';
import { aMember, anApiKey, anIdentifier, anOrganization, aSource, aUser } from './helpers/factories.ts';
import { expectCases, expectRefused } from './helpers/engine.ts';

// Audit trails compiled by the read engine: an organization's `auditEvents` and an
// object's `history` (a user's, a membership's, an identifier's, an API key's…), connections over AuditEvent, which has no relation to its parent
// (the engine links them by the parent's id in the very query the resolvers use), and
// node(id) of an event. Every answer is compared with the general path's, for viewers
// of every role.

afterEach(() => setPlannedReads(true));

async function world() {
  const org = await anOrganization();
  const other = await anOrganization();
  const crm = await aSource(org.id, { key: 'crm' });
  const admin = await aUser();
  await aMember(org.id, admin.id, { role: 'ORGANIZATION_ADMIN' });
  const analyst = await aUser();
  await aMember(org.id, analyst.id, { role: 'ANALYST' });
  const person = await aUser({ name: 'Zoë Ünal' });
  const membership = await aMember(org.id, person.id, { role: 'ANALYST' });
  await aMember(other.id, person.id, { role: 'ANALYST' });
  // Seen by readers of the other organization only.
  const outsider = await aUser();
  await aMember(other.id, outsider.id, { role: 'ORGANIZATION_ADMIN' });
  const identifier = await anIdentifier(org.id, person.id, crm.id, { identifierKey: 'k', identifierValue: 'v' });
  const secret = `igk_${randomBytes(32).toString('base64url')}`;
  const key = await anApiKey(org.id, createHash('sha256').update(secret).digest('hex'));

  const at = (minute: number) => new Date(Date.UTC(2026, 3, 1, 0, minute));
  const specs = [
    { organizationId: org.id, entityType: 'Organization', entityId: org.id, action: 'UPDATE', actorType: 'USER', actorUserId: admin.id, changes: { name: { before: 'a', after: 'b' } }, requestId: 'req-1' },
    { organizationId: org.id, entityType: 'Identifier', entityId: identifier.id, action: 'CREATE', actorType: 'API_KEY', actorApiKeyId: key.id, discoveryMethod: 'MCP_TOOL' },
    // A profile change: recorded once without an organization, copied into each organization's trail.
    { organizationId: null, entityType: 'User', entityId: person.id, action: 'UPDATE', actorType: 'USER', actorUserId: person.id, changes: { name: { before: 'Zoe', after: 'Zoë Ünal' } } },
    { organizationId: org.id, entityType: 'User', entityId: person.id, action: 'UPDATE', actorType: 'USER', actorUserId: person.id },
    { organizationId: other.id, entityType: 'User', entityId: person.id, action: 'UPDATE', actorType: 'USER', actorUserId: person.id },
    { organizationId: org.id, entityType: 'Member', entityId: membership.id, action: 'CREATE', actorType: 'SYSTEM' },
    { organizationId: org.id, entityType: 'Identifier', entityId: identifier.id, action: 'UPDATE', actorType: 'USER', actorUserId: outsider.id, changes: { identifierValue: { before: 'u', after: 'v' } } },
    // An entity type long enough for PostgreSQL's base64 to break its global id's line.
    { organizationId: org.id, entityType: 'WebhookEndpointDeliveryAttempt', entityId: crypto.randomUUID(), action: 'CREATE', actorType: 'SYSTEM' },
    { organizationId: other.id, entityType: 'Organization', entityId: other.id, action: 'UPDATE', actorType: 'USER', actorUserId: outsider.id },
  ] as const;
  const events = [];
  for (const [i, spec] of specs.entries()) events.push(await prisma.auditEvent.create({ data: { changes: {}, ...spec, createdAt: at(i) } }));

  const viewers: [string, GqlOptions][] = [
    ['an admin acting in the organization', { token: await tokenFor(admin.authSubject!), organizationId: org.id }],
    ['an analyst acting in the organization', { token: await tokenFor(analyst.authSubject!), organizationId: org.id }],
    ['an API key', { headers: { 'x-api-key': secret } }],
    ['a system admin, not narrowed', { token: await tokenFor((await aUser({ isSystemAdmin: true })).authSubject!) }],
    ['a member of both organizations, not narrowed', { token: await tokenFor(person.authSubject!) }],
  ];
  const pending = await aUser();
  await aMember(org.id, pending.id, { state: 'PENDING' });
  const refused: GqlOptions = { token: await tokenFor(pending.authSubject!), organizationId: org.id };
  const outside: [string, GqlOptions] = ['a reader of the other organization only', { token: await tokenFor(outsider.authSubject!) }];
  return { org, person, identifier, membership, key, admin, events, viewers, refused, outside };
}

const EVENT = 'id __typename action entityType entityId actorType actor { id email } actorApiKeyId changes discoveryMethod requestId createdAt';
const PAGE_INFO = 'pageInfo { hasNextPage hasPreviousPage startCursor endCursor }';



describe('audit trails, compiled', () => {
  it("an organization's auditEvents with every filter, pages both ways, pageInfo and totalCount: the same answer as the general path", async () => {
    const { org, person, identifier, key, admin, events, viewers, refused } = await world();
    const page = (selection: string) => `{ organization(id: "${org.id}") { ${selection} } }`;
    const filter = (f: string) => page(`auditEvents(filter: { ${f} }) { totalCount edges { node { action entityType } } }`);
    const cases: [string, string, boolean][] = [
      ['every field of the trail', page(`auditEvents { totalCount __typename edges { __typename cursor node { ${EVENT} } } ${PAGE_INFO} }`), true],
      ['a first page', page(`auditEvents(first: 3) { totalCount edges { cursor node { action } } ${PAGE_INFO} }`), true],
      ['the last page', page(`auditEvents(last: 2) { edges { cursor node { action } } ${PAGE_INFO} }`), true],
      ['by action', filter('action: "UPDATE"'), true],
      ['by entity type', filter('entityType: "Identifier"'), true],
      ['by global entity id', filter(`entityId: "${globalId('Identifier', identifier.id)}"`), true],
      ['by UUID entity id', filter(`entityId: "${identifier.id}"`), true],
      ['by actor type', filter('actorType: SYSTEM'), true],
      ['by actor', filter(`actorUserId: "${globalId('User', admin.id)}"`), true],
      ['by API key', filter(`actorApiKeyId: "${globalId('ApiKey', key.id)}"`), true],
      ['in a time window', filter('since: "2026-04-01T00:02:00Z", until: "2026-04-01T00:06:00Z"'), true],
      ['the history of the organization', page(`history { totalCount edges { node { action entityId } } }`), true],
      ['the trail beside other lists', page(`sources { totalCount } auditEvents(first: 1) { edges { node { action } } }`), true],
      ['an actor id of another type, which matches nothing', filter(`actorUserId: "${globalId('Organization', org.id)}"`), true],
      ['the history of each membership', page('members { edges { node { role history { totalCount edges { node { action entityId } } } } } }'), true],
    ];
    const answers = await expectCases(cases, viewers);
    const trail = answers.get(`every field of the trail, as ${viewers[0]![0]}`)!.data.organization.auditEvents;
    // Six events of the organization, newest first; the copy of a profile change among them.
    expect(trail.totalCount).toBe(6);
    expect(trail.edges[0].node.entityId).toBe(globalId('WebhookEndpointDeliveryAttempt', events[7]!.entityId));
    expect(trail.edges.find((e: any) => e.node.entityType === 'User').node.actor.email).toBe(person.email);
    expect(answers.get(`by global entity id, as ${viewers[0]![0]}`)!.data.organization.auditEvents.totalCount).toBe(2);
    expect(answers.get(`in a time window, as ${viewers[0]![0]}`)!.data.organization.auditEvents.totalCount).toBe(2);
    expect(answers.get(`an actor id of another type, which matches nothing, as ${viewers[0]![0]}`)!.data.organization.auditEvents.totalCount).toBe(0);
    const histories = answers.get(`the history of each membership, as ${viewers[0]![0]}`)!.data.organization.members.edges.map((e: any) => e.node.history.totalCount);
    expect(histories.reduce((a: number, b: number) => a + b, 0)).toBe(1);

    for (const [viewer, options] of viewers) {
      const first = answers.get(`a first page, as ${viewer}`)!.data.organization.auditEvents;
      const end = first.pageInfo.endCursor;
      const next = await expectCases(
        [
          ['the page after a cursor', page(`auditEvents(first: 3, after: "${end}") { totalCount edges { cursor node { action } } ${PAGE_INFO} }`), true],
          ['the page before a cursor', page(`auditEvents(last: 2, before: "${end}") { edges { node { action } } ${PAGE_INFO} }`), true],
        ],
        [[viewer, options]],
      );
      expect(next.get(`the page after a cursor, as ${viewer}`)!.data.organization.auditEvents.edges.length, viewer).toBe(3);
    }
    await expectRefused(cases, refused);
  });

  it('history of a user, an identifier and an API key, and node(id) of an event: the same answer as the general path', async () => {
    const { person, identifier, key, events, viewers, refused, outside } = await world();
    const node = (type: string, id: string, selection: string) => `{ node(id: "${globalId(type, id)}") { id ... on ${type} { ${selection} } } }`;
    const history = `history { totalCount edges { cursor node { ${EVENT} } } ${PAGE_INFO} }`;
    const cases: [string, string, boolean][] = [
      ["a user's history", node('User', person.id, history), true],
      ["an identifier's history, by action", node('Identifier', identifier.id, 'history(filter: { action: "UPDATE" }) { totalCount edges { node { action actor { email } } } }'), true],
      ["an identifier's history, a page back", node('Identifier', identifier.id, `history(last: 1) { edges { node { action } } ${PAGE_INFO} }`), true],
      ['an event', node('AuditEvent', events[0]!.id, EVENT), true],
      ['an event of the other organization', node('AuditEvent', events[8]!.id, 'action'), true],
      ["the history of an event's actor", node('AuditEvent', events[0]!.id, 'actor { history { totalCount } }'), true],
    ];
    const adminOnly: [string, string, boolean][] = [["an API key's history", node('ApiKey', key.id, history), true]];
    const answers = await expectCases(cases, [...viewers, outside]);
    await expectCases(adminOnly, viewers.filter(([v]) => v.startsWith('an admin') || v.startsWith('a system admin')));
    // A user's history lists a profile change once (not its organization copies).
    const own = answers.get(`a user's history, as a system admin, not narrowed`)!.data.node.history;
    expect(own.totalCount).toBe(1);
    expect(own.edges[0].node.changes).toEqual({ name: { before: 'Zoe', after: 'Zoë Ünal' } });
    expect(answers.get(`an identifier's history, by action, as a system admin, not narrowed`)!.data.node.history.edges[0].node.actor).not.toBeNull();
    // The actor of an event is null for a viewer who may not see that user.
    expect(answers.get(`an identifier's history, by action, as an analyst acting in the organization`)!.data.node.history.edges[0].node.actor).toBeNull();
    expect(answers.get(`an event of the other organization, as an analyst acting in the organization`)!.data.node).toBeNull();
    expect(answers.get(`an event of the other organization, as ${outside[0]}`)!.data.node).not.toBeNull();
    await expectRefused(cases, refused);
  });
});

describe("an object's history, filtered", () => {
  it("by another object's id lists none of that object's events, on both paths", async () => {
    const org = await anOrganization();
    const other = await anOrganization();
    const analyst = await aUser();
    await aMember(org.id, analyst.id);
    // A user the analyst may not see, with a profile change recorded in no organization.
    const stranger = await aUser();
    await aMember(other.id, stranger.id);
    await prisma.auditEvent.create({ data: { entityType: 'User', entityId: stranger.id, action: 'UPDATE', actorType: 'SYSTEM', changes: { name: { before: 'A', after: 'B' } } } });
    await prisma.auditEvent.create({ data: { organizationId: org.id, entityType: 'Organization', entityId: other.id, action: 'UPDATE', actorType: 'SYSTEM', changes: {} } });
    const filtered = (type: string, id: string, of: string) => `history(filter: { entityId: "${globalId(type, of)}" }) { totalCount edges { node { entityId changes } } }`;
    const query = `{ viewer { ${filtered('User', analyst.id, stranger.id)} } organization(id: "${org.id}") { ${filtered('Organization', org.id, other.id)} } }`;
    const answers = await expectCases([['histories filtered by the id of another object', query, true]], [['an analyst acting in the organization', { token: await tokenFor(analyst.authSubject!), organizationId: org.id }]]);
    const { data } = answers.get('histories filtered by the id of another object, as an analyst acting in the organization')!;
    expect(data.viewer.history).toEqual({ totalCount: 0, edges: [] });
    expect(data.organization.history).toEqual({ totalCount: 0, edges: [] });
  });
});

import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { prisma } from '../../src/db.ts';
import type { MemberRole, MembershipState } from '../../src/generated/prisma/client.ts';
import { normalisedPair } from '../../src/modules/suggestion/pairs.ts';
import { tokenFor, type GqlOptions } from './app.ts';
import { aMember, anApiKey, anIdentifier, anIdentity, anOrganization, aSource, aUser } from './factories.ts';
import type { Forbidden } from './schema-walk.ts';

// Two organizations, A and B, that share users, with B's rows of every kind: what the
// tenancy walk reads as viewers acting in A. Everything that belongs to B alone (its
// rows' ids, and values no row of A holds) is collected while it is built.

const hashOf = (secret: string) => createHash('sha256').update(secret).digest('hex');

export async function tenancyWorld() {
  const forbidden: Forbidden = new Map();
  /** A value only B holds: a unique text, recorded as forbidden. */
  const only = (what: string, prefix = 'bonly') => {
    const value = `${prefix}-${randomBytes(5).toString('hex')}`;
    forbidden.set(value, what);
    return value;
  };
  /** Every id the walk asks about, by its type: B's rows, shared rows and A's rows. */
  const ids: { typename: string; id: string; of: 'A' | 'B' | 'shared' }[] = [];
  const asked = <T extends { id: string }>(typename: string, of: 'A' | 'B' | 'shared', row: T) => {
    ids.push({ typename, id: row.id, of });
    if (of === 'B') forbidden.set(row.id, `${typename} of B`);
    return row;
  };

  const a = asked('Organization', 'A', await anOrganization());
  const b = asked('Organization', 'B', await anOrganization({ slug: only('B slug', 'org-b'), name: only('B name') }));

  // A's viewers. Each is also an active member of B, so only the request's
  // organization stands between them and B's rows.
  const viewer = async (role: MemberRole, state: MembershipState) => {
    const user = asked('User', 'shared', await aUser());
    asked('Member', 'A', await aMember(a.id, user.id, { role, state }));
    asked('Member', 'B', await aMember(b.id, user.id, { role: 'ORGANIZATION_ADMIN' }));
    return user;
  };
  const admin = await viewer('ORGANIZATION_ADMIN', 'ACTIVE');
  const analyst = await viewer('ANALYST', 'ACTIVE');
  const pending = await viewer('ANALYST', 'PENDING');
  const suspended = await viewer('ORGANIZATION_ADMIN', 'SUSPENDED');
  const system = await aUser({ isSystemAdmin: true });
  const keyOfA = `igk_${randomBytes(32).toString('base64url')}`;
  asked('ApiKey', 'A', await anApiKey(a.id, hashOf(keyOfA), { role: 'ORGANIZATION_ADMIN' }));
  const keyOfB = `igk_${randomBytes(32).toString('base64url')}`;
  const bKey = asked('ApiKey', 'B', await anApiKey(b.id, hashOf(keyOfB), { name: only('B API key name') }));
  forbidden.set(bKey.prefix, 'B API key prefix');

  // A person of both organizations, and people of B alone.
  const shared = asked('User', 'shared', await aUser({ name: 'Shared Person' }));
  asked('Member', 'A', await aMember(a.id, shared.id));
  asked('Member', 'B', await aMember(b.id, shared.id));
  const bUser = async (state: MembershipState = 'ACTIVE') => {
    const user = asked('User', 'B', await aUser({ email: `${only('B user email')}@example.com`, name: only('B user name'), authSubject: only('B user subject') }));
    asked('Member', 'B', await aMember(b.id, user.id, { state }));
    return user;
  };
  const bActive = await bUser();
  const bPending = await bUser('PENDING');
  // Once a member of A too; the membership is gone, what A recorded about them stays.
  const former = await bUser();
  const formerInA = await aMember(a.id, former.id);

  // Sources, identifiers, identities and properties: A's and B's.
  const sourceA = asked('IntegrationSource', 'A', await aSource(a.id, { key: 'crm-a' }));
  const sourceB = asked('IntegrationSource', 'B', await aSource(b.id, { key: only('B source key', 'src-b'), name: only('B source name') }));
  const providerB = asked('IntegrationSource', 'B', await aSource(b.id, { key: only('B provider key', 'idp-b'), kind: 'IDENTITY_PROVIDER' }));
  const inA = asked('Identifier', 'A', await anIdentifier(a.id, shared.id, sourceA.id, { identifierKey: 'owner_id', identifierValue: 'a-shared-1' }));
  const identifierOfFormer = asked('Identifier', 'A', await anIdentifier(a.id, former.id, sourceA.id, { identifierKey: 'owner_id', identifierValue: 'a-former-1' }));
  const inB = [];
  for (const user of [shared, bActive, former, analyst]) {
    inB.push(asked('Identifier', 'B', await anIdentifier(b.id, user.id, sourceB.id, { identifierKey: 'owner_id', identifierValue: only('B identifier value') })));
  }
  const identityA = asked('Identity', 'A', await anIdentity(a.id, { identifierKey: 'ida-1', name: 'A identity', email: 'a-identity@example.com', userId: shared.id }));
  const identityOfFormer = asked('Identity', 'A', await anIdentity(a.id, { identifierKey: 'ida-former', name: 'A identity of a former member', userId: former.id }));
  const identitiesB = [
    await anIdentity(b.id, { identifierKey: only('B identity key'), name: only('B identity name'), email: `${only('B identity email')}@example.com`, userId: bActive.id }),
    await anIdentity(b.id, { identifierKey: only('B identity key'), name: only('B identity name'), userId: shared.id, phoneNumber: `+1415555${String(1000 + Math.floor(Math.random() * 8999))}` }),
    await anIdentity(b.id, { identifierKey: only('B identity key'), name: only('B identity name'), sourceId: providerB.id, externalId: only('B external id') }),
  ].map((row) => asked('Identity', 'B', row));
  forbidden.set(identitiesB[1]!.phoneNumber!, 'B identity phone');
  await prisma.identityProperty.create({ data: { organizationId: b.id, identityId: identitiesB[0]!.id, key: only('B property key'), type: 'STRING', value: only('B property value') } });

  // Suggestions: B's, and A's whose parties are people who are no longer A's.
  const suggestion = (organizationId: string, subject: { type: 'USER' | 'IDENTITY'; id: string }, candidate: { type: 'USER' | 'IDENTITY'; id: string }, extra = {}) =>
    prisma.linkSuggestion.create({ data: { organizationId, ...normalisedPair(subject, candidate), confidence: 0.7, createdBy: 'MANUAL', ...extra } });
  const u = (row: { id: string }) => ({ type: 'USER' as const, id: row.id });
  const i = (row: { id: string }) => ({ type: 'IDENTITY' as const, id: row.id });
  for (const [s, c] of [[u(shared), u(bActive)], [u(former), i(identitiesB[0]!)], [u(analyst), u(bPending)]] as const) {
    asked('LinkSuggestion', 'B', await suggestion(b.id, s, c, { evidence: [{ value: only('B suggestion evidence') }], metadata: { note: only('B suggestion metadata') } }));
  }
  const aPair = asked('LinkSuggestion', 'A', await suggestion(a.id, u(shared), u(former)));
  const aIdentity = asked('LinkSuggestion', 'A', await suggestion(a.id, i(identityA), u(former)));

  // Merges: of B's people alone (touching B only), and one of a pair of A, approved
  // through A's suggestion, whose survivor has left A since.
  const tombstone = async (into: { id: string }) => {
    const merged = await aUser({ email: `${only('B merged user email')}@example.com`, name: only('B merged user name') });
    forbidden.set(merged.id, 'B merged user');
    return prisma.user.update({ where: { id: merged.id }, data: { mergedIntoId: into.id } });
  };
  for (const survivor of [shared, bActive]) {
    const merged = await tombstone(survivor);
    asked('UserMerge', 'B', await prisma.merge.create({ data: { survivorId: survivor.id, mergedId: merged.id, organizationIds: [b.id], before: {}, after: {}, decisions: [{ key: 'profile:name', kind: 'PROFILE', field: 'name', survivorValue: only('B merge decision'), mergedValue: only('B merge decision'), keep: 'SURVIVOR', chosen: false, rule: 'r' }] } }));
  }
  const formerMerged = await tombstone(former);
  const formerMerge = await prisma.merge.create({ data: { survivorId: former.id, mergedId: formerMerged.id, organizationIds: [a.id, b.id], before: {}, after: {} } });
  const approved = asked('LinkSuggestion', 'A', await suggestion(a.id, u(former), u(formerMerged), { state: 'APPROVED', decidedAt: new Date(), mergeId: formerMerge.id }));
  await prisma.member.delete({ where: { id: formerInA.id } });

  // Audit events: B's, and A's made by a person now of B alone.
  for (const [entityType, entityId] of [['User', shared.id], ['Identity', identitiesB[0]!.id], ['Organization', b.id], ['User', bActive.id]] as const) {
    asked('AuditEvent', 'B', await prisma.auditEvent.create({ data: { organizationId: b.id, actorType: 'USER', actorUserId: bActive.id, entityType, entityId, action: 'UPDATE', changes: { name: { before: null, after: only('B audit change') } }, requestId: only('B request id') } }));
  }
  asked('AuditEvent', 'A', await prisma.auditEvent.create({ data: { organizationId: a.id, actorType: 'USER', actorUserId: former.id, entityType: 'User', entityId: shared.id, action: 'UPDATE', changes: {} } }));

  // Deleted items, webhook endpoints (with a delivery and an attempt): B's.
  const deleted = await prisma.deletedItem.create({ data: { organizationId: b.id, entityType: 'Identifier', entityId: randomUUID(), rows: {}, label: only('B deleted label'), reason: only('B deleted reason') } });
  forbidden.set(deleted.id, 'B deleted item').set(deleted.entityId, 'B deleted entity');
  const endpoint = asked('WebhookEndpoint', 'B', await prisma.webhookEndpoint.create({ data: { organizationId: b.id, url: `https://${only('B webhook host')}.example.com/hook`, description: only('B webhook description'), secret: `whsec_${randomBytes(24).toString('base64')}` } }));
  const delivery = asked('WebhookDelivery', 'B', await prisma.webhookDelivery.create({ data: { organizationId: b.id, endpointId: endpoint.id, auditEventId: randomUUID(), eventType: 'Identifier.CREATE', entityId: inB[0]!.id, status: 'FAILED', attemptCount: 1 } }));
  const attempt = await prisma.webhookAttempt.create({ data: { organizationId: b.id, deliveryId: delivery.id, succeeded: false, responseStatus: 500, responseBody: only('B webhook response'), error: only('B webhook error'), durationMs: 5 } });
  forbidden.set(attempt.id, 'B webhook attempt');

  const as = async (user: { authSubject: string | null }): Promise<GqlOptions> => ({ token: await tokenFor(user.authSubject!), organizationId: a.id });
  const viewers: [string, GqlOptions][] = [
    ['the admin of A', await as(admin)],
    ['an analyst of A', await as(analyst)],
    ['a pending member of A', await as(pending)],
    ['a suspended admin of A', await as(suspended)],
    ['the API key of A', { headers: { 'x-api-key': keyOfA }, organizationId: a.id }],
    ['a system admin acting in A', await as(system)],
  ];
  return {
    a, b, forbidden, ids, viewers,
    people: { admin, analyst, shared, bActive, bPending, former, formerMerged },
    sources: { sourceA, sourceB, providerB },
    identifiers: { inA, inB, identifierOfFormer },
    identities: { identityA, identitiesB, identityOfFormer },
    suggestions: { aPair, aIdentity, approved },
  };
}

export type TenancyWorld = Awaited<ReturnType<typeof tenancyWorld>>;

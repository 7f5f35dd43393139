import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../../builder.ts';
import type { Context } from '../../context.ts';
import { prisma } from '../../db.ts';
import { ApiKeyRef } from '../auth/schema.ts';
import { DiscoveryMethodEnum, IdentifierRef } from '../identifier/schema.ts';
import { IdentityRef } from '../identity/schema.ts';
import { MemberRef } from '../member/schema.ts';
import { OrganizationRef } from '../organization/schema.ts';
import { totalCountField } from '../shared/connections.ts';
import { compiledConnection, compiledField, compiledNode, model } from '../shared/engine/index.ts';
import { loadVisibleUser, visibleUserSql } from '../shared/pointed.ts';
import { globalId, typedGlobalId } from '../shared/engine/text.ts';
import { readableWhere } from '../shared/rules.ts';
import { NO_ROW, tenantRowWhere } from '../shared/visibility.ts';
import { SourceRef } from '../source/schema.ts';
import { UserRef } from '../user/schema.ts';
import { openEventStream } from './bus.ts';
import { historyWhere, trailWhere, type Filter } from './filters.ts';
import { parseId } from '../shared/validate.ts';

const ActorTypeEnum = builder.enumType('ActorType', {
  description: 'Who made a change.',
  values: {
    USER: { description: 'A signed-in user.' },
    API_KEY: { description: 'A machine client with an organization API key.' },
    SYSTEM: { description: 'The server itself (automatic links, provisioning).' },
  },
});

export const AuditEventRef = builder.prismaNode('AuditEvent', {
  description: 'One committed change: who changed what, when, and each changed field before and after.',
  id: { field: 'id' },
  nullable: true,
  findUnique: (id, ctx) => tenantRowWhere(id, ctx),
  fields: (t) => ({
    action: t.exposeString('action', {
      description: 'What happened: CREATE, UPDATE, DELETE, RESTORE, PURGE, LINK, UNLINK, and the like.',
    }),
    entityType: t.exposeString('entityType', { description: 'The type of the changed object, e.g. `Identifier`.' }),
    entityId: t.id({
      description: 'Global id of the changed object (it may no longer exist).',
      resolve: (e) => encodeGlobalID(e.entityType, e.entityId),
    }),
    actorType: t.expose('actorType', { type: ActorTypeEnum, description: 'Who made the change.' }),
    actor: t.field({
      type: UserRef,
      nullable: true,
      description: 'The user who made the change, when a user did and is still visible to you.',
      resolve: (e, _args, ctx) => (e.actorUserId ? loadVisibleUser(ctx, e.actorUserId) : null),
    }),
    actorApiKeyId: t.id({
      nullable: true,
      description: 'Global id of the API key that made the change, when one did.',
      resolve: (e) => (e.actorApiKeyId ? encodeGlobalID('ApiKey', e.actorApiKeyId) : null),
    }),
    changes: t.expose('changes', {
      type: 'JSON',
      description: 'Every changed field: `{ "field": { "before": …, "after": … } }`. Secrets are never recorded.',
    }),
    discoveryMethod: t.expose('discoveryMethod', {
      type: DiscoveryMethodEnum,
      nullable: true,
      description: 'How the changed identifier was discovered, where that applies.',
    }),
    requestId: t.exposeString('requestId', { nullable: true, description: 'The request that made the change (X-Request-ID).' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the change committed.' }),
  }),
});

const AuditEventFilter = builder.inputType('AuditEventFilter', {
  description: 'Narrows a list of audit events; every field given must match.',
  fields: (t) => ({
    actorUserId: t.id({ required: false, description: 'Only changes made by this user (global id).' }),
    actorApiKeyId: t.id({ required: false, description: 'Only changes made with this API key (global id).' }),
    actorType: t.field({ type: ActorTypeEnum, required: false, description: 'Only changes made by this kind of actor.' }),
    action: t.string({ required: false, description: 'Only this action, e.g. `UPDATE`.' }),
    entityType: t.string({ required: false, description: 'Only changes to objects of this type, e.g. `Identity`.' }),
    entityId: t.id({
      required: false,
      description:
        "Only changes to this object: its global id (which also names its type) or its UUID. Works for objects deleted since, whose ids no longer resolve.",
    }),
    since: t.field({ type: 'DateTime', required: false, description: 'Only changes at or after this instant.' }),
    until: t.field({ type: 'DateTime', required: false, description: 'Only changes before this instant.' }),
  }),
});

const NEWEST_FIRST = [{ createdAt: 'desc' as const }, { id: 'desc' as const }];

// node(id) of an event is compiled under the rule of findUnique above, and so are its
// fields: the global ids from their columns, the actor under the rule of node(id) of a user (shared/pointed.ts).
compiledNode('AuditEvent', (_ctx, readable) => readableWhere(readable));
const column = (field: string) => model('AuditEvent').fields.get(field)!.column;
// Unlike globalId's fixed types, an entity type may be long enough for a line break in PostgreSQL's base64.
compiledField('AuditEvent', 'entityId', (_b, alias) => typedGlobalId(`${alias}.${column('entityType')}`, `${alias}.${column('entityId')}`));
compiledField('AuditEvent', 'actorApiKeyId', (_b, alias) => `CASE WHEN ${alias}.${column('actorApiKeyId')} IS NOT NULL THEN ${globalId('ApiKey', `${alias}.${column('actorApiKeyId')}`)} END`);
compiledField('AuditEvent', 'actor', visibleUserSql('actorUserId'));

// The same queries are given to the resolvers below and to the read engine, which links
// the events to their parent by the parent's id in the query's where (AuditEvent has no
// relation to its parent: compiledConnection's `over`).
type TrailArgs = { filter?: Filter | null };
const trailQuery = (args: TrailArgs, _ctx: unknown, organizationId: string) => ({ where: trailWhere(organizationId, args.filter), orderBy: NEWEST_FIRST });
const historyQuery = (entityType: string) => (args: TrailArgs, _ctx: unknown, entityId: string, readable: string[] | 'all') => ({
  where: historyWhere(entityType, entityId, args.filter, readable),
  orderBy: NEWEST_FIRST,
});
// The trail needs read access to its organization: compiled only at a root whose access was checked.
compiledConnection('Organization', 'auditEvents', trailQuery, { over: 'AuditEvent' });

builder.prismaObjectField(OrganizationRef, 'auditEvents', (t) =>
  t.prismaConnection({
    type: AuditEventRef,
    description: "The organization's audit trail, newest first. Null, with FORBIDDEN, when you may not read the organization.",
    cursor: 'id',
    nullable: true,
    authScopes: (organization) => ({ orgRead: organization.id }),
    totalCount: (organization, args, ctx) => prisma.auditEvent.count({ where: trailQuery(args, ctx, organization.id).where }),
    args: { filter: t.arg({ type: AuditEventFilter, required: false, description: 'Which events.' }) },
    resolve: (query, organization, args, ctx) => prisma.auditEvent.findMany({ ...query, ...trailQuery(args, ctx, organization.id) }),
  }, { description: 'A page of audit events.', fields: totalCountField }, { description: 'An audit event in a page.' }),
);

/** Adds `history`: the audit trail of one object, newest first. */
function historyOf(ref: Parameters<typeof builder.prismaObjectField>[0], entityType: string) {
  const query = historyQuery(entityType);
  compiledConnection((ref as { name: string }).name, 'history', query, { over: 'AuditEvent' });
  builder.prismaObjectField(ref as never, 'history', (t: any) =>
    t.prismaConnection({
      type: AuditEventRef,
      cursor: 'id',
      description: `Every recorded change to this ${entityType}, newest first.`,
      totalCount: async (parent: { id: string }, args: TrailArgs, ctx: Context) =>
        prisma.auditEvent.count({ where: query(args, ctx, parent.id, await ctx.access.readableOrganizationIds()).where }),
      args: { filter: t.arg({ type: AuditEventFilter, required: false, description: 'Which events.' }) },
      resolve: async (page: object, parent: { id: string }, args: TrailArgs, ctx: Context) =>
        prisma.auditEvent.findMany({ ...page, ...query(args, ctx, parent.id, await ctx.access.readableOrganizationIds()) }),
    }, { description: `A page of the ${entityType}'s audit events.`, fields: totalCountField }, { description: 'An audit event in a page.' }),
  );
}

historyOf(OrganizationRef, 'Organization');
historyOf(UserRef, 'User');
historyOf(MemberRef, 'Member');
historyOf(SourceRef, 'IntegrationSource');
historyOf(IdentifierRef, 'Identifier');
historyOf(IdentityRef, 'Identity');
historyOf(ApiKeyRef, 'ApiKey');

/** The organization a subscription names, else the request's (header or credential); a clash between them is TENANT_MISMATCH. */
function subscribedOrganization(ctx: Context, value: string | null | undefined): string | null {
  if (value == null) return ctx.access.organizationFor(null);
  const id = parseId(value, 'Organization');
  return id && ctx.access.organizationFor(id);
}

builder.subscriptionType({ description: 'Live changes, over Server-Sent Events (`Accept: text/event-stream`).' });

builder.subscriptionField('identityGraphChanged', (t) =>
  t.field({
    type: AuditEventRef,
    description:
      "The organization's audit events, as their changes commit (on any server process sharing the database). Needs read access to the organization.",
    args: {
      organizationId: t.arg.id({
        required: false,
        description: 'The organization: its global id or UUID. Left out, the one X-Organization-ID (or the API key) names.',
      }),
    },
    authScopes: (_root, args, ctx) => ({ orgRead: subscribedOrganization(ctx, args.organizationId) ?? NO_ROW.id }),
    // Listening starts before the subscription is answered, so the response opens only
    // once every later commit is sure to arrive.
    subscribe: (_root, args, ctx) => openEventStream(subscribedOrganization(ctx, args.organizationId)!),
    resolve: (event) => event as never,
  }),
);


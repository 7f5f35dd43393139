import type { ArgBuilder } from '@pothos/core';
import { builder } from '../../builder.ts';
import { prisma } from '../../db.ts';
import type { Identity, IdentityType, LinkedBy, PropertyType } from '../../generated/prisma/client.ts';
import { OLDEST_FIRST, totalCountField } from '../shared/connections.ts';
import type { Types } from '../shared/fields.ts';
import { readableRowsWhere, scopesForOrganization } from '../shared/tenant.ts';
import { tenantRowWhere } from '../shared/visibility.ts';
import { compiledConnection, compiledField, compiledNode, compiledObject, seenWithin, prebuiltRow, relatedList, rootPlanners, type PlanInfo, type RowsWhere } from '../shared/engine/index.ts';
import { readableWhere } from '../shared/rules.ts';
import type { Context } from '../../context.ts';
import { loadVisibleUser, visibleUserSql } from '../shared/pointed.ts';
import { UserRef } from '../user/schema.ts';
import { identitiesWhere, identityLookup } from './service.ts';

// The identity types, the identity lists and the identity query; the mutations are
// in mutations.ts.

export const IdentityTypeEnum = builder.enumType('IdentityType', {
  description: 'The kind of party an identity describes.',
  values: {
    ORG: { description: 'An organization: a customer, a vendor, a team.' },
    USER: { description: 'A person.' },
    OTHER: { description: 'Anything else: a service account, a bot, a shared mailbox.' },
  } satisfies Record<IdentityType, unknown>,
});

export const PropertyTypeEnum = builder.enumType('PropertyType', {
  description: 'The type of an identity property value; the value must be of it.',
  values: {
    STRING: { description: 'A JSON string.' },
    NUMBER: { description: 'A JSON number.' },
    BOOLEAN: { description: 'true or false.' },
    JSON: { description: 'Any JSON value but null: an object, a list, or a scalar.' },
  } satisfies Record<PropertyType, unknown>,
});

export const LinkedByEnum = builder.enumType('LinkedBy', {
  description: 'Who linked an identity to its user.',
  values: {
    AUTO: {
      description:
        "The server: the identity provider marks the account's email verified, and it is the user's. An unverified email never links.",
    },
    MANUAL: { description: 'An organization admin.' },
    SCIM: { description: 'A provisioning (SCIM) sync.' },
  } satisfies Record<LinkedBy, unknown>,
});

builder.prismaObject('IdentityProperty', {
  description: 'A typed key/value property of an identity.',
  fields: (t) => ({
    key: t.exposeString('key', { description: 'The key, unique per identity.' }),
    type: t.expose('type', { type: PropertyTypeEnum, description: 'The type of the value.' }),
    value: t.expose('value', { type: 'JSON', description: 'The value, of the type `type` says.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When the value last changed.' }),
  }),
});

// By key (unique per identity), then id: the engine compiles the same order.
const PROPERTY_ORDER = { orderBy: [{ key: 'asc' as const }, { id: 'asc' as const }] };
compiledField('Identity', 'properties', relatedList('properties', () => PROPERTY_ORDER));

export const IdentityRef = builder.prismaNode('Identity', {
  description:
    'How a person, organization or other party is known to an organization: maybe an account at an identity provider, maybe linked to a user.',
  id: { field: 'id' },
  nullable: true,
  // Null for an identity of an organization the viewer may not read, as for one that does not exist.
  findUnique: (id, ctx) => tenantRowWhere(id, ctx),
  fields: (t) => ({
    identifierKey: t.exposeString('identifierKey', { description: 'Caller-chosen key, unique in the organization.' }),
    identityType: t.expose('identityType', { type: IdentityTypeEnum, description: 'Person, organization or other.' }),
    name: t.exposeString('name', { description: 'Display name.' }),
    email: t.exposeString('email', { nullable: true, description: 'Email, lower-cased; unique in the organization.' }),
    phoneNumber: t.exposeString('phoneNumber', {
      nullable: true,
      description: 'Phone number in E.164 form (e.g. +15555550100); unique in the organization.',
    }),
    projectId: t.exposeString('projectId', { nullable: true, description: 'The project it belongs to, if any.' }),
    properties: t.relation('properties', {
      description: 'Its typed properties, by key.',
      query: PROPERTY_ORDER,
    }),
    source: t.relation('source', {
      nullable: true,
      description: 'The identity provider it is an account at; null when it is not a provider account.',
    }),
    externalId: t.exposeString('externalId', { nullable: true, description: "The account's id at the provider; unique per provider." }),
    externalUsername: t.exposeString('externalUsername', { nullable: true, description: "The account's username at the provider." }),
    externalEmail: t.exposeString('externalEmail', { nullable: true, description: "The account's email at the provider, lower-cased." }),
    externalEmailVerified: t.exposeBoolean('externalEmailVerified', {
      description: 'Whether the provider marks externalEmail verified; only then may the server link the account by itself.',
    }),
    externalDisplayName: t.exposeString('externalDisplayName', { nullable: true, description: "The account's display name at the provider." }),
    lastSyncedAt: t.expose('lastSyncedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the provider last synced the account.',
    }),
    user: t.prismaField({
      type: UserRef,
      nullable: true,
      description: 'The user it is linked to, if any; null also when you may not see them (they are no longer a member of the organization).',
      select: { userId: true },
      resolve: (query, row, _args, ctx) => (row.userId ? loadVisibleUser(ctx, row.userId, query) : null),
    }),
    linkedBy: t.expose('linkedBy', { type: LinkedByEnum, nullable: true, description: 'Who linked it; null when not linked.' }),
    linkedAt: t.expose('linkedAt', { type: 'DateTime', nullable: true, description: 'When it was linked; null when not linked.' }),
    organization: t.relation('organization', { description: 'The organization it belongs to.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was created.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When its fields last changed.' }),
  }),
});

// node(id) and `identity` by any of its lookups are compiled (shared/engine), under
// the same rule as findUnique above (tenantRowWhere) and the resolver below.
compiledNode('Identity', (_ctx, readable) => readableWhere(readable));
// An identity is seen only in an organization the viewer reads, on every path: so is its organization.
seenWithin('Identity', 'read');
// Its user is read under the rule of node(id) of a user (shared/pointed.ts), on both paths.
compiledField('Identity', 'user', visibleUserSql('userId'));
/** `identity(…)` compiled (with `holes`, leaving fields with no SQL form to the general path); undefined when not compiled. */
async function compiledIdentity(ctx: Context, info: PlanInfo, args: Parameters<typeof identityLookup>[1], holes: boolean) {
  const { organizationId, where } = identityLookup(ctx.access, args);
  if (organizationId !== null && !(await ctx.access.can(organizationId, 'read'))) return undefined;
  const visible: RowsWhere = (_c, readable) => (organizationId === null ? { ...where, ...readableWhere(readable) } : where);
  return prebuiltRow(ctx, info, 'Identity', visible, null, null, holes);
}
// A plan with holes is kept for the resolver, which compiles the same read with them.
rootPlanners.set('identity', (ctx, info, args) => compiledIdentity(ctx, info, args as Parameters<typeof identityLookup>[1], true));

const filterArgs = (arg: ArgBuilder<Types>, withUser: boolean) => ({
  identityType: arg({ type: IdentityTypeEnum, required: false, description: 'Only identities of this type.' }),
  projectId: arg.string({ required: false, description: 'Only identities of this project.' }),
  identifierKey: arg.string({ required: false, description: 'Only the identity with this identifier key.' }),
  email: arg.string({ required: false, description: 'Only the identity with this email, in any case.' }),
  phoneNumber: arg.string({ required: false, description: 'Only the identity with this phone number, in any usual notation.' }),
  ...(withUser && {
    userId: arg.id({ required: false, description: 'Only identities linked to this user: its global id (or UUID).' }),
    linked: arg.boolean({ required: false, description: 'Only identities linked to a user (true) or not linked (false).' }),
  }),
  search: arg.string({ required: false, description: 'Only identities whose name contains this text, in any case.' }),
});

const connectionOptions = { description: 'A page of identities.', fields: totalCountField };
// The same queries are given to Pothos and to the read engine (compiledConnection).
const identitiesQuery = (args: Parameters<typeof identitiesWhere>[0]) => ({ where: identitiesWhere(args), orderBy: OLDEST_FIRST });
// The read engine gives the organizations the viewer reads (`readable`); Pothos does not.
const readableIdentitiesQuery = (args: Parameters<typeof identitiesWhere>[0], ctx: Context, _parent?: string, readable?: string[] | 'all') => ({
  where: { AND: [readableRowsWhere(ctx.access, readable), identitiesWhere(args)] },
  orderBy: OLDEST_FIRST,
});
compiledConnection('Organization', 'identities', identitiesQuery);
compiledConnection('IntegrationSource', 'identities', identitiesQuery);
compiledConnection('User', 'identities', readableIdentitiesQuery);
const edgeOptions = { description: 'An identity in a page.' };

builder.prismaObjectField('Organization', 'identities', (t) =>
  t.relatedConnection(
    'identities',
    {
      description:
        "The organization's identities, oldest first, filtered by type, project, key, email, phone number, linked user and a name search. Null, with FORBIDDEN, when you may not read the organization.",
      cursor: 'id',
      nullable: true,
      totalCount: true,
      authScopes: (organization) => ({ orgRead: organization.id }),
      args: filterArgs(t.arg, true),
      query: identitiesQuery,
    },
    connectionOptions,
    edgeOptions,
  ),
);

builder.prismaObjectField('User', 'identities', (t) =>
  t.relatedConnection(
    'identities',
    {
      description:
        'The identities linked to the user in the organizations you may read (only the one X-Organization-ID names, when it is sent), oldest first.',
      cursor: 'id',
      totalCount: true,
      args: {
        organizationId: t.arg.id({ required: false, description: 'Only identities of this organization: its global id (or UUID).' }),
        ...filterArgs(t.arg, false),
      },
      query: readableIdentitiesQuery,
    },
    connectionOptions,
    edgeOptions,
  ),
);

builder.prismaObjectField('IntegrationSource', 'identities', (t) =>
  t.relatedConnection(
    'identities',
    {
      description:
        'The accounts at this identity provider, oldest first. Null, with FORBIDDEN, when you may not read its organization.',
      cursor: 'id',
      nullable: true,
      totalCount: true,
      authScopes: (source) => ({ orgRead: source.organizationId }),
      args: filterArgs(t.arg, true),
      query: identitiesQuery,
    },
    connectionOptions,
    edgeOptions,
  ),
);

builder.queryField('identity', (t) =>
  t.prismaField({
    type: IdentityRef,
    nullable: true,
    description:
      'An identity by id, or in an organization by identifier key, email, phone number, or provider account (source and externalId): give exactly one. Null when there is none you may read.',
    authScopes: (_root, args, ctx) =>
      args.id != null ? { authenticated: true } : scopesForOrganization('orgRead', args.organizationId, ctx.access),
    args: {
      organizationId: t.arg.id({
        required: false,
        description: 'The organization of a lookup by key, email, phone or account; left out, the one X-Organization-ID names.',
      }),
      id: t.arg.id({ required: false, description: 'Its global id (or UUID).' }),
      identifierKey: t.arg.string({ required: false, description: 'Its identifier key.' }),
      email: t.arg.string({ required: false, description: 'Its email, in any case.' }),
      phoneNumber: t.arg.string({ required: false, description: 'Its phone number, in any usual notation.' }),
      externalId: t.arg.string({ required: false, description: 'Its account id at the identity provider sourceId or sourceKey names.' }),
      sourceId: t.arg.id({ required: false, description: 'With externalId: the identity provider, by global id (or UUID).' }),
      sourceKey: t.arg.string({ required: false, description: 'With externalId: the identity provider, by key.' }),
    },
    resolve: async (query, _root, args, ctx, info) => {
      const answer = await compiledIdentity(ctx, info, args, true);
      if (answer !== undefined) return compiledObject<Identity>(answer, 'Identity', query);
      const { organizationId, where } = identityLookup(ctx.access, args);
      if (organizationId === null) {
        const visible = await tenantRowWhere(where.id as string, ctx);
        return prisma.identity.findFirst({ ...query, where: visible });
      }
      return prisma.identity.findFirst({ ...query, where });
    },
  }),
);

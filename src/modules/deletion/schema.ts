import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../../builder.ts';
import { prisma } from '../../db.ts';
import { RestoreBlockedError } from '../../errors.ts';
import { ApiKeyRef } from '../auth/schema.ts';
import { IdentifierRef } from '../identifier/schema.ts';
import { IdentityRef } from '../identity/schema.ts';
import { MemberRef } from '../member/schema.ts';
import { OrganizationRef } from '../organization/schema.ts';
import { SourceRef } from '../source/schema.ts';
import { totalCountField } from '../shared/connections.ts';
import { columnValue, compiledConnection, compiledField, model } from '../shared/engine/index.ts';
import { globalId, iso, typedGlobalId } from '../shared/engine/text.ts';
import { ErrorInterface, mutationResult } from '../shared/errors.ts';
import { deletedItemsWhere } from './filters.ts';
import { purgeDeleted, restoreDeleted } from './service.ts';
import { DELETED_KINDS, type DeletedKind } from './store.ts';

// Deleted objects: the list an organization's admins restore from, the restore… mutations
// and the purge of one object at once.

export const DeletedKindEnum = builder.enumType('DeletedKind', {
  description: 'The kind of a deleted object.',
  values: {
    Identifier: { description: 'An identifier.' },
    Identity: { description: 'An identity (an account at a provider), with its properties.' },
    IntegrationSource: { description: 'An integration source, with the identifiers and identities deleted with it.' },
    Member: { description: 'A membership of a user in the organization.' },
    ApiKey: { description: 'An API key; restored, its secret authenticates again.' },
  } satisfies Record<DeletedKind, unknown>,
});

builder.objectType(RestoreBlockedError, {
  name: 'RestoreBlockedError',
  description:
    'The object cannot be restored (code CONFLICT): a live object now holds one of its unique values (`holderId`), or an object it belongs to is gone (`missing`). Nothing was written.',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof RestoreBlockedError,
  fields: (t) => ({
    fields: t.exposeStringList('fields', { description: 'The fields whose values clash, or that name the missing object.' }),
    holderId: t.exposeID('holderId', { nullable: true, description: 'Global id of the live object that holds the value now; null when an object is missing.' }),
    missing: t.exposeString('missing', { nullable: true, description: 'The kind of object the deleted one belongs to that is gone, e.g. `User`; null when a value is taken.' }),
  }),
});

const DeletedItemRef = builder.prismaObject('DeletedItem', {
  description: 'A deleted object that an organization admin can still restore, until the organization\'s retention runs out.',
  fields: (t) => ({
    entityType: t.field({ type: DeletedKindEnum, description: 'What kind of object it is.', resolve: (d) => d.entityType as DeletedKind }),
    entityId: t.id({
      description: 'The global id it had, and has again once restored; what restore… and purgeDeletedItem take.',
      resolve: (d) => encodeGlobalID(d.entityType, d.entityId),
    }),
    label: t.exposeString('label', { description: 'What it was, to tell items apart: a key and value, a name or an email.' }),
    reason: t.exposeString('reason', { nullable: true, description: 'Why it was deleted, as the delete said; null when it did not say.' }),
    deletedAt: t.expose('deletedAt', { type: 'DateTime', description: 'When it was deleted.' }),
    deletedById: t.id({
      nullable: true,
      description: 'Global id of the User or ApiKey that deleted it; null when the server did.',
      resolve: (d) =>
        d.deletedByUserId ? encodeGlobalID('User', d.deletedByUserId) : d.deletedByApiKeyId ? encodeGlobalID('ApiKey', d.deletedByApiKeyId) : null,
    }),
    purgeAfter: t.field({
      type: 'DateTime',
      description: "When it is purged for good: its deletion plus the organization's deletedRetentionDays.",
      select: { organization: { select: { deletedRetentionDays: true } } },
      resolve: (d) => new Date(d.deletedAt.getTime() + d.organization.deletedRetentionDays * 86_400_000),
    }),
  }),
});

// The item's fields computed from its columns, compiled from the same columns: its
// global ids, and the purge moment (exact days of 86,400 s, as the resolver adds them).
const item = (alias: string, field: string) => `${alias}.${model('DeletedItem').fields.get(field)!.column}`;
compiledField('DeletedItem', 'entityType', (_b, alias) => columnValue(model('DeletedItem'), alias, 'entityType'));
compiledField('DeletedItem', 'entityId', (_b, alias) => typedGlobalId(item(alias, 'entityType'), item(alias, 'entityId')));
compiledField('DeletedItem', 'deletedById', (_b, alias) => {
  const [user, key] = [item(alias, 'deletedByUserId'), item(alias, 'deletedByApiKeyId')];
  return `CASE WHEN ${user} IS NOT NULL THEN ${globalId('User', user)} WHEN ${key} IS NOT NULL THEN ${globalId('ApiKey', key)} END`;
});
compiledField('DeletedItem', 'purgeAfter', (b, alias) => {
  const o = model('Organization');
  const org = b.alias('o');
  const days = `(SELECT ${org}.${o.fields.get('deletedRetentionDays')!.column} FROM ${b.from(o)} ${org} WHERE ${org}.${o.fields.get('id')!.column} = ${item(alias, 'organizationId')})`;
  return iso(`(${item(alias, 'deletedAt')} + ${days} * interval '86400 seconds')`);
});

const DeletedItemFilter = builder.inputType('DeletedItemFilter', {
  description: 'Which deleted objects to list; every field given must match.',
  fields: (t) => ({
    entityType: t.field({ type: DeletedKindEnum, required: false, description: 'Only objects of this kind.' }),
    deletedAfter: t.field({ type: 'DateTime', required: false, description: 'Only objects deleted at or after this moment.' }),
    deletedBefore: t.field({ type: 'DateTime', required: false, description: 'Only objects deleted before this moment.' }),
    search: t.string({ required: false, description: 'Only objects whose label or reason contains this text, ignoring case.' }),
  }),
});

// The same query is given to Pothos and to the read engine, which links the items to the
// organization by the id in its where (`over`) and compiles the connection only for a
// viewer who administers the organization (its auth scopes).
type ItemsArgs = { filter?: Parameters<typeof deletedItemsWhere>[1] };
const NEWEST_FIRST = [{ deletedAt: 'desc' as const }, { id: 'desc' as const }];
const itemsQuery = (args: ItemsArgs, _ctx: unknown, organizationId: string) => ({ where: deletedItemsWhere(organizationId, args.filter), orderBy: NEWEST_FIRST });
compiledConnection('Organization', 'deletedItems', itemsQuery, { over: 'DeletedItem' });

builder.prismaObjectField(OrganizationRef, 'deletedItems', (t) =>
  t.prismaConnection(
    {
      type: DeletedItemRef,
      cursor: 'id',
      nullable: true,
      description: "Deleted objects that can still be restored, newest first. Null, with FORBIDDEN, unless you administer the organization.",
      authScopes: (organization) => ({ orgAdmin: organization.id }),
      args: { filter: t.arg({ type: DeletedItemFilter, required: false, description: 'Which deleted objects.' }) },
      totalCount: (organization, args, ctx) => prisma.deletedItem.count({ where: itemsQuery(args, ctx, organization.id).where }),
      resolve: (query, organization, args, ctx) => prisma.deletedItem.findMany({ ...query, ...itemsQuery(args, ctx, organization.id) }),
    },
    { description: 'A page of deleted objects.', fields: totalCountField },
    { description: 'A deleted object in a page.' },
  ),
);

const RestoreInput = builder.inputType('RestoreInput', {
  description: 'The deleted object to restore.',
  fields: (t) => ({ id: t.id({ description: 'The id it had: its global id (or UUID), as deletedItems lists it.' }) }),
});

const PurgeDeletedItemInput = builder.inputType('PurgeDeletedItemInput', {
  description: 'The deleted object to purge.',
  fields: (t) => ({ id: t.id({ description: 'The id it had: its global id (or UUID), as deletedItems lists it.' }) }),
});

const RESTORED = {
  Identifier: { ref: IdentifierRef, field: 'identifier' },
  Identity: { ref: IdentityRef, field: 'identity' },
  IntegrationSource: { ref: SourceRef, field: 'source' },
  Member: { ref: MemberRef, field: 'member' },
  ApiKey: { ref: ApiKeyRef, field: 'apiKey' },
} as const;

builder.mutationFields((t) => {
  const fields: Record<string, unknown> = {};
  for (const kind of DELETED_KINDS) {
    const { ref, field } = RESTORED[kind];
    fields[`restore${kind}`] = t.field({
      type: ref as typeof IdentifierRef,
      description: `Restores a deleted ${kind} with the same id, values and links (ORGANIZATION_ADMIN of its organization), as long as deletedItems lists it.`,
      authScopes: { authenticated: true },
      args: { input: t.arg({ type: RestoreInput, description: `The deleted ${kind}.` }) },
      errors: mutationResult(`Restore${kind}`, field, `restoring a ${kind}`, [RestoreBlockedError]),
      resolve: (_root, { input }, ctx) => restoreDeleted(ctx.access, kind, input.id) as never,
    });
  }
  return {
    ...(fields as Record<`restore${DeletedKind}`, ReturnType<typeof t.field>>),
    purgeDeletedItem: t.field({
      type: 'ID',
      description:
        'Purges a deleted object at once, for good (ORGANIZATION_ADMIN of its organization): for erasure requests that cannot wait for the retention.',
      authScopes: { authenticated: true },
      args: { input: t.arg({ type: PurgeDeletedItemInput, description: 'The deleted object.' }) },
      errors: mutationResult('PurgeDeletedItem', { name: 'purgedId', description: 'The global id the purged object had.' }, 'purging a deleted object'),
      resolve: (_root, { input }, ctx) => purgeDeleted(ctx.access, input.id),
    }),
  };
});

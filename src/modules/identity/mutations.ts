import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../../builder.ts';
import { prisma } from '../../db.ts';
import type { Identity } from '../../generated/prisma/client.ts';
import { mutationResult } from '../shared/errors.ts';
import { organizationIdField, type InputFieldBuilder } from '../shared/fields.ts';
import { scopesForOrganization } from '../shared/tenant.ts';
import { bulkUpsertResult, UpsertOutcomeEnum, withOutcome, withRelations, type Upserted } from '../shared/upserts.ts';
import {
  createIdentity,
  createUserIdentity,
  deleteIdentity,
  deleteIdentityProperties,
  linkIdentity,
  MAX_BULK_IDENTITIES,
  MAX_PROPERTIES,
  unlinkIdentity,
  updateIdentity,
  upsertIdentities,
  upsertIdentity,
  upsertIdentityProperties,
  type IdentityUpsert,
} from './service.ts';
import { IdentityRef, IdentityTypeEnum, LinkedByEnum, PropertyTypeEnum } from './schema.ts';

// The identity mutations and their inputs.

const PropertyInput = builder.inputType('IdentityPropertyInput', {
  description: 'A property to set: its key, its type and a value of that type.',
  fields: (t) => ({
    key: t.string({ description: 'The key, up to 255 characters; unique per identity.' }),
    type: t.field({ type: PropertyTypeEnum, description: 'The type of the value.' }),
    value: t.field({ type: 'JSON', description: 'The value, of the type `type` says, at most 16 KB as JSON.' }),
  }),
});

const identityFields = (t: InputFieldBuilder, optional: boolean) => ({
  identifierKey: t.string({
    required: !optional,
    description: `Caller-chosen key, up to 255 characters, unique in the organization.${optional ? ' Cannot be cleared.' : ''}`,
  }),
  identityType: t.field({
    type: IdentityTypeEnum,
    required: !optional,
    description: `Person, organization or other.${optional ? ' Cannot be cleared.' : ''}`,
  }),
  name: t.string({ required: !optional, description: `Display name, up to 200 characters.${optional ? ' Cannot be cleared.' : ''}` }),
  email: t.string({ required: false, description: 'Email, stored lower-cased; unique in the organization.' }),
  phoneNumber: t.string({
    required: false,
    description:
      "Phone number, stored in E.164: with its country code in any notation, or in a national format of the organization's defaultPhoneRegion. Unique in the organization.",
  }),
  projectId: t.string({ required: false, description: 'The project it belongs to, up to 255 characters.' }),
  sourceId: t.id({
    required: false,
    description: 'For a provider account: the IDENTITY_PROVIDER source, by global id (or UUID). Give this or sourceKey, with externalId.',
  }),
  sourceKey: t.string({ required: false, description: 'For a provider account: the IDENTITY_PROVIDER source, by key.' }),
  externalId: t.string({ required: false, description: "The account's id at the provider, up to 255 characters; unique per provider." }),
  externalUsername: t.string({ required: false, description: "The account's username at the provider." }),
  externalEmail: t.string({ required: false, description: "The account's email at the provider." }),
  externalEmailVerified: t.boolean({
    required: false,
    description: 'Whether the provider marks externalEmail verified (default false). Only a verified email equal to a member\'s links the account to them (AUTO).',
  }),
  externalDisplayName: t.string({ required: false, description: "The account's display name at the provider, up to 200 characters." }),
  lastSyncedAt: t.field({ type: 'DateTime', required: false, description: 'When the provider last synced the account.' }),
});

const CreateIdentityInput = builder.inputType('CreateIdentityInput', {
  description: 'A new identity.',
  fields: (t) => ({
    organizationId: organizationIdField(t),
    ...identityFields(t, false),
    properties: t.field({
      type: [PropertyInput],
      required: false,
      description: `Its properties, at most ${MAX_PROPERTIES}, keys unique.`,
    }),
  }),
});

const UpsertIdentityInput = builder.inputType('UpsertIdentityInput', {
  description:
    'An identity to create, or to replace when one with this identifier key exists: every field is set as given, so a field left out is cleared and the same call always leaves the same identity (use updateIdentity to change some fields only). Properties given are merged by key; the others stay.',
  fields: (t) => ({
    organizationId: organizationIdField(t),
    ...identityFields(t, false),
    properties: t.field({
      type: [PropertyInput],
      required: false,
      description: `Properties to set, at most ${MAX_PROPERTIES}: merged by key.`,
    }),
  }),
});

const IdentityItemInput = builder.inputType('IdentityItemInput', {
  description: 'One identity of an upsertIdentities call; the same fields as UpsertIdentityInput.',
  fields: (t) => ({
    ...identityFields(t, false),
    properties: t.field({ type: [PropertyInput], required: false, description: 'Properties to set, merged by key.' }),
  }),
});

const UpsertIdentitiesInput = builder.inputType('UpsertIdentitiesInput', {
  description: `Up to ${MAX_BULK_IDENTITIES} identities to create or replace, all or none.`,
  fields: (t) => ({
    organizationId: organizationIdField(t),
    items: t.field({
      type: [IdentityItemInput],
      description: `The identities, 1 to ${MAX_BULK_IDENTITIES}; no two with the same identifier key, email, phone number or account.`,
    }),
  }),
});

const UpdateIdentityInput = builder.inputType('UpdateIdentityInput', {
  description:
    'Changes to an identity. Fields left out stay as they are; null clears an optional field (clearing the source clears the provider account).',
  fields: (t) => ({
    id: t.id({ description: 'The identity: its global id (or UUID).' }),
    ...identityFields(t, true),
  }),
});

const DeleteIdentityInput = builder.inputType('DeleteIdentityInput', {
  description: 'The identity to delete, with its properties.',
  fields: (t) => ({
    id: t.id({ description: 'The identity: its global id (or UUID).' }),
    reason: t.string({ required: false, description: 'Why it is deleted, up to 1000 characters; shown in deletedItems.' }),
  }),
});

const UpsertPropertiesInput = builder.inputType('UpsertIdentityPropertiesInput', {
  description: 'Properties to set on an identity, merged by key: new keys are added, existing ones replaced, others stay.',
  fields: (t) => ({
    identityId: t.id({ description: 'The identity: its global id (or UUID).' }),
    properties: t.field({ type: [PropertyInput], description: `The properties, 1 to ${MAX_PROPERTIES}, keys unique.` }),
  }),
});

const DeletePropertiesInput = builder.inputType('DeleteIdentityPropertiesInput', {
  description: 'Properties to remove from an identity, by key.',
  fields: (t) => ({
    identityId: t.id({ description: 'The identity: its global id (or UUID).' }),
    keys: t.stringList({ description: 'The keys to remove; keys the identity does not have are ignored.' }),
  }),
});

const LinkIdentityInput = builder.inputType('LinkIdentityInput', {
  description: 'An identity to link to a member of its organization.',
  fields: (t) => ({
    identityId: t.id({ description: 'The identity: its global id (or UUID).' }),
    userId: t.id({ description: 'The user, a member of the organization: global id (or UUID).' }),
    linkedBy: t.field({
      type: LinkedByEnum,
      required: false,
      description: 'MANUAL (default) for an admin decision, SCIM for a provisioning sync. AUTO is the server\'s alone.',
    }),
  }),
});

const UnlinkIdentityInput = builder.inputType('UnlinkIdentityInput', {
  description: 'An identity to unlink from its user.',
  fields: (t) => ({ identityId: t.id({ description: 'The identity: its global id (or UUID).' }) }),
});

const CreateUserIdentityInput = builder.inputType('CreateUserIdentityInput', {
  description:
    "A member's account at an identity provider, created as a USER identity linked to them. The link is AUTO when the provider verified the account's email and it is the user's; otherwise it is MANUAL or SCIM, which needs an ORGANIZATION_ADMIN.",
  fields: (t) => ({
    organizationId: organizationIdField(t),
    userId: t.id({ description: 'The user, a member of the organization: global id (or UUID).' }),
    sourceId: t.id({ required: false, description: 'The IDENTITY_PROVIDER source, by global id (or UUID). Give this or sourceKey.' }),
    sourceKey: t.string({ required: false, description: 'The IDENTITY_PROVIDER source, by key.' }),
    externalId: t.string({ description: "The account's id at the provider, up to 255 characters; unique per provider." }),
    externalUsername: t.string({ required: false, description: "The account's username at the provider." }),
    externalEmail: t.string({ required: false, description: "The account's email at the provider." }),
    externalEmailVerified: t.boolean({ required: false, description: 'Whether the provider marks externalEmail verified (default false).' }),
    externalDisplayName: t.string({ required: false, description: "The account's display name at the provider." }),
    lastSyncedAt: t.field({ type: 'DateTime', required: false, description: 'When the provider last synced the account.' }),
    identifierKey: t.string({
      required: false,
      description: 'Identifier key of the identity; `<source key>:<externalId>` when left out.',
    }),
    name: t.string({
      required: false,
      description: "Name of the identity; the account's display name, username, email or id when left out.",
    }),
    linkedBy: t.field({
      type: LinkedByEnum,
      required: false,
      description: 'When the link is not AUTO: MANUAL (default) or SCIM.',
    }),
  }),
});

const IdentityUpsertRef = builder.objectRef<IdentityUpsert>('IdentityUpsert').implement({
  description: 'What an upsert did to one identity.',
  fields: (t) => ({
    identity: t.field({ type: IdentityRef, nullable: false, description: 'The identity as it is now.', resolve: (r) => r.identity }),
    created: t.exposeBoolean('created', { description: 'Whether the identity was created by this call.' }),
    outcome: t.expose('outcome', { type: UpsertOutcomeEnum, description: 'Created, updated or found unchanged.' }),
  }),
});

const write = (input: { organizationId?: string | null }, ctx: { access: Parameters<typeof scopesForOrganization>[2] }) =>
  scopesForOrganization('orgWrite', input.organizationId, ctx.access);

builder.mutationFields((t) => ({
  createIdentity: t.field({
    type: IdentityRef,
    description: 'Creates an identity (write access: ANALYST and up). A provider account with a verified email equal to a member\'s is linked to them (AUTO).',
    authScopes: (_root, { input }, ctx) => write(input, ctx),
    args: { input: t.arg({ type: CreateIdentityInput, description: 'The identity.' }) },
    errors: mutationResult('CreateIdentity', 'identity', 'creating an identity'),
    resolve: (_root, { input }, ctx) => createIdentity(ctx.access, input),
  }),
  upsertIdentity: t.field({
    type: IdentityRef,
    description:
      'Creates an identity, or replaces the one with this identifier key (write access: ANALYST and up). The same call twice changes nothing.',
    authScopes: (_root, { input }, ctx) => write(input, ctx),
    args: { input: t.arg({ type: UpsertIdentityInput, description: 'The identity.' }) },
    errors: withOutcome(mutationResult('UpsertIdentity', 'identity', 'upserting an identity')),
    resolve: async (_root, { input }, ctx) => {
      const { identity, created, outcome } = await upsertIdentity(ctx.access, input);
      return { ...identity, created, outcome } satisfies Upserted<Identity>;
    },
  }),
  upsertIdentities: t.field({
    type: [IdentityUpsertRef],
    description: `Creates or replaces up to ${MAX_BULK_IDENTITIES} identities in one transaction, all or none: when any item is invalid, nothing is written (write access: ANALYST and up).`,
    authScopes: (_root, { input }, ctx) => write(input, ctx),
    args: { input: t.arg({ type: UpsertIdentitiesInput, description: 'The identities.' }) },
    errors: bulkUpsertResult('UpsertIdentities', 'identities'),
    resolve: async (_root, { input }, ctx, info) => {
      const results = await upsertIdentities(ctx.access, input);
      const rows = await withRelations(results.map((r) => r.identity), ctx, info, 'Identity', ['identity'], (query, ids) =>
        prisma.identity.findMany({ ...query, where: { id: { in: ids } } }),
      );
      return results.map((r, i) => ({ ...r, identity: rows[i]! }));
    },
  }),
  updateIdentity: t.field({
    type: IdentityRef,
    description: 'Changes some fields of an identity (write access to its organization).',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: UpdateIdentityInput, description: 'The changes.' }) },
    errors: mutationResult('UpdateIdentity', 'identity', 'updating an identity'),
    resolve: (_root, { input }, ctx) => updateIdentity(ctx.access, input),
  }),
  deleteIdentity: t.field({
    type: 'ID',
    description: 'Deletes an identity and its properties (write access to its organization). An organization admin can restore them (restoreIdentity) until the organization\'s retention runs out.',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: DeleteIdentityInput, description: 'The identity to delete.' }) },
    errors: mutationResult(
      'DeleteIdentity',
      { name: 'deletedId', description: 'The global id the deleted identity had.' },
      'deleting an identity',
    ),
    resolve: async (_root, { input }, ctx) => encodeGlobalID('Identity', await deleteIdentity(ctx.access, input)),
  }),
  upsertIdentityProperties: t.field({
    type: IdentityRef,
    description: 'Sets properties of an identity, merged by key (write access to its organization).',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: UpsertPropertiesInput, description: 'The identity and the properties.' }) },
    errors: mutationResult('UpsertIdentityProperties', 'identity', 'upserting identity properties'),
    resolve: (_root, { input }, ctx) => upsertIdentityProperties(ctx.access, input),
  }),
  deleteIdentityProperties: t.field({
    type: IdentityRef,
    description: 'Removes properties of an identity by key (write access to its organization).',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: DeletePropertiesInput, description: 'The identity and the keys.' }) },
    errors: {
      ...mutationResult('DeleteIdentityProperties', 'identity', 'deleting identity properties'),
      result: {
        name: 'DeleteIdentityPropertiesSuccess',
        description: 'Deleting identity properties succeeded.',
        fields: (r) => ({
          deletedKeys: r.stringList({
            description: 'The keys that were removed, sorted; keys the identity did not have are not listed.',
            resolve: (identity) => (identity as Identity & { deletedKeys: string[] }).deletedKeys,
          }),
        }),
      },
    },
    resolve: async (_root, { input }, ctx) => {
      const { identity, deletedKeys } = await deleteIdentityProperties(ctx.access, input);
      return { ...identity, deletedKeys };
    },
  }),
  linkIdentity: t.field({
    type: IdentityRef,
    description: 'Links an identity to a member of its organization, MANUAL or SCIM (ORGANIZATION_ADMIN of it).',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: LinkIdentityInput, description: 'The identity and the user.' }) },
    errors: mutationResult('LinkIdentity', 'identity', 'linking an identity'),
    resolve: (_root, { input }, ctx) => linkIdentity(ctx.access, input),
  }),
  unlinkIdentity: t.field({
    type: IdentityRef,
    description: 'Removes the link of an identity to its user (ORGANIZATION_ADMIN of its organization).',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: UnlinkIdentityInput, description: 'The identity.' }) },
    errors: mutationResult('UnlinkIdentity', 'identity', 'unlinking an identity'),
    resolve: (_root, { input }, ctx) => unlinkIdentity(ctx.access, input),
  }),
  createUserIdentity: t.field({
    type: IdentityRef,
    description:
      "Creates a member's account at an identity provider, linked to them: AUTO when the provider verified that its email is the user's (write access), else MANUAL or SCIM (ORGANIZATION_ADMIN).",
    authScopes: (_root, { input }, ctx) => write(input, ctx),
    args: { input: t.arg({ type: CreateUserIdentityInput, description: 'The account.' }) },
    errors: mutationResult('CreateUserIdentity', 'identity', 'creating a user identity'),
    resolve: (_root, { input }, ctx) => createUserIdentity(ctx.access, input),
  }),
}));

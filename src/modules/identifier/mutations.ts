import { encodeGlobalID } from '@pothos/plugin-relay';
import { prisma } from '../../db.ts';
import { builder } from '../../builder.ts';
import type { Identifier } from '../../generated/prisma/client.ts';
import { mutationResult } from '../shared/errors.ts';
import { organizationIdField, type InputFieldBuilder } from '../shared/fields.ts';
import { scopesForOrganization } from '../shared/tenant.ts';
import { selectsPath } from '../shared/selection.ts';
import { bulkUpsertResult, UpsertOutcomeEnum, withOutcome, withRelations, type Upserted } from '../shared/upserts.ts';
import { MAX_BULK_ITEMS } from './prepare.ts';
import { deleteIdentifier, updateIdentifier, upsertIdentifier, upsertIdentifiers } from './service.ts';
import type { IdentifierKeys, IdentifierUpsert } from './write.ts';
import { DiscoveryMethodEnum, IdentifierRef, ValueKindEnum } from './schema.ts';

// The identifier mutations and their inputs.

const identifierFields = {
  userId: { description: 'The user: global id (or UUID) of a member of the organization. Give this or userEmail.' },
  userEmail: { description: 'The user: email of a member of the organization. Give this or userId.' },
  sourceId: { description: 'The integration source: its global id (or UUID). Give this or sourceKey.' },
  sourceKey: { description: 'The integration source: its key in the organization, e.g. `salesforce`. Give this or sourceId.' },
  identifierKey: {
    description: 'Field name in the source, e.g. `owner_id`, up to 255 characters. With user and source, the natural key.',
  },
  identifierValue: { description: 'The value the source knows the user by, up to 1024 characters; kept as written.' },
  valueKind: { description: 'What the value is; left out or null, inferred from the key and value (README, Matching).' },
  discoveryMethod: { description: 'How it was found out.' },
  confidenceScore: { description: 'How sure the discovery is, from 0 to 1; null or left out when not scored.' },
  discoveryMetadata: { description: 'Context of the discovery: a JSON object of at most 16 KB; null or left out for none.' },
};

const itemFields = (t: InputFieldBuilder) => ({
  userId: t.id({ required: false, ...identifierFields.userId }),
  userEmail: t.string({ required: false, ...identifierFields.userEmail }),
  sourceId: t.id({ required: false, ...identifierFields.sourceId }),
  sourceKey: t.string({ required: false, ...identifierFields.sourceKey }),
  identifierKey: t.string(identifierFields.identifierKey),
  identifierValue: t.string(identifierFields.identifierValue),
  valueKind: t.field({ type: ValueKindEnum, required: false, ...identifierFields.valueKind }),
  discoveryMethod: t.field({ type: DiscoveryMethodEnum, ...identifierFields.discoveryMethod }),
  confidenceScore: t.float({ required: false, ...identifierFields.confidenceScore }),
  discoveryMetadata: t.field({ type: 'JSONObject', required: false, ...identifierFields.discoveryMetadata }),
});


const UpsertIdentifierInput = builder.inputType('UpsertIdentifierInput', {
  description:
    'An identifier to create, or to update when the user already has one with this key in this source. Every value is set as given: a score or metadata left out is cleared.',
  fields: (t) => ({ organizationId: organizationIdField(t), ...itemFields(t) }),
});

const IdentifierItemInput = builder.inputType('IdentifierItemInput', {
  description: 'One identifier of an upsertIdentifiers call; the same fields as UpsertIdentifierInput.',
  fields: (t) => itemFields(t),
});

const UpsertIdentifiersInput = builder.inputType('UpsertIdentifiersInput', {
  description: `Up to ${MAX_BULK_ITEMS} identifiers to create or update, all or none.`,
  fields: (t) => ({
    organizationId: organizationIdField(t),
    items: t.field({
      type: [IdentifierItemInput],
      description: `The identifiers, 1 to ${MAX_BULK_ITEMS}; no two with the same user, source and key.`,
    }),
  }),
});

const UpdateIdentifierInput = builder.inputType('UpdateIdentifierInput', {
  description: 'Changes to an identifier. Fields left out stay as they are; null clears the score or the metadata.',
  fields: (t) => ({
    id: t.id({ description: 'The identifier: its global id (or UUID).' }),
    identifierKey: t.string({ required: false, description: 'New key, up to 255 characters. Cannot be cleared.' }),
    identifierValue: t.string({ required: false, description: 'New value, up to 1024 characters. Cannot be cleared.' }),
    valueKind: t.field({
      type: ValueKindEnum,
      required: false,
      description: 'New value kind. Left out, it is inferred again when the key or value changes. Cannot be cleared.',
    }),
    discoveryMethod: t.field({ type: DiscoveryMethodEnum, required: false, description: 'New discovery method. Cannot be cleared.' }),
    confidenceScore: t.float({ required: false, description: 'New score from 0 to 1; null clears it.' }),
    discoveryMetadata: t.field({ type: 'JSONObject', required: false, description: 'New metadata (at most 16 KB); null clears it.' }),
  }),
});

const DeleteIdentifierInput = builder.inputType('DeleteIdentifierInput', {
  description: 'The identifier to delete.',
  fields: (t) => ({
    id: t.id({ description: 'The identifier: its global id (or UUID).' }),
    reason: t.string({ required: false, description: 'Why it is deleted, up to 1000 characters; shown in deletedItems.' }),
  }),
});

const IdentifierUpsertRef = builder.objectRef<IdentifierUpsert<IdentifierKeys>>('IdentifierUpsert').implement({
  description: 'What an upsert did to one identifier.',
  fields: (t) => ({
    identifier: t.field({
      type: IdentifierRef,
      nullable: false,
      description: 'The identifier as it is now.',
      // A write whose response shows no identifier answers with keys alone; should one
      // be asked for anyway, its row is loaded (all such rows in one query).
      resolve: (r, _args, ctx) =>
        'identifierValue' in r.identifier
          ? (r.identifier as Identifier)
          : ctx.loader<string, Identifier>('identifier:written', async (ids) => {
              const rows = new Map((await prisma.identifier.findMany({ where: { id: { in: [...ids] } } })).map((i) => [i.id, i]));
              return ids.map((id) => rows.get(id) ?? new Error(`identifier ${id} is gone`));
            }).load(r.identifier.id),
    }),
    created: t.exposeBoolean('created', { description: 'Whether the identifier was created by this call.' }),
    outcome: t.expose('outcome', { type: UpsertOutcomeEnum, description: 'Created, updated or found unchanged.' }),
  }),
});

builder.mutationFields((t) => ({
  upsertIdentifier: t.field({
    type: IdentifierRef,
    description:
      'Creates an identifier, or updates the one the user already has with this key in this source (write access: ANALYST and up). The same call twice changes nothing.',
    authScopes: (_root, { input }, ctx) => scopesForOrganization('orgWrite', input.organizationId, ctx.access),
    args: { input: t.arg({ type: UpsertIdentifierInput, description: 'The identifier.' }) },
    errors: withOutcome(mutationResult('UpsertIdentifier', 'identifier', 'upserting an identifier')),
    resolve: async (_root, { input }, ctx) => {
      const { identifier, created, outcome } = await upsertIdentifier(ctx.access, input);
      return { ...identifier, created, outcome } satisfies Upserted<Identifier>;
    },
  }),
  upsertIdentifiers: t.field({
    type: [IdentifierUpsertRef],
    description: `Creates or updates up to ${MAX_BULK_ITEMS} identifiers in one statement, all or none: when any item is invalid, nothing is written (write access: ANALYST and up).`,
    authScopes: (_root, { input }, ctx) => scopesForOrganization('orgWrite', input.organizationId, ctx.access),
    args: { input: t.arg({ type: UpsertIdentifiersInput, description: 'The identifiers.' }) },
    errors: bulkUpsertResult('UpsertIdentifiers', 'identifiers'),
    resolve: async (_root, { input }, ctx, info) => {
      // Only counts or outcomes shown: the write answers with ids and keys alone.
      if (!selectsPath(info, ['results', 'identifier'])) {
        return upsertIdentifiers(ctx.access, input, 'keys');
      }
      const results = await upsertIdentifiers(ctx.access, input);
      const rows = await withRelations(results.map((r) => r.identifier), ctx, info, 'Identifier', ['identifier'], (query, ids) =>
        prisma.identifier.findMany({ ...query, where: { id: { in: ids } } }),
      );
      return results.map((r, i) => ({ ...r, identifier: rows[i]! }));
    },
  }),
  updateIdentifier: t.field({
    type: IdentifierRef,
    description: 'Changes some fields of an identifier (write access to its organization).',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: UpdateIdentifierInput, description: 'The changes.' }) },
    errors: mutationResult('UpdateIdentifier', 'identifier', 'updating an identifier'),
    resolve: (_root, { input }, ctx) => updateIdentifier(ctx.access, input),
  }),
  deleteIdentifier: t.field({
    type: 'ID',
    description: 'Deletes an identifier (write access to its organization). An organization admin can restore it (restoreIdentifier) until the organization\'s retention runs out.',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: DeleteIdentifierInput, description: 'The identifier to delete.' }) },
    errors: mutationResult(
      'DeleteIdentifier',
      { name: 'deletedId', description: 'The global id the deleted identifier had.' },
      'deleting an identifier',
    ),
    resolve: async (_root, { input }, ctx) => encodeGlobalID('Identifier', await deleteIdentifier(ctx.access, input)),
  }),
}));

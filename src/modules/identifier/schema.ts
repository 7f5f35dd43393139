import type { ArgBuilder } from '@pothos/core';
import { queryFromInfo } from '@pothos/plugin-prisma';
import { encodeGlobalID } from '@pothos/plugin-relay';
import type { GraphQLResolveInfo } from 'graphql';
import { prisma } from '../../db.ts';
import { builder } from '../../builder.ts';
import type { DiscoveryMethod, Identifier, ValueKind } from '../../generated/prisma/client.ts';
import { OLDEST_FIRST, totalCountField } from '../shared/connections.ts';
import { mutationResult } from '../shared/errors.ts';
import { readableRowsWhere, scopesForOrganization } from '../shared/tenant.ts';
import { tenantRowWhere } from '../shared/visibility.ts';
import {
  deleteIdentifier,
  identifiersWhere,
  MAX_BULK_ITEMS,
  updateIdentifier,
  upsertIdentifier,
  upsertIdentifiers,
  type IdentifierKeys,
  type IdentifierUpsert,
  type UpsertOutcome,
} from './service.ts';
import { selectsPath } from '../shared/selection.ts';

export type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;
export type InputFieldBuilder = PothosSchemaTypes.InputFieldBuilder<Types, 'InputObject'>;

export const DiscoveryMethodEnum = builder.enumType('DiscoveryMethod', {
  description: 'How an identifier came to be known.',
  values: {
    MCP_TOOL: { description: 'Recorded by an agent through an MCP tool.' },
    LLM_DISCOVERY: { description: 'Inferred by an LLM discovery job; usually carries a confidence score.' },
    MANUAL: { description: 'Entered by a person.' },
  } satisfies Record<DiscoveryMethod, unknown>,
});

export const UpsertOutcomeEnum = builder.enumType('UpsertOutcome', {
  description: 'What an upsert did to one row.',
  values: {
    CREATED: { description: 'Inserted a new row.' },
    UPDATED: { description: 'Changed an existing row.' },
    UNCHANGED: { description: 'Found an existing row with the same values and left it as it was (updatedAt too).' },
  },
});

export const ValueKindEnum = builder.enumType('ValueKind', {
  description:
    "What an identifier's value is. It decides how the value is normalised, and so what it matches: given by the writer, or inferred from the key and value (README, Matching).",
  values: {
    EMAIL: { description: 'An email address: compared trimmed and lower-cased (plus-addressing and dots kept).' },
    PHONE: { description: "A phone number: compared in E.164, national formats read with the source's or organization's default region." },
    URL: { description: 'An http(s) URL: compared lower-cased, without trailing slashes.' },
    OTHER: { description: 'Anything else (ids, handles): compared trimmed, case kept.' },
  } satisfies Record<ValueKind, unknown>,
});

export const IdentifierRef = builder.prismaNode('Identifier', {
  description: 'A user is known as `identifierKey = identifierValue` in an integration source, with how that was found out.',
  id: { field: 'id' },
  nullable: true,
  // Null for an identifier of an organization the viewer may not read, as for one that does not exist.
  findUnique: (id, ctx) => tenantRowWhere(id, ctx),
  fields: (t) => ({
    identifierKey: t.exposeString('identifierKey', {
      description: 'Field name in the source, e.g. `owner_id`, `user_email`, `employee_id`.',
    }),
    identifierValue: t.exposeString('identifierValue', { description: 'The value the source knows the user by, as it was written.' }),
    valueKind: t.expose('valueKind', { type: ValueKindEnum, description: 'What the value is: given by the writer, or inferred from the key and value.' }),
    normalizedValue: t.exposeString('normalizedValue', {
      description: 'The value as it is compared (an email lower-cased, a phone number in E.164, ...): identifiers, identities and users holding the same normalised value are linked.',
    }),
    discoveryMethod: t.expose('discoveryMethod', { type: DiscoveryMethodEnum, description: 'How it was found out.' }),
    confidenceScore: t.exposeFloat('confidenceScore', {
      nullable: true,
      description: 'How sure the discovery is, from 0 to 1; null when not scored.',
    }),
    discoveryMetadata: t.field({
      type: 'JSONObject',
      nullable: true,
      description: 'Context the discovery recorded (tool, prompt, evidence...).',
      resolve: (row) => row.discoveryMetadata as Record<string, unknown> | null,
    }),
    user: t.relation('user', { description: 'The user it identifies.' }),
    source: t.relation('source', { description: 'The integration source it is used in.' }),
    organization: t.relation('organization', { description: 'The organization it belongs to.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was first recorded.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When its values last changed.' }),
  }),
});

/** Filter arguments shared by every identifier list. */
const filterArgs = (arg: ArgBuilder<Types>, withUser: boolean, withSource: boolean) => ({
  ...(withUser && {
    userId: arg.id({ required: false, description: 'Only identifiers of this user: its global id (or UUID).' }),
  }),
  ...(withSource && {
    sourceId: arg.id({ required: false, description: 'Only identifiers in this source: its global id (or UUID).' }),
    sourceKey: arg.string({ required: false, description: 'Only identifiers in the source with this key, e.g. `salesforce`.' }),
  }),
  identifierKey: arg.string({ required: false, description: 'Only identifiers with this key, e.g. `owner_id`.' }),
  identifierValue: arg.string({
    required: false,
    description: 'Only identifiers holding this value, compared normalised (an email in any case, a phone number written with its country code in any format).',
  }),
  discoveryMethod: arg({ type: DiscoveryMethodEnum, required: false, description: 'Only identifiers found out this way.' }),
  minConfidence: arg.float({
    required: false,
    description: 'Only identifiers scored at least this (0 to 1); unscored identifiers are left out.',
  }),
});

const connectionOptions = { description: 'A page of identifiers.', fields: totalCountField };
const edgeOptions = { description: 'An identifier in a page.' };

builder.prismaObjectField('Organization', 'identifiers', (t) =>
  t.relatedConnection(
    'identifiers',
    {
      description:
        "The organization's identifiers, oldest first, filtered by user, source, key, value, discovery method and confidence. Null, with FORBIDDEN, when you may not read the organization.",
      cursor: 'id',
      nullable: true,
      totalCount: true,
      authScopes: (organization) => ({ orgRead: organization.id }),
      args: filterArgs(t.arg, true, true),
      query: (args) => ({ where: identifiersWhere(args), orderBy: OLDEST_FIRST }),
    },
    connectionOptions,
    edgeOptions,
  ),
);

builder.prismaObjectField('User', 'identifiers', (t) =>
  t.relatedConnection(
    'identifiers',
    {
      description:
        "The user's identifiers in the organizations you may read (only the one X-Organization-ID names, when it is sent), oldest first.",
      cursor: 'id',
      totalCount: true,
      args: {
        organizationId: t.arg.id({
          required: false,
          description: 'Only identifiers of this organization: its global id (or UUID).',
        }),
        ...filterArgs(t.arg, false, true),
      },
      query: (args, ctx) => ({
        where: { AND: [readableRowsWhere(ctx.access), identifiersWhere(args)] },
        orderBy: OLDEST_FIRST,
      }),
    },
    connectionOptions,
    edgeOptions,
  ),
);

builder.prismaObjectField('IntegrationSource', 'identifiers', (t) =>
  t.relatedConnection(
    'identifiers',
    {
      description:
        'The identifiers used in this source, oldest first. Null, with FORBIDDEN, when you may not read its organization.',
      cursor: 'id',
      nullable: true,
      totalCount: true,
      authScopes: (source) => ({ orgRead: source.organizationId }),
      args: filterArgs(t.arg, true, false),
      query: (args) => ({ where: identifiersWhere(args), orderBy: OLDEST_FIRST }),
    },
    connectionOptions,
    edgeOptions,
  ),
);

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

export const organizationIdField = (t: InputFieldBuilder) =>
  t.id({
    required: false,
    description: 'The organization: its global id (or UUID). Left out, the organization X-Organization-ID names.',
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
  fields: (t) => ({ id: t.id({ description: 'The identifier: its global id (or UUID).' }) }),
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

/** What an upsert did, carried on the row it returns so its success object can show both. */
export type Upserted<Row> = Row & { created: boolean; outcome: UpsertOutcome };

/**
 * The `errors` option of a single upsert: mutationResult's union, whose success object
 * has `created` and `outcome` beside the row.
 */
export function withOutcome<T extends ReturnType<typeof mutationResult>>(options: T) {
  return {
    ...options,
    result: {
      ...options.result,
      fields: (r: PothosSchemaTypes.ObjectFieldBuilder<Types, object>) => ({
        created: r.boolean({ description: 'Whether this call created the row.', resolve: (row) => (row as Upserted<object>).created }),
        outcome: r.field({
          type: UpsertOutcomeEnum,
          description: 'Created, updated or found unchanged.',
          resolve: (row) => (row as Upserted<object>).outcome,
        }),
      }),
    },
  };
}

/**
 * Rows a mutation wrote with raw SQL, read again in one query with the relations the
 * operation selects beneath `path` of its result (user, source...), so a bulk result
 * does not load them row by row. Without such a selection the rows are returned as
 * they are.
 */
export async function withRelations<Row extends { id: string }>(
  rows: Row[],
  context: object,
  info: GraphQLResolveInfo,
  typeName: 'Identifier' | 'Identity',
  path: Parameters<typeof queryFromInfo>[0]['path'],
  load: (query: object, ids: string[]) => Promise<Row[]>,
): Promise<Row[]> {
  const query = queryFromInfo({ context, info, typeName, path });
  if (!Object.keys(query.include ?? query.select ?? {}).length) return rows;
  const byId = new Map((await load(query, rows.map((r) => r.id))).map((row) => [row.id, row]));
  return rows.map((row) => byId.get(row.id) ?? row);
}

/**
 * The `errors` option of a bulk upsert: mutationResult's union, whose success object
 * has a result per item under `results` and how many were created, updated and unchanged.
 */
export function bulkUpsertResult(name: string, what: string) {
  type Results = readonly { outcome: UpsertOutcome }[];
  const count = (results: Results, outcome: UpsertOutcome) => results.filter((r) => r.outcome === outcome).length;
  const options = mutationResult(
    name,
    { name: 'results', description: 'One result per item, in the order of the items.' },
    `upserting ${what}`,
  );
  return {
    ...options,
    result: {
      ...options.result,
      fields: (r: PothosSchemaTypes.ObjectFieldBuilder<Types, Results>) => ({
        createdCount: r.int({ description: 'How many were created.', resolve: (results) => count(results, 'CREATED') }),
        updatedCount: r.int({ description: 'How many were changed.', resolve: (results) => count(results, 'UPDATED') }),
        unchangedCount: r.int({ description: 'How many were already as given.', resolve: (results) => count(results, 'UNCHANGED') }),
      }),
    },
  };
}

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
    description: 'Deletes an identifier (write access to its organization).',
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

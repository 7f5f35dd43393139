import type { ArgBuilder } from '@pothos/core';
import { builder } from '../../builder.ts';
import type { DiscoveryMethod, ValueKind } from '../../generated/prisma/client.ts';
import { OLDEST_FIRST, totalCountField } from '../shared/connections.ts';
import type { Types } from '../shared/fields.ts';
import { readableRowsWhere } from '../shared/tenant.ts';
import { tenantRowWhere } from '../shared/visibility.ts';
import { identifiersWhere } from './filters.ts';
import { columnValue, compiledConnection, compiledField, compiledNode, model, seenWithin } from '../shared/engine/index.ts';
import { readableWhere } from '../shared/rules.ts';
import type { Context } from '../../context.ts';
import { loadVisibleUser, visibleUserSql } from '../shared/pointed.ts';
import { UserRef } from '../user/schema.ts';

// The identifier type and the identifier lists; the mutations are in mutations.ts.

export const DiscoveryMethodEnum = builder.enumType('DiscoveryMethod', {
  description: 'How an identifier came to be known.',
  values: {
    MCP_TOOL: { description: 'Recorded by an agent through an MCP tool.' },
    LLM_DISCOVERY: { description: 'Inferred by an LLM discovery job; usually carries a confidence score.' },
    MANUAL: { description: 'Entered by a person.' },
  } satisfies Record<DiscoveryMethod, unknown>,
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
    // A JSON column, compiled as it is (compiledField below).
    discoveryMetadata: t.field({
      type: 'JSONObject',
      nullable: true,
      description: 'Context the discovery recorded (tool, prompt, evidence...).',
      resolve: (row) => row.discoveryMetadata as Record<string, unknown> | null,
    }),
    user: t.prismaField({
      type: UserRef,
      nullable: true,
      description: 'The user it identifies; null when you may not see them (they are no longer a member of the organization).',
      select: { userId: true },
      resolve: (query, row, _args, ctx) => loadVisibleUser(ctx, row.userId, query),
    }),
    source: t.relation('source', { description: 'The integration source it is used in.' }),
    organization: t.relation('organization', { description: 'The organization it belongs to.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was first recorded.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When its values last changed.' }),
    mergeSlot: t.exposeInt('mergeSlot', {
      description:
        '0 for the value writes of this source and key update. A merge of two users who both held the key keeps the other value beside it, with a higher slot, so it still resolves to the user.',
    }),
  }),
});

compiledNode('Identifier', (_ctx, readable) => readableWhere(readable));
// An identifier is seen only in an organization the viewer reads, on every path: so is its organization.
seenWithin('Identifier', 'read');
// Its user is read under the rule of node(id) of a user (shared/pointed.ts), on both paths.
compiledField('Identifier', 'user', visibleUserSql('userId'));
compiledField('Identifier', 'discoveryMetadata', (_b, alias) => columnValue(model('Identifier'), alias, 'discoveryMetadata'));

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
    description: 'Only identifiers scored at least this (0 to 1). An unscored identifier counts as certain and is kept, as matching counts it.',
  }),
});

const connectionOptions = { description: 'A page of identifiers.', fields: totalCountField };
// The same queries are given to Pothos and to the read engine (compiledConnection).
const identifiersQuery = (args: Parameters<typeof identifiersWhere>[0]) => ({ where: identifiersWhere(args), orderBy: OLDEST_FIRST });
// The read engine gives the organizations the viewer reads (`readable`); Pothos does not.
const readableIdentifiersQuery = (args: Parameters<typeof identifiersWhere>[0], ctx: Context, _parent?: string, readable?: string[] | 'all') => ({
  where: { AND: [readableRowsWhere(ctx.access, readable), identifiersWhere(args)] },
  orderBy: OLDEST_FIRST,
});
compiledConnection('Organization', 'identifiers', identifiersQuery);
compiledConnection('IntegrationSource', 'identifiers', identifiersQuery);
compiledConnection('User', 'identifiers', readableIdentifiersQuery);
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
      query: identifiersQuery,
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
      query: readableIdentifiersQuery,
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
      query: identifiersQuery,
    },
    connectionOptions,
    edgeOptions,
  ),
);

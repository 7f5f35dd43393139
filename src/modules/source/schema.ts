import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../../builder.ts';
import { InUseError } from '../../errors.ts';
import type { SourceKind } from '../../generated/prisma/client.ts';
import { OLDEST_FIRST, totalCountField } from '../shared/connections.ts';
import { mutationResult } from '../shared/errors.ts';
import { tenantRowWhere } from '../shared/visibility.ts';
import { scopesForOrganization } from '../shared/tenant.ts';
import { compiledConnection, compiledNode, seenWithin } from '../shared/engine/index.ts';
import { readableWhere } from '../shared/rules.ts';
import { createSource, deleteSource, updateSource } from './service.ts';

export const SourceKindEnum = builder.enumType('SourceKind', {
  description: 'What an integration source is.',
  values: {
    INTEGRATION: { description: 'A system that knows people by its own identifiers (CRM, chat, ticketing...).' },
    IDENTITY_PROVIDER: { description: 'A system people sign in with, whose accounts identities link to (Okta, Entra ID...).' },
  } satisfies Record<SourceKind, unknown>,
});

export const SourceRef = builder.prismaNode('IntegrationSource', {
  description: 'A system an organization connects: an integration or an identity provider.',
  id: { field: 'id' },
  nullable: true,
  // Null for a source of an organization the viewer may not read, as for one that does not exist.
  findUnique: (id, ctx) => tenantRowWhere(id, ctx),
  fields: (t) => ({
    kind: t.expose('kind', { type: SourceKindEnum, description: 'Integration or identity provider.' }),
    key: t.exposeString('key', { description: 'Stable key, unique in its organization, e.g. `salesforce`.' }),
    name: t.exposeString('name', { description: 'Display name.' }),
    organization: t.relation('organization', { description: 'The organization that connects it.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the source was created.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When the source last changed.' }),
  }),
});

// node(id) is compiled under the rule of findUnique above (tenantRowWhere).
compiledNode('IntegrationSource', (_ctx, readable) => readableWhere(readable));
// A source is seen only in an organization the viewer reads, on every path: so is its organization.
seenWithin('IntegrationSource', 'read');

// The same query is given to Pothos and to the read engine (compiledConnection).
const sourcesQuery = (args: { kind?: SourceKind | null }) => ({ where: args.kind ? { kind: args.kind } : {}, orderBy: OLDEST_FIRST });
compiledConnection('Organization', 'sources', sourcesQuery);

builder.prismaObjectField('Organization', 'sources', (t) =>
  t.relatedConnection(
    'sources',
    {
      description:
        "The organization's integration sources and identity providers, oldest first. Null, with FORBIDDEN, when you may not read the organization.",
      cursor: 'id',
      nullable: true,
      totalCount: true,
      authScopes: (organization) => ({ orgRead: organization.id }),
      args: {
        kind: t.arg({ type: SourceKindEnum, required: false, description: 'Only sources of this kind.' }),
      },
      query: sourcesQuery,
    },
    { description: 'A page of integration sources.', fields: totalCountField },
    { description: 'An integration source in a page.' },
  ),
);

const CreateSourceInput = builder.inputType('CreateIntegrationSourceInput', {
  description: 'A new integration source or identity provider.',
  fields: (t) => ({
    organizationId: t.id({
      required: false,
      description: 'The organization: its global id (or UUID). Left out, the one X-Organization-ID names.',
    }),
    kind: t.field({ type: SourceKindEnum, description: 'Integration or identity provider; fixed once created.' }),
    key: t.string({
      description: 'Stable key, unique in the organization: lower-case letters, digits, `-` or `_`, up to 63 characters.',
    }),
    name: t.string({ description: 'Display name, up to 200 characters.' }),
  }),
});

const UpdateSourceInput = builder.inputType('UpdateIntegrationSourceInput', {
  description: 'Changes to an integration source. Fields left out stay as they are.',
  fields: (t) => ({
    id: t.id({ description: 'The source: its global id (or UUID).' }),
    key: t.string({
      required: false,
      description: 'New key, unique in the organization: lower-case letters, digits, `-` or `_`, up to 63 characters.',
    }),
    name: t.string({ required: false, description: 'New display name, up to 200 characters.' }),
  }),
});

const DeleteSourceInput = builder.inputType('DeleteIntegrationSourceInput', {
  description: 'The integration source to delete.',
  fields: (t) => ({
    id: t.id({ description: 'The source: its global id (or UUID).' }),
    cascade: t.boolean({
      required: false,
      description: 'Also delete the identifiers and identities that use it. Without it, a source in use is not deleted.',
    }),
    reason: t.string({ required: false, description: 'Why it is deleted, up to 1000 characters; shown in deletedItems.' }),
  }),
});

builder.mutationFields((t) => ({
  createIntegrationSource: t.field({
    type: SourceRef,
    description: 'Connects an integration or identity provider to an organization (ORGANIZATION_ADMIN of it).',
    authScopes: (_root, { input }, ctx) => scopesForOrganization('orgAdmin', input.organizationId, ctx.access),
    args: { input: t.arg({ type: CreateSourceInput, description: 'The source to create.' }) },
    errors: mutationResult('CreateIntegrationSource', 'source', 'creating an integration source'),
    resolve: (_root, { input }, ctx) => createSource(ctx.access, input),
  }),
  updateIntegrationSource: t.field({
    type: SourceRef,
    description: 'Renames an integration source or changes its key (ORGANIZATION_ADMIN of its organization).',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: UpdateSourceInput, description: 'The changes.' }) },
    errors: mutationResult('UpdateIntegrationSource', 'source', 'updating an integration source'),
    resolve: (_root, { input }, ctx) => updateSource(ctx.access, input),
  }),
  deleteIntegrationSource: t.field({
    type: 'ID',
    description:
      'Deletes an integration source (ORGANIZATION_ADMIN of its organization); refused with InUseError while identifiers or identities use it, unless `cascade` is set. restoreIntegrationSource brings it back, with what the cascade deleted, until the organization\'s retention runs out.',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: DeleteSourceInput, description: 'The source to delete.' }) },
    errors: mutationResult(
      'DeleteIntegrationSource',
      { name: 'deletedId', description: 'The global id the deleted source had.' },
      'deleting an integration source',
      [InUseError],
    ),
    resolve: async (_root, { input }, ctx) =>
      encodeGlobalID('IntegrationSource', await deleteSource(ctx.access, input)),
  }),
}));

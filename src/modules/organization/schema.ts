import { readNodeAsOf } from '../shared/node.ts';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../../builder.ts';
import type { Organization } from '../../generated/prisma/client.ts';
import { prisma } from '../../db.ts';
import type { Context } from '../../context.ts';
import { AS_OF_DESCRIPTION, checkedMoment } from '../shared/as-of.ts';
import {
  compiledNode,
  compiledObject,
  compiledRootField,
  JsonText,
  prebuiltOrganization,
  prebuiltOrganizations,
  rootPlanners,
  type PlanInfo,
  type RowsWhere,
} from '../shared/engine/index.ts';
import { readableOrganizationsRule } from '../shared/rules.ts';
import { OLDEST_FIRST, totalCountField } from '../shared/connections.ts';
import { mutationResult } from '../shared/errors.ts';
import { scopesForOrganization } from '../shared/tenant.ts';
import { nodeRowWhere } from '../shared/visibility.ts';
import {
  createOrganization,
  deleteOrganization,
  organizationIdForRead,
  updateOrganization,
} from './service.ts';

// A node lookup answers null for an organization the viewer may not read, exactly as
// for an id that does not exist; node(id) finds it under this rule on both paths.
const readableOrganization: RowsWhere = (_ctx, readable) => readableOrganizationsRule(readable);
compiledNode('Organization', readableOrganization);

export const OrganizationRef = builder.prismaNode('Organization', {
  description: 'A tenant: a company or team that connects integrations and whose people are resolved here.',
  id: { field: 'id' },
  nullable: true,
  findUnique: (id, ctx) => nodeRowWhere(id, ctx, readableOrganization),
  fields: (t) => ({
    slug: t.exposeString('slug', {
      description: 'URL-safe unique name of the organization, e.g. `acme`.',
    }),
    name: t.exposeString('name', { description: 'Display name.' }),
    autoApproveLinkConfidence: t.exposeFloat('autoApproveLinkConfidence', {
      nullable: true,
      description:
        'Link suggestions created at or above this confidence (0 to 1) are approved at once; null: every suggestion waits for review. Suggestions the server makes itself always wait.',
    }),
    defaultPhoneRegion: t.exposeString('defaultPhoneRegion', {
      nullable: true,
      description:
        'Region code (ISO 3166-1 alpha-2) whose national formats phone numbers written without a country code are read in, unless their source has its own; null: such numbers are compared by their digits.',
    }),
    deletedRetentionDays: t.exposeInt('deletedRetentionDays', {
      description: 'Days a deleted object can be restored (deletedItems) before it is purged for good; 30 unless changed.',
    }),
    historyRetentionDays: t.exposeInt('historyRetentionDays', {
      description: 'Days back a read as of a past moment (`asOf`) can reach; older history is pruned. 365 unless changed.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the organization was created.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When the organization last changed.' }),
  }),
});

// A whole operation of one `organization`: the resolver's checks, then the planned
// statement (plugins/planned-operations.ts); a plan with holes is kept for the resolver.
rootPlanners.set('organization', async (ctx, info, args) => {
  const id = await organizationIdForRead(ctx.access, args as { id?: string | null; slug?: string | null });
  if (args.asOf) return organizationAsOf(ctx, info, id, args.asOf as Date);
  return id === null ? null : prebuiltOrganization(ctx, info, id, null, true);
});

// node(id, asOf) of an organization: null unless the viewer may read it, as now; the
// moment is checked against its own horizon. Each is read on its own (its connections
// compile only at the root of a plan whose organization was checked).
readNodeAsOf('Organization', {
  horizon: async (ctx, id) => {
    const readable = await ctx.access.readableOrganizationIds();
    return readable === 'all' || readable.includes(id) ? id : undefined;
  },
  read: async (ctx, info, id, moment) => (await prebuiltOrganization(ctx, info, id, moment)) ?? null,
});

/** `organization(asOf)`: the organization as it was then, with what is selected of it, read from history by the engine. */
async function organizationAsOf(ctx: Context, info: PlanInfo, id: string | null, asOf: Date): Promise<JsonText | null> {
  if (id === null) return null;
  return (await prebuiltOrganization(ctx, info, id, await checkedMoment(id, asOf))) ?? null;
}

/** The organizations `organizations` lists, given those the viewer may read, and their order: its resolver's and the engine's rule. */
const listed = (readable: string[] | 'all') => ({ where: readableOrganizationsRule(readable), orderBy: OLDEST_FIRST });

// A whole operation of `organizations` is one statement (plugins/planned-operations.ts);
// within a larger one, the list is compiled but for fields with no SQL form, answered
// before the prisma connection's resolver (which pages rows it reads). Anonymous callers
// are refused by the field's scope, on the general path.
rootPlanners.set('organizations', async (ctx, info) => (ctx.viewer.kind === 'anonymous' ? undefined : prebuiltOrganizations(ctx, info, listed)));
compiledRootField('organizations', async (ctx, info) => (ctx.viewer.kind === 'anonymous' ? undefined : prebuiltOrganizations(ctx, info, listed, true)));

builder.queryFields((t) => ({
  organization: t.prismaField({
    type: OrganizationRef,
    nullable: true,
    description:
      'An organization, by id or by slug (give exactly one). FORBIDDEN when you may not read it, whether or not it exists; null (for a system admin) when it does not exist.',
    authScopes: { authenticated: true },
    args: {
      id: t.arg.id({ required: false, description: 'Its global id (or UUID).' }),
      slug: t.arg.string({ required: false, description: 'Its slug.' }),
      asOf: t.arg({ type: 'DateTime', required: false, description: AS_OF_DESCRIPTION }),
    },
    resolve: async (query, _root, args, ctx, info) => {
      const id = await organizationIdForRead(ctx.access, args);
      if (args.asOf) return compiledObject<Organization>(await organizationAsOf(ctx, info, id, args.asOf), 'Organization', query);
      if (id === null) return null;
      // Compiled, but for the fields that have no SQL form (they take the general path alone).
      const answer = await prebuiltOrganization(ctx, info, id, null, true);
      return answer === undefined ? prisma.organization.findUnique({ ...query, where: { id } }) : compiledObject<Organization>(answer, 'Organization', query);
    },
  }),
  organizations: t.prismaConnection(
    {
      type: 'Organization',
      cursor: 'id',
      description:
        'The organizations you may read: every one for a system admin, otherwise those you are an active member of. Oldest first.',
      authScopes: { authenticated: true },
      resolve: async (query, _root, _args, ctx) => prisma.organization.findMany({ ...query, ...listed(await ctx.access.readableOrganizationIds()) }),
      totalCount: async (_root, _args, ctx) => prisma.organization.count({ where: listed(await ctx.access.readableOrganizationIds()).where }),
    },
    { description: 'A page of organizations.', fields: totalCountField },
    { description: 'An organization in a page.' },
  ),
}));

const CreateOrganizationInput = builder.inputType('CreateOrganizationInput', {
  description: 'A new organization.',
  fields: (t) => ({
    slug: t.string({ description: 'Unique URL-safe name: lower-case letters, digits, `-` or `_`, up to 63 characters.' }),
    name: t.string({ description: 'Display name, up to 200 characters.' }),
  }),
});

const UpdateOrganizationInput = builder.inputType('UpdateOrganizationInput', {
  description: 'Changes to an organization. Fields left out stay as they are.',
  fields: (t) => ({
    id: t.id({ description: 'The organization: its global id (or UUID).' }),
    slug: t.string({
      required: false,
      description: 'New unique URL-safe name: lower-case letters, digits, `-` or `_`, up to 63 characters.',
    }),
    name: t.string({ required: false, description: 'New display name, up to 200 characters.' }),
    autoApproveLinkConfidence: t.float({
      required: false,
      description: 'Approve link suggestions created at or above this confidence (0 to 1) at once; null turns it off.',
    }),
    defaultPhoneRegion: t.string({
      required: false,
      description:
        "Region code (ISO 3166-1 alpha-2, e.g. `US`) whose national formats phone numbers without a country code are read in; null: none. The organization's phone identifiers are normalised again when it changes.",
    }),
    deletedRetentionDays: t.int({
      required: false,
      description: 'Days, 1 to 3650, a deleted object can be restored before it is purged; applies to objects already deleted too. Cannot be cleared.',
    }),
    historyRetentionDays: t.int({
      required: false,
      description: 'Days, 1 to 3650, of history kept for reads as of a past moment; shortening it prunes older history at the next purge. Cannot be cleared.',
    }),
  }),
});

const DeleteOrganizationInput = builder.inputType('DeleteOrganizationInput', {
  description: 'The organization to delete.',
  fields: (t) => ({
    id: t.id({ description: 'The organization: its global id (or UUID).' }),
  }),
});

builder.mutationFields((t) => ({
  createOrganization: t.field({
    type: OrganizationRef,
    description: 'Creates an organization; you become its ORGANIZATION_ADMIN.',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: CreateOrganizationInput, description: 'The organization to create.' }) },
    errors: mutationResult('CreateOrganization', 'organization', 'creating an organization'),
    resolve: (_root, { input }, ctx) => createOrganization(ctx.viewer, input),
  }),
  updateOrganization: t.field({
    type: OrganizationRef,
    description: 'Renames an organization, changes its slug or its automatic approval of link suggestions (ORGANIZATION_ADMIN of it).',
    authScopes: (_root, { input }, ctx) => scopesForOrganization('orgAdmin', input.id, ctx.access),
    args: { input: t.arg({ type: UpdateOrganizationInput, description: 'The changes.' }) },
    errors: mutationResult('UpdateOrganization', 'organization', 'updating an organization'),
    resolve: (_root, { input }, ctx) => updateOrganization(ctx.access, input),
  }),
  deleteOrganization: t.field({
    type: 'ID',
    description:
      'Deletes an organization with all its members, sources, identifiers, identities and API keys, in one transaction (system admin).',
    authScopes: { systemAdmin: true },
    args: { input: t.arg({ type: DeleteOrganizationInput, description: 'The organization to delete.' }) },
    errors: mutationResult(
      'DeleteOrganization',
      { name: 'deletedId', description: 'The global id the deleted organization had.' },
      'deleting an organization',
    ),
    resolve: async (_root, { input }, ctx) => encodeGlobalID('Organization', await deleteOrganization(ctx.access, input)),
  }),
}));

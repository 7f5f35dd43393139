import { builder } from '../../builder.ts';
import { mutationResult } from '../shared/errors.ts';
import { isUuid, NO_ROW } from '../shared/visibility.ts';
import { createOrganization } from './service.ts';

export const OrganizationRef = builder.prismaNode('Organization', {
  description: 'A tenant: a company or team that connects integrations and whose people are resolved here.',
  id: { field: 'id' },
  nullable: true,
  // A node lookup answers null for an organization the viewer may not read, exactly
  // as for an id that does not exist.
  findUnique: async (id, ctx) => {
    if (!isUuid(id)) return NO_ROW;
    const readable = await ctx.access.readableOrganizationIds();
    return readable === 'all' ? { id } : { id, AND: [{ id: { in: readable } }] };
  },
  fields: (t) => ({
    slug: t.exposeString('slug', {
      description: 'URL-safe unique name of the organization, e.g. `acme`.',
    }),
    name: t.exposeString('name', { description: 'Display name.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the organization was created.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When the organization last changed.' }),
  }),
});

const CreateOrganizationInput = builder.inputType('CreateOrganizationInput', {
  description: 'A new organization.',
  fields: (t) => ({
    slug: t.string({ description: 'Unique URL-safe name: lower-case letters, digits, `-` or `_`, up to 63 characters.' }),
    name: t.string({ description: 'Display name, up to 200 characters.' }),
  }),
});

builder.mutationField('createOrganization', (t) =>
  t.field({
    type: OrganizationRef,
    description: 'Creates an organization; you become its ORGANIZATION_ADMIN.',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: CreateOrganizationInput, description: 'The organization to create.' }) },
    errors: mutationResult('CreateOrganization', 'organization', 'creating an organization'),
    resolve: (_root, { input }, ctx) => createOrganization(ctx.viewer, input),
  }),
);

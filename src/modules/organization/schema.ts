import { builder } from '../../builder.ts';
import { isUuid, NO_ROW } from '../shared/visibility.ts';

builder.prismaNode('Organization', {
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

import { builder } from '../../builder.ts';
import { isUuid, NO_ROW } from '../shared/visibility.ts';

export const UserRef = builder.prismaNode('User', {
  description: 'A person who can sign in, and whom identifiers and identities resolve to.',
  id: { field: 'id' },
  nullable: true,
  // Visible to the user themself, to system admins, and to readers of an organization
  // the user belongs to; null otherwise, exactly as for an id that does not exist.
  findUnique: async (id, ctx) => {
    if (!isUuid(id)) return NO_ROW;
    const readable = await ctx.access.readableOrganizationIds();
    if (readable === 'all') return { id };
    const self = ctx.viewer.kind === 'user' ? [{ id: ctx.viewer.userId }] : [];
    return { id, OR: [...self, { memberships: { some: { organizationId: { in: readable } } } }] };
  },
  fields: (t) => ({
    email: t.exposeString('email', { description: 'Sign-in email, lower-cased; unique.' }),
    givenName: t.exposeString('givenName', { nullable: true, description: 'Given (first) name.' }),
    familyName: t.exposeString('familyName', { nullable: true, description: 'Family (last) name.' }),
    nickname: t.exposeString('nickname', { nullable: true, description: 'Casual name.' }),
    name: t.exposeString('name', { nullable: true, description: 'Full display name.' }),
    picture: t.exposeString('picture', { nullable: true, description: 'URL of a profile picture.' }),
    isSystemAdmin: t.exposeBoolean('isSystemAdmin', {
      description: 'Whether the user administers the whole service (set in the database, never from a token).',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the user was created.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When the user last changed.' }),
  }),
});

import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../../builder.ts';
import type { MemberRole, MembershipState } from '../../generated/prisma/client.ts';
import { OLDEST_FIRST, totalCountField } from '../shared/connections.ts';
import { mutationResult } from '../shared/errors.ts';
import { LastOrganizationAdminError } from '../../errors.ts';
import { scopesForOrganization } from '../shared/tenant.ts';
import { nodeRowWhere } from '../shared/visibility.ts';
import { compiledConnection, compiledField, compiledNode, relatedList, type RowsWhere } from '../shared/engine/index.ts';
import { addMember, membersWhere, removeMember, updateMember, visibleMemberships, visibleMembershipsFor } from './service.ts';

export const MemberRoleEnum = builder.enumType('MemberRole', {
  description: 'What a member may do in an organization.',
  values: {
    SYSTEM_ADMIN: { description: 'Everything; granted only by a system admin.' },
    ORGANIZATION_ADMIN: { description: 'Everything inside the organization.' },
    ANALYST: { description: 'Reads the organization; writes identifiers and identities.' },
  } satisfies Record<MemberRole, unknown>,
});

export const MembershipStateEnum = builder.enumType('MembershipState', {
  description: 'Whether a membership grants anything. Only ACTIVE members are granted their role.',
  values: {
    ACTIVE: { description: 'In effect.' },
    PENDING: { description: 'Invited; becomes ACTIVE when the user first signs in.' },
    SUSPENDED: { description: 'Switched off by an admin.' },
  } satisfies Record<MembershipState, unknown>,
});

// Visible to readers of its organization and to the member themself (so invitations
// show before they are accepted); null otherwise, as for an id that does not exist.
// node(id) finds it under this rule on both paths.
const visibleMember: RowsWhere = (ctx, readable) => visibleMembershipsFor(ctx.access, readable);
compiledNode('Member', visibleMember);

export const MemberRef = builder.prismaNode('Member', {
  description: "A user's membership of an organization, with their role and its state.",
  id: { field: 'id' },
  nullable: true,
  findUnique: (id, ctx) => nodeRowWhere(id, ctx, visibleMember),
  fields: (t) => ({
    role: t.expose('role', { type: MemberRoleEnum, description: 'What the member may do.' }),
    state: t.expose('state', { type: MembershipStateEnum, description: 'Whether the role is in effect.' }),
    organization: t.relation('organization', { description: 'The organization.' }),
    user: t.relation('user', { description: 'The user.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the user was added or invited.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When the membership last changed.' }),
  }),
});

const membersQuery = (args: Parameters<typeof membersWhere>[0]) => ({ where: membersWhere(args), orderBy: OLDEST_FIRST });
compiledConnection('Organization', 'members', membersQuery);

builder.prismaObjectField('Organization', 'members', (t) =>
  t.relatedConnection(
    'members',
    {
      description:
        "The organization's members, oldest first, filtered by role, state and a search. Null, with FORBIDDEN, when you may not read the organization.",
      cursor: 'id',
      nullable: true,
      totalCount: true,
      authScopes: (organization) => ({ orgRead: organization.id }),
      args: {
        role: t.arg({ type: MemberRoleEnum, required: false, description: 'Only members with this role.' }),
        state: t.arg({ type: MembershipStateEnum, required: false, description: 'Only memberships in this state.' }),
        search: t.arg.string({
          required: false,
          description: "Only members whose email, given name, family name, nickname or name contains this text, in any case.",
        }),
      },
      query: membersQuery,
    },
    { description: 'A page of members.', fields: totalCountField },
    { description: 'A member in a page.' },
  ),
);

// Rendered in SQL by the read engine from the same rule.
compiledField(
  'User',
  'memberships',
  relatedList('memberships', (ctx, readable) => ({ where: visibleMembershipsFor(ctx.access, readable), orderBy: OLDEST_FIRST })),
);

builder.prismaObjectField('User', 'memberships', (t) =>
  t.field({
    type: [MemberRef],
    description:
      "The user's memberships, oldest first: those in organizations you may read, and your own in any state (only the one in the organization the request acts in, when it names one).",
    select: (_args, _ctx, nestedSelection) => ({ memberships: nestedSelection({ orderBy: OLDEST_FIRST }) }),
    resolve: (user, _args, ctx) => visibleMemberships(ctx.access, user.memberships),
  }),
);

const AddMemberInput = builder.inputType('AddMemberInput', {
  description:
    'A user to add to an organization: an existing one by `userId` (ACTIVE at once), or anyone by `email` (invited: PENDING until their first sign-in, ACTIVE when they have signed in before). Give exactly one.',
  fields: (t) => ({
    organizationId: t.id({
      required: false,
      description: 'The organization: its global id (or UUID). Left out, the one X-Organization-ID names.',
    }),
    userId: t.id({ required: false, description: 'An existing user you can see, added directly: its global id (or UUID).' }),
    email: t.string({
      required: false,
      description: 'Email of the person to invite; a user is created when none has it. Up to 254 characters.',
    }),
    role: t.field({
      type: MemberRoleEnum,
      required: false,
      description: 'Their role; ANALYST when left out. Only a system admin grants SYSTEM_ADMIN.',
    }),
  }),
});

const UpdateMemberInput = builder.inputType('UpdateMemberInput', {
  description: 'Changes to a membership. Fields left out stay as they are.',
  fields: (t) => ({
    id: t.id({ description: 'The member: its global id (or UUID).' }),
    role: t.field({
      type: MemberRoleEnum,
      required: false,
      description: 'New role. Only a system admin grants SYSTEM_ADMIN or changes a member who holds it.',
    }),
    state: t.field({ type: MembershipStateEnum, required: false, description: 'New state.' }),
  }),
});

const RemoveMemberInput = builder.inputType('RemoveMemberInput', {
  description: 'The membership to end.',
  fields: (t) => ({
    id: t.id({ description: 'The member: its global id (or UUID).' }),
    reason: t.string({ required: false, description: 'Why the membership ends, up to 1000 characters; shown in deletedItems.' }),
  }),
});

const lastAdmin = [LastOrganizationAdminError];

builder.mutationFields((t) => ({
  addMember: t.field({
    type: MemberRef,
    description: 'Adds a user to an organization, or invites them by email (ORGANIZATION_ADMIN of it).',
    authScopes: (_root, { input }, ctx) => scopesForOrganization('orgAdmin', input.organizationId, ctx.access),
    args: { input: t.arg({ type: AddMemberInput, description: 'Who to add, and how.' }) },
    errors: mutationResult('AddMember', 'member', 'adding a member'),
    resolve: (_root, { input }, ctx) => addMember(ctx.access, input),
  }),
  updateMember: t.field({
    type: MemberRef,
    description:
      "Changes a member's role or state (ORGANIZATION_ADMIN of its organization). The organization always keeps an active ORGANIZATION_ADMIN.",
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: UpdateMemberInput, description: 'The changes.' }) },
    errors: mutationResult('UpdateMember', 'member', 'updating a member', lastAdmin),
    resolve: (_root, { input }, ctx) => updateMember(ctx.access, input),
  }),
  removeMember: t.field({
    type: 'ID',
    description:
      'Removes a user from an organization (ORGANIZATION_ADMIN of it). The organization always keeps an active ORGANIZATION_ADMIN. restoreMember brings the membership back until the organization\'s retention runs out.',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: RemoveMemberInput, description: 'The membership to end.' }) },
    errors: mutationResult(
      'RemoveMember',
      { name: 'removedId', description: 'The global id the removed membership had.' },
      'removing a member',
      lastAdmin,
    ),
    resolve: async (_root, { input }, ctx) => encodeGlobalID('Member', await removeMember(ctx.access, input)),
  }),
}));

import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../../builder.ts';
import { LastOrganizationAdminError, MergeChangedError, type ChangedRow } from '../../errors.ts';
import { IdentifierRef } from '../identifier/schema.ts';
import { IdentityRef } from '../identity/schema.ts';
import { MemberRef } from '../member/schema.ts';
import { OrganizationRef } from '../organization/schema.ts';
import { ErrorInterface, mutationResult } from '../shared/errors.ts';
import { isUuid, NO_ROW } from '../shared/visibility.ts';
import { UserRef } from '../user/schema.ts';
import { prisma } from '../../db.ts';
import type { Context } from '../../context.ts';
import type { Merge } from '../../generated/prisma/client.ts';
import { visibleUsersWhere } from '../shared/rules.ts';
import { compiledField, compiledNode, model, relatedList } from '../shared/engine/index.ts';
import { globalId } from '../shared/engine/text.ts';
import './compiled.ts';
import type { Drift, UnmergedMerge } from './unmerge.ts';
import {
  type MergeConflict,
  type MergePlan,
  mergeUsers,
  previewIdentifiers,
  previewIdentities,
  previewMembers,
  previewMerge,
  previewOrganizations,
  previewProfileChanges,
  previewUser,
  readableMergesOf,
  readableOf,
  readableParts,
  unmergeUser,
} from './service.ts';

export const MergeSideEnum = builder.enumType('MergeSide', {
  description: 'Which user of a merge a value comes from.',
  values: {
    SURVIVOR: { description: 'The user that stays.' },
    MERGED: { description: 'The user merged into the survivor (it stays as a tombstone).' },
  },
});

const MergeConflictKindEnum = builder.enumType('MergeConflictKind', {
  description: 'What two users of a merge disagree on.',
  values: {
    PROFILE: { description: 'A profile field with different values.' },
    MEMBERSHIP: { description: 'Both are members of one organization, with different roles or states.' },
    IDENTIFIER: { description: 'Both have an identifier with the same natural key (organization, source, key).' },
  },
});

const MergeConflictRef = builder.objectRef<MergeConflict>('MergeConflict').implement({
  description: 'One thing both users of a merge have, differently, and the side whose value survives.',
  fields: (t) => ({
    key: t.exposeString('key', {
      description: 'Stable key of the conflict; name it in `choices` to pick its side (`profile:name`, `membership:<organization>`, `identifier:<organization>:<source>:<key>`).',
    }),
    kind: t.field({ type: MergeConflictKindEnum, description: 'What the conflict is about.', resolve: (c) => c.kind }),
    organizationId: t.id({
      nullable: true,
      description: 'Global id of the organization, for memberships and identifiers.',
      resolve: (c) => (c.organizationId ? encodeGlobalID('Organization', c.organizationId) : null),
    }),
    field: t.exposeString('field', { description: 'The profile field, `role` for memberships, or the identifier key.' }),
    survivorValue: t.field({ type: 'JSON', nullable: true, description: "The survivor's value.", resolve: (c) => c.survivorValue }),
    mergedValue: t.field({ type: 'JSON', nullable: true, description: "The merged user's value.", resolve: (c) => c.mergedValue }),
    keep: t.field({ type: MergeSideEnum, description: 'The side whose value survives.', resolve: (c) => c.keep }),
    chosen: t.exposeBoolean('chosen', { description: 'Whether `keep` is the caller\'s choice (false: the default rule\'s).' }),
    rule: t.exposeString('rule', { description: 'The default rule for this kind of conflict, in words.' }),
  }),
});

export const MergeChoiceInput = builder.inputType('MergeChoiceInput', {
  description: 'Which side of one conflict survives.',
  fields: (t) => ({
    key: t.string({ description: 'The `key` of a conflict, as `previewMergeUsers` lists it.' }),
    keep: t.field({ type: MergeSideEnum, description: 'The side whose value survives.' }),
  }),
});

const MergePreviewRef = builder.objectRef<MergePlan>('MergePreview').implement({
  description: 'What a merge would do, computed by the same rules the merge runs; nothing is written.',
  fields: (t) => ({
    survivor: t.field({ type: UserRef, description: 'The user that would stay.', resolve: (p) => previewUser(p, 'survivor') }),
    merged: t.field({
      type: UserRef,
      description: 'The user that would be merged (and stay as a tombstone).',
      resolve: (p) => previewUser(p, 'merged'),
    }),
    organizations: t.field({
      type: [OrganizationRef],
      description: 'Every organization the merge touches; you must administer each.',
      resolve: (p) => previewOrganizations(p),
    }),
    profileChanges: t.field({
      type: 'JSONObject',
      description: "The survivor's profile fields that would change, with their new values.",
      resolve: (p) => previewProfileChanges(p),
    }),
    movedMemberships: t.field({
      type: [MemberRef],
      description: "The merged user's memberships that would move to the survivor (organizations only they belong to).",
      resolve: (p) => previewMembers(p.members.moved),
    }),
    removedMemberships: t.field({
      type: [MemberRef],
      description: "The merged user's memberships that would go, because the survivor is a member there too.",
      resolve: (p) => previewMembers(p.members.deleted),
    }),
    movedIdentifiers: t.field({
      type: [IdentifierRef],
      description: 'Identifiers of the merged user that would move to the survivor.',
      resolve: (p) => previewIdentifiers(p.identifiers.moved),
    }),
    removedIdentifiers: t.field({
      type: [IdentifierRef],
      description: 'Always empty: a merge removes no identifier (see `identifiersKeptBeside`).',
      deprecationReason: 'A merge keeps every identifier; the losing side of a conflict is in `identifiersKeptBeside`.',
      resolve: () => [],
    }),
    identifiersKeptBeside: t.field({
      type: [IdentifierRef],
      description:
        "Identifiers that would stay with the survivor beside another value of the same source and key (`mergeSlot` above 0): the losing side of each identifier conflict. Writes of that source and key update the other value; every value still resolves to the survivor.",
      resolve: (p) => previewIdentifiers(p.identifiers.besides),
    }),
    relinkedIdentities: t.field({
      type: [IdentityRef],
      description: 'Identities linked to the merged user that would be linked to the survivor.',
      resolve: (p) => previewIdentities(p.identities.moved),
    }),
    conflicts: t.field({ type: [MergeConflictRef], description: 'Every conflict, with the side that would survive.', resolve: (p) => p.conflicts }),
  }),
});

const UnmergeDriftRef = builder.objectRef<Drift>('UnmergeDrift').implement({
  description: 'A row a merge left that changed since, found by a forced unmerge.',
  fields: (t) => ({
    id: t.id({ description: 'Global id of the row.', resolve: (d) => encodeGlobalID(d.entity, d.id) }),
    entity: t.exposeString('entity', { description: 'The kind of row: `User`, `Member`, `Identifier`, `Identity` or `LinkSuggestion`.' }),
    changes: t.field({
      type: 'JSON',
      description: '`{ column: { before, after } }`: the value the merge left and the value found; empty for a row deleted since.',
      resolve: (d) => d.changes,
    }),
    deleted: t.exposeBoolean('deleted', { description: 'Whether the row is missing: deleted since the merge (it stays deleted), or removed by the merge and unable to come back because its natural key was taken since.' }),
    restored: t.exposeBoolean('restored', { description: 'Whether the row is back as it was before the merge.' }),
  }),
});

/** Merges the viewer may see: of a user they may see, touching an organization they may read (or none). */
export const visibleMergesWhere = (ctx: Context, readable: string[] | 'all') => ({
  survivor: visibleUsersWhere(ctx.access.viewer.kind === 'user' ? ctx.access.viewer.userId : null, readable),
  ...readableMergesOf(readable),
});

/** The merge with this id when the viewer may see it (the rule of node(id) below), else null; one query per request. */
export function loadVisibleMerge(ctx: Context, id: string) {
  return ctx
    .loader<string, Merge | null>('merge:visible', async (ids) => {
      const rows = await prisma.merge.findMany({ where: { id: { in: [...ids] }, ...visibleMergesWhere(ctx, await ctx.access.readableOrganizationIds()) } });
      return ids.map((i) => rows.find((r) => r.id === i) ?? null);
    })
    .load(id);
}

export const UserMergeRef = builder.prismaNode('Merge', {
  name: 'UserMerge',
  description: 'A merge of one user into another: who, when, what was decided, and whether it was undone.',
  id: { field: 'id' },
  nullable: true,
  // Visible to whoever can see the survivor and read an organization the merge touched
  // (any, for a merge that touched none); its fields show only those organizations' parts.
  findUnique: async (id, ctx) => (isUuid(id) ? { id, ...visibleMergesWhere(ctx, await ctx.access.readableOrganizationIds()) } : NO_ROW),
  fields: (t) => ({
    survivor: t.relation('survivor', { description: 'The user that stayed.' }),
    mergedUserId: t.id({
      description: 'Global id of the merged user (a tombstone: reads of it lead to the survivor while the merge stands).',
      resolve: (m) => encodeGlobalID('User', m.mergedId),
    }),
    organizationIds: t.idList({
      description: 'Global ids of the organizations the merge touched that you may read.',
      resolve: async (m, _args, ctx) => (await readableOf(ctx.access, m.organizationIds)).map((id) => encodeGlobalID('Organization', id)),
    }),
    conflicts: t.field({
      type: [MergeConflictRef],
      description: 'The conflicts of the merge and the side kept for each: profile conflicts, and those in organizations you may read.',
      resolve: (m, _args, ctx) => readableParts(ctx.access, m.decisions as unknown as MergeConflict[]),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the merge committed.' }),
    changedSinceMerge: t.field({
      type: [UnmergeDriftRef],
      description:
        'Only in the answer of a forced unmergeUser: the rows that had changed (by value) or been deleted since the merge, in organizations you may read; empty otherwise.',
      resolve: (m, _args, ctx) => readableParts(ctx.access, (m as UnmergedMerge).drift ?? []),
    }),
    undoneAt: t.expose('undoneAt', { type: 'DateTime', nullable: true, description: 'When it was undone (unmergeUser); null while it stands.' }),
  }),
});

// node(id) is compiled under the rule of findUnique above, and so are the id, survivor,
// createdAt, undoneAt and mergedUserId of a merge; organizationIds and conflicts under
// the rules their resolvers apply (compiled.ts).
compiledNode('UserMerge', visibleMergesWhere);
compiledField('UserMerge', 'mergedUserId', (_b, alias) => globalId('User', `${alias}.${model('Merge').fields.get('mergedId')!.column}`));

// The same rule is given to the resolver below and to the read engine (relatedList).
const NEWEST_FIRST = [{ createdAt: 'desc' as const }, { id: 'desc' as const }];
const survivorMergesQuery = (_ctx: Context, readable: string[] | 'all') => ({ where: readableMergesOf(readable), orderBy: NEWEST_FIRST });
compiledField('User', 'merges', relatedList('mergesAsSurvivor', survivorMergesQuery));

// Not a t.relation: the prisma plugin would load the relation with its parent, and
// answer it without this filter, which needs the organizations the viewer may read.
builder.prismaObjectField('User', 'merges', (t) =>
  t.prismaField({
    type: [UserMergeRef],
    description:
      'The merges of other users into this one that touched an organization you may read, newest first (undone ones included).',
    resolve: async (query, user, _args, ctx) => {
      const { where, orderBy } = survivorMergesQuery(ctx, await ctx.access.readableOrganizationIds());
      return prisma.merge.findMany({ ...query, where: { survivorId: user.id, ...where }, orderBy });
    },
  }),
);

builder.objectType(MergeChangedError, {
  name: 'MergeChangedError',
  description:
    'An unmerge would overwrite changes made since the merge (code CONFLICT); nothing was restored. Undo those changes, or later merges, first.',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof MergeChangedError,
  fields: (t) => ({
    changedIds: t.idList({
      description: 'Global ids of the rows that changed since the merge.',
      resolve: (e) => e.changed.map((c: ChangedRow) => encodeGlobalID(c.entity, c.id)),
    }),
  }),
});

const choicesArg = { description: 'Sides chosen for conflicts, by key; the default rules decide the rest.' };

builder.queryFields((t) => ({
  previewMergeUsers: t.field({
    type: MergePreviewRef,
    description:
      'What merging `mergedId` into `survivorId` would do, writing nothing: the rows that would move or go and every conflict with the side that would survive. Needs ORGANIZATION_ADMIN in every organization either user is in.',
    authScopes: { authenticated: true },
    args: {
      survivorId: t.arg.id({ description: 'The user that stays: its global id (or UUID).' }),
      mergedId: t.arg.id({ description: 'The user merged into it: its global id (or UUID).' }),
      choices: t.arg({ type: [MergeChoiceInput], required: false, ...choicesArg }),
    },
    resolve: (_root, args, ctx) => previewMerge(ctx.access, args),
  }),
}));

const MergeUsersInput = builder.inputType('MergeUsersInput', {
  description: 'Two users to merge, and the sides chosen for their conflicts.',
  fields: (t) => ({
    survivorId: t.id({ description: 'The user that stays: its global id (or UUID).' }),
    mergedId: t.id({ description: 'The user merged into it, which stays as a tombstone: its global id (or UUID).' }),
    choices: t.field({ type: [MergeChoiceInput], required: false, ...choicesArg }),
  }),
});

const UnmergeUserInput = builder.inputType('UnmergeUserInput', {
  description: 'The merge to undo.',
  fields: (t) => ({
    mergeId: t.id({ description: 'The merge: its global id (`UserMerge`), as mergeUsers returned it.' }),
    force: t.boolean({
      required: false,
      description:
        'Undo even when rows changed since the merge: every row that can come back does (later edits to it are overwritten), rows deleted since stay deleted, and what had changed is answered in `changedSinceMerge` and recorded as FORCED_UNMERGE events. Default false.',
    }),
  }),
});

builder.mutationFields((t) => ({
  mergeUsers: t.field({
    type: UserMergeRef,
    description:
      'Merges one user into another in one transaction: memberships, identifiers and identity links move to the survivor, conflicts are settled by your choices or the default rules, and the merged user stays as a tombstone whose id leads to the survivor. Needs ORGANIZATION_ADMIN in every organization either user is in; undo with unmergeUser.',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: MergeUsersInput, description: 'The users and choices.' }) },
    errors: mutationResult('MergeUsers', 'merge', 'merging users', [LastOrganizationAdminError]),
    resolve: async (_root, { input }, ctx) => (await mergeUsers(ctx.access, input)).merge,
  }),
  unmergeUser: t.field({
    type: UserMergeRef,
    description:
      'Undoes a merge: every row it changed or removed is restored as it was before (same ids and values), recorded as UNMERGE events. Refused with MergeChangedError when any of those rows changed since.',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: UnmergeUserInput, description: 'The merge to undo.' }) },
    errors: mutationResult('UnmergeUser', 'merge', 'undoing a merge', [MergeChangedError]),
    resolve: (_root, { input }, ctx) => unmergeUser(ctx.access, input),
  }),
}));

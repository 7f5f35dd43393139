import { builder } from '../../builder.ts';
import { prisma } from '../../db.ts';
import { mutationResult } from '../shared/errors.ts';
import type { InputFieldBuilder } from '../shared/fields.ts';
import type { Context } from '../../context.ts';
import { AS_OF_DESCRIPTION, checkedMoment } from '../shared/as-of.ts';
import { columnValue, compiledField, compiledNode, compiledObject, JsonText, leadNode, leadNodeAsOf, model, prebuiltRow, prebuiltUser, rootPlanners, whereSql, type PlanInfo, type RowsWhere } from '../shared/engine/index.ts';
import type { User } from '../../generated/prisma/client.ts';
import { authSubjectReadersWhere, visibleUsersWhere as visibleUsersOf } from '../shared/rules.ts';
import { redirectNodes } from '../shared/node.ts';
import { isUuid, NO_ROW } from '../shared/visibility.ts';
import { createUser, findUser, updateUser, userLookup, usersAmong, visibleUsersWhere } from './service.ts';
import { redirectsOf, survivorAt, survivorNow, userIdAsOf } from './tombstones.ts';

// `node` and `nodes` lead a merged user's id to the user it was merged into (the
// compiled `nodes` by the same rule, in its statement).
redirectNodes('User', (ids) => redirectsOf(ids));
leadNode('User', (b, id) => survivorNow(b.from(model('User')), id));

export const UserRef = builder.prismaNode('User', {
  description: 'A person who can sign in, and whom identifiers and identities resolve to.',
  id: { field: 'id' },
  nullable: true,
  // Visible to the user themself, to system admins, and to readers of an organization
  // the user belongs to; null otherwise, exactly as for an id that does not exist.
  // A tombstone (a merged user) never loads as itself: reads of its id lead to its survivor.
  findUnique: async (id, ctx) => (isUuid(id) ? { id, mergedIntoId: null, ...(await visibleUsersWhere(ctx.access)) } : NO_ROW),
  fields: (t) => ({
    email: t.exposeString('email', { description: 'Sign-in email, lower-cased; unique.' }),
    givenName: t.exposeString('givenName', { nullable: true, description: 'Given (first) name.' }),
    familyName: t.exposeString('familyName', { nullable: true, description: 'Family (last) name.' }),
    nickname: t.exposeString('nickname', { nullable: true, description: 'Casual name.' }),
    name: t.exposeString('name', { nullable: true, description: 'Full display name.' }),
    picture: t.exposeString('picture', { nullable: true, description: 'URL of a profile picture.' }),
    authSubject: t.string({
      nullable: true,
      description:
        "The `sub` claim of the user's sign-in tokens: who the identity provider says they are. Shown to the user and to admins of an organization the user belongs to; null to anyone else, and while the user has not signed in.",
      resolve: async (user, _args, ctx) => {
        const administered = await ctx.access.organizationIdsWith('admin');
        // The rule's cases that need no query: the viewer themself, everyone, or only themself.
        if (ownUser(ctx) === user.id || administered === 'all') return user.authSubject;
        if (!administered.length) return null;
        const readers = authSubjectReadersWhere(ownUser(ctx), administered);
        const kept = await ctx
          .loader<string, boolean>(`user.authSubject:${JSON.stringify(readers)}`, async (ids) => {
            const among = await usersAmong(readers, ids);
            return ids.map((id) => among.has(id));
          })
          .load(user.id);
        return kept ? user.authSubject : null;
      },
    }),
    isSystemAdmin: t.exposeBoolean('isSystemAdmin', {
      description: 'Whether the user administers the whole service (set in the database, never from a token).',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the user was created.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When the user last changed.' }),
  }),
});

// A whole operation of one `node(id)` of a visible user is answered by one statement
// (plugins/planned-operations.ts). Any other id, and a user not found (a merged user's
// id leads to its survivor there), take the general path.
// Other types declared with compiledNode (identifiers, identities) are answered the same way.
const visibleUser: RowsWhere = (ctx, readable) => ({ mergedIntoId: null, ...visibleUsersOf(ctx.access.viewer.kind === 'user' ? ctx.access.viewer.userId : null, readable) });
compiledNode('User', visibleUser);
// authSubject in SQL under the rule its resolver applies, given the organizations the
// viewer administers (read once per request).
compiledField('User', 'authSubject', (b, alias) => {
  const rule = authSubjectReadersWhere(ownUser(b.ctx), b.administered);
  return `CASE WHEN ${whereSql(b, model('User'), alias, rule)} THEN ${columnValue(model('User'), alias, 'authSubject')} END`;
});
/**
 * `user(id or email, asOf)`: the user as it was then, read from history by the engine
 * (what is selected of it too); a user merged away by then leads to the user it was
 * merged into then, as now.
 */
async function userAsOf(ctx: Context, info: PlanInfo, args: { id?: string | null; email?: string | null; asOf: Date }): Promise<JsonText | null> {
  const lookup = userLookup(args);
  const asOf = await checkedMoment(null, args.asOf);
  const id = await userIdAsOf(lookup, asOf);
  return id ? ((await prebuiltUser(ctx, info, id, asOf)) ?? null) : null;
}

/** The viewer's own user: always visible to itself. */
const ownUser = (ctx: Context) => (ctx.viewer.kind === 'user' ? ctx.viewer.userId : null);
/** `user(id | email)` now: the user the lookup names, under the rule node(id) reads users by. */
const lookedUp = (lookup: ReturnType<typeof userLookup>): RowsWhere => (c, readable, administered) => ({ ...lookup, ...visibleUser(c, readable, administered) });

// A whole operation of `viewer` or of `user` is one statement (plugins/planned-operations.ts),
// holes included: their resolvers compile the same read with holes, and take its answer.
// A miss of `user` may be a merged user's id or email: the general path leads it on.
// An API key has no user: its resolver answers null once the key is read again, as an
// answer with no statement would not check a key remembered from an earlier request.
rootPlanners.set('viewer', async (ctx, info) => {
  const id = ownUser(ctx);
  return id ? prebuiltRow(ctx, info, 'User', () => ({ id }), null, null, true) : undefined;
});
rootPlanners.set('user', async (ctx, info, args) => {
  if (args.asOf) return userAsOf(ctx, info, args as Parameters<typeof userAsOf>[2]);
  return (await prebuiltRow(ctx, info, 'User', lookedUp(userLookup(args as Parameters<typeof userLookup>[0])), null, null, true)) ?? undefined;
});
// As of a moment, nodes(ids) reads each id's user from where it led then.
leadNodeAsOf('User', (b, id) => survivorAt(b.from(model('User')), id));

builder.queryFields((t) => ({
  viewer: t.prismaField({
    type: UserRef,
    nullable: true,
    description: 'The signed-in user; null for anonymous callers and API keys.',
    resolve: async (query, _root, _args, ctx, info) => {
      const id = ownUser(ctx);
      if (!id) return null;
      // Compiled, but for the fields that have no SQL form (they take the general path alone).
      const answer = await prebuiltRow(ctx, info, 'User', () => ({ id }), null, null, true);
      return answer === undefined ? prisma.user.findUnique({ ...query, where: { id } }) : compiledObject<User>(answer, 'User', query);
    },
  }),
  user: t.prismaField({
    type: UserRef,
    nullable: true,
    description:
      'A user, by id or by email (give exactly one). Null unless it is you or a member of an organization you may read. A merged user\'s id or email leads to the user it was merged into.',
    authScopes: { authenticated: true },
    args: {
      id: t.arg.id({ required: false, description: 'Its global id (or UUID).' }),
      email: t.arg.string({ required: false, description: 'Its email, in any case.' }),
      asOf: t.arg({ type: 'DateTime', required: false, description: AS_OF_DESCRIPTION }),
    },
    resolve: async (query, _root, args, ctx, info) => {
      if (args.asOf) return compiledObject<User>(await userAsOf(ctx, info, { ...args, asOf: args.asOf }), 'User', query);
      const answer = await prebuiltRow(ctx, info, 'User', lookedUp(userLookup(args)), null, null, true);
      // A miss may be a merged user's id or email: the general path leads it to the survivor.
      return answer ? compiledObject<User>(answer, 'User', query) : findUser(ctx.access, args, query);
    },
  }),
}));

const profileFields = (t: InputFieldBuilder) => ({
  givenName: t.string({ required: false, description: 'Given (first) name, up to 200 characters; null clears it.' }),
  familyName: t.string({ required: false, description: 'Family (last) name, up to 200 characters; null clears it.' }),
  nickname: t.string({ required: false, description: 'Casual name, up to 200 characters; null clears it.' }),
  name: t.string({ required: false, description: 'Full display name, up to 200 characters; null clears it.' }),
  picture: t.string({ required: false, description: 'http(s) URL of a profile picture, up to 2048 characters; null clears it.' }),
});

const CreateUserInput = builder.inputType('CreateUserInput', {
  description: 'A new user.',
  fields: (t) => ({
    email: t.string({ description: 'Sign-in email, up to 254 characters; stored lower-cased, unique in any case.' }),
    authSubject: t.string({
      required: false,
      description: 'The `sub` claim of the user\'s sign-in tokens, up to 255 characters, when already known; unique.',
    }),
    ...profileFields(t),
  }),
});

const UpdateUserInput = builder.inputType('UpdateUserInput', {
  description: 'Changes to a user\'s profile. Fields left out stay as they are; null clears a field.',
  fields: (t) => ({
    id: t.id({ description: 'The user: its global id (or UUID).' }),
    email: t.string({
      required: false,
      description: 'New sign-in email, up to 254 characters; stored lower-cased, unique in any case. Cannot be cleared.',
    }),
    ...profileFields(t),
  }),
});

builder.mutationFields((t) => ({
  createUser: t.field({
    type: UserRef,
    description: 'Creates a user (system admin). To add someone to an organization, invite them with `addMember`.',
    authScopes: { systemAdmin: true },
    args: { input: t.arg({ type: CreateUserInput, description: 'The user to create.' }) },
    errors: mutationResult('CreateUser', 'user', 'creating a user'),
    resolve: (_root, { input }, ctx) => createUser(ctx.access, input),
  }),
  updateUser: t.field({
    type: UserRef,
    description: 'Changes a user\'s profile: your own, or anyone\'s for a system admin.',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: UpdateUserInput, description: 'The changes.' }) },
    errors: mutationResult('UpdateUser', 'user', 'updating a user'),
    resolve: (_root, { input }, ctx) => updateUser(ctx.access, input),
  }),
}));

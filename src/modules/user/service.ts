import { asSystem } from '../../db/scope.ts';
import type { Access } from '../../context.ts';
import { prisma } from '../../db.ts';
import { ConflictError, forbidden } from '../../errors.ts';
import type { Prisma, User } from '../../generated/prisma/client.ts';
import { recordAudit } from '../audit/service.ts';
import { auditedChange, auditEvent, type Audited } from '../shared/audited.ts';
import { isSystemAdmin, requireSystemAdmin } from '../shared/authorize.ts';
import { Issues, uniqueViolation } from '../shared/validate.ts';
import { redirectsOf } from './tombstones.ts';
import { visibleUsersWhere as visibleUsers } from '../shared/rules.ts';

// Users: rules and storage. No GraphQL here; resolvers call these.
// Every change is recorded as an audit event in the transaction that makes it. A user
// belongs to no organization, so those events carry none.

/** The user fields an audit event records. */
export const AUDITED_USER_FIELDS = [
  'email',
  'authSubject',
  'givenName',
  'familyName',
  'nickname',
  'name',
  'picture',
  'isSystemAdmin',
] as const;

/** Users' audit events, which belong to no organization. */
export const AUDITED_USER: Audited<User> = {
  model: 'User',
  entityType: 'User',
  fields: AUDITED_USER_FIELDS,
  find: (tx, id) => tx.user.findUnique({ where: { id } }),
  organizationOf: () => null,
};

/**
 * The filter for users the viewer may see: themself, and the members of every
 * organization the viewer may read (everyone, for a system admin).
 */
export async function visibleUsersWhere(access: Access) {
  return visibleUsers(access.viewer.kind === 'user' ? access.viewer.userId : null, await access.readableOrganizationIds());
}

/** Of `userIds`, those `where` (a User filter) keeps: one query. */
export async function usersAmong(where: Prisma.UserWhereInput, userIds: readonly string[]): Promise<Set<string>> {
  const rows = await prisma.user.findMany({ where: { id: { in: [...userIds] }, ...where }, select: { id: true } });
  return new Set(rows.map((r) => r.id));
}

/** The where of a user lookup by id or email (give exactly one), for reads. */
export function userLookup(args: { id?: string | null; email?: string | null }) {
  const issues = new Issues();
  if ((args.id == null) === (args.email == null)) issues.add('id', 'give exactly one of id or email');
  const id = issues.id('id', args.id, 'User');
  const email = issues.email('email', args.email);
  issues.throwIfAnyInRead();
  return id ? { id } : { email: email! };
}

/**
 * A user by id or email (give exactly one), as the `user` query answers: null unless
 * the viewer may see them, and a merged user's id or email leads to the user it was
 * merged into. `query` is the selection of the operation (relations to load).
 */
export async function findUser(
  access: Access,
  args: { id?: string | null; email?: string | null },
  query: { include?: Prisma.UserInclude; select?: Prisma.UserSelect } = {},
) {
  const lookup = userLookup(args);
  const visible = await visibleUsersWhere(access);
  const found = await prisma.user.findFirst({ ...query, where: { ...lookup, mergedIntoId: null, ...visible } });
  if (found) return found;
  const tombstone = await prisma.user.findFirst({ where: { ...lookup, mergedIntoId: { not: null } }, select: { id: true } });
  const survivor = tombstone && (await redirectsOf([tombstone.id])).get(tombstone.id);
  return survivor ? prisma.user.findFirst({ ...query, where: { id: survivor, ...visible } }) : null;
}

/** The profile fields every user has; null clears a field on update. */
export interface ProfileInput {
  givenName?: string | null;
  familyName?: string | null;
  nickname?: string | null;
  name?: string | null;
  picture?: string | null;
}

function profile(issues: Issues, input: ProfileInput) {
  return {
    givenName: issues.text('input.givenName', input.givenName, 200),
    familyName: issues.text('input.familyName', input.familyName, 200),
    nickname: issues.text('input.nickname', input.nickname, 200),
    name: issues.text('input.name', input.name, 200),
    picture: input.picture == null ? input.picture : issues.url('input.picture', input.picture.trim(), 2048),
  };
}

/** The CONFLICT of a unique violation on a user's email or sign-in subject. */
function conflictOn(fields: string[]): ConflictError {
  const field = fields.some((f) => /auth/i.test(f)) ? 'input.authSubject' : 'input.email';
  return new ConflictError([field], field === 'input.email' ? 'Another user has this email.' : 'Another user has this sign-in subject.');
}

export interface CreateUserInput extends ProfileInput {
  email: string;
  authSubject?: string | null;
}

/** Creates a user (system admin). Members are usually added by invitation instead (addMember). */
export async function createUser(access: Access, input: CreateUserInput) {
  requireSystemAdmin(access.viewer, 'create users');
  const issues = new Issues();
  const email = issues.email('input.email', input.email);
  const authSubject = issues.text('input.authSubject', input.authSubject, 255);
  const data = profile(issues, input);
  issues.throwIfAny();
  try {
    return await prisma.$transaction(async (tx) => {
      const user = await tx.user.create({ data: { email: email!, authSubject, ...data } });
      await recordAudit(tx, access.viewer, [auditEvent(AUDITED_USER, 'CREATE', null, user)]);
      return user;
    });
  } catch (err) {
    const fields = uniqueViolation(err);
    throw fields ? conflictOn(fields) : err;
  }
}

export interface UpdateUserInput extends ProfileInput {
  id: string;
  email?: string | null;
}

/**
 * Changes a user's profile: the user themself, or a system admin. Absent fields stay,
 * null clears a profile field; email cannot be cleared and must stay unique.
 */
export async function updateUser(access: Access, input: UpdateUserInput) {
  const issues = new Issues();
  const id = issues.id('input.id', input.id, 'User');
  issues.notNull('input.email', input.email);
  const email = issues.email('input.email', input.email);
  const data = profile(issues, input);
  if (!id) issues.throwIfAny();
  const self = access.viewer.kind === 'user' && access.viewer.userId === id;
  if (!self && !isSystemAdmin(access.viewer)) throw forbidden('You can only change your own profile.');
  issues.throwIfAny();
  // The change is recorded in the trail of each of the user's organizations, in or out
  // of the request's scope.
  return asSystem(() => auditedChange(
    access.viewer,
    AUDITED_USER,
    id!,
    (tx) =>
      tx.user.update({
        where: { id: id! },
        data: {
          ...(email != null && { email }),
          ...Object.fromEntries(Object.entries(data).filter(([, v]) => v !== undefined)),
        },
      }),
    { conflict: conflictOn, alsoIn: organizationsOfUser },
  ));
}

/** The organizations a user is a member of, whose trails show the user's profile changes. */
async function organizationsOfUser(tx: Prisma.TransactionClient, userId: string): Promise<string[]> {
  const members = await tx.member.findMany({ where: { userId }, select: { organizationId: true }, orderBy: { organizationId: 'asc' } });
  return members.map((m) => m.organizationId);
}

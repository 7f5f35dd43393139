import type { JWTPayload } from 'jose';
import type { CredentialCheck } from '../../context.ts';
import { prisma, sql } from '../../db.ts';
import type { MemberRole, MembershipState } from '../../generated/prisma/client.ts';
import { logger } from '../../observability/logger.ts';
import { activatePendingMemberships } from '../member/service.ts';
import { columnName, namedStatement, selectList, tableName, type FieldOf } from '../shared/sql-names.ts';
import { normaliseEmail, uniqueViolation } from '../shared/validate.ts';
import { survivorsOf } from '../user/tombstones.ts';

// The User behind a verified token: found by its subject, or, on a first sign-in,
// linked by verified email or created from the token's standard claims. Whether a
// user is a system admin is read from the database, never from a claim.
//
// Invitations by email create the user without a subject and a PENDING membership; the
// first sign-in that proves the email (linking) accepts them. Later PENDING memberships
// stay PENDING: a request is not an acceptance, and an admin may set PENDING on purpose.

/** A membership's role and state (null: not a member). */
export type MembershipFacts = { role: MemberRole; state: MembershipState } | null;

export interface SignedInUser {
  id: string;
  isSystemAdmin: boolean;
  /**
   * Memberships read in the same statement as the user, by organization: the one of the
   * organization the request acts in (null: not a member), or, for a request acting in
   * no one organization, every one (`allMemberships`); absent when not read.
   */
  memberships?: ReadonlyMap<string, MembershipFacts>;
  allMemberships?: boolean;
  /** With memberships read: how a viewer made of these facts is checked later. */
  check?: CredentialCheck;
}

const SELECT = { id: true, isSystemAdmin: true } as const;

const text = (value: unknown, max: number): string | null => {
  if (typeof value !== 'string') return null;
  const trimmed = value.trim();
  return trimmed ? trimmed.slice(0, max) : null;
};

function pictureUrl(value: unknown): string | null {
  if (typeof value !== 'string' || value.length > 2048) return null;
  try {
    return ['http:', 'https:'].includes(new URL(value).protocol) ? value : null;
  } catch {
    return null;
  }
}

interface UserRow {
  id: string;
  isSystemAdmin: boolean;
  mergedIntoId: string | null;
  role?: MemberRole | null;
  state?: MembershipState | null;
  /** Every membership, as igs_memberships_of writes them (migration credential_memberships). */
  memberships?: string;
}

/**
 * The user of a subject, with the membership of the organization the request acts in:
 * the facts a bearer token's viewer is made of. Given the placeholders of its two
 * parameters, as it also runs inside compiled reads (CredentialCheck).
 */
function userBySubject(subject: string, organizationId: string): string {
  const u = (f: FieldOf<'User'>) => `u.${columnName('User', f)}`;
  const m = (f: FieldOf<'Member'>) => `m.${columnName('Member', f)}`;
  return `SELECT ${selectList('User', ['id', 'isSystemAdmin', 'mergedIntoId'], 'u').sql}, ${m('role')}::text AS role, ${m('state')}::text AS state
   FROM ${tableName('User')} u LEFT JOIN ${tableName('Member')} m ON ${m('userId')} = ${u('id')} AND ${m('organizationId')} = ${organizationId}::uuid
   WHERE ${u('authSubject')} = ${subject}`;
}

/**
 * The user of a subject with every membership it has: the facts of a bearer token's
 * viewer acting in no one organization. The memberships are read for the server
 * (igs_memberships_of), so that inside a compiled read, whose scope names only the
 * organizations remembered, a membership of another one is seen too.
 */
function userWithMemberships(subject: string): string {
  return `SELECT ${selectList('User', ['id', 'isSystemAdmin', 'mergedIntoId'], 'u').sql}, igs_memberships_of(u.${columnName('User', 'id')}) AS memberships
   FROM ${tableName('User')} u WHERE u.${columnName('User', 'authSubject')} = ${subject}`;
}

// Every authenticated request whose credential is not in memory runs one of these.
const USER_BY_SUBJECT = namedStatement('user_by_subject', () => userBySubject('$1', '$2'));
const USER_WITH_MEMBERSHIPS = namedStatement('user_with_memberships', () => userWithMemberships('$1'));

/** The memberships igs_memberships_of wrote, by organization. */
const membershipsOf = (text: string): Map<string, MembershipFacts> =>
  new Map(
    text
      .split(',')
      .filter(Boolean)
      .map((entry) => {
        const [organizationId, role, state] = entry.split(':') as [string, MemberRole, MembershipState];
        return [organizationId, { role, state }];
      }),
  );

/** A known user's facts as a signed-in user, with how to check them inside a compiled read. */
function knownFacts(subject: string, organizationId: string | null, known: UserRow): SignedInUser {
  const base = { id: known.id, isSystemAdmin: known.isSystemAdmin };
  if (organizationId === null) {
    const check: CredentialCheck = { facts: (p) => userWithMemberships(p(subject, 'text')), expected: { ...known } };
    return { ...base, memberships: membershipsOf(known.memberships ?? ''), allMemberships: true, check };
  }
  const membership = known.role && known.state ? { role: known.role, state: known.state } : null;
  const check: CredentialCheck = { facts: (p) => userBySubject(p(subject, 'text'), p(organizationId, 'uuid')), expected: { ...known } };
  return { ...base, memberships: new Map([[organizationId, membership]]), check };
}

/** The email of the claims when the identity provider says it verified it; null otherwise. */
function verifiedEmail(claims: JWTPayload): string | null {
  const verified = claims.email_verified === true || claims.email_verified === 'true';
  if (!verified || typeof claims.email !== 'string') return null;
  return normaliseEmail(claims.email);
}

/**
 * The user a sign-in acts as: the user itself, or for a merged user (a tombstone) the
 * user it was merged into, so old tokens and accounts keep working after a merge.
 */
async function signedIn(user: Pick<SignedInUser, 'id' | 'isSystemAdmin'> & { mergedIntoId: string | null }): Promise<SignedInUser | null> {
  if (!user.mergedIntoId) return { id: user.id, isSystemAdmin: user.isSystemAdmin };
  const survivor = (await survivorsOf([user.id])).get(user.id);
  return survivor ? prisma.user.findUnique({ where: { id: survivor }, select: SELECT }) : null;
}

/**
 * The user a verified token signs in, or null when there is none and none may be made
 * (provisioning off, no verified email, or the email belongs to a user who signs in
 * with another subject). A known user's membership of `organizationId` (the
 * organization the request acts in), or without one every membership, comes with it in
 * the same statement, so the request's authorization needs no statement of its own.
 */
export async function userForToken(
  subject: string,
  claims: JWTPayload,
  provision: boolean,
  organizationId: string | null = null,
): Promise<SignedInUser | null> {
  const [known] = organizationId
    ? await sql<UserRow>(USER_BY_SUBJECT(), [subject, organizationId])
    : await sql<UserRow>(USER_WITH_MEMBERSHIPS(), [subject]);
  if (known && !known.mergedIntoId) return knownFacts(subject, organizationId, known);
  // A merged user signs in its survivor, whose membership is read when needed.
  if (known) return signedIn(known);
  if (!provision) return null;

  const email = verifiedEmail(claims);
  if (!email) return null;

  const byEmail = await prisma.user.findUnique({ where: { email }, select: { ...SELECT, authSubject: true, mergedIntoId: true } });
  // A merged user's email signs in its survivor.
  if (byEmail?.mergedIntoId) return signedIn(byEmail);
  if (byEmail) {
    // Created by a concurrent first request of the same subject.
    if (byEmail.authSubject === subject) return { id: byEmail.id, isSystemAdmin: byEmail.isSystemAdmin };
    if (byEmail.authSubject !== null) {
      // Linking would hand that account to whoever controls this subject.
      logger.warn({ userId: byEmail.id }, 'sign-in refused: the email belongs to a user with another subject');
      return null;
    }
    // Conditional, so two first sign-ins racing for one user cannot both link it.
    const linked = await prisma.user.updateMany({ where: { id: byEmail.id, authSubject: null }, data: { authSubject: subject } });
    if (linked.count === 0) return prisma.user.findUnique({ where: { authSubject: subject }, select: SELECT });
    await activatePendingMemberships(byEmail.id);
    return { id: byEmail.id, isSystemAdmin: byEmail.isSystemAdmin };
  }

  try {
    return await prisma.user.create({
      data: {
        email,
        authSubject: subject,
        name: text(claims.name, 200),
        givenName: text(claims.given_name, 200),
        familyName: text(claims.family_name, 200),
        nickname: text(claims.nickname, 200),
        picture: pictureUrl(claims.picture),
      },
      select: SELECT,
    });
  } catch (err) {
    // Another request of the same first sign-in created it first.
    if (!uniqueViolation(err)) throw err;
    return prisma.user.findUnique({ where: { authSubject: subject }, select: SELECT });
  }
}

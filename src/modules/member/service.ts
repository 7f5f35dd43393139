import type { Access } from '../../context.ts';
import { Prisma, prisma } from '../../db.ts';
import { deleteRows, keepDeleted } from '../deletion/store.ts';
import { text } from '../shared/inputs.ts';
import { ConflictError, forbidden, LastOrganizationAdminError, NotFoundError } from '../../errors.ts';
import type { Member, MemberRole, MembershipState } from '../../generated/prisma/client.ts';
import { type AuditInput, recordAudit } from '../audit/service.ts';
import { auditedChange, auditEvent, type Audited } from '../shared/audited.ts';
import { isSystemAdmin } from '../shared/authorize.ts';
import { column, rowKeys, selectList, sqlNames, table, type FieldOf } from '../shared/sql-names.ts';
import { ownMembershipsWhere, requireOrganizationOf, requireRowIn } from '../shared/tenant.ts';
import { matches } from '../shared/engine/where.ts';
import { containsTextWhere, visibleMembershipsWhere } from '../shared/rules.ts';
import { Issues, uniqueViolation } from '../shared/validate.ts';
import { AUDITED_USER, visibleUsersWhere } from '../user/service.ts';

// Memberships: rules and storage. No GraphQL here; resolvers call these.
//
// Invariant: every organization keeps at least one ACTIVE ORGANIZATION_ADMIN. Every
// change that could take one away (updateMember, removeMember) runs in a transaction
// that first locks the organization row (FOR NO KEY UPDATE, which does not block
// inserts that only reference the organization), so two such changes in one
// organization run one after the other and the second sees what the first did.
//
// Every change is recorded as an audit event in the transaction that makes it.

/** Memberships' audit events: the fields they record (the organization is the event's own). */
export const AUDITED_MEMBER: Audited<Member> = {
  model: 'Member',
  entityType: 'Member',
  fields: ['userId', 'role', 'state'],
  find: (tx, id) => tx.member.findUnique({ where: { id } }),
  organizationOf: (row) => row.organizationId,
};

const MEMBER = sqlNames('Member');
const MEMBER_KEYS = rowKeys('Member');
const USER = sqlNames('User');
const ORGANIZATION = sqlNames('Organization');

/** Only a system admin grants SYSTEM_ADMIN or changes a member who holds it. */
function requireRoleAuthority(access: Access, ...roles: (MemberRole | null | undefined)[]) {
  if (roles.includes('SYSTEM_ADMIN') && !isSystemAdmin(access.viewer)) {
    throw forbidden('Only a system admin can grant, change or remove the SYSTEM_ADMIN role.');
  }
}

const isActiveAdmin = (m: { role: MemberRole; state: MembershipState }) =>
  m.role === 'ORGANIZATION_ADMIN' && m.state === 'ACTIVE';

/**
 * Runs `change` on a member with the organization locked, and records it, refusing
 * with LastOrganizationAdminError when the member is an active ORGANIZATION_ADMIN,
 * would stop being one (`staysAdmin` false), and no other is left. `change` gets the
 * member as it was before (under the lock, so what the change replaces).
 */
function withAdminGuard<T extends Member | null>(
  access: Access,
  memberId: string,
  organizationId: string,
  staysAdmin: (member: { role: MemberRole; state: MembershipState }) => boolean,
  change: (tx: Prisma.TransactionClient, before: Member) => Promise<T>,
): Promise<T> {
  return auditedChange(
    access.viewer,
    AUDITED_MEMBER,
    memberId,
    async (tx, member) => {
      if (isActiveAdmin(member) && !staysAdmin(member)) {
        const others = await tx.member.count({
          where: { organizationId, role: 'ORGANIZATION_ADMIN', state: 'ACTIVE', id: { not: memberId } },
        });
        if (others === 0) throw new LastOrganizationAdminError();
      }
      return change(tx, member);
    },
    {
      lock: (tx) => {
        const o = ORGANIZATION();
        return tx.$queryRaw`SELECT ${o.id} FROM ${o.$table} WHERE ${o.id} = ${organizationId}::uuid FOR NO KEY UPDATE`;
      },
    },
  );
}

/** The organization and role of a member, or null when no member has this id. */
const organizationOfMember = (id: string) =>
  prisma.member.findUnique({ where: { id }, select: { organizationId: true, role: true } });

export interface AddMemberInput {
  organizationId?: string | null;
  userId?: string | null;
  email?: string | null;
  role?: MemberRole | null;
}

/**
 * Adds a user to an organization (ORGANIZATION_ADMIN of it). By `userId`, an existing
 * user you can see is added directly and is ACTIVE at once. By `email`, the user is
 * invited: created when no user has that email, and PENDING until they first sign in
 * (sign-in calls activatePendingMemberships); one who has signed in before is ACTIVE.
 * Records the membership's CREATE, and the user's when the invitation created one.
 */
export async function addMember(access: Access, input: AddMemberInput) {
  const issues = new Issues();
  if ((input.userId == null) === (input.email == null)) issues.add('input.userId', 'give exactly one of userId or email');
  const userId = issues.id('input.userId', input.userId, 'User');
  const email = issues.email('input.email', input.email);
  issues.notNull('input.role', input.role);
  const role = input.role ?? 'ANALYST';
  const organizationId = await requireOrganizationOf(access, issues, 'input.organizationId', input.organizationId, 'admin');
  requireRoleAuthority(access, role);
  issues.throwIfAny();

  const conflictField = userId ? 'input.userId' : 'input.email';
  // Resolved before the transaction: it may query, and the embedded database serves
  // one connection, which the transaction holds.
  const visibleUsers = userId ? await visibleUsersWhere(access) : {};
  try {
    return await prisma.$transaction(async (tx) => {
      const organization = await tx.organization.findUnique({ where: { id: organizationId }, select: { id: true } });
      if (!organization) throw new NotFoundError('Organization');
      const events: AuditInput[] = [];
      let memberUserId: string;
      let state: MembershipState = 'ACTIVE';
      if (userId) {
        const user = await tx.user.findFirst({
          where: { id: userId, ...visibleUsers },
          select: { id: true },
        });
        if (!user) throw new NotFoundError('User');
        memberUserId = user.id;
      } else {
        // Insert-if-missing without failing the transaction when another request
        // creates the same user at the same moment.
        const [created] = await tx.user.createManyAndReturn({ data: [{ email: email! }], skipDuplicates: true });
        const user = created ?? (await tx.user.findUniqueOrThrow({ where: { email: email! } }));
        if (created) {
          events.push(auditEvent(AUDITED_USER, 'CREATE', null, created));
        }
        memberUserId = user.id;
        if (user.authSubject === null) state = 'PENDING';
      }
      const member = await tx.member.create({ data: { organizationId: organizationId, userId: memberUserId, role, state } });
      events.push(auditEvent(AUDITED_MEMBER, 'CREATE', null, member));
      await recordAudit(tx, access.viewer, events);
      return member;
    });
  } catch (err) {
    if (uniqueViolation(err)) {
      throw new ConflictError([conflictField], 'The user is already a member of this organization.');
    }
    throw err;
  }
}

export interface UpdateMemberInput {
  id: string;
  role?: MemberRole | null;
  state?: MembershipState | null;
}

/**
 * Changes a member's role or state (ORGANIZATION_ADMIN of its organization). Refused
 * when it would leave the organization without an active ORGANIZATION_ADMIN.
 */
export async function updateMember(access: Access, input: UpdateMemberInput) {
  const issues = new Issues();
  const id = issues.id('input.id', input.id, 'Member');
  issues.notNull('input.role', input.role);
  issues.notNull('input.state', input.state);
  if (!id) issues.throwIfAny();
  const current = await organizationOfMember(id!);
  const organizationId = await requireRowIn(access, current?.organizationId, 'admin', 'Member');
  requireRoleAuthority(access, current!.role, input.role);
  issues.throwIfAny();
  const role = input.role ?? undefined;
  const state = input.state ?? undefined;
  return withAdminGuard(
    access,
    id!,
    organizationId,
    (m) => isActiveAdmin({ role: role ?? m.role, state: state ?? m.state }),
    (tx) => tx.member.update({ where: { id: id! }, data: { role, state } }),
  );
}

/** Removes a member (ORGANIZATION_ADMIN of its organization), never the last active admin. */
export async function removeMember(access: Access, input: { id: string; reason?: string | null }) {
  const issues = new Issues();
  const id = issues.id('input.id', input.id, 'Member');
  const reason = text(issues, 'input.reason', input.reason, 1000);
  issues.throwIfAny();
  const current = await organizationOfMember(id!);
  const organizationId = await requireRowIn(access, current?.organizationId, 'admin', 'Member');
  requireRoleAuthority(access, current!.role);
  await withAdminGuard(access, id!, organizationId, () => false, async (tx) => {
    const u = USER();
    const rows = await deleteRows(tx, 'members', Prisma.sql`${MEMBER().id} = ${id!}::uuid`);
    const [user] = await tx.$queryRaw<{ email: string }[]>`
      SELECT ${u.email} AS email FROM ${u.$table} WHERE ${u.id} = ${rows[0]![MEMBER_KEYS().userId] as string}::uuid`;
    await keepDeleted(tx, access.viewer, { organizationId, entityType: 'Member', entityId: id!, rows: { members: rows }, label: user?.email ?? '', reason });
    return null;
  });
  return id!;
}

/**
 * Activates a user's PENDING memberships (invitations). For sign-in: call it once the
 * user is authenticated; SUSPENDED memberships stay suspended. Each activation is an audit
 * event in its organization, by the user.
 */
export async function activatePendingMemberships(userId: string): Promise<number> {
  // The user accepts by signing in, so the events name the user as the actor.
  const viewer = { kind: 'user', userId, isSystemAdmin: false, boundOrganizationId: null } as const;
  return prisma.$transaction(async (tx) => {
    const m = (f: FieldOf<'Member'>) => column('Member', f);
    const activated = await tx.$queryRaw<Pick<Member, 'id' | 'organizationId'>[]>`
      UPDATE ${table('Member')} SET ${m('state')} = 'ACTIVE', ${m('updatedAt')} = now() WHERE ${m('userId')} = ${userId}::uuid AND ${m('state')} = 'PENDING'
      RETURNING ${selectList('Member', ['id', 'organizationId'])}`;
    await recordAudit(
      tx,
      viewer,
      activated.map((row) => ({
        organizationId: row.organizationId,
        entityType: 'Member',
        entityId: row.id,
        action: 'UPDATE',
        changes: { state: { before: 'PENDING', after: 'ACTIVE' } },
      })),
    );
    return activated.length;
  });
}

/** Members of an organization matching the filters of `Organization.members`. */
export function membersWhere(args: {
  role?: MemberRole | null;
  state?: MembershipState | null;
  search?: string | null;
}): Prisma.MemberWhereInput {
  const issues = new Issues();
  issues.text('search', args.search, 200);
  issues.throwIfAnyInRead();
  const search = args.search?.trim();
  return {
    ...(args.role && { role: args.role }),
    ...(args.state && { state: args.state }),
    ...(search && {
      user: { OR: (['email', 'givenName', 'familyName', 'nickname', 'name'] as const).map((field) => containsTextWhere(field, search)) },
    }),
  };
}

/** The memberships the viewer may see: those in organizations it may read (`readable`), and its own in any state. */
export const visibleMembershipsFor = (access: Access, readable: string[] | 'all') =>
  visibleMembershipsWhere(ownMembershipsWhere(access), readable);

/** Of a user's memberships, those the viewer may see. */
export async function visibleMemberships<M extends Member>(access: Access, memberships: readonly M[]): Promise<M[]> {
  const visible = visibleMembershipsFor(access, await access.readableOrganizationIds());
  return memberships.filter((m) => matches(m, visible));
}

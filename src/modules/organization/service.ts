import { asSystem } from '../../db/scope.ts';
import type { Access, Viewer } from '../../context.ts';
import { prisma } from '../../db.ts';
import { ConflictError, forbidden, NotFoundError } from '../../errors.ts';
import type { Organization } from '../../generated/prisma/client.ts';
import { changesOf, recordAudit } from '../audit/service.ts';
import { AUDITED_MEMBER } from '../member/service.ts';
import { auditedChange, auditEvent, type Audited } from '../shared/audited.ts';
import { isSystemAdmin, requireOrganizationAccess, requireSystemAdmin } from '../shared/authorize.ts';
import { Issues, uniqueViolation } from '../shared/validate.ts';
import { selectList, table, type FieldOf } from '../shared/sql-names.ts';
import { phoneRegion } from '../shared/inputs.ts';
import { renormalisePhones } from '../matching/regions.ts';

// Organizations: rules and storage. No GraphQL here; resolvers call these.
// Every change is recorded as an audit event in the transaction that makes it.

/** Organizations' audit events: the fields they record. */
export const AUDITED_ORGANIZATION: Audited<Organization> = {
  model: 'Organization',
  entityType: 'Organization',
  fields: ['slug', 'name', 'autoApproveLinkConfidence', 'defaultPhoneRegion', 'deletedRetentionDays', 'historyRetentionDays'],
  find: (tx, id) => tx.organization.findUnique({ where: { id } }),
  organizationOf: (row) => row.id,
};

export interface CreateOrganizationInput {
  slug: string;
  name: string;
}

const slugTaken = (slug: string | undefined) => new ConflictError(['input.slug'], `The slug "${slug}" is taken.`);

/**
 * Creates an organization; the creating user becomes its active ORGANIZATION_ADMIN.
 * Records both: the organization's CREATE and its first membership's.
 */
export async function createOrganization(viewer: Viewer, input: CreateOrganizationInput) {
  if (viewer.kind !== 'user') throw forbidden('Only a signed-in user can create an organization.');
  const issues = new Issues();
  const slug = issues.key('input.slug', input.slug, 'slug');
  const name = issues.text('input.name', input.name, 200, { required: true });
  issues.throwIfAny();
  try {
    // The new organization is in no request's scope yet: any signed-in user may create one.
    return await asSystem(() => prisma.$transaction(async (tx) => {
      const organization = await tx.organization.create({ data: { slug: slug!, name: name! } });
      const member = await tx.member.create({
        data: { organizationId: organization.id, userId: viewer.userId, role: 'ORGANIZATION_ADMIN', state: 'ACTIVE' },
      });
      await recordAudit(tx, viewer, [
        auditEvent(AUDITED_ORGANIZATION, 'CREATE', null, organization),
        auditEvent(AUDITED_MEMBER, 'CREATE', null, member),
      ]);
      return organization;
    }));
  } catch (err) {
    if (uniqueViolation(err)) throw slugTaken(slug);
    throw err;
  }
}

export interface UpdateOrganizationInput {
  id: string;
  slug?: string | null;
  name?: string | null;
  autoApproveLinkConfidence?: number | null;
  defaultPhoneRegion?: string | null;
  deletedRetentionDays?: number | null;
  historyRetentionDays?: number | null;
}

/**
 * Changes an organization's name, slug or link-suggestion setting (ORGANIZATION_ADMIN);
 * absent fields stay, a null threshold turns automatic approval off.
 */
export async function updateOrganization(access: Access, input: UpdateOrganizationInput) {
  const issues = new Issues();
  const id = issues.id('input.id', input.id, 'Organization');
  issues.notNull('input.slug', input.slug);
  issues.notNull('input.name', input.name);
  const slug = issues.key('input.slug', input.slug ?? undefined, 'slug');
  const name = issues.text('input.name', input.name, 200);
  const threshold = input.autoApproveLinkConfidence;
  if (threshold != null && !(threshold >= 0 && threshold <= 1)) issues.add('input.autoApproveLinkConfidence', 'must be a number from 0 to 1, or null');
  const region = phoneRegion(issues, 'input.defaultPhoneRegion', input.defaultPhoneRegion);
  for (const field of ['deletedRetentionDays', 'historyRetentionDays'] as const) {
    issues.notNull(`input.${field}`, input[field]);
    const days = input[field];
    if (days != null && !(Number.isInteger(days) && days >= 1 && days <= 3650)) issues.add(`input.${field}`, 'must be a whole number of days from 1 to 3650');
  }
  if (!id) issues.throwIfAny();
  await requireOrganizationAccess(access, id!, 'admin');
  issues.throwIfAny();
  return auditedChange(
    access.viewer,
    AUDITED_ORGANIZATION,
    id!,
    async (tx, before) => {
      const after = await tx.organization.update({
        where: { id: id! },
        data: {
          ...(slug !== undefined && { slug }),
          ...(name != null && { name }),
          ...(threshold !== undefined && { autoApproveLinkConfidence: threshold }),
          ...(region !== undefined && { defaultPhoneRegion: region }),
          ...(input.deletedRetentionDays != null && { deletedRetentionDays: input.deletedRetentionDays }),
          ...(input.historyRetentionDays != null && { historyRetentionDays: input.historyRetentionDays }),
        },
      });
      if (after.defaultPhoneRegion !== before.defaultPhoneRegion) await renormalisePhones(tx, after.id);
      return after;
    },
    { conflict: () => slugTaken(slug) },
  );
}

/** What an organization's DELETE event records of it (its retention settings are not among them). */
const DELETE_RECORDS = ['slug', 'name', 'autoApproveLinkConfidence', 'defaultPhoneRegion'] as const satisfies readonly FieldOf<'Organization'>[];

/**
 * Deletes an organization and all its tenant data in one transaction (system admin).
 * Identifiers and identities go first: they refer to the organization's sources with
 * ON DELETE RESTRICT, which a single cascading delete could trip over. The organization
 * row is locked first so no new tenant row can be added while it is being removed.
 * The organization's audit trail goes with it; its DELETE event is recorded without
 * an organization, so that one survives.
 */
export async function deleteOrganization(access: Access, input: { id: string }) {
  const issues = new Issues();
  const parsed = issues.id('input.id', input.id, 'Organization');
  issues.throwIfAny();
  const id = parsed!;
  access.assertTenant(id);
  requireSystemAdmin(access.viewer, 'delete an organization');
  const deleted = await prisma.$transaction(async (tx) => {
    const locked = await tx.$queryRaw<Pick<Organization, 'id' | (typeof DELETE_RECORDS)[number]>[]>`
      SELECT ${selectList('Organization', ['id', ...DELETE_RECORDS])} FROM ${table('Organization')} WHERE id = ${id}::uuid FOR UPDATE`;
    const before = locked[0];
    if (!before) return false;
    await tx.identifier.deleteMany({ where: { organizationId: id } });
    await tx.identity.deleteMany({ where: { organizationId: id } });
    await tx.organization.delete({ where: { id } });
    await recordAudit(tx, access.viewer, [
      {
        organizationId: null,
        entityType: 'Organization',
        entityId: id,
        action: 'DELETE',
        changes: changesOf(before, null, DELETE_RECORDS),
      },
    ]);
    return true;
  });
  if (!deleted) throw new NotFoundError('Organization');
  return id;
}

/**
 * The id of the organization a read names by id or slug, once the viewer may read it.
 * Anyone but a system admin gets FORBIDDEN for an organization they may not read,
 * whether or not it exists; a system admin gets null for one that does not.
 */
export async function organizationIdForRead(
  access: Access,
  args: { id?: string | null; slug?: string | null },
): Promise<string | null> {
  const issues = new Issues();
  if ((args.id == null) === (args.slug == null)) issues.add('id', 'give exactly one of id or slug');
  const id = issues.id('id', args.id, 'Organization');
  const slug = issues.key('slug', args.slug ?? undefined, 'slug');
  issues.throwIfAnyInRead();
  const organizationId =
    id ?? (await prisma.organization.findUnique({ where: { slug: slug! }, select: { id: true } }))?.id ?? null;
  if (organizationId === null) {
    if (isSystemAdmin(access.viewer)) return null;
    throw forbidden();
  }
  await requireOrganizationAccess(access, organizationId, 'read');
  return organizationId;
}


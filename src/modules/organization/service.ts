import type { Access, Viewer } from '../../context.ts';
import { prisma } from '../../db.ts';
import { ConflictError, forbidden, NotFoundError } from '../../errors.ts';
import { isSystemAdmin, requireOrganizationAccess, requireSystemAdmin } from '../shared/authorize.ts';
import { Issues, prismaErrorCode, uniqueViolation } from '../shared/validate.ts';

// Organizations: rules and storage. No GraphQL here; resolvers call these.

export interface CreateOrganizationInput {
  slug: string;
  name: string;
}

const slugTaken = (slug: string | undefined) => new ConflictError(['input.slug'], `The slug "${slug}" is taken.`);

/** Creates an organization; the creating user becomes its active ORGANIZATION_ADMIN. */
export async function createOrganization(viewer: Viewer, input: CreateOrganizationInput) {
  if (viewer.kind !== 'user') throw forbidden('Only a signed-in user can create an organization.');
  const issues = new Issues();
  const slug = issues.key('input.slug', input.slug, 'slug');
  const name = issues.text('input.name', input.name, 200, { required: true });
  issues.throwIfAny();
  try {
    return await prisma.organization.create({
      data: {
        slug: slug!,
        name: name!,
        members: { create: { userId: viewer.userId, role: 'ORGANIZATION_ADMIN', state: 'ACTIVE' } },
      },
    });
  } catch (err) {
    if (uniqueViolation(err)) throw slugTaken(slug);
    throw err;
  }
}

export interface UpdateOrganizationInput {
  id: string;
  slug?: string | null;
  name?: string | null;
}

/** Changes an organization's name or slug (ORGANIZATION_ADMIN); absent fields stay. */
export async function updateOrganization(access: Access, input: UpdateOrganizationInput) {
  const issues = new Issues();
  const id = issues.id('input.id', input.id, 'Organization');
  issues.notNull('input.slug', input.slug);
  issues.notNull('input.name', input.name);
  const slug = issues.key('input.slug', input.slug ?? undefined, 'slug');
  const name = issues.text('input.name', input.name, 200);
  if (!id) issues.throwIfAny();
  await requireOrganizationAccess(access, id!, 'admin');
  issues.throwIfAny();
  try {
    return await prisma.organization.update({
      where: { id: id! },
      data: { ...(slug !== undefined && { slug }), ...(name != null && { name }) },
    });
  } catch (err) {
    if (uniqueViolation(err)) throw slugTaken(slug);
    if (prismaErrorCode(err) === 'P2025') throw new NotFoundError('Organization');
    throw err;
  }
}

/**
 * Deletes an organization and all its tenant data in one transaction (system admin).
 * Identifiers and identities go first: they refer to the organization's sources with
 * ON DELETE RESTRICT, which a single cascading delete could trip over. The organization
 * row is locked first so no new tenant row can be added while it is being removed.
 */
export async function deleteOrganization(access: Access, input: { id: string }) {
  const issues = new Issues();
  const parsed = issues.id('input.id', input.id, 'Organization');
  issues.throwIfAny();
  const id = parsed!;
  access.assertTenant(id);
  requireSystemAdmin(access.viewer, 'delete an organization');
  const deleted = await prisma.$transaction(async (tx) => {
    const locked = await tx.$queryRaw<{ id: string }[]>`
      SELECT id FROM organizations WHERE id = ${id}::uuid FOR UPDATE`;
    if (locked.length === 0) return false;
    await tx.identifier.deleteMany({ where: { organizationId: id } });
    await tx.identity.deleteMany({ where: { organizationId: id } });
    await tx.organization.delete({ where: { id } });
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

/** The filter for organizations the viewer may read: all for a system admin, else their own. */
export async function readableOrganizationsWhere(access: Access) {
  const readable = await access.readableOrganizationIds();
  return readable === 'all' ? {} : { id: { in: readable } };
}

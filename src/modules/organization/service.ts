import type { Viewer } from '../../context.ts';
import { prisma } from '../../db.ts';
import { ConflictError, forbidden } from '../../errors.ts';
import { Issues, uniqueViolation } from '../shared/validate.ts';

// Organizations: rules and storage. No GraphQL here; resolvers call these.

export interface CreateOrganizationInput {
  slug: string;
  name: string;
}

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
    if (uniqueViolation(err)) throw new ConflictError(['input.slug'], `The slug "${slug}" is taken.`);
    throw err;
  }
}

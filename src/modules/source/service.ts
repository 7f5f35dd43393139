import type { Access } from '../../context.ts';
import { prisma } from '../../db.ts';
import { ConflictError, InUseError, NotFoundError } from '../../errors.ts';
import type { SourceKind } from '../../generated/prisma/client.ts';
import { requireOrganizationAccess, requireRowAccess } from '../shared/authorize.ts';
import { Issues, prismaErrorCode, uniqueViolation } from '../shared/validate.ts';

// Integration sources and identity providers: rules and storage. No GraphQL here.

const keyTaken = (key: string | undefined) =>
  new ConflictError(['input.key'], `The organization already has a source with the key "${key}".`);

export interface CreateSourceInput {
  organizationId: string;
  kind: SourceKind;
  key: string;
  name: string;
}

/** Connects a source to an organization (ORGANIZATION_ADMIN of it). */
export async function createSource(access: Access, input: CreateSourceInput) {
  const issues = new Issues();
  const organizationId = issues.id('input.organizationId', input.organizationId, 'Organization');
  const key = issues.key('input.key', input.key);
  const name = issues.text('input.name', input.name, 200, { required: true });
  if (!organizationId) issues.throwIfAny();
  await requireOrganizationAccess(access, organizationId!, 'admin');
  issues.throwIfAny();
  try {
    return await prisma.integrationSource.create({
      data: { organizationId: organizationId!, kind: input.kind, key: key!, name: name! },
    });
  } catch (err) {
    if (uniqueViolation(err)) throw keyTaken(key);
    // Only a system admin gets this far for an organization that does not exist.
    if (prismaErrorCode(err) === 'P2003') throw new NotFoundError('Organization');
    throw err;
  }
}

/** The organization of a source, or null when no source has this id. */
async function organizationOfSource(id: string) {
  const row = await prisma.integrationSource.findUnique({ where: { id }, select: { organizationId: true } });
  return row?.organizationId ?? null;
}

export interface UpdateSourceInput {
  id: string;
  key?: string | null;
  name?: string | null;
}

/**
 * Renames a source or changes its key (ORGANIZATION_ADMIN of its organization); absent
 * fields stay. Its kind is fixed: identities point at identity providers by it.
 */
export async function updateSource(access: Access, input: UpdateSourceInput) {
  const issues = new Issues();
  const id = issues.id('input.id', input.id, 'IntegrationSource');
  issues.notNull('input.key', input.key);
  issues.notNull('input.name', input.name);
  const key = issues.key('input.key', input.key ?? undefined);
  const name = issues.text('input.name', input.name, 200);
  if (!id) issues.throwIfAny();
  await requireRowAccess(access, await organizationOfSource(id!), 'admin', 'IntegrationSource');
  issues.throwIfAny();
  try {
    return await prisma.integrationSource.update({
      where: { id: id! },
      data: { ...(key !== undefined && { key }), ...(name != null && { name }) },
    });
  } catch (err) {
    if (uniqueViolation(err)) throw keyTaken(key);
    if (prismaErrorCode(err) === 'P2025') throw new NotFoundError('IntegrationSource');
    throw err;
  }
}

/**
 * Deletes a source (ORGANIZATION_ADMIN of its organization). While identifiers or
 * identities use it, refused with InUseError, unless `cascade` asks to delete them
 * too. The source row is locked first: an identifier or identity being added for it
 * at the same moment waits, then fails on the missing source, so nothing is orphaned
 * and nothing slips past the check.
 */
export async function deleteSource(access: Access, input: { id: string; cascade?: boolean | null }) {
  const issues = new Issues();
  const id = issues.id('input.id', input.id, 'IntegrationSource');
  issues.throwIfAny();
  const organizationId = await requireRowAccess(access, await organizationOfSource(id!), 'admin', 'IntegrationSource');
  await prisma.$transaction(async (tx) => {
    const locked = await tx.$queryRaw<{ id: string }[]>`
      SELECT id FROM integration_sources WHERE id = ${id}::uuid FOR UPDATE`;
    if (locked.length === 0) throw new NotFoundError('IntegrationSource');
    const where = { organizationId, sourceId: id! };
    if (input.cascade) {
      await tx.identifier.deleteMany({ where });
      await tx.identity.deleteMany({ where });
    } else {
      const [identifiers, identities] = await Promise.all([tx.identifier.count({ where }), tx.identity.count({ where })]);
      if (identifiers + identities > 0) {
        throw new InUseError(
          'IntegrationSource',
          [
            { entity: 'Identifier', count: identifiers },
            { entity: 'Identity', count: identities },
          ].filter((r) => r.count > 0),
        );
      }
    }
    await tx.integrationSource.delete({ where: { id: id! } });
  });
  return id!;
}

import type { Access } from '../../context.ts';
import { Prisma, prisma } from '../../db.ts';
import type { Identity } from '../../generated/prisma/client.ts';
import type { Audited } from '../shared/audited.ts';
import { table } from '../shared/sql-names.ts';
import { requireRowIn } from '../shared/tenant.ts';
import { Issues } from '../shared/validate.ts';
import { identityEvent } from './events.ts';
import { identityColumns } from './write.ts';

// Changing one identity: found for the viewer, then changed through auditedChange.

/** The identity with this id, for a change at `level`: NOT_FOUND unless the viewer may see it. */
export async function identityFor(access: Access, rawId: string, path: string, level: 'write' | 'admin' = 'write') {
  const issues = new Issues();
  const id = issues.id(path, rawId, 'Identity');
  issues.throwIfAny();
  const row = await prisma.identity.findUnique({ where: { id: id! } });
  await requireRowIn(access, row?.organizationId, level, 'Identity');
  return row!;
}

const read = (tx: Prisma.TransactionClient, id: string, lock: Prisma.Sql) =>
  tx.$queryRaw<Identity[]>`SELECT ${identityColumns()} FROM ${table('Identity')} WHERE id = ${id}::uuid ${lock}`.then(([row]) => row ?? null);

/**
 * Identities' audit events, with the property changes a change reports. A change locks
 * the row FOR UPDATE, as deleting it would: property writes, which refer to it, wait
 * for the change instead of racing it.
 */
export const AUDITED_IDENTITY: Audited<Identity> = {
  model: 'Identity',
  entityType: 'Identity',
  event: identityEvent,
  find: (tx, id) => read(tx, id, Prisma.empty),
  findLocked: (tx, id) => read(tx, id, Prisma.sql`FOR UPDATE`),
  organizationOf: (row) => row.organizationId,
};

import type { Access } from '../../context.ts';
import { Prisma, prisma } from '../../db.ts';
import { NotFoundError } from '../../errors.ts';
import type { Identity } from '../../generated/prisma/client.ts';
import { recordAudit, type Changes } from '../audit/service.ts';
import { requireRowIn } from '../shared/tenant.ts';
import { Issues } from '../shared/validate.ts';
import { identityEvent } from './events.ts';
import { identityColumns } from './write.ts';

// Changing one identity: found for the viewer, locked, changed, and audited.

/** The identity with this id, for a change at `level`: NOT_FOUND unless the viewer may see it. */
export async function identityFor(access: Access, rawId: string, path: string, level: 'write' | 'admin' = 'write') {
  const issues = new Issues();
  const id = issues.id(path, rawId, 'Identity');
  issues.throwIfAny();
  const row = await prisma.identity.findUnique({ where: { id: id! } });
  await requireRowIn(access, row?.organizationId, level, 'Identity');
  return row!;
}

/** The identity as it is now, locked until the transaction ends; NOT_FOUND when it is gone. */
async function lockIdentity(tx: Prisma.TransactionClient, id: string): Promise<Identity> {
  const [row] = await tx.$queryRaw<Identity[]>`SELECT ${identityColumns()} FROM identities WHERE id = ${id}::uuid FOR UPDATE`;
  if (!row) throw new NotFoundError('Identity');
  return row;
}

/** Runs `change` on the locked identity in a transaction and records its event (nothing when nothing changed). */
export function changeIdentity(
  access: Access,
  id: string,
  change: (tx: Prisma.TransactionClient, before: Identity) => Promise<{ after: Identity | null; properties?: Changes }>,
): Promise<Identity | null> {
  return prisma.$transaction(async (tx) => {
    const before = await lockIdentity(tx, id);
    const { after, properties } = await change(tx, before);
    await recordAudit(tx, access.viewer, [identityEvent(after ? 'UPDATE' : 'DELETE', before, after, properties)]);
    return after;
  });
}

import { prisma } from '../../src/db.ts';

/** The audit events written while `fn` runs, oldest first. */
export async function eventsDuring<T>(fn: () => Promise<T>) {
  const known = new Set((await prisma.auditEvent.findMany({ select: { id: true } })).map((e) => e.id));
  const result = await fn();
  const rows = await prisma.auditEvent.findMany({ orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
  return { result, events: rows.filter((e) => !known.has(e.id)) };
}

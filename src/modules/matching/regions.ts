import { prisma, type Prisma } from '../../db.ts';
import { normaliseValue } from './normalise.ts';
import { sourceIdOf } from '../shared/inputs.ts';

// The default regions national phone numbers are read in: a source's own, else its
// organization's. Looked up only for values that need one (see needsRegion), so a
// lookup or write of anything else costs no statement more.

/** The organization's default phone region, or null. */
export async function organizationRegion(organizationId: string): Promise<string | null> {
  const row = await prisma.organization.findUnique({ where: { id: organizationId }, select: { defaultPhoneRegion: true } });
  return row?.defaultPhoneRegion ?? null;
}

/** The region of each source named (by key or id, see sourceIdOf), by the name given; absent for no such source. */
export async function sourceRegions(organizationId: string, sources: string[]): Promise<Map<string, string | null>> {
  const names = [...new Set(sources)];
  if (!names.length) return new Map();
  const rows = await prisma.$queryRaw<{ src: string; region: string | null }[]>`
    SELECT q.src, coalesce(s.default_phone_region, o.default_phone_region) AS region
    FROM unnest(${names}::text[], ${names.map(sourceIdOf)}::uuid[]) AS q(src, sid)
    JOIN integration_sources s ON s.organization_id = ${organizationId}::uuid AND (s.key = q.src OR s.id = q.sid)
    JOIN organizations o ON o.id = s.organization_id`;
  return new Map(rows.map((r) => [r.src, r.region]));
}

/**
 * Normalises the organization's phone identifiers again after its default region
 * changed (those of sources with a region of their own stay): a national number
 * stored as digits becomes E.164 once a region says how to read it. One statement
 * reads them and one writes those that changed.
 */
export async function renormalisePhones(tx: Prisma.TransactionClient, organizationId: string): Promise<number> {
  const rows = await tx.$queryRaw<{ id: string; value: string; normalized: string; region: string | null }[]>`
    SELECT i.id, i.identifier_value AS value, i.normalized_value AS normalized, o.default_phone_region AS region
    FROM identifiers i JOIN integration_sources s ON s.id = i.source_id JOIN organizations o ON o.id = i.organization_id
    WHERE i.organization_id = ${organizationId}::uuid AND i.value_kind = 'PHONE' AND s.default_phone_region IS NULL`;
  const changed = rows.flatMap((r) => {
    const normalized = normaliseValue('PHONE', r.value, r.region);
    return normalized === r.normalized ? [] : [{ id: r.id, normalized }];
  });
  if (!changed.length) return 0;
  return tx.$executeRaw`
    UPDATE identifiers i SET normalized_value = c.normalized
    FROM unnest(${changed.map((c) => c.id)}::uuid[], ${changed.map((c) => c.normalized)}::text[]) AS c(id, normalized)
    WHERE i.id = c.id`;
}

/** The organization's default phone region when an item gives a phoneNumber without its country code (else no statement). */
export async function regionForPhones(organizationId: string, items: readonly unknown[]): Promise<string | null> {
  const national = items.some((item) => {
    const phone = (item as { phoneNumber?: unknown } | null)?.phoneNumber;
    return typeof phone === 'string' && !phone.trim().startsWith('+');
  });
  return national ? organizationRegion(organizationId) : null;
}

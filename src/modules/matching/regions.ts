import { prisma, type Prisma } from '../../db.ts';
import { normaliseValue } from './normalise.ts';
import { sourceIdOf } from '../shared/inputs.ts';
import { sqlNames } from '../shared/sql-names.ts';

// The default regions national phone numbers are read in: a source's own, else its
// organization's. Looked up only for values that need one (see needsRegion), so a
// lookup or write of anything else costs no statement more.

const SOURCE = sqlNames('IntegrationSource');
const ORGANIZATION = sqlNames('Organization');
const IDENTIFIER = sqlNames('Identifier');

/** The organization's default phone region, or null (remembered: see rememberRegion). */
export async function organizationRegion(organizationId: string): Promise<string | null> {
  const row = await prisma.organization.findUnique({ where: { id: organizationId }, select: { defaultPhoneRegion: true } });
  return rememberRegion(organizationId, row?.defaultPhoneRegion ?? null);
}

// Each organization's region, and each source's (its own, else its organization's), as
// this process last read them. A compiled resolve normalises a national phone number for
// them and its statement picks the form for the region stored then (graph/compiled.ts):
// a region remembered wrongly costs a statement, never an answer.
const REMEMBERED_MAX = 10_000;

/** A map of at most REMEMBERED_MAX entries, the least recently set left out first. */
function cappedMemory() {
  const entries = new Map<string, string | null>();
  return {
    set(key: string, region: string | null): string | null {
      entries.delete(key);
      if (entries.size >= REMEMBERED_MAX) entries.delete(entries.keys().next().value!);
      entries.set(key, region);
      return region;
    },
    get: (key: string): string | null | undefined => entries.get(key),
  };
}

const organizationMemory = cappedMemory();
const sourceMemory = cappedMemory();
/** A source as remembered: within its organization, by id when named by one (UUID or global id), else by key. */
const sourceEntry = (organizationId: string, source: string) => `${organizationId}/${sourceIdOf(source) ?? source}`;

/** Remembers the region just read for an organization, and returns it. */
export const rememberRegion = (organizationId: string, region: string | null): string | null => organizationMemory.set(organizationId, region);

/** The organization's region as last read (null: none set); undefined when not read yet. */
export const rememberedRegion = (organizationId: string): string | null | undefined => organizationMemory.get(organizationId);

/** Remembers the region just read for a source named by key or id (null: none, or no such source), and returns it. */
export const rememberSourceRegion = (organizationId: string, source: string, region: string | null): string | null =>
  sourceMemory.set(sourceEntry(organizationId, source), region);

/** The region a source named by key or id was last read in (null: none); undefined when not read yet. */
export const rememberedSourceRegion = (organizationId: string, source: string): string | null | undefined => sourceMemory.get(sourceEntry(organizationId, source));

/** The region of each source named (by key or id, see sourceIdOf), by the name given; absent for no such source (remembered: see rememberSourceRegion). */
export async function sourceRegions(organizationId: string, sources: string[]): Promise<Map<string, string | null>> {
  const names = [...new Set(sources)];
  if (!names.length) return new Map();
  const [c, o] = [SOURCE(), ORGANIZATION()];
  const rows = await prisma.$queryRaw<{ src: string; region: string | null }[]>`
    SELECT q.src, coalesce(s.${c.defaultPhoneRegion}, o.${o.defaultPhoneRegion}) AS region
    FROM unnest(${names}::text[], ${names.map(sourceIdOf)}::uuid[]) AS q(src, sid)
    JOIN ${c.$table} s ON s.${c.organizationId} = ${organizationId}::uuid AND (s.${c.key} = q.src OR s.${c.id} = q.sid)
    JOIN ${o.$table} o ON o.${o.id} = s.${c.organizationId}`;
  const found = new Map(rows.map((r) => [r.src, r.region]));
  for (const name of names) rememberSourceRegion(organizationId, name, found.get(name) ?? null);
  return found;
}

/**
 * Normalises the organization's phone identifiers again after its default region
 * changed (those of sources with a region of their own stay): a national number
 * stored as digits becomes E.164 once a region says how to read it. One statement
 * reads them and one writes those that changed.
 */
export async function renormalisePhones(tx: Prisma.TransactionClient, organizationId: string): Promise<number> {
  const [n, c, o] = [IDENTIFIER(), SOURCE(), ORGANIZATION()];
  const rows = await tx.$queryRaw<{ id: string; value: string; normalized: string; region: string | null }[]>`
    SELECT i.${n.id} AS id, i.${n.identifierValue} AS value, i.${n.normalizedValue} AS normalized, o.${o.defaultPhoneRegion} AS region
    FROM ${n.$table} i JOIN ${c.$table} s ON s.${c.id} = i.${n.sourceId} JOIN ${o.$table} o ON o.${o.id} = i.${n.organizationId}
    WHERE i.${n.organizationId} = ${organizationId}::uuid AND i.${n.valueKind} = 'PHONE' AND s.${c.defaultPhoneRegion} IS NULL`;
  const changed = rows.flatMap((r) => {
    const normalized = normaliseValue('PHONE', r.value, r.region);
    return normalized === r.normalized ? [] : [{ id: r.id, normalized }];
  });
  if (!changed.length) return 0;
  return tx.$executeRaw`
    UPDATE ${n.$table} i SET ${n.normalizedValue} = c.normalized
    FROM unnest(${changed.map((c) => c.id)}::uuid[], ${changed.map((c) => c.normalized)}::text[]) AS c(id, normalized)
    WHERE i.${n.id} = c.id`;
}

/** The organization's default phone region when an item gives a phoneNumber without its country code (else no statement). */
export async function regionForPhones(organizationId: string, items: readonly unknown[]): Promise<string | null> {
  const national = items.some((item) => {
    const phone = (item as { phoneNumber?: unknown } | null)?.phoneNumber;
    return typeof phone === 'string' && !phone.trim().startsWith('+');
  });
  return national ? organizationRegion(organizationId) : null;
}

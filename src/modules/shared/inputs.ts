import { prisma } from '../../db.ts';
import type { SourceKind } from '../../generated/prisma/client.ts';
import { e164, isPhoneRegion } from '../matching/normalise.ts';
import { sqlNames } from './sql-names.ts';
import { parseId, type Issues } from './validate.ts';

// Checks for inputs that may arrive untyped (an import file as well as GraphQL), and
// the references identifiers and identities make to sources and users. Each check
// adds an issue naming the field and returns the normalised value (or undefined when
// invalid), so a service reports every problem of an input at once.

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A trimmed string of 1..max characters; null/undefined pass through unless required. */
export function text(issues: Issues, path: string, value: unknown, max: number, required = false) {
  if (value === undefined || value === null) {
    if (required) issues.add(path, 'is required');
    return value as null | undefined;
  }
  if (typeof value !== 'string') {
    issues.add(path, 'must be a string');
    return undefined;
  }
  return issues.text(path, value, max) ?? undefined;
}

/** One of `values`; null/undefined pass through unless required. */
export function oneOf<T extends string>(issues: Issues, path: string, value: unknown, values: readonly T[], required = false) {
  if (value === undefined || value === null) {
    if (required) issues.add(path, 'is required');
    return value as null | undefined;
  }
  if (typeof value !== 'string' || !values.includes(value as T)) {
    issues.add(path, `must be one of ${values.join(', ')}`);
    return undefined;
  }
  return value as T;
}

export function bool(issues: Issues, path: string, value: unknown) {
  if (value === undefined || value === null) return value as null | undefined;
  if (typeof value !== 'boolean') {
    issues.add(path, 'must be true or false');
    return undefined;
  }
  return value;
}

/** A score from 0 to 1; null means not scored. */
export function score(issues: Issues, path: string, value: unknown) {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
    issues.add(path, 'must be a number from 0 to 1, or null');
    return undefined;
  }
  // -0 is the score 0: stored and read back as 0 on either database, whatever was sent.
  return value === 0 ? 0 : value;
}

/** Size of a value as JSON text, in bytes. */
export const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');

/** A JSON object of at most `maxBytes` as JSON text; null passes through. */
export function jsonObject(issues: Issues, path: string, value: unknown, maxBytes: number) {
  if (value === undefined || value === null) return value as null | undefined;
  if (!isObject(value)) {
    issues.add(path, 'must be a JSON object');
    return undefined;
  }
  if (jsonBytes(value) > maxBytes) {
    issues.add(path, `must be at most ${maxBytes / 1024} KB as JSON`);
    return undefined;
  }
  return value;
}

/** An instant: a Date or an ISO-8601 string with a time zone. */
export function instant(issues: Issues, path: string, value: unknown) {
  if (value === undefined || value === null) return value as null | undefined;
  const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : null;
  if (!date || Number.isNaN(date.getTime()) || (typeof value === 'string' && !/(Z|[+-]\d\d:?\d\d)$/i.test(value))) {
    issues.add(path, 'must be an ISO-8601 date-time with a time zone');
    return undefined;
  }
  return date;
}

/** An email address, lower-cased. */
export function email(issues: Issues, path: string, value: unknown) {
  if (value === undefined || value === null) return value as null | undefined;
  if (typeof value !== 'string') {
    issues.add(path, 'must be a string');
    return undefined;
  }
  return issues.email(path, value) ?? undefined;
}

/**
 * A phone number, in E.164 form (matching/normalise.ts): written with its country
 * code in any format, or in a national format of `region` when one is given.
 */
export function phoneNumber(issues: Issues, path: string, value: unknown, region?: string | null) {
  if (value === undefined || value === null) return value as null | undefined;
  const normalised = typeof value === 'string' ? e164(value, region) : null;
  if (!normalised) {
    issues.add(
      path,
      region
        ? `must be a phone number: with its country code (e.g. +15555550100) or in a national format of ${region}`
        : 'must be a phone number with its country code, e.g. +15555550100 (set a default phone region to accept national formats)',
    );
    return undefined;
  }
  return normalised;
}

/** A default phone region: an ISO 3166-1 alpha-2 code libphonenumber-js knows (any case; stored upper-case); null clears it. */
export function phoneRegion(issues: Issues, path: string, value: unknown) {
  if (value === undefined || value === null) return value as null | undefined;
  const code = typeof value === 'string' ? value.trim().toUpperCase() : '';
  if (!isPhoneRegion(code)) {
    issues.add(path, 'must be a region code such as US, GB or DE (ISO 3166-1 alpha-2), or null');
    return undefined;
  }
  return code;
}

/** A reference to an integration source of the organization: by id, or by its key. */
export type SourceRef = { id: string; key?: undefined } | { id?: undefined; key: string };
/** A reference to a member of the organization: by user id, or by email. */
export type UserRef = { id: string; email?: undefined } | { id?: undefined; email: string };

/** Exactly one of `<base>sourceId` (global id or UUID) or `<base>sourceKey`. */
export function sourceRef(issues: Issues, base: string, id: unknown, key: unknown, required = true): SourceRef | null | undefined {
  if (id != null && key != null) {
    issues.add(`${base}sourceId`, 'give either sourceId or sourceKey, not both');
    return undefined;
  }
  if (id != null) {
    const uuid = typeof id === 'string' ? issues.id(`${base}sourceId`, id, 'IntegrationSource') : undefined;
    if (typeof id !== 'string') issues.add(`${base}sourceId`, 'must be the id of an IntegrationSource');
    return uuid ? { id: uuid } : undefined;
  }
  if (key != null) {
    const k = text(issues, `${base}sourceKey`, key, 63);
    return k ? { key: k } : undefined;
  }
  if (required) issues.add(`${base}sourceId`, 'is required: give sourceId or sourceKey');
  return null;
}

/**
 * The source a lookup names, as one string (its key or its UUID): by sourceKey or
 * sourceId like every input, or by the deprecated `source` (its key or id), which
 * must name the same source when given beside them.
 */
export function sourceNamed(
  issues: Issues,
  base: string,
  given: { sourceId?: unknown; sourceKey?: unknown; source?: unknown },
): string | undefined {
  if (given.source != null && given.sourceId == null && given.sourceKey == null) {
    return text(issues, `${base}source`, given.source, 255) ?? undefined;
  }
  const ref = sourceRef(issues, base, given.sourceId, given.sourceKey);
  const legacy = typeof given.source === 'string' ? given.source.trim() : given.source;
  if (ref && legacy != null && legacy !== ref.key && (typeof legacy !== 'string' || sourceIdOf(legacy) !== ref.id)) {
    const field = ref.id ? 'sourceId' : 'sourceKey';
    issues.add(`${base}source`, `names another source than ${field}: give ${field} alone (source is deprecated)`);
  }
  return ref ? (ref.id ?? ref.key) : undefined;
}

/** Exactly one of `<base>userId` (global id or UUID) or `<base>userEmail`. */
export function userRef(issues: Issues, base: string, id: unknown, userEmail: unknown): UserRef | undefined {
  if (id != null && userEmail != null) {
    issues.add(`${base}userId`, 'give either userId or userEmail, not both');
    return undefined;
  }
  if (id != null) {
    const uuid = typeof id === 'string' ? issues.id(`${base}userId`, id, 'User') : undefined;
    if (typeof id !== 'string') issues.add(`${base}userId`, 'must be the id of a User');
    return uuid ? { id: uuid } : undefined;
  }
  if (userEmail != null) {
    const e = email(issues, `${base}userEmail`, userEmail);
    return e ? { email: e } : undefined;
  }
  issues.add(`${base}userId`, 'is required: give userId or userEmail');
  return undefined;
}

/**
 * The id a source is named by where a field takes "its key or id" as one string (a
 * UUID or a global id), or null when the string is no id (then only a key). SQL
 * matches `s.key = name OR s.id = sourceIdOf(name)`.
 */
export const sourceIdOf = (name: string) => parseId(name, 'IntegrationSource');

export const sourceRefKey = (ref: SourceRef) => (ref.id ? `id:${ref.id}` : `key:${ref.key}`);
export const userRefKey = (ref: UserRef) => (ref.id ? `id:${ref.id}` : `email:${ref.email}`);

const SOURCE = sqlNames('IntegrationSource');
const ORGANIZATION = sqlNames('Organization');
const MEMBER = sqlNames('Member');
const USER = sqlNames('User');

export interface ReferencedSource {
  id: string;
  key: string;
  kind: SourceKind;
  /** The region national phone numbers of the source are read in: its own, else its organization's. */
  phoneRegion: string | null;
}

/**
 * The organization's sources that `refs` name, in one query, by sourceRefKey. A source
 * of another organization is absent, exactly like one that does not exist.
 */
export async function loadSources(organizationId: string, refs: SourceRef[]): Promise<Map<string, ReferencedSource>> {
  const ids = [...new Set(refs.flatMap((r) => (r.id ? [r.id] : [])))];
  const keys = [...new Set(refs.flatMap((r) => (r.key ? [r.key] : [])))];
  const found = new Map<string, ReferencedSource>();
  if (!ids.length && !keys.length) return found;
  const [c, o] = [SOURCE(), ORGANIZATION()];
  const rows = await prisma.$queryRaw<ReferencedSource[]>`
    SELECT s.${c.id}, s.${c.key}, s.${c.kind}::text AS kind, coalesce(s.${c.defaultPhoneRegion}, o.${o.defaultPhoneRegion}) AS "phoneRegion"
    FROM ${c.$table} s JOIN ${o.$table} o ON o.${o.id} = s.${c.organizationId}
    WHERE s.${c.organizationId} = ${organizationId}::uuid AND (s.${c.id} = ANY(${ids}::uuid[]) OR s.${c.key} = ANY(${keys}::text[]))`;
  for (const row of rows) {
    found.set(`id:${row.id}`, row);
    found.set(`key:${row.key}`, row);
  }
  return found;
}

export interface ReferencedUser {
  id: string;
  email: string;
}

/**
 * The users `refs` name that are members of the organization (in any state), in one
 * query, by userRefKey; a merged user's id or email names the user it was merged into.
 * Anyone else is absent, exactly like a user that does not exist.
 */
export async function loadMembers(organizationId: string, refs: UserRef[]): Promise<Map<string, ReferencedUser>> {
  const ids = [...new Set(refs.flatMap((r) => (r.id ? [r.id] : [])))];
  const emails = [...new Set(refs.flatMap((r) => (r.email ? [r.email] : [])))];
  const found = new Map<string, ReferencedUser>();
  if (!ids.length && !emails.length) return found;
  const [u, m] = [USER(), MEMBER()];
  const rows = await prisma.$queryRaw<ReferencedUser[]>`
    SELECT u.${u.id}, u.${u.email} FROM ${m.$table} m JOIN ${u.$table} u ON u.${u.id} = m.${m.userId}
    WHERE m.${m.organizationId} = ${organizationId}::uuid
      AND (u.${u.id} = ANY(${ids}::uuid[]) OR u.${u.email} = ANY(${emails}::text[]))`;
  for (const row of rows) {
    found.set(`id:${row.id}`, row);
    found.set(`email:${row.email}`, row);
  }
  // A merged user's id or email (a client that kept it from before the merge) stands for
  // the user it was merged into, as reads of it do. Only a miss costs this statement.
  const missingIds = ids.filter((id) => !found.has(`id:${id}`));
  const missingEmails = emails.filter((e) => !found.has(`email:${e}`));
  if (!missingIds.length && !missingEmails.length) return found;
  const survivors = await prisma.$queryRaw<{ ref: string; id: string; email: string }[]>`
    WITH RECURSIVE chain(ref, next, depth) AS (
      SELECT 'id:' || u.${u.id}, u.${u.mergedIntoId}, 0 FROM ${u.$table} u
      WHERE u.${u.mergedIntoId} IS NOT NULL AND u.${u.id} = ANY(${missingIds}::uuid[])
      UNION ALL
      SELECT 'email:' || u.${u.email}, u.${u.mergedIntoId}, 0 FROM ${u.$table} u
      WHERE u.${u.mergedIntoId} IS NOT NULL AND u.${u.email} = ANY(${missingEmails}::text[])
      UNION ALL
      SELECT c.ref, u.${u.mergedIntoId}, c.depth + 1 FROM chain c JOIN ${u.$table} u ON u.${u.id} = c.next
      WHERE u.${u.mergedIntoId} IS NOT NULL AND c.depth < 32
    )
    SELECT c.ref, u.${u.id}, u.${u.email} FROM chain c JOIN ${u.$table} u ON u.${u.id} = c.next AND u.${u.mergedIntoId} IS NULL
    JOIN ${m.$table} m ON m.${m.userId} = u.${u.id} AND m.${m.organizationId} = ${organizationId}::uuid`;
  for (const { ref, ...user } of survivors) found.set(ref, user);
  return found;
}

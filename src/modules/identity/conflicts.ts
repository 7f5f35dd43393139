import { prisma } from '../../db.ts';
import { ConflictError, NotFoundError } from '../../errors.ts';
import type { Identity } from '../../generated/prisma/client.ts';
import { type ItemProblem } from '../shared/bulk.ts';
import { selectList } from '../shared/sql-names.ts';
import { prismaErrorCode, uniqueViolation } from '../shared/validate.ts';
import { type IdentityRow } from './check.ts';

// Unique values of identities (identifier key, email, phone number, provider account)
// another identity of the organization holds, found before a write or after one failed.

const UNIQUE_FIELDS = [
  { field: 'identifierKey', column: /identifier_key/ },
  { field: 'email', column: /(^|_|,)email/ },
  { field: 'phoneNumber', column: /phone_number/ },
  { field: 'externalId', column: /external_id/ },
] as const;

export type UniqueField = (typeof UNIQUE_FIELDS)[number]['field'];

/** The input field a violated unique constraint of identities stands for. */
export function fieldOfConstraint(constraint: string): UniqueField {
  return UNIQUE_FIELDS.find((u) => u.column.test(constraint))?.field ?? 'identifierKey';
}

/** What clashes, naming every unique value taken. */
export function conflictMessage(fields: readonly UniqueField[]): string {
  const parts = fields.map((f) => (f === 'externalId' ? 'the same account at this identity provider' : `this ${f}`));
  const list = parts.length > 1 ? `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}` : parts[0];
  return `Another identity of the organization has ${list}.`;
}

/** The input paths a clash on `field` of item `index` is reported at: the fields the caller wrote. */
export type ClashPaths = (index: number, field: UniqueField) => string[];

/**
 * Clash paths of `items` as the caller wrote them: a provider account is its source
 * field (sourceId or sourceKey, whichever was given) and its externalId, as is an
 * identifier key the server derived from the account (`derivedKey`).
 */
export function clashPaths(pathOf: (i: number) => string, items: readonly unknown[], derivedKey = false): ClashPaths {
  return (index, field) => {
    const base = pathOf(index);
    const item = (items[index] ?? {}) as Record<string, unknown>;
    const source = item.sourceId != null ? 'sourceId' : 'sourceKey';
    if (field === 'externalId' || (field === 'identifierKey' && derivedKey)) return [`${base}${source}`, `${base}externalId`];
    return [`${base}${field}`];
  };
}

/** The CONFLICT of item `index` on `fields`, at the paths the caller wrote. */
export function clash(paths: ClashPaths, index: number, fields: readonly UniqueField[]): ConflictError {
  // The message names what the caller wrote too: a key reported as the account is the account.
  const named = [...new Set(fields.map((f) => (paths(index, f).some((p) => p.endsWith('externalId')) ? 'externalId' : f)))];
  return new ConflictError([...new Set(fields.flatMap((f) => paths(index, f)))], conflictMessage(named));
}

const EXISTING_FIELDS = ['identifierKey', 'email', 'phoneNumber', 'sourceId', 'externalId'] as const;
type Existing = Pick<Identity, (typeof EXISTING_FIELDS)[number]>;

/**
 * The rows that hold an identifier key, email, phone number or provider account the
 * given rows want, in one query (arrays bound as parameters, not one per value).
 */
export function existingHolders(organizationId: string, rows: IdentityRow[]) {
  const accounts = rows.filter((r) => r.sourceId && r.externalId);
  return prisma.$queryRaw<Existing[]>`
    SELECT ${selectList('Identity', EXISTING_FIELDS)}
    FROM identities
    WHERE organization_id = ${organizationId}::uuid AND (
      identifier_key = ANY(${rows.map((r) => r.identifierKey)}::text[])
      OR email = ANY(${rows.flatMap((r) => (r.email ? [r.email] : []))}::text[])
      OR phone_number = ANY(${rows.flatMap((r) => (r.phoneNumber ? [r.phoneNumber] : []))}::text[])
      OR (source_id, external_id) IN (
        SELECT * FROM unnest(${accounts.map((r) => r.sourceId)}::uuid[], ${accounts.map((r) => r.externalId)}::text[])))`;
}

/**
 * Conflicts of rows with identities already stored: every unique value another identity
 * holds. An upsert's row with a stored identity's key is that identity (an update); a
 * create's clashes with it on the key and on each other value they share.
 */
export function conflictsWith(existing: Existing[], rows: (IdentityRow | null)[], paths: ClashPaths, create: boolean) {
  const problems: ItemProblem[] = [];
  rows.forEach((row, index) => {
    if (!row) return;
    const fields = new Set<UniqueField>();
    for (const other of existing) {
      const same = other.identifierKey === row.identifierKey;
      if (same && !create) continue;
      if (same) fields.add('identifierKey');
      if (row.email && other.email === row.email) fields.add('email');
      if (row.phoneNumber && other.phoneNumber === row.phoneNumber) fields.add('phoneNumber');
      if (row.externalId && other.sourceId === row.sourceId && other.externalId === row.externalId) fields.add('externalId');
    }
    // In the order of the input's fields.
    const ordered = UNIQUE_FIELDS.map((u) => u.field).filter((f) => fields.has(f));
    if (ordered.length) problems.push({ index, error: clash(paths, index, ordered) });
  });
  return problems;
}

export function writeConflict(err: unknown, entity = 'Identity'): never {
  const constraint = uniqueViolation(err)?.join(',');
  if (constraint !== undefined) throw clash(clashPaths(() => 'input.', []), 0, [fieldOfConstraint(constraint)]);
  if (prismaErrorCode(err) === 'P2025') throw new NotFoundError(entity);
  throw err;
}

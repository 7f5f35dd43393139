import { prisma } from '../../db.ts';
import { ConflictError, NotFoundError } from '../../errors.ts';
import type { Identity } from '../../generated/prisma/client.ts';
import { type ItemProblem } from '../shared/bulk.ts';
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

/** The input field a violated unique constraint of identities stands for. */
export function fieldOfConstraint(constraint: string): string {
  return UNIQUE_FIELDS.find((u) => u.column.test(constraint))?.field ?? 'identifierKey';
}

export const conflictMessage = (field: string) =>
  field === 'externalId'
    ? 'Another identity is this account at this identity provider.'
    : `Another identity of the organization has this ${field}.`;

type Existing = Pick<Identity, 'identifierKey' | 'email' | 'phoneNumber' | 'sourceId' | 'externalId'>;

/**
 * The rows that hold an identifier key, email, phone number or provider account the
 * given rows want, in one query (arrays bound as parameters, not one per value).
 */
export function existingHolders(organizationId: string, rows: IdentityRow[]) {
  const accounts = rows.filter((r) => r.sourceId && r.externalId);
  return prisma.$queryRaw<Existing[]>`
    SELECT identifier_key AS "identifierKey", email, phone_number AS "phoneNumber", source_id AS "sourceId",
      external_id AS "externalId"
    FROM identities
    WHERE organization_id = ${organizationId}::uuid AND (
      identifier_key = ANY(${rows.map((r) => r.identifierKey)}::text[])
      OR email = ANY(${rows.flatMap((r) => (r.email ? [r.email] : []))}::text[])
      OR phone_number = ANY(${rows.flatMap((r) => (r.phoneNumber ? [r.phoneNumber] : []))}::text[])
      OR (source_id, external_id) IN (
        SELECT * FROM unnest(${accounts.map((r) => r.sourceId)}::uuid[], ${accounts.map((r) => r.externalId)}::text[])))`;
}

/** Conflicts of rows with identities already stored: a unique value another identity holds. */
export function conflictsWith(existing: Existing[], rows: (IdentityRow | null)[], pathOf: (i: number) => string, create: boolean) {
  const problems: ItemProblem[] = [];
  rows.forEach((row, index) => {
    if (!row) return;
    const fields = [];
    for (const other of existing) {
      const same = other.identifierKey === row.identifierKey;
      if (same && create) fields.push('identifierKey');
      if (same) continue;
      if (row.email && other.email === row.email) fields.push('email');
      if (row.phoneNumber && other.phoneNumber === row.phoneNumber) fields.push('phoneNumber');
      if (row.externalId && other.sourceId === row.sourceId && other.externalId === row.externalId) fields.push('externalId');
    }
    if (fields.length) {
      const unique = [...new Set(fields)];
      problems.push({ index, error: new ConflictError(unique.map((f) => `${pathOf(index)}${f}`), conflictMessage(unique[0]!)) });
    }
  });
  return problems;
}

export function writeConflict(err: unknown, entity = 'Identity'): never {
  const constraint = uniqueViolation(err)?.join(',');
  if (constraint !== undefined) {
    const field = fieldOfConstraint(constraint);
    throw new ConflictError([`input.${field}`], conflictMessage(field));
  }
  if (prismaErrorCode(err) === 'P2025') throw new NotFoundError(entity);
  throw err;
}

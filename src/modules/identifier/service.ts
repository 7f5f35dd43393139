import type { Access } from '../../context.ts';
import { Prisma, prisma } from '../../db.ts';
import { ConflictError, NotFoundError } from '../../errors.ts';
import type { DiscoveryMethod, Identifier } from '../../generated/prisma/client.ts';
import { jsonObject, loadSources, oneOf, score, text } from '../shared/inputs.ts';
import { recordAudit } from '../audit/service.ts';
import { keepDeleted, type Row } from '../deletion/store.ts';
import { suggestSharedIdentifiers } from '../suggestion/service.ts';
import { bulkOrganization, throwProblems } from '../shared/bulk.ts';
import { requireOrganizationOf, requireRowIn } from '../shared/tenant.ts';
import { inferValueKind, kindMismatch, normaliseValue, VALUE_KINDS, type ValueKind } from '../matching/normalise.ts';
import { Issues } from '../shared/validate.ts';
import { auditedChange, type Audited } from '../shared/audited.ts';
import { column, table } from '../shared/sql-names.ts';
import {
  DISCOVERY_METHODS,
  MAX_BULK_ITEMS,
  MAX_METADATA_BYTES,
  prepareIdentifiers,
  type IdentifierRow,
  type UpsertIdentifierInput,
  type UpsertIdentifiersInput,
} from './prepare.ts';
import { identifierEvent } from './events.ts';
import { identifierColumns, writeIdentifiers, type IdentifierKeys, type IdentifierUpsert, type Returning } from './write.ts';

// Identifiers: "user U is `identifierKey = identifierValue` in source S". The rules of
// each write (access, checks, audit); no GraphQL here.

const read = (tx: Prisma.TransactionClient, id: string, lock: Prisma.Sql) =>
  tx.$queryRaw<Identifier[]>`SELECT ${identifierColumns()} FROM ${table('Identifier')} WHERE id = ${id}::uuid ${lock}`.then(([row]) => row ?? null);

/** Identifiers' audit events, as the bulk write records them too. */
const AUDITED_IDENTIFIER: Audited<Identifier> = {
  model: 'Identifier',
  entityType: 'Identifier',
  event: identifierEvent,
  find: (tx, id) => read(tx, id, Prisma.empty),
  // A change locks the row FOR UPDATE, as deleting it would.
  findLocked: (tx, id) => read(tx, id, Prisma.sql`FOR UPDATE`),
  organizationOf: (row) => row.organizationId,
};

/** Creates or updates one identifier on its natural key (write access to the organization). */
export async function upsertIdentifier(access: Access, input: UpsertIdentifierInput): Promise<IdentifierUpsert> {
  const organizationId = await requireOrganizationOf(access, new Issues(), 'input.organizationId', input.organizationId);
  const { rows, problems } = await prepareIdentifiers(organizationId, [input], () => 'input.');
  throwProblems(problems);
  const [result] = await writeIdentifiers(organizationId, [rows[0]!], access.viewer);
  return result!;
}

/**
 * Creates or updates up to MAX_BULK_ITEMS identifiers: every item is checked first and
 * nothing is written when any is invalid; then one statement writes them all.
 */
export async function upsertIdentifiers(access: Access, input: UpsertIdentifiersInput): Promise<IdentifierUpsert[]>;
export async function upsertIdentifiers(
  access: Access,
  input: UpsertIdentifiersInput,
  returning: Returning,
): Promise<IdentifierUpsert<IdentifierKeys>[]>;
export async function upsertIdentifiers(
  access: Access,
  input: UpsertIdentifiersInput,
  returning: Returning = 'rows',
): Promise<IdentifierUpsert<IdentifierKeys>[]> {
  const organizationId = await bulkOrganization(access, input, MAX_BULK_ITEMS);
  const { rows, problems } = await prepareIdentifiers(organizationId, input.items, (i) => `input.items[${i}].`);
  throwProblems(problems);
  return writeIdentifiers(organizationId, rows as IdentifierRow[], access.viewer, returning);
}

export interface UpdateIdentifierInput {
  id: string;
  identifierKey?: string | null;
  identifierValue?: string | null;
  valueKind?: ValueKind | null;
  discoveryMethod?: DiscoveryMethod | null;
  confidenceScore?: number | null;
  discoveryMetadata?: Record<string, unknown> | null;
}

/** The identifier with this id, for a write: NOT_FOUND unless the viewer may see it. */
async function identifierForWrite(access: Access, id: string) {
  const row = await prisma.identifier.findUnique({ where: { id } });
  await requireRowIn(access, row?.organizationId, 'write', 'Identifier');
  return row!;
}

/**
 * Changes some fields of an identifier: fields left out stay, null clears the score or
 * the metadata. Writes nothing (and keeps updatedAt) when nothing differs.
 */
export async function updateIdentifier(access: Access, input: UpdateIdentifierInput): Promise<Identifier> {
  const issues = new Issues();
  const id = issues.id('input.id', input.id, 'Identifier');
  issues.throwIfAny();
  const current = await identifierForWrite(access, id!);
  for (const field of ['identifierKey', 'identifierValue', 'valueKind', 'discoveryMethod'] as const) {
    issues.notNull(`input.${field}`, input[field]);
  }
  const next = {
    identifierKey: text(issues, 'input.identifierKey', input.identifierKey, 255) ?? current.identifierKey,
    identifierValue: text(issues, 'input.identifierValue', input.identifierValue, 1024) ?? current.identifierValue,
    discoveryMethod: oneOf(issues, 'input.discoveryMethod', input.discoveryMethod, DISCOVERY_METHODS) ?? current.discoveryMethod,
    ...(await reclassified(issues, current, input)),
    confidenceScore: input.confidenceScore === undefined ? current.confidenceScore : score(issues, 'input.confidenceScore', input.confidenceScore),
    discoveryMetadata:
      input.discoveryMetadata === undefined
        ? current.discoveryMetadata
        : (jsonObject(issues, 'input.discoveryMetadata', input.discoveryMetadata, MAX_METADATA_BYTES) ?? null),
  };
  issues.throwIfAny();
  const changed =
    next.identifierKey !== current.identifierKey ||
    next.identifierValue !== current.identifierValue ||
    next.valueKind !== current.valueKind ||
    next.normalizedValue !== current.normalizedValue ||
    next.discoveryMethod !== current.discoveryMethod ||
    next.confidenceScore !== current.confidenceScore ||
    JSON.stringify(next.discoveryMetadata) !== JSON.stringify(current.discoveryMetadata);
  if (!changed) return current;
  return auditedChange(
    access.viewer,
    AUDITED_IDENTIFIER,
    current.id,
    async (tx, before) => {
      const updated = await tx.identifier.update({
        where: { id: before.id },
        data: {
          ...next,
          confidenceScore: next.confidenceScore ?? null,
          discoveryMetadata: next.discoveryMetadata === null ? Prisma.DbNull : (next.discoveryMetadata as Prisma.InputJsonObject),
        },
      });
      await suggestSharedIdentifiers(tx, updated.organizationId, [updated.id]);
      return updated;
    },
    { conflict: () => new ConflictError(['input.identifierKey'], 'The user already has an identifier with this key in this source.') },
  );
}

/**
 * The value kind and normalised value after an update: a kind given is kept; left
 * out, it is inferred again when the key or the value changes, and kept otherwise.
 */
async function reclassified(issues: Issues, current: Identifier, input: UpdateIdentifierInput) {
  const key = typeof input.identifierKey === 'string' ? input.identifierKey.trim() : current.identifierKey;
  const value = typeof input.identifierValue === 'string' ? input.identifierValue.trim() : current.identifierValue;
  const given = oneOf(issues, 'input.valueKind', input.valueKind, VALUE_KINDS);
  const kind = given ?? (key === current.identifierKey && value === current.identifierValue ? current.valueKind : inferValueKind(key, value));
  const mismatch = given && kindMismatch(given, value);
  if (mismatch) issues.add('input.identifierValue', mismatch);
  const region = kind === 'PHONE' ? (await loadSources(current.organizationId, [{ id: current.sourceId }])).get(`id:${current.sourceId}`)?.phoneRegion : null;
  return { valueKind: kind, normalizedValue: normaliseValue(kind, value, region) };
}

/**
 * Deletes an identifier: it leaves every read at once and waits, restorable by an
 * organization admin, until the organization's retention runs out. Returns its id.
 */
export async function deleteIdentifier(access: Access, input: { id: string; reason?: string | null }): Promise<string> {
  const issues = new Issues();
  const id = issues.id('input.id', input.id, 'Identifier');
  const reason = text(issues, 'input.reason', input.reason, 1000);
  issues.throwIfAny();
  const row = await prisma.identifier.findUnique({ where: { id: id! }, select: { organizationId: true } });
  const organizationId = await requireRowIn(access, row?.organizationId, 'write', 'Identifier');
  await prisma.$transaction(async (tx) => {
    const [deleted] = await tx.$queryRaw<(Identifier & { row: Row })[]>`
      DELETE FROM ${table('Identifier')} x WHERE id = ${id!}::uuid AND ${column('Identifier', 'organizationId')} = ${organizationId}::uuid
      RETURNING ${identifierColumns()}, to_jsonb(x) AS row`;
    if (!deleted) throw new NotFoundError('Identifier');
    const { row: kept, ...identifier } = deleted;
    await keepDeleted(tx, access.viewer, {
      organizationId,
      entityType: 'Identifier',
      entityId: id!,
      rows: { identifiers: [kept] },
      label: `${identifier.identifierKey} = ${identifier.identifierValue}`,
      reason,
    });
    await recordAudit(tx, access.viewer, [identifierEvent('DELETE', identifier, null)]);
  });
  return id!;
}

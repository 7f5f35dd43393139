import type { Access } from '../../context.ts';
import { Prisma, prisma } from '../../db.ts';
import { deleteRows, keepDeleted, type Row, type Rows } from '../deletion/store.ts';
import { text } from '../shared/inputs.ts';
import { ConflictError, InUseError, NotFoundError } from '../../errors.ts';
import type { IntegrationSource, SourceKind } from '../../generated/prisma/client.ts';
import { type AuditInput, changesOf, recordAudit } from '../audit/service.ts';
import { column, selectList, table, type FieldOf } from '../shared/sql-names.ts';
import { AUDITED_IDENTIFIER_FIELDS, identifierEvent, type AuditedIdentifier } from '../identifier/events.ts';
import { AUDITED_IDENTITY_FIELDS } from '../identity/events.ts';
import { auditedChange, auditEvent, type Audited } from '../shared/audited.ts';
import { requireOrganizationOf, requireRowIn } from '../shared/tenant.ts';
import { Issues, prismaErrorCode, uniqueViolation } from '../shared/validate.ts';

// Integration sources and identity providers: rules and storage. No GraphQL here.
// Every change is recorded as an audit event in the transaction that makes it.

/** Sources' audit events: the fields they record. */
const AUDITED_SOURCE: Audited<IntegrationSource> = {
  model: 'IntegrationSource',
  entityType: 'IntegrationSource',
  fields: ['kind', 'key', 'name'],
  find: (tx, id) => tx.integrationSource.findUnique({ where: { id } }),
  organizationOf: (row) => row.organizationId,
};
// A cascade records each identifier it removes as deleteIdentifier would, and each
// identity with when it was linked too.
const CASCADED_IDENTITY = [...AUDITED_IDENTITY_FIELDS, 'linkedAt'] as const satisfies readonly FieldOf<'Identity'>[];
type DeletedIdentity = { id: string } & Record<(typeof CASCADED_IDENTITY)[number], unknown>;

const keyTaken = (key: string | undefined) =>
  new ConflictError(['input.key'], `The organization already has a source with the key "${key}".`);

export interface CreateSourceInput {
  organizationId?: string | null;
  kind: SourceKind;
  key: string;
  name: string;
}

/** Connects a source to an organization (ORGANIZATION_ADMIN of it). */
export async function createSource(access: Access, input: CreateSourceInput) {
  const issues = new Issues();
  const key = issues.key('input.key', input.key);
  const name = issues.text('input.name', input.name, 200, { required: true });
  const organizationId = await requireOrganizationOf(access, issues, 'input.organizationId', input.organizationId, 'admin');
  issues.throwIfAny();
  try {
    return await prisma.$transaction(async (tx) => {
      const source = await tx.integrationSource.create({
        data: { organizationId: organizationId, kind: input.kind, key: key!, name: name! },
      });
      await recordAudit(tx, access.viewer, [auditEvent(AUDITED_SOURCE, 'CREATE', null, source)]);
      return source;
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
  await requireRowIn(access, await organizationOfSource(id!), 'admin', 'IntegrationSource');
  issues.throwIfAny();
  return auditedChange(
    access.viewer,
    AUDITED_SOURCE,
    id!,
    (tx) =>
      tx.integrationSource.update({
        where: { id: id! },
        data: { ...(key !== undefined && { key }), ...(name != null && { name }) },
      }),
    { conflict: () => keyTaken(key) },
  );
}

/**
 * Deletes a source (ORGANIZATION_ADMIN of its organization). While identifiers or
 * identities use it, refused with InUseError, unless `cascade` asks to delete them
 * too. The source row is locked first: an identifier or identity being added for it
 * at the same moment waits, then fails on the missing source, so nothing is orphaned
 * and nothing slips past the check. Records the source's DELETE and, with `cascade`,
 * one for every identifier and identity it removed.
 */
export async function deleteSource(access: Access, input: { id: string; cascade?: boolean | null; reason?: string | null }) {
  const issues = new Issues();
  const id = issues.id('input.id', input.id, 'IntegrationSource');
  const reason = text(issues, 'input.reason', input.reason, 1000);
  issues.throwIfAny();
  const organizationId = await requireRowIn(access, await organizationOfSource(id!), 'admin', 'IntegrationSource');
  // A cascade records one event per removed row, about a millisecond each: the
  // transaction gets time in proportion (counted before it, outside its connection).
  const cascading = input.cascade
    ? (await Promise.all([
        prisma.identifier.count({ where: { organizationId, sourceId: id! } }),
        prisma.identity.count({ where: { organizationId, sourceId: id! } }),
      ]).then(([a, b]) => a + b))
    : 0;
  await prisma.$transaction(
    async (tx) => {
      await tx.$queryRaw`SELECT id FROM ${table('IntegrationSource')} WHERE id = ${id}::uuid FOR UPDATE`;
      const before = await AUDITED_SOURCE.find(tx, id!);
      if (!before) throw new NotFoundError('IntegrationSource');
      const where = { organizationId, sourceId: id! };
      const events: AuditInput[] = [];
      const rows: Rows = {};
      if (input.cascade) {
        // Each removal is recorded with what it held, as the delete itself returns it.
        const ofSource = (m: 'Identifier' | 'Identity') =>
          Prisma.sql`${column(m, 'organizationId')} = ${organizationId}::uuid AND ${column(m, 'sourceId')} = ${id}::uuid`;
        const identifiers = await tx.$queryRaw<(AuditedIdentifier & { row: Row })[]>`
          DELETE FROM ${table('Identifier')} x WHERE ${ofSource('Identifier')}
          RETURNING ${selectList('Identifier', ['id', 'organizationId', ...AUDITED_IDENTIFIER_FIELDS])}, to_jsonb(x) AS row`;
        // The properties of its identities are kept with them.
        rows.identity_properties = await deleteRows(tx, 'identity_properties', Prisma.sql`${column('IdentityProperty', 'identityId')} IN (
          SELECT ${column('Identity', 'id')} FROM ${table('Identity')} WHERE ${ofSource('Identity')})`);
        const identities = await tx.$queryRaw<(DeletedIdentity & { row: Row })[]>`
          DELETE FROM ${table('Identity')} x WHERE ${ofSource('Identity')}
          RETURNING ${selectList('Identity', ['id', ...CASCADED_IDENTITY])}, to_jsonb(x) AS row`;
        rows.identifiers = identifiers.map((r) => r.row);
        rows.identities = identities.map((r) => r.row);
        for (const { row: _row, ...r } of identifiers) events.push(identifierEvent('DELETE', r, null));
        for (const { row: _row, ...r } of identities) {
          events.push({
            organizationId,
            entityType: 'Identity',
            entityId: r.id,
            action: 'DELETE',
            changes: changesOf(r, null, CASCADED_IDENTITY),
          });
        }
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
      rows.integration_sources = await deleteRows(tx, 'integration_sources', Prisma.sql`${column('IntegrationSource', 'id')} = ${id}::uuid`);
      await keepDeleted(tx, access.viewer, {
        organizationId,
        entityType: 'IntegrationSource',
        entityId: id!,
        rows,
        label: `${before.key} (${before.name})`,
        reason,
      });
      events.push(auditEvent(AUDITED_SOURCE, 'DELETE', before, null));
      await recordAudit(tx, access.viewer, events);
    },
    { maxWait: 10_000, timeout: 10_000 + 5 * cascading },
  );
  return id!;
}

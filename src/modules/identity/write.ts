import type { Viewer } from '../../context.ts';
import { Prisma, prisma } from '../../db.ts';
import { ConflictError } from '../../errors.ts';
import type { Identity } from '../../generated/prisma/client.ts';
import { recordAudit } from '../audit/service.ts';
import { throwProblems, type UpsertOutcome } from '../shared/bulk.ts';
import { compare, retryOnDeadlock } from '../shared/deadlock.ts';
import { scalarFields, selectList } from '../shared/sql-names.ts';
import { uniqueViolation } from '../shared/validate.ts';
import { suggestIdentityOwners } from '../suggestion/service.ts';
import { type IdentityRow } from './check.ts';
import { clash, clashPaths, conflictsWith, existingHolders, fieldOfConstraint, type ClashPaths } from './conflicts.ts';
import { identityEvent } from './events.ts';
import { mergeProperties } from './properties.ts';

// The bulk writer of identities: one INSERT for the rows, one for their properties, in
// one transaction.

export interface IdentityUpsert {
  identity: Identity;
  created: boolean;
  outcome: UpsertOutcome;
}

/** Every column of an identity, read under its Prisma name. */
export const identityColumns = () => selectList('Identity', scalarFields('Identity'));

const KEPT_LINK = Prisma.raw(`x.linked_by IN ('MANUAL', 'SCIM')`);

/** The INSERT of identity rows; an upsert updates on the identifier key, a create inserts only. */
function insertIdentities(tx: Prisma.TransactionClient, organizationId: string, rows: IdentityRow[], create: boolean) {
  const col = <T>(f: (r: IdentityRow) => T) => rows.map(f);
  const onConflict = create
    ? Prisma.sql`DO NOTHING`
    : Prisma.sql`DO UPDATE SET
        identity_type = EXCLUDED.identity_type, name = EXCLUDED.name, email = EXCLUDED.email,
        phone_number = EXCLUDED.phone_number, project_id = EXCLUDED.project_id, source_id = EXCLUDED.source_id,
        external_id = EXCLUDED.external_id, external_username = EXCLUDED.external_username,
        external_email = EXCLUDED.external_email, external_email_verified = EXCLUDED.external_email_verified,
        external_display_name = EXCLUDED.external_display_name, last_synced_at = EXCLUDED.last_synced_at,
        user_id = CASE WHEN ${KEPT_LINK} THEN x.user_id ELSE EXCLUDED.user_id END,
        linked_by = CASE WHEN ${KEPT_LINK} THEN x.linked_by ELSE EXCLUDED.linked_by END,
        linked_at = CASE WHEN ${KEPT_LINK} OR x.user_id IS NOT DISTINCT FROM EXCLUDED.user_id THEN x.linked_at
          ELSE EXCLUDED.linked_at END,
        updated_at = CURRENT_TIMESTAMP
      WHERE (x.identity_type, x.name, x.email, x.phone_number, x.project_id, x.source_id, x.external_id,
          x.external_username, x.external_email, x.external_email_verified, x.external_display_name, x.last_synced_at)
        IS DISTINCT FROM (EXCLUDED.identity_type, EXCLUDED.name, EXCLUDED.email, EXCLUDED.phone_number,
          EXCLUDED.project_id, EXCLUDED.source_id, EXCLUDED.external_id, EXCLUDED.external_username,
          EXCLUDED.external_email, EXCLUDED.external_email_verified, EXCLUDED.external_display_name, EXCLUDED.last_synced_at)
        OR (x.linked_by IS NULL OR x.linked_by = 'AUTO') AND x.user_id IS DISTINCT FROM EXCLUDED.user_id`;
  return tx.$queryRaw<(Identity & { created: boolean })[]>`
    INSERT INTO identities AS x (organization_id, identifier_key, identity_type, name, email, phone_number,
      project_id, source_id, external_id, external_username, external_email, external_email_verified,
      external_display_name, last_synced_at, user_id, linked_by, linked_at)
    SELECT ${organizationId}::uuid, t.identifier_key, t.identity_type::"IdentityType", t.name, t.email, t.phone_number,
      t.project_id, t.source_id, t.external_id, t.external_username, t.external_email, t.external_email_verified,
      t.external_display_name, t.last_synced_at, t.user_id, t.linked_by::"LinkedBy",
      CASE WHEN t.user_id IS NULL THEN NULL ELSE CURRENT_TIMESTAMP END
    FROM unnest(
      ${col((r) => r.identifierKey)}::text[], ${col((r) => r.identityType)}::text[], ${col((r) => r.name)}::text[],
      ${col((r) => r.email)}::text[], ${col((r) => r.phoneNumber)}::text[], ${col((r) => r.projectId)}::text[],
      ${col((r) => r.sourceId)}::uuid[], ${col((r) => r.externalId)}::text[], ${col((r) => r.externalUsername)}::text[],
      ${col((r) => r.externalEmail)}::text[], ${col((r) => r.externalEmailVerified)}::bool[],
      ${col((r) => r.externalDisplayName)}::text[], ${col((r) => r.lastSyncedAt?.toISOString() ?? null)}::timestamptz[],
      ${col((r) => r.userId)}::uuid[], ${col((r) => r.linkedBy)}::text[]
    ) AS t(identifier_key, identity_type, name, email, phone_number, project_id, source_id, external_id,
      external_username, external_email, external_email_verified, external_display_name, last_synced_at, user_id, linked_by)
    ON CONFLICT (organization_id, identifier_key) ${onConflict}
    RETURNING ${identityColumns()}, (xmax = 0) AS created`;
}

/**
 * Writes prepared identities and merges their properties, in one transaction. An
 * upsert leaves a row whose values are all equal untouched (its updatedAt stays); a
 * create refuses an identifier key that is taken. A unique value taken between the
 * checks and the write is CONFLICT, found again to name the item.
 */
export async function writeIdentities(
  organizationId: string,
  rows: IdentityRow[],
  pathOf: (index: number) => string,
  actor: Viewer,
  options: { create?: boolean; paths?: ClashPaths } = {},
): Promise<IdentityUpsert[]> {
  const create = options.create ?? false;
  const paths = options.paths ?? clashPaths(pathOf, []);
  // Rows go in key order, so writers of overlapping batches lock them in the same order.
  const ordered = [...rows].sort((a, b) => compare(a.identifierKey, b.identifierKey));
  for (let attempt = 1; ; attempt++) {
    try {
      return await retryOnDeadlock(() => prisma.$transaction(
        async (tx) => {
          // The rows as they are now, locked in key order: each event's "before" is what the write replaces.
          const before = new Map(
            (await tx.$queryRaw<Identity[]>`
              SELECT ${identityColumns()} FROM identities
              WHERE organization_id = ${organizationId}::uuid AND identifier_key = ANY(${ordered.map((r) => r.identifierKey)}::text[])
              ORDER BY identifier_key COLLATE "C"
              FOR UPDATE`).map((r) => [r.identifierKey, r]),
          );
          const written = await insertIdentities(tx, organizationId, ordered, create);
          const byKey = new Map<string, IdentityUpsert>();
          for (const { created, ...identity } of written) {
            byKey.set(identity.identifierKey, { identity, created, outcome: created ? 'CREATED' : 'UPDATED' });
          }
          const rest = rows.filter((r) => !byKey.has(r.identifierKey));
          if (rest.length && create) {
            const index = rows.indexOf(rest[0]!);
            throw clash(paths, index, ['identifierKey']);
          }
          if (rest.length) {
            const unchanged = await tx.$queryRaw<Identity[]>`
              SELECT ${identityColumns()} FROM identities
              WHERE organization_id = ${organizationId}::uuid AND identifier_key = ANY(${rest.map((r) => r.identifierKey)}::text[])`;
            for (const identity of unchanged) byKey.set(identity.identifierKey, { identity, created: false, outcome: 'UNCHANGED' });
          }
          const results = rows.map((r) => byKey.get(r.identifierKey));
          // Deleted between the upsert and the read: the caller may simply try again.
          if (results.some((r) => !r)) throw new ConflictError(['input'], 'An identity was deleted while it was being written; try again.');
          const changed = await mergeProperties(
            tx,
            organizationId,
            rows
              .flatMap((r, i) => r.properties.map((property) => ({ identityId: results[i]!.identity.id, property })))
              .sort((a, b) => compare(a.identityId, b.identityId) || compare(a.property.key, b.property.key)),
            new Set([...before.values()].map((r) => r.id)),
          );
          const final = results.map((r) => (r!.outcome === 'UNCHANGED' && changed.has(r!.identity.id) ? { ...r!, outcome: 'UPDATED' as const } : r!));
          await recordAudit(
            tx,
            actor,
            final
              .filter((r) => r.outcome !== 'UNCHANGED')
              .map((r) =>
                identityEvent(
                  r.outcome === 'CREATED' ? 'CREATE' : 'UPDATE',
                  r.outcome === 'CREATED' ? null : (before.get(r.identity.identifierKey) ?? null),
                  r.identity,
                  changed.get(r.identity.id),
                ),
              ),
          );
          // A member this identity's email or phone number points to: suggest the pair.
          await suggestIdentityOwners(tx, organizationId, final.filter((r) => r.outcome !== 'UNCHANGED').map((r) => r.identity.id));
          return final;
        },
        { maxWait: 10_000, timeout: 60_000 },
      ));
    } catch (err) {
      const constraint = uniqueViolation(err)?.join(',');
      if (constraint === undefined) throw err;
      const problems = conflictsWith(await existingHolders(organizationId, rows), rows, paths, create);
      throwProblems(problems);
      // No other identity holds the value: a concurrent writer of the same identity
      // inserted it between this write's check of the key and its insert (PostgreSQL
      // arbitrates ON CONFLICT on the key's index alone, and the email or phone index
      // then refuses). That row is committed now, so writing again updates it.
      if (attempt < 3) continue;
      throw clash(paths, 0, [fieldOfConstraint(constraint)]);
    }
  }
}

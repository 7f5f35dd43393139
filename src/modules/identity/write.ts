import type { Viewer } from '../../context.ts';
import { Prisma, prisma } from '../../db.ts';
import { ConflictError } from '../../errors.ts';
import type { Identity } from '../../generated/prisma/client.ts';
import { recordAudit } from '../audit/service.ts';
import { throwProblems, type UpsertOutcome } from '../shared/bulk.ts';
import { compare, retryOnDeadlock } from '../shared/deadlock.ts';
import { onFirstUse, scalarFields, selectList, sqlNames } from '../shared/sql-names.ts';
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
export const identityColumns = onFirstUse(() => selectList('Identity', scalarFields('Identity')));
const IDENTITY = sqlNames('Identity');

/** A link a person made, which an upsert keeps. */
const KEPT_LINK = onFirstUse(() => Prisma.sql`x.${IDENTITY().linkedBy} IN ('MANUAL', 'SCIM')`);

/** The INSERT of identity rows; an upsert updates on the identifier key, a create inserts only. */
function insertIdentities(tx: Prisma.TransactionClient, organizationId: string, rows: IdentityRow[], create: boolean) {
  const col = <T>(f: (r: IdentityRow) => T) => rows.map(f);
  const c = IDENTITY();
  const onConflict = create
    ? Prisma.sql`DO NOTHING`
    : Prisma.sql`DO UPDATE SET
        ${c.identityType} = EXCLUDED.${c.identityType}, ${c.name} = EXCLUDED.${c.name}, ${c.email} = EXCLUDED.${c.email},
        ${c.phoneNumber} = EXCLUDED.${c.phoneNumber}, ${c.projectId} = EXCLUDED.${c.projectId}, ${c.sourceId} = EXCLUDED.${c.sourceId},
        ${c.externalId} = EXCLUDED.${c.externalId}, ${c.externalUsername} = EXCLUDED.${c.externalUsername},
        ${c.externalEmail} = EXCLUDED.${c.externalEmail}, ${c.externalEmailVerified} = EXCLUDED.${c.externalEmailVerified},
        ${c.externalDisplayName} = EXCLUDED.${c.externalDisplayName}, ${c.lastSyncedAt} = EXCLUDED.${c.lastSyncedAt},
        ${c.userId} = CASE WHEN ${KEPT_LINK()} THEN x.${c.userId} ELSE EXCLUDED.${c.userId} END,
        ${c.linkedBy} = CASE WHEN ${KEPT_LINK()} THEN x.${c.linkedBy} ELSE EXCLUDED.${c.linkedBy} END,
        ${c.linkedAt} = CASE WHEN ${KEPT_LINK()} OR x.${c.userId} IS NOT DISTINCT FROM EXCLUDED.${c.userId} THEN x.${c.linkedAt}
          ELSE EXCLUDED.${c.linkedAt} END,
        ${c.updatedAt} = CURRENT_TIMESTAMP
      WHERE (x.${c.identityType}, x.${c.name}, x.${c.email}, x.${c.phoneNumber}, x.${c.projectId}, x.${c.sourceId}, x.${c.externalId},
          x.${c.externalUsername}, x.${c.externalEmail}, x.${c.externalEmailVerified}, x.${c.externalDisplayName}, x.${c.lastSyncedAt})
        IS DISTINCT FROM (EXCLUDED.${c.identityType}, EXCLUDED.${c.name}, EXCLUDED.${c.email}, EXCLUDED.${c.phoneNumber},
          EXCLUDED.${c.projectId}, EXCLUDED.${c.sourceId}, EXCLUDED.${c.externalId}, EXCLUDED.${c.externalUsername},
          EXCLUDED.${c.externalEmail}, EXCLUDED.${c.externalEmailVerified}, EXCLUDED.${c.externalDisplayName}, EXCLUDED.${c.lastSyncedAt})
        OR (x.${c.linkedBy} IS NULL OR x.${c.linkedBy} = 'AUTO') AND x.${c.userId} IS DISTINCT FROM EXCLUDED.${c.userId}`;
  return tx.$queryRaw<(Identity & { created: boolean })[]>`
    INSERT INTO ${c.$table} AS x (${c.organizationId}, ${c.identifierKey}, ${c.identityType}, ${c.name}, ${c.email}, ${c.phoneNumber},
      ${c.projectId}, ${c.sourceId}, ${c.externalId}, ${c.externalUsername}, ${c.externalEmail}, ${c.externalEmailVerified},
      ${c.externalDisplayName}, ${c.lastSyncedAt}, ${c.userId}, ${c.linkedBy}, ${c.linkedAt})
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
    ON CONFLICT (${c.organizationId}, ${c.identifierKey}) ${onConflict}
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
          const c = IDENTITY();
          const before = new Map(
            (await tx.$queryRaw<Identity[]>`
              SELECT ${identityColumns()} FROM ${c.$table}
              WHERE ${c.organizationId} = ${organizationId}::uuid AND ${c.identifierKey} = ANY(${ordered.map((r) => r.identifierKey)}::text[])
              ORDER BY ${c.identifierKey} COLLATE "C"
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
              SELECT ${identityColumns()} FROM ${c.$table}
              WHERE ${c.organizationId} = ${organizationId}::uuid AND ${c.identifierKey} = ANY(${rest.map((r) => r.identifierKey)}::text[])`;
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

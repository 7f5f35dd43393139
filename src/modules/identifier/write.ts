import type { Viewer } from '../../context.ts';
import { Prisma, prisma } from '../../db.ts';
import type { Identifier } from '../../generated/prisma/client.ts';
import { actorOf, publishInserted } from '../audit/service.ts';
import { suggestSharedIdentifiers } from '../suggestion/service.ts';
import type { UpsertOutcome } from '../shared/bulk.ts';
import { compare, retryOnDeadlock } from '../shared/deadlock.ts';
import { columnName, onFirstUse, scalarFields, selectList, sqlNames, type FieldOf } from '../shared/sql-names.ts';
import { AUDITED_IDENTIFIER_FIELDS } from './events.ts';
import { naturalKey, type IdentifierRow } from './prepare.ts';

// Writing identifiers: every upsert, one or a thousand, is one INSERT ... ON CONFLICT
// statement on the natural key (organization, user, source, identifierKey), so
// concurrent upserts of one key never race into a unique-constraint error.

/** An identifier's id and natural key: what a write answers when its caller shows no more. */
export type IdentifierKeys = Pick<Identifier, 'id' | 'userId' | 'sourceId' | 'identifierKey'>;

/**
 * What a write sends back of each identifier: every column (`rows`), or only its id and
 * natural key (`keys`), for a caller that shows no more: fewer columns are cheaper to
 * receive and convert (README, Performance).
 */
export type Returning = 'rows' | 'keys';

export interface IdentifierUpsert<Row extends IdentifierKeys = Identifier> {
  identifier: Row;
  /** True when the call inserted the row. */
  created: boolean;
  outcome: UpsertOutcome;
}

/** Every column of an identifier, read under its Prisma name. */
export const identifierColumns = onFirstUse(() => selectList('Identifier', scalarFields('Identifier')));
const IDENTIFIER = sqlNames('Identifier');
const AUDIT_EVENT = sqlNames('AuditEvent');
/** The id and natural key of an identifier. */
const KEY_FIELDS = ['id', 'userId', 'sourceId', 'identifierKey'] as const satisfies readonly FieldOf<'Identifier'>[];
/** Fields of the rows the write's CTE `w` returned, under their Prisma names. */
const returnedOf = (fields: readonly string[]) => Prisma.raw(fields.map((f) => `w."${f}"`).join(', '));
/** What a write reads back of each row and returns, for each way of returning. */
const RETURNED = onFirstUse(() => {
  const of = (fields: readonly FieldOf<'Identifier'>[]) => [selectList('Identifier', fields), returnedOf(fields)] as const;
  return { rows: of(scalarFields('Identifier')), keys: of(KEY_FIELDS) } satisfies Record<Returning, unknown>;
});

/**
 * SQL: the changes between the rows `b` (before; null columns for a new row) and `w`
 * (written), as audit JSON: one `{ field: { before, after } }` object per changed
 * column, joined: a plain expression, cheaper than an aggregate per row (README,
 * Performance).
 */
const changesSql = onFirstUse(() =>
  Prisma.raw(
    `(${AUDITED_IDENTIFIER_FIELDS.map((k) => {
      const c = columnName('Identifier', k);
      return `CASE WHEN b.${c} IS DISTINCT FROM w.${c} THEN jsonb_build_object('${k}', jsonb_build_object('before', to_jsonb(b.${c}), 'after', to_jsonb(w.${c}))) ELSE '{}'::jsonb END`;
    }).join(' || ')})`,
  ),
);

/**
 * Writes checked rows as one statement: INSERT ... ON CONFLICT on the natural key, so
 * all rows or none are written, and concurrent writers of one key meet in the unique
 * index instead of failing on it. The same statement records an audit event for each
 * row created or changed (`actor` is who made the change) and notifies subscribers on
 * commit: the rows as they were are locked and read first, in key order, so the event's
 * "before" is the value the write replaced. A row whose values are all equal is not
 * touched (its updatedAt stays, no event); those rows are read back by a second
 * statement. A row deleted between the two statements is written again.
 */
export async function writeIdentifiers(organizationId: string, rows: IdentifierRow[], actor: Viewer): Promise<IdentifierUpsert[]>;
export async function writeIdentifiers(
  organizationId: string,
  rows: IdentifierRow[],
  actor: Viewer,
  returning: Returning,
): Promise<IdentifierUpsert<IdentifierKeys>[]>;
export async function writeIdentifiers(
  organizationId: string,
  rows: IdentifierRow[],
  actor: Viewer,
  returning: Returning = 'rows',
): Promise<IdentifierUpsert<IdentifierKeys>[]> {
  const [columns, returned] = RETURNED()[returning];
  const results = new Map<string, IdentifierUpsert<IdentifierKeys>>();
  const who = actorOf(actor);
  const [c, ev] = [IDENTIFIER(), AUDIT_EVENT()];
  // Rows go in key order, so writers of overlapping batches lock them in the same order.
  let pending = [...rows].sort((a, b) => compare(naturalKey(a.userId, a.sourceId, a.identifierKey), naturalKey(b.userId, b.sourceId, b.identifierKey)));
  for (let attempt = 0; pending.length && attempt < 3; attempt++) {
    const written = await retryOnDeadlock(() => prisma.$queryRaw<(IdentifierKeys & { created: boolean; notified: unknown })[]>`
      WITH t AS (
        SELECT * FROM unnest(
          ${pending.map((r) => r.userId)}::uuid[], ${pending.map((r) => r.sourceId)}::uuid[],
          ${pending.map((r) => r.identifierKey)}::text[], ${pending.map((r) => r.identifierValue)}::text[],
          ${pending.map((r) => r.valueKind)}::text[], ${pending.map((r) => r.normalizedValue)}::text[],
          ${pending.map((r) => r.discoveryMethod)}::text[], ${pending.map((r) => r.confidenceScore)}::float8[],
          ${pending.map((r) => (r.discoveryMetadata ? JSON.stringify(r.discoveryMetadata) : null))}::jsonb[]
        ) WITH ORDINALITY AS t(user_id, source_id, identifier_key, identifier_value, value_kind, normalized_value,
          discovery_method, confidence_score, discovery_metadata, n)
      ),
      b AS (
        SELECT i.${c.id}, i.${c.userId}, i.${c.sourceId}, i.${c.identifierKey}, i.${c.identifierValue}, i.${c.valueKind}, i.${c.discoveryMethod},
          i.${c.confidenceScore}, i.${c.discoveryMetadata}
        FROM ${c.$table} i JOIN t ON i.${c.userId} = t.user_id AND i.${c.sourceId} = t.source_id AND i.${c.identifierKey} = t.identifier_key
        WHERE i.${c.organizationId} = ${organizationId}::uuid AND i.${c.mergeSlot} = 0
        ORDER BY i.${c.userId}, i.${c.sourceId}, i.${c.identifierKey} COLLATE "C"
        FOR UPDATE OF i
      ),
      w AS (
        INSERT INTO ${c.$table} AS i (${c.organizationId}, ${c.userId}, ${c.sourceId}, ${c.identifierKey}, ${c.identifierValue}, ${c.valueKind},
          ${c.normalizedValue}, ${c.discoveryMethod}, ${c.confidenceScore}, ${c.discoveryMetadata})
        SELECT ${organizationId}::uuid, t.user_id, t.source_id, t.identifier_key, t.identifier_value,
          t.value_kind::"ValueKind", t.normalized_value, t.discovery_method::"DiscoveryMethod", t.confidence_score,
          t.discovery_metadata
        FROM t
        -- Read (and lock) the rows as they were before anything is written.
        WHERE (SELECT count(*) FROM b) >= 0
        ORDER BY t.n
        ON CONFLICT (${c.organizationId}, ${c.userId}, ${c.sourceId}, ${c.identifierKey}, ${c.mergeSlot}) DO UPDATE SET
          ${c.identifierValue} = EXCLUDED.${c.identifierValue},
          ${c.valueKind} = EXCLUDED.${c.valueKind},
          ${c.normalizedValue} = EXCLUDED.${c.normalizedValue},
          ${c.discoveryMethod} = EXCLUDED.${c.discoveryMethod},
          ${c.confidenceScore} = EXCLUDED.${c.confidenceScore},
          ${c.discoveryMetadata} = EXCLUDED.${c.discoveryMetadata},
          ${c.updatedAt} = CURRENT_TIMESTAMP
        WHERE (i.${c.identifierValue}, i.${c.valueKind}, i.${c.normalizedValue}, i.${c.discoveryMethod}, i.${c.confidenceScore}, i.${c.discoveryMetadata})
          IS DISTINCT FROM (EXCLUDED.${c.identifierValue}, EXCLUDED.${c.valueKind}, EXCLUDED.${c.normalizedValue}, EXCLUDED.${c.discoveryMethod},
            EXCLUDED.${c.confidenceScore}, EXCLUDED.${c.discoveryMetadata})
        RETURNING ${identifierColumns()}, ${c.userId}, ${c.sourceId}, ${c.identifierKey}, ${c.identifierValue}, ${c.valueKind}, ${c.discoveryMethod},
          ${c.confidenceScore}, ${c.discoveryMetadata}, (xmax = 0) AS created
      ),
      recorded AS (
        INSERT INTO ${ev.$table} (${ev.organizationId}, ${ev.actorType}, ${ev.actorUserId}, ${ev.actorApiKeyId}, ${ev.entityType}, ${ev.entityId},
          ${ev.action}, ${ev.changes}, ${ev.discoveryMethod}, ${ev.requestId})
        SELECT w."organizationId", ${who.actorType}::"ActorType", ${who.actorUserId}::uuid, ${who.actorApiKeyId}::uuid,
          'Identifier', w.${c.id}, CASE WHEN w.created THEN 'CREATE' ELSE 'UPDATE' END, ${changesSql()}, w.${c.discoveryMethod},
          ${who.requestId}
        FROM w LEFT JOIN b ON b.${c.id} = w.${c.id}
        RETURNING ${ev.id}, ${ev.organizationId}, ${ev.entityType}, ${ev.entityId}, ${ev.action}
      ),
      ${publishInserted('recorded')}
      SELECT ${returned}, w.created, (SELECT count(*) FROM notified) AS notified FROM w`);
    for (const { created, notified: _n, ...identifier } of written) {
      results.set(naturalKey(identifier.userId, identifier.sourceId, identifier.identifierKey), {
        identifier,
        created,
        outcome: created ? 'CREATED' : 'UPDATED',
      });
    }
    const unchanged = pending.filter((r) => !results.has(naturalKey(r.userId, r.sourceId, r.identifierKey)));
    pending = [];
    if (!unchanged.length) break;
    const existing = await prisma.$queryRaw<IdentifierKeys[]>`
      SELECT ${columns} FROM ${c.$table}
      JOIN unnest(${unchanged.map((r) => r.userId)}::uuid[], ${unchanged.map((r) => r.sourceId)}::uuid[],
        ${unchanged.map((r) => r.identifierKey)}::text[]) AS t(t_user_id, t_source_id, t_identifier_key)
        ON ${c.userId} = t_user_id AND ${c.sourceId} = t_source_id AND ${c.identifierKey} = t_identifier_key
      WHERE ${c.organizationId} = ${organizationId}::uuid AND ${c.mergeSlot} = 0`;
    for (const identifier of existing) {
      results.set(naturalKey(identifier.userId, identifier.sourceId, identifier.identifierKey), {
        identifier,
        created: false,
        outcome: 'UNCHANGED',
      });
    }
    pending = unchanged.filter((r) => !results.has(naturalKey(r.userId, r.sourceId, r.identifierKey)));
  }
  if (pending.length) throw new Error('identifiers kept disappearing while being written');
  // A value another user of the organization already has: suggest the two as duplicates.
  const written = [...results.values()].filter((r) => r.outcome !== 'UNCHANGED').map((r) => r.identifier.id);
  await suggestSharedIdentifiers(prisma, organizationId, written);
  return rows.map((r) => results.get(naturalKey(r.userId, r.sourceId, r.identifierKey))!);
}

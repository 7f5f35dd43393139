import type { Access, Viewer } from '../../context.ts';
import { Prisma, prisma } from '../../db.ts';
import { ConflictError, NotFoundError, ValidationError, type DomainError } from '../../errors.ts';
import type { DiscoveryMethod, Identifier } from '../../generated/prisma/client.ts';
import {
  jsonObject,
  loadMembers,
  loadSources,
  oneOf,
  score,
  sourceRef,
  sourceRefKey,
  text,
  userRef,
  userRefKey,
  type SourceRef,
  type UserRef,
} from '../shared/inputs.ts';
import { actorOf, type AuditInput, changesOf, publishInserted, recordAudit } from '../audit/service.ts';
import { suggestSharedIdentifiers } from '../suggestion/service.ts';
import { requireOrganizationOf, requireRowIn } from '../shared/tenant.ts';
import { classify, inferValueKind, kindMismatch, normaliseValue, VALUE_KINDS, type ValueKind } from '../matching/normalise.ts';
import { Issues, prismaErrorCode, uniqueViolation } from '../shared/validate.ts';

// Identifiers: "user U is `identifierKey = identifierValue` in source S". Rules and
// storage; no GraphQL here. Every upsert, one or a thousand, is one INSERT ... ON
// CONFLICT statement on the natural key (organization, user, source, identifierKey),
// so concurrent upserts of one key never race into a unique-constraint error.

export const DISCOVERY_METHODS = ['MCP_TOOL', 'LLM_DISCOVERY', 'MANUAL'] as const satisfies readonly DiscoveryMethod[];
/** Largest discoveryMetadata, as JSON text. */
export const MAX_METADATA_BYTES = 16 * 1024;
/** Most items in one upsertIdentifiers call. */
export const MAX_BULK_ITEMS = 1000;

/** One identifier to create or update, as GraphQL and import files give it. */
export interface IdentifierItemInput {
  userId?: string | null;
  userEmail?: string | null;
  sourceId?: string | null;
  sourceKey?: string | null;
  identifierKey: string;
  identifierValue: string;
  valueKind?: ValueKind | null;
  discoveryMethod: DiscoveryMethod;
  confidenceScore?: number | null;
  discoveryMetadata?: Record<string, unknown> | null;
}

export interface UpsertIdentifierInput extends IdentifierItemInput {
  organizationId?: string | null;
}

export interface UpsertIdentifiersInput {
  organizationId?: string | null;
  items: IdentifierItemInput[];
}

export type UpsertOutcome = 'CREATED' | 'UPDATED' | 'UNCHANGED';

/** An identifier's id and natural key: what a write answers when its caller shows no more. */
export type IdentifierKeys = Pick<Identifier, 'id' | 'userId' | 'sourceId' | 'identifierKey'>;

/**
 * What a write sends back of each identifier: every column (`rows`), or only its id and
 * natural key (`keys`), for a caller that shows no more. Receiving and converting 1,000
 * rows cost the process 13–14 ms with all 12 columns, 6.3–6.8 ms with 5.
 */
export type Returning = 'rows' | 'keys';

export interface IdentifierUpsert<Row extends IdentifierKeys = Identifier> {
  identifier: Row;
  /** True when the call inserted the row. */
  created: boolean;
  outcome: UpsertOutcome;
}

/** A checked item whose user and source are not yet looked up. */
interface CheckedItem {
  user: UserRef;
  source: SourceRef;
  identifierKey: string;
  identifierValue: string;
  valueKind: ValueKind | null;
  discoveryMethod: DiscoveryMethod;
  confidenceScore: number | null;
  discoveryMetadata: Record<string, unknown> | null;
}

/** An item ready to write. */
export interface IdentifierRow {
  userId: string;
  sourceId: string;
  identifierKey: string;
  identifierValue: string;
  valueKind: ValueKind;
  normalizedValue: string;
  discoveryMethod: DiscoveryMethod;
  confidenceScore: number | null;
  discoveryMetadata: Record<string, unknown> | null;
}

/**
 * Checks one item's fields (no database); `base` prefixes paths, e.g. `input.items[3].`.
 * Returns the checked item, or the ValidationError naming each invalid field.
 */
function checkItem(base: string, raw: unknown): CheckedItem | ValidationError {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return ValidationError.field(base.replace(/\.$/, ''), 'must be an object');
  }
  const item = raw as Record<string, unknown>;
  const issues = new Issues();
  const checked = {
    user: userRef(issues, base, item.userId, item.userEmail),
    source: sourceRef(issues, base, item.sourceId, item.sourceKey),
    identifierKey: text(issues, `${base}identifierKey`, item.identifierKey, 255, true),
    identifierValue: text(issues, `${base}identifierValue`, item.identifierValue, 1024, true),
    valueKind: oneOf(issues, `${base}valueKind`, item.valueKind, VALUE_KINDS) ?? null,
    discoveryMethod: oneOf(issues, `${base}discoveryMethod`, item.discoveryMethod, DISCOVERY_METHODS, true),
    confidenceScore: score(issues, `${base}confidenceScore`, item.confidenceScore),
    discoveryMetadata: jsonObject(issues, `${base}discoveryMetadata`, item.discoveryMetadata, MAX_METADATA_BYTES) ?? null,
  };
  const mismatch = checked.valueKind && checked.identifierValue ? kindMismatch(checked.valueKind, checked.identifierValue) : null;
  if (mismatch) issues.add(`${base}identifierValue`, mismatch);
  return issuesOf(issues) ?? (checked as CheckedItem);
}

/** The collected issues as an error, or null when there are none. */
export function issuesOf(issues: Issues): ValidationError | null {
  try {
    issues.throwIfAny();
    return null;
  } catch (err) {
    return err as ValidationError;
  }
}

/** What stopped one item of a batch: its index and the error naming its fields. */
export interface ItemProblem {
  index: number;
  error: DomainError;
}

/**
 * Checks a batch of items for the organization and resolves their users and sources
 * (two queries for the whole batch). Returns a row for each good item and a problem
 * for each bad one, so a caller can refuse the whole batch (the GraphQL mutations) or
 * load the good items alone (the import). `pathOf(i)` is the path prefix of item i.
 */
export async function prepareIdentifiers(
  organizationId: string,
  items: readonly unknown[],
  pathOf: (index: number) => string,
): Promise<{ rows: (IdentifierRow | null)[]; problems: ItemProblem[] }> {
  const problems: ItemProblem[] = [];
  const checked = items.map((raw, index) => {
    const item = checkItem(pathOf(index), raw);
    if (!(item instanceof ValidationError)) return item;
    problems.push({ index, error: item });
    return undefined;
  });
  const good = checked.filter((c): c is CheckedItem => c !== undefined);
  const [users, sources] = await Promise.all([
    loadMembers(organizationId, good.map((c) => c.user)),
    loadSources(organizationId, good.map((c) => c.source)),
  ]);
  const seen = new Map<string, number>();
  const rows = checked.map((item, index): IdentifierRow | null => {
    if (!item) return null;
    const base = pathOf(index);
    const user = users.get(userRefKey(item.user));
    const source = sources.get(sourceRefKey(item.source));
    if (!user || !source) {
      const path = !user ? `${base}${item.user.id ? 'userId' : 'userEmail'}` : `${base}${item.source.id ? 'sourceId' : 'sourceKey'}`;
      const entity = !user ? 'User' : 'IntegrationSource';
      const what = !user ? 'member of the organization' : 'source of the organization';
      problems.push({ index, error: new NotFoundError(entity, `${path}: no ${what} matches.`) });
      return null;
    }
    const key = naturalKey(user.id, source.id, item.identifierKey);
    const first = seen.get(key);
    if (first !== undefined) {
      problems.push({
        index,
        error: ValidationError.field(`${base}identifierKey`, `repeats ${pathOf(first)}identifierKey (the same user, source and key)`),
      });
      return null;
    }
    seen.set(key, index);
    const { user: _u, source: _s, valueKind, ...fields } = item;
    return { userId: user.id, sourceId: source.id, ...fields, ...classify(item.identifierKey, item.identifierValue, source.phoneRegion, valueKind) };
  });
  problems.sort((a, b) => a.index - b.index);
  return { rows, problems };
}

/**
 * Refuses a batch with problems as one error: every validation issue when there are
 * any, else the first missing reference, else the first conflict.
 */
export function throwProblems(problems: ItemProblem[]): void {
  if (!problems.length) return;
  const issues = problems.flatMap((p) => (p.error instanceof ValidationError ? p.error.issues : []));
  if (issues.length) throw new ValidationError(issues);
  throw problems[0]!.error;
}

const naturalKey = (userId: string, sourceId: string, identifierKey: string) => `${userId}|${sourceId}|${identifierKey}`;

/** A total order on strings, the same in every process (not locale-dependent). */
export const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

const isDeadlock = (err: unknown) => {
  const cause = (err as { meta?: { driverAdapterError?: { cause?: { originalCode?: string; code?: string } } } })?.meta
    ?.driverAdapterError?.cause;
  return (cause?.originalCode ?? cause?.code) === '40P01';
};

/**
 * Runs a write again when PostgreSQL broke a deadlock by cancelling it. Writers lock
 * rows in key order, but two batches can still meet in two unique indexes (one on the
 * key, one on an email) in opposite orders; the database then cancels one of them,
 * which has written nothing and can simply run again.
 */
export async function retryOnDeadlock<T>(write: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (attempt >= attempts || !isDeadlock(err)) throw err;
    }
  }
}

const COLUMNS = Prisma.raw(`id, organization_id AS "organizationId", user_id AS "userId", source_id AS "sourceId",
  identifier_key AS "identifierKey", identifier_value AS "identifierValue", value_kind AS "valueKind",
  normalized_value AS "normalizedValue", discovery_method AS "discoveryMethod",
  confidence_score AS "confidenceScore", discovery_metadata AS "discoveryMetadata",
  created_at AS "createdAt", updated_at AS "updatedAt"`);
const RETURNED = Prisma.raw(`w.id, w."organizationId", w."userId", w."sourceId", w."identifierKey", w."identifierValue",
  w."valueKind", w."normalizedValue", w."discoveryMethod", w."confidenceScore", w."discoveryMetadata", w."createdAt", w."updatedAt"`);
const KEY_COLUMNS = Prisma.raw(`id, user_id AS "userId", source_id AS "sourceId", identifier_key AS "identifierKey"`);
const RETURNED_KEYS = Prisma.raw(`w.id, w."userId", w."sourceId", w."identifierKey"`);

/** The fields an identifier's audit events record, and their columns. */
const AUDITED_FIELDS = [
  ['userId', 'user_id'],
  ['sourceId', 'source_id'],
  ['identifierKey', 'identifier_key'],
  ['identifierValue', 'identifier_value'],
  ['valueKind', 'value_kind'],
  ['discoveryMethod', 'discovery_method'],
  ['confidenceScore', 'confidence_score'],
  ['discoveryMetadata', 'discovery_metadata'],
] as const;

/**
 * SQL: the changes between the rows `b` (before; null columns for a new row) and `w`
 * (written), as audit JSON: one `{ field: { before, after } }` object per changed
 * column, joined. (An aggregate over a VALUES list per row cost 15 ms of a
 * 1,000-row write; this is a plain expression.)
 */
const CHANGES_SQL = Prisma.raw(
  `(${AUDITED_FIELDS.map(
    ([k, c]) =>
      `CASE WHEN b.${c} IS DISTINCT FROM w.${c} THEN jsonb_build_object('${k}', jsonb_build_object('before', to_jsonb(b.${c}), 'after', to_jsonb(w.${c}))) ELSE '{}'::jsonb END`,
  ).join(' || ')})`,
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
  const [columns, returned] = returning === 'rows' ? [COLUMNS, RETURNED] : [KEY_COLUMNS, RETURNED_KEYS];
  const results = new Map<string, IdentifierUpsert<IdentifierKeys>>();
  const who = actorOf(actor);
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
        SELECT i.id, i.user_id, i.source_id, i.identifier_key, i.identifier_value, i.value_kind, i.discovery_method,
          i.confidence_score, i.discovery_metadata
        FROM identifiers i JOIN t ON i.user_id = t.user_id AND i.source_id = t.source_id AND i.identifier_key = t.identifier_key
        WHERE i.organization_id = ${organizationId}::uuid
        ORDER BY i.user_id, i.source_id, i.identifier_key COLLATE "C"
        FOR UPDATE OF i
      ),
      w AS (
        INSERT INTO identifiers AS i (organization_id, user_id, source_id, identifier_key, identifier_value, value_kind,
          normalized_value, discovery_method, confidence_score, discovery_metadata)
        SELECT ${organizationId}::uuid, t.user_id, t.source_id, t.identifier_key, t.identifier_value,
          t.value_kind::"ValueKind", t.normalized_value, t.discovery_method::"DiscoveryMethod", t.confidence_score,
          t.discovery_metadata
        FROM t
        -- Read (and lock) the rows as they were before anything is written.
        WHERE (SELECT count(*) FROM b) >= 0
        ORDER BY t.n
        ON CONFLICT (organization_id, user_id, source_id, identifier_key) DO UPDATE SET
          identifier_value = EXCLUDED.identifier_value,
          value_kind = EXCLUDED.value_kind,
          normalized_value = EXCLUDED.normalized_value,
          discovery_method = EXCLUDED.discovery_method,
          confidence_score = EXCLUDED.confidence_score,
          discovery_metadata = EXCLUDED.discovery_metadata,
          updated_at = CURRENT_TIMESTAMP
        WHERE (i.identifier_value, i.value_kind, i.normalized_value, i.discovery_method, i.confidence_score, i.discovery_metadata)
          IS DISTINCT FROM (EXCLUDED.identifier_value, EXCLUDED.value_kind, EXCLUDED.normalized_value, EXCLUDED.discovery_method,
            EXCLUDED.confidence_score, EXCLUDED.discovery_metadata)
        RETURNING ${COLUMNS}, user_id, source_id, identifier_key, identifier_value, value_kind, discovery_method,
          confidence_score, discovery_metadata, (xmax = 0) AS created
      ),
      recorded AS (
        INSERT INTO audit_events (organization_id, actor_type, actor_user_id, actor_api_key_id, entity_type, entity_id,
          action, changes, discovery_method, request_id)
        SELECT w."organizationId", ${who.actorType}::"ActorType", ${who.actorUserId}::uuid, ${who.actorApiKeyId}::uuid,
          'Identifier', w.id, CASE WHEN w.created THEN 'CREATE' ELSE 'UPDATE' END, ${CHANGES_SQL}, w.discovery_method,
          ${who.requestId}
        FROM w LEFT JOIN b ON b.id = w.id
        RETURNING id, organization_id, entity_type, entity_id, action
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
      SELECT ${columns} FROM identifiers
      JOIN unnest(${unchanged.map((r) => r.userId)}::uuid[], ${unchanged.map((r) => r.sourceId)}::uuid[],
        ${unchanged.map((r) => r.identifierKey)}::text[]) AS t(t_user_id, t_source_id, t_identifier_key)
        ON user_id = t_user_id AND source_id = t_source_id AND identifier_key = t_identifier_key
      WHERE organization_id = ${organizationId}::uuid`;
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

/** Creates or updates one identifier on its natural key (write access to the organization). */
export async function upsertIdentifier(access: Access, input: UpsertIdentifierInput): Promise<IdentifierUpsert> {
  const organizationId = await requireOrganizationOf(access, new Issues(), 'input.organizationId', input.organizationId);
  const { rows, problems } = await prepareIdentifiers(organizationId, [input], () => 'input.');
  throwProblems(problems);
  const [result] = await writeIdentifiers(organizationId, [rows[0]!], access.viewer);
  return result!;
}

/**
 * The organization of a bulk write, with write access to it, and 1 to `max` items;
 * BAD_USER_INPUT otherwise.
 */
export async function bulkOrganization(
  access: Access,
  input: { organizationId?: string | null; items: readonly unknown[] },
  max: number,
): Promise<string> {
  const issues = new Issues();
  const organizationId = await requireOrganizationOf(access, issues, 'input.organizationId', input.organizationId);
  if (input.items.length === 0) issues.add('input.items', 'must not be empty');
  if (input.items.length > max) issues.add('input.items', `must have at most ${max} items`);
  issues.throwIfAny();
  return organizationId;
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
  try {
    return await prisma.$transaction(async (tx) => {
      // The row as it is now, locked: the event's "before" is what this write replaces.
      const [before] = await tx.$queryRaw<Identifier[]>`SELECT ${COLUMNS} FROM identifiers WHERE id = ${current.id}::uuid FOR UPDATE`;
      if (!before) throw new NotFoundError('Identifier');
      const updated = await tx.identifier.update({
        where: { id: current.id },
        data: {
          ...next,
          confidenceScore: next.confidenceScore ?? null,
          discoveryMetadata: next.discoveryMetadata === null ? Prisma.DbNull : (next.discoveryMetadata as Prisma.InputJsonObject),
        },
      });
      await recordAudit(tx, access.viewer, [identifierEvent('UPDATE', before, updated)]);
      await suggestSharedIdentifiers(tx, updated.organizationId, [updated.id]);
      return updated;
    });
  } catch (err) {
    if (uniqueViolation(err)) {
      throw new ConflictError(['input.identifierKey'], 'The user already has an identifier with this key in this source.');
    }
    if (prismaErrorCode(err) === 'P2025') throw new NotFoundError('Identifier');
    throw err;
  }
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

/** The audit event of a change to one identifier (`before` null: created; `after` null: deleted). */
function identifierEvent(action: string, before: Identifier | null, after: Identifier | null): AuditInput {
  const row = (after ?? before)!;
  return {
    organizationId: row.organizationId,
    entityType: 'Identifier',
    entityId: row.id,
    action,
    changes: changesOf(before, after, AUDITED_FIELDS.map(([field]) => field)),
    discoveryMethod: row.discoveryMethod,
  };
}

/** Deletes an identifier; returns its id. */
export async function deleteIdentifier(access: Access, input: { id: string }): Promise<string> {
  const issues = new Issues();
  const id = issues.id('input.id', input.id, 'Identifier');
  issues.throwIfAny();
  const row = await prisma.identifier.findUnique({ where: { id: id! }, select: { organizationId: true } });
  const organizationId = await requireRowIn(access, row?.organizationId, 'write', 'Identifier');
  await prisma.$transaction(async (tx) => {
    const [deleted] = await tx.$queryRaw<Identifier[]>`
      DELETE FROM identifiers WHERE id = ${id!}::uuid AND organization_id = ${organizationId}::uuid RETURNING ${COLUMNS}`;
    if (!deleted) throw new NotFoundError('Identifier');
    await recordAudit(tx, access.viewer, [identifierEvent('DELETE', deleted, null)]);
  });
  return id!;
}
/** Filters of `Organization.identifiers` and the other identifier lists. */
export interface IdentifierFilter {
  organizationId?: string | null;
  userId?: string | null;
  sourceId?: string | null;
  sourceKey?: string | null;
  identifierKey?: string | null;
  identifierValue?: string | null;
  discoveryMethod?: DiscoveryMethod | null;
  minConfidence?: number | null;
}

/** The where of an identifier list; an id that does not parse is BAD_USER_INPUT. */
export function identifiersWhere(args: IdentifierFilter): Prisma.IdentifierWhereInput {
  const issues = new Issues();
  const organizationId = issues.id('organizationId', args.organizationId, 'Organization');
  const userId = issues.id('userId', args.userId, 'User');
  const sourceId = issues.id('sourceId', args.sourceId, 'IntegrationSource');
  if (args.minConfidence != null && !(args.minConfidence >= 0 && args.minConfidence <= 1)) {
    issues.add('minConfidence', 'must be a number from 0 to 1');
  }
  issues.throwIfAnyInRead();
  return {
    ...(organizationId && { organizationId }),
    ...(userId && { userId }),
    ...(sourceId && { sourceId }),
    ...(args.sourceKey != null && { source: { key: args.sourceKey } }),
    ...(args.identifierKey != null && { identifierKey: args.identifierKey }),
    ...(args.identifierValue != null && {
      normalizedValue: normaliseValue(inferValueKind(args.identifierKey ?? '', args.identifierValue), args.identifierValue),
    }),
    ...(args.discoveryMethod && { discoveryMethod: args.discoveryMethod }),
    ...(args.minConfidence != null && { confidenceScore: { gte: args.minConfidence } }),
  };
}

import type { Access, Viewer } from '../../context.ts';
import { Prisma, prisma } from '../../db.ts';
import { ConflictError, forbidden, NotFoundError, ValidationError } from '../../errors.ts';
import type { Identity, IdentityType, LinkedBy, PropertyType } from '../../generated/prisma/client.ts';
import {
  bulkOrganization,
  compare,
  issuesOf,
  retryOnDeadlock,
  throwProblems,
  type ItemProblem,
  type UpsertOutcome,
} from '../identifier/service.ts';
import {
  bool,
  email,
  instant,
  jsonBytes,
  loadMembers,
  loadSources,
  oneOf,
  phoneNumber,
  sourceRef,
  sourceRefKey,
  text,
  userRef,
  type ReferencedSource,
  type SourceRef,
} from '../shared/inputs.ts';
import { type AuditInput, type Changes, changesOf, recordAudit } from '../audit/service.ts';
import { suggestIdentityOwners } from '../suggestion/service.ts';
import { organizationOf, requireOrganizationOf, requireRowIn } from '../shared/tenant.ts';
import { Issues, prismaErrorCode, uniqueViolation } from '../shared/validate.ts';

// Identities: how a person, organization or other party is known to a tenant, maybe as
// an account at an identity provider, maybe linked to a User. Rules and storage; no
// GraphQL here. Creates and upserts, one or a thousand, are one INSERT statement (with
// properties merged by a second one) in one transaction.
//
// Linking: the server links a provider account to a member by itself (AUTO) only when
// the provider marks the account's email verified and it equals the member's email;
// an unverified email never links, or anyone could claim a member's address at a
// provider and be taken for them. AUTO links follow the account (re-checked on every
// write); MANUAL and SCIM links are an admin's or a provisioning sync's decision and
// stay until unlinked.

export const IDENTITY_TYPES = ['ORG', 'USER', 'OTHER'] as const satisfies readonly IdentityType[];
export const PROPERTY_TYPES = ['STRING', 'NUMBER', 'BOOLEAN', 'JSON'] as const satisfies readonly PropertyType[];
export const LINKED_BY = ['AUTO', 'MANUAL', 'SCIM'] as const satisfies readonly LinkedBy[];
/** Most properties in one call. */
export const MAX_PROPERTIES = 100;
/** Largest property value, as JSON text. */
export const MAX_PROPERTY_BYTES = 16 * 1024;
/** Most identities in one bulk call. */
export const MAX_BULK_IDENTITIES = 1000;

export interface PropertyInput {
  key: string;
  type: PropertyType;
  value?: unknown;
}

/** The fields of an identity, as createIdentity, upsertIdentity and import files give them. */
export interface IdentityFieldsInput {
  identifierKey: string;
  identityType: IdentityType;
  name: string;
  email?: string | null;
  phoneNumber?: string | null;
  projectId?: string | null;
  sourceId?: string | null;
  sourceKey?: string | null;
  externalId?: string | null;
  externalUsername?: string | null;
  externalEmail?: string | null;
  externalEmailVerified?: boolean | null;
  externalDisplayName?: string | null;
  lastSyncedAt?: Date | string | null;
  properties?: PropertyInput[] | null;
}

export interface CreateIdentityInput extends IdentityFieldsInput {
  organizationId?: string | null;
}

export interface UpsertIdentitiesInput {
  organizationId?: string | null;
  items: IdentityFieldsInput[];
}

export interface CheckedProperty {
  key: string;
  type: PropertyType;
  value: unknown;
}

interface CheckedIdentity {
  identifierKey: string;
  identityType: IdentityType;
  name: string;
  email: string | null;
  phoneNumber: string | null;
  projectId: string | null;
  source: SourceRef | null;
  externalId: string | null;
  externalUsername: string | null;
  externalEmail: string | null;
  externalEmailVerified: boolean;
  externalDisplayName: string | null;
  lastSyncedAt: Date | null;
  properties: CheckedProperty[];
}

/** An identity ready to write. */
export interface IdentityRow extends Omit<CheckedIdentity, 'source'> {
  sourceId: string | null;
  userId: string | null;
  linkedBy: LinkedBy | null;
}

export interface IdentityUpsert {
  identity: Identity;
  created: boolean;
  outcome: UpsertOutcome;
}

const PROVIDER_FIELDS = ['externalId', 'externalUsername', 'externalEmail', 'externalDisplayName', 'lastSyncedAt'] as const;

/** A property value of its declared type, within the size limit. */
function propertyValue(issues: Issues, path: string, type: PropertyType | null | undefined, value: unknown) {
  if (value === undefined || value === null) {
    issues.add(path, 'is required');
    return;
  }
  const ok =
    type === 'STRING' ? typeof value === 'string'
    : type === 'NUMBER' ? typeof value === 'number' && Number.isFinite(value)
    : type === 'BOOLEAN' ? typeof value === 'boolean'
    : true;
  if (type && !ok) issues.add(path, `must be a ${type.toLowerCase()}, as the property's type says`);
  else if (jsonBytes(value) > MAX_PROPERTY_BYTES) issues.add(path, `must be at most ${MAX_PROPERTY_BYTES / 1024} KB as JSON`);
}

/** A list of properties: at most MAX_PROPERTIES, keys unique, values of their types. */
export function checkProperties(issues: Issues, path: string, value: unknown): CheckedProperty[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    issues.add(path, 'must be a list');
    return [];
  }
  if (value.length > MAX_PROPERTIES) issues.add(path, `must have at most ${MAX_PROPERTIES} properties`);
  const seen = new Map<string, number>();
  const out: CheckedProperty[] = [];
  value.forEach((raw: unknown, i) => {
    const base = `${path}[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      issues.add(base, 'must be an object with key, type and value');
      return;
    }
    const p = raw as Record<string, unknown>;
    const key = text(issues, `${base}.key`, p.key, 255, true);
    const type = oneOf(issues, `${base}.type`, p.type, PROPERTY_TYPES, true);
    propertyValue(issues, `${base}.value`, type, p.value);
    if (key) {
      const first = seen.get(key);
      if (first !== undefined) issues.add(`${base}.key`, `repeats ${path}[${first}].key`);
      else seen.set(key, i);
    }
    if (key && type) out.push({ key, type, value: p.value });
  });
  return out;
}

/** Checks one identity's fields (no database); `base` prefixes paths. */
function checkIdentity(base: string, raw: unknown): CheckedIdentity | ValidationError {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return ValidationError.field(base.replace(/\.$/, ''), 'must be an object');
  }
  const item = raw as Record<string, unknown>;
  const issues = new Issues();
  const checked = {
    identifierKey: text(issues, `${base}identifierKey`, item.identifierKey, 255, true),
    identityType: oneOf(issues, `${base}identityType`, item.identityType, IDENTITY_TYPES, true),
    name: text(issues, `${base}name`, item.name, 200, true),
    email: email(issues, `${base}email`, item.email) ?? null,
    phoneNumber: phoneNumber(issues, `${base}phoneNumber`, item.phoneNumber) ?? null,
    projectId: text(issues, `${base}projectId`, item.projectId, 255) ?? null,
    source: sourceRef(issues, base, item.sourceId, item.sourceKey, false) ?? null,
    externalId: text(issues, `${base}externalId`, item.externalId, 255) ?? null,
    externalUsername: text(issues, `${base}externalUsername`, item.externalUsername, 255) ?? null,
    externalEmail: email(issues, `${base}externalEmail`, item.externalEmail) ?? null,
    externalEmailVerified: bool(issues, `${base}externalEmailVerified`, item.externalEmailVerified) ?? false,
    externalDisplayName: text(issues, `${base}externalDisplayName`, item.externalDisplayName, 200) ?? null,
    lastSyncedAt: instant(issues, `${base}lastSyncedAt`, item.lastSyncedAt) ?? null,
    properties: checkProperties(issues, `${base}properties`, item.properties),
  };
  providerRules(issues, base, { ...item, hasSource: item.sourceId != null || item.sourceKey != null });
  return issuesOf(issues) ?? (checked as CheckedIdentity);
}

/**
 * A provider account is a source and an externalId together; the other provider
 * fields need them.
 */
function providerRules(issues: Issues, base: string, s: Record<string, unknown> & { hasSource: boolean }) {
  if (s.hasSource && s.externalId == null) issues.add(`${base}externalId`, 'is required with a source');
  if (!s.hasSource) {
    const given = PROVIDER_FIELDS.filter((f) => s[f] != null);
    if (s.externalEmailVerified === true) given.push('externalEmailVerified' as never);
    if (given.length) issues.add(`${base}sourceId`, `is required with ${given.join(', ')}: give sourceId or sourceKey`);
  }
}

/** The identity provider a reference names, or the problem with it. */
function providerOf(
  sources: Map<string, ReferencedSource>,
  ref: SourceRef,
  base: string,
): ReferencedSource | NotFoundError | ValidationError {
  const field = `${base}${ref.id ? 'sourceId' : 'sourceKey'}`;
  const source = sources.get(sourceRefKey(ref));
  if (!source) return new NotFoundError('IntegrationSource', `${field}: no source of the organization matches.`);
  if (source.kind !== 'IDENTITY_PROVIDER') return ValidationError.field(field, 'must be an IDENTITY_PROVIDER source');
  return source;
}

/** The member a provider account links to by itself (AUTO), if any: see the file comment. */
function autoLinkEmail(row: { sourceId: string | null; externalEmail: string | null; externalEmailVerified: boolean }) {
  return row.sourceId && row.externalEmail && row.externalEmailVerified ? row.externalEmail : null;
}

const UNIQUE_FIELDS = [
  { field: 'identifierKey', column: /identifier_key/ },
  { field: 'email', column: /(^|_|,)email/ },
  { field: 'phoneNumber', column: /phone_number/ },
  { field: 'externalId', column: /external_id/ },
] as const;

/** The input field a violated unique constraint of identities stands for. */
function fieldOfConstraint(constraint: string): string {
  return UNIQUE_FIELDS.find((u) => u.column.test(constraint))?.field ?? 'identifierKey';
}

const conflictMessage = (field: string) =>
  field === 'externalId'
    ? 'Another identity is this account at this identity provider.'
    : `Another identity of the organization has this ${field}.`;

type Existing = Pick<Identity, 'identifierKey' | 'email' | 'phoneNumber' | 'sourceId' | 'externalId'>;

/**
 * The rows that hold an identifier key, email, phone number or provider account the
 * given rows want, in one query (arrays bound as parameters, not one per value).
 */
function existingHolders(organizationId: string, rows: IdentityRow[]) {
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
function conflictsWith(existing: Existing[], rows: (IdentityRow | null)[], pathOf: (i: number) => string, create: boolean) {
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

/**
 * Checks a batch of identities for the organization: fields, sources (one query),
 * repeats within the batch, the members provider accounts link to (one query) and
 * values other identities already hold (one query). Returns a row for each good item
 * and a problem for each bad one; see prepareIdentifiers.
 */
export async function prepareIdentities(
  organizationId: string,
  items: readonly unknown[],
  pathOf: (index: number) => string,
  options: { create?: boolean } = {},
): Promise<{ rows: (IdentityRow | null)[]; problems: ItemProblem[] }> {
  const problems: ItemProblem[] = [];
  const checked = items.map((raw, index) => {
    const item = checkIdentity(pathOf(index), raw);
    if (!(item instanceof ValidationError)) return item;
    problems.push({ index, error: item });
    return undefined;
  });
  const sources = await loadSources(
    organizationId,
    checked.flatMap((c) => (c?.source ? [c.source] : [])),
  );
  const firsts = new Map<string, number>();
  let rows = checked.map((item, index): IdentityRow | null => {
    if (!item) return null;
    const base = pathOf(index);
    let sourceId: string | null = null;
    if (item.source) {
      const source = providerOf(sources, item.source, base);
      if (!('kind' in source)) {
        problems.push({ index, error: source });
        return null;
      }
      sourceId = source.id;
    }
    const keys: [string, string | null][] = [
      ['identifierKey', item.identifierKey],
      ['email', item.email],
      ['phoneNumber', item.phoneNumber],
      ['externalId', sourceId && item.externalId ? `${sourceId}|${item.externalId}` : null],
    ];
    const repeats = keys.flatMap(([field, value]) => {
      if (value === null) return [];
      const first = firsts.get(`${field}:${value}`);
      if (first === undefined) firsts.set(`${field}:${value}`, index);
      return first === undefined ? [] : [{ path: `${base}${field}`, message: `repeats ${pathOf(first)}${field}` }];
    });
    if (repeats.length) {
      problems.push({ index, error: new ValidationError(repeats) });
      return null;
    }
    const { source: _s, ...fields } = item;
    return { ...fields, sourceId, userId: null, linkedBy: null };
  });
  const linkable = rows.flatMap((r) => {
    const e = r && autoLinkEmail(r);
    return e ? [{ email: e }] : [];
  });
  const [members, existing] = await Promise.all([
    loadMembers(organizationId, linkable),
    rows.some(Boolean) ? existingHolders(organizationId, rows.filter((r): r is IdentityRow => r !== null)) : [],
  ]);
  rows = rows.map((r) => {
    const e = r && autoLinkEmail(r);
    const member = e ? members.get(`email:${e}`) : undefined;
    return r && member ? { ...r, userId: member.id, linkedBy: 'AUTO' } : r;
  });
  const conflicts = conflictsWith(existing, rows, pathOf, options.create ?? false);
  for (const c of conflicts) rows[c.index] = null;
  problems.push(...conflicts);
  problems.sort((a, b) => a.index - b.index);
  return { rows, problems };
}

const COLUMNS = Prisma.raw(`id, organization_id AS "organizationId", identifier_key AS "identifierKey",
  identity_type AS "identityType", name, email, phone_number AS "phoneNumber", project_id AS "projectId",
  source_id AS "sourceId", external_id AS "externalId", external_username AS "externalUsername",
  external_email AS "externalEmail", external_email_verified AS "externalEmailVerified",
  external_display_name AS "externalDisplayName", user_id AS "userId", linked_by AS "linkedBy",
  linked_at AS "linkedAt", last_synced_at AS "lastSyncedAt", created_at AS "createdAt", updated_at AS "updatedAt"`);

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
    RETURNING ${COLUMNS}, (xmax = 0) AS created`;
}

/** The fields of an identity its audit events record (its properties are recorded as `properties.<key>`). */
const AUDITED_FIELDS = [
  'identifierKey', 'identityType', 'name', 'email', 'phoneNumber', 'projectId', 'sourceId', 'externalId',
  'externalUsername', 'externalEmail', 'externalEmailVerified', 'externalDisplayName', 'lastSyncedAt', 'userId', 'linkedBy',
] as const;

type StoredProperty = { identityId: string; key: string; type: PropertyType; value: unknown };

/** The audit changes of properties, by identity: `properties.<key>` with its type and value before and after. */
function propertyChanges(before: StoredProperty[], after: StoredProperty[]): Map<string, Changes> {
  const out = new Map<string, Changes>();
  const old = new Map(before.map((p) => [`${p.identityId}|${p.key}`, p]));
  const add = (identityId: string, key: string, b: StoredProperty | undefined, a: StoredProperty | undefined) => {
    const changes = out.get(identityId) ?? {};
    changes[`properties.${key}`] = { before: b ? { type: b.type, value: b.value } : null, after: a ? { type: a.type, value: a.value } : null };
    out.set(identityId, changes);
  };
  for (const p of after) {
    add(p.identityId, p.key, old.get(`${p.identityId}|${p.key}`), p);
  }
  return out;
}

/** The audit changes of properties removed from one identity. */
function removedProperties(removed: StoredProperty[]): Changes {
  return Object.fromEntries(removed.map((p) => [`properties.${p.key}`, { before: { type: p.type, value: p.value }, after: null }]));
}

/** The properties `entries` name, as they are now, locked until the transaction ends. */
function lockProperties(tx: Prisma.TransactionClient, identityIds: string[], keys: string[]) {
  return tx.$queryRaw<StoredProperty[]>`
    SELECT p.identity_id AS "identityId", p.key, p.type, p.value FROM identity_properties p
    JOIN unnest(${identityIds}::uuid[], ${keys}::text[]) AS t(identity_id, key) ON p.identity_id = t.identity_id AND p.key = t.key
    ORDER BY p.identity_id, p.key COLLATE "C"
    FOR UPDATE OF p`;
}

/**
 * Merges properties by key; returns the changes, by identity id. The properties the
 * entries replace are read (and locked) first, for the events: only those of `existing`
 * identities, as one created in this transaction has none yet.
 */
async function mergeProperties(
  tx: Prisma.TransactionClient,
  organizationId: string,
  entries: { identityId: string; property: CheckedProperty }[],
  existing: ReadonlySet<string>,
): Promise<Map<string, Changes>> {
  if (!entries.length) return new Map();
  const replaced = entries.filter((e) => existing.has(e.identityId));
  const before = replaced.length ? await lockProperties(tx, replaced.map((e) => e.identityId), replaced.map((e) => e.property.key)) : [];
  const written = await tx.$queryRaw<StoredProperty[]>`
    INSERT INTO identity_properties AS p (organization_id, identity_id, key, type, value)
    SELECT ${organizationId}::uuid, t.identity_id, t.key, t.type::"PropertyType", t.value
    FROM unnest(${entries.map((e) => e.identityId)}::uuid[], ${entries.map((e) => e.property.key)}::text[],
      ${entries.map((e) => e.property.type)}::text[], ${entries.map((e) => JSON.stringify(e.property.value))}::jsonb[])
      AS t(identity_id, key, type, value)
    ON CONFLICT (identity_id, key) DO UPDATE SET type = EXCLUDED.type, value = EXCLUDED.value, updated_at = CURRENT_TIMESTAMP
    WHERE (p.type, p.value) IS DISTINCT FROM (EXCLUDED.type, EXCLUDED.value)
    RETURNING identity_id AS "identityId", key, type, value`;
  return propertyChanges(before, written);
}

/** The audit event of a change to one identity (`before` null: created; `after` null: deleted), with property changes. */
function identityEvent(action: string, before: Identity | null, after: Identity | null, properties: Changes = {}): AuditInput {
  const row = (after ?? before)!;
  return {
    organizationId: row.organizationId,
    entityType: 'Identity',
    entityId: row.id,
    action,
    changes: { ...changesOf(before, after, AUDITED_FIELDS), ...properties },
  };
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
  options: { create?: boolean } = {},
): Promise<IdentityUpsert[]> {
  const create = options.create ?? false;
  // Rows go in key order, so writers of overlapping batches lock them in the same order.
  const ordered = [...rows].sort((a, b) => compare(a.identifierKey, b.identifierKey));
  for (let attempt = 1; ; attempt++) {
    try {
      return await retryOnDeadlock(() => prisma.$transaction(
        async (tx) => {
          // The rows as they are now, locked in key order: each event's "before" is what the write replaces.
          const before = new Map(
            (await tx.$queryRaw<Identity[]>`
              SELECT ${COLUMNS} FROM identities
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
            throw new ConflictError([`${pathOf(index)}identifierKey`], conflictMessage('identifierKey'));
          }
          if (rest.length) {
            const unchanged = await tx.$queryRaw<Identity[]>`
              SELECT ${COLUMNS} FROM identities
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
      const problems = conflictsWith(await existingHolders(organizationId, rows), rows, pathOf, create);
      if (problems.length) throw problems[0]!.error;
      // No other identity holds the value: a concurrent writer of the same identity
      // inserted it between this write's check of the key and its insert (PostgreSQL
      // arbitrates ON CONFLICT on the key's index alone, and the email or phone index
      // then refuses). That row is committed now, so writing again updates it.
      if (attempt < 3) continue;
      const field = fieldOfConstraint(constraint);
      throw new ConflictError([`${pathOf(0)}${field}`], conflictMessage(field));
    }
  }
}

/** Creates an identity (write access); CONFLICT when its identifier key, email, phone number or account is taken. */
export async function createIdentity(access: Access, input: CreateIdentityInput): Promise<Identity> {
  const organizationId = await requireOrganizationOf(access, new Issues(), 'input.organizationId', input.organizationId);
  const pathOf = () => 'input.';
  const { rows, problems } = await prepareIdentities(organizationId, [input], pathOf, { create: true });
  throwProblems(problems);
  const [result] = await writeIdentities(organizationId, [rows[0]!], pathOf, access.viewer, { create: true });
  return result!.identity;
}

/**
 * Creates an identity, or replaces the fields of the one with this identifier key
 * (write access). Properties given are merged by key; the others stay.
 */
export async function upsertIdentity(access: Access, input: CreateIdentityInput): Promise<IdentityUpsert> {
  const organizationId = await requireOrganizationOf(access, new Issues(), 'input.organizationId', input.organizationId);
  const pathOf = () => 'input.';
  const { rows, problems } = await prepareIdentities(organizationId, [input], pathOf);
  throwProblems(problems);
  const [result] = await writeIdentities(organizationId, [rows[0]!], pathOf, access.viewer);
  return result!;
}

/** Upserts up to MAX_BULK_IDENTITIES identities, all or none (the import's path). */
export async function upsertIdentities(access: Access, input: UpsertIdentitiesInput): Promise<IdentityUpsert[]> {
  const organizationId = await bulkOrganization(access, input, MAX_BULK_IDENTITIES);
  const pathOf = (i: number) => `input.items[${i}].`;
  const { rows, problems } = await prepareIdentities(organizationId, input.items, pathOf);
  throwProblems(problems);
  return writeIdentities(organizationId, rows as IdentityRow[], pathOf, access.viewer);
}

/** The identity with this id, for a change at `level`: NOT_FOUND unless the viewer may see it. */
async function identityFor(access: Access, rawId: string, path: string, level: 'write' | 'admin' = 'write') {
  const issues = new Issues();
  const id = issues.id(path, rawId, 'Identity');
  issues.throwIfAny();
  const row = await prisma.identity.findUnique({ where: { id: id! } });
  await requireRowIn(access, row?.organizationId, level, 'Identity');
  return row!;
}

/** The identity as it is now, locked until the transaction ends; NOT_FOUND when it is gone. */
async function lockIdentity(tx: Prisma.TransactionClient, id: string): Promise<Identity> {
  const [row] = await tx.$queryRaw<Identity[]>`SELECT ${COLUMNS} FROM identities WHERE id = ${id}::uuid FOR UPDATE`;
  if (!row) throw new NotFoundError('Identity');
  return row;
}

/** Runs `change` on the locked identity in a transaction and records its event (nothing when nothing changed). */
function changeIdentity(
  access: Access,
  id: string,
  change: (tx: Prisma.TransactionClient, before: Identity) => Promise<{ after: Identity | null; properties?: Changes }>,
): Promise<Identity | null> {
  return prisma.$transaction(async (tx) => {
    const before = await lockIdentity(tx, id);
    const { after, properties } = await change(tx, before);
    await recordAudit(tx, access.viewer, [identityEvent(after ? 'UPDATE' : 'DELETE', before, after, properties)]);
    return after;
  });
}

function writeConflict(err: unknown, entity = 'Identity'): never {
  const constraint = uniqueViolation(err)?.join(',');
  if (constraint !== undefined) {
    const field = fieldOfConstraint(constraint);
    throw new ConflictError([`input.${field}`], conflictMessage(field));
  }
  if (prismaErrorCode(err) === 'P2025') throw new NotFoundError(entity);
  throw err;
}

/** Changes to an identity: any field but the properties; null clears an optional one. */
export type UpdateIdentityInput = { id: string } & {
  [K in Exclude<keyof IdentityFieldsInput, 'properties'>]?: IdentityFieldsInput[K] | null;
};

/**
 * Changes some fields of an identity: fields left out stay, null clears an optional
 * one (clearing the source clears the account with it). An AUTO link is checked again
 * against the new account; MANUAL and SCIM links stay. Writes nothing when nothing differs.
 */
export async function updateIdentity(access: Access, input: UpdateIdentityInput): Promise<Identity> {
  const current = await identityFor(access, input.id, 'input.id');
  const issues = new Issues();
  for (const field of ['identifierKey', 'identityType', 'name', 'externalEmailVerified'] as const) {
    issues.notNull(`input.${field}`, input[field]);
  }
  const given = <K extends keyof UpdateIdentityInput, T>(key: K, check: () => T, fallback: T): T =>
    input[key] === undefined ? fallback : check();
  const clearsSource = (input.sourceId === null || input.sourceKey === null) && input.sourceId == null && input.sourceKey == null;
  const ref = sourceRef(issues, 'input.', input.sourceId, input.sourceKey, false);
  const next = {
    identifierKey: given('identifierKey', () => text(issues, 'input.identifierKey', input.identifierKey, 255), current.identifierKey),
    identityType: given('identityType', () => oneOf(issues, 'input.identityType', input.identityType, IDENTITY_TYPES), current.identityType),
    name: given('name', () => text(issues, 'input.name', input.name, 200), current.name),
    email: given('email', () => email(issues, 'input.email', input.email), current.email),
    phoneNumber: given('phoneNumber', () => phoneNumber(issues, 'input.phoneNumber', input.phoneNumber), current.phoneNumber),
    projectId: given('projectId', () => text(issues, 'input.projectId', input.projectId, 255), current.projectId),
    externalId: given('externalId', () => text(issues, 'input.externalId', input.externalId, 255), clearsSource ? null : current.externalId),
    externalUsername: given('externalUsername', () => text(issues, 'input.externalUsername', input.externalUsername, 255), clearsSource ? null : current.externalUsername),
    externalEmail: given('externalEmail', () => email(issues, 'input.externalEmail', input.externalEmail), clearsSource ? null : current.externalEmail),
    externalEmailVerified: given('externalEmailVerified', () => bool(issues, 'input.externalEmailVerified', input.externalEmailVerified), clearsSource ? false : current.externalEmailVerified),
    externalDisplayName: given('externalDisplayName', () => text(issues, 'input.externalDisplayName', input.externalDisplayName, 200), clearsSource ? null : current.externalDisplayName),
    lastSyncedAt: given('lastSyncedAt', () => instant(issues, 'input.lastSyncedAt', input.lastSyncedAt), clearsSource ? null : current.lastSyncedAt),
  };
  let sourceId = clearsSource ? null : current.sourceId;
  if (ref) {
    const source = providerOf(await loadSources(current.organizationId, [ref]), ref, 'input.');
    if (source instanceof ValidationError) issues.add(source.issues[0]!.path, source.issues[0]!.message);
    else if (source instanceof NotFoundError) {
      issues.throwIfAny();
      throw source;
    } else sourceId = source.id;
  }
  providerRules(issues, 'input.', { ...next, hasSource: sourceId !== null });
  issues.throwIfAny();
  const merged = { ...next, sourceId } as Omit<Identity, 'id' | 'organizationId' | 'userId' | 'linkedBy' | 'linkedAt' | 'createdAt' | 'updatedAt'>;
  const link: Partial<Pick<Identity, 'userId' | 'linkedBy' | 'linkedAt'>> = {};
  if (current.linkedBy === null || current.linkedBy === 'AUTO') {
    const e = autoLinkEmail(merged);
    const member = e ? (await loadMembers(current.organizationId, [{ email: e }])).get(`email:${e}`) : undefined;
    const userId = member?.id ?? null;
    if (userId !== current.userId) Object.assign(link, { userId, linkedBy: userId ? 'AUTO' : null, linkedAt: userId ? new Date() : null });
  }
  const data = Object.fromEntries(
    Object.entries(merged).filter(([k, v]) => {
      const before = current[k as keyof Identity];
      return v instanceof Date || before instanceof Date ? (v as Date | null)?.getTime() !== (before as Date | null)?.getTime() : v !== before;
    }),
  );
  if (!Object.keys(data).length && !Object.keys(link).length) return current;
  try {
    return (await changeIdentity(access, current.id, async (tx) => {
      const after = await tx.identity.update({ where: { id: current.id }, data: { ...data, ...link } });
      await suggestIdentityOwners(tx, after.organizationId, [after.id]);
      return { after };
    }))!;
  } catch (err) {
    writeConflict(err);
  }
}

/** Deletes an identity with its properties; returns its id. */
export async function deleteIdentity(access: Access, input: { id: string }): Promise<string> {
  const current = await identityFor(access, input.id, 'input.id');
  await changeIdentity(access, current.id, async (tx) => {
    // Its properties go with it (ON DELETE CASCADE): the event records them as removed.
    const gone = await tx.$queryRaw<StoredProperty[]>`
      SELECT identity_id AS "identityId", key, type, value FROM identity_properties WHERE identity_id = ${current.id}::uuid`;
    await tx.identity.delete({ where: { id: current.id } });
    return { after: null, properties: removedProperties(gone) };
  });
  return current.id;
}

/** Sets properties of an identity by key: new keys are added, existing ones replaced, the others stay. */
export async function upsertIdentityProperties(
  access: Access,
  input: { identityId: string; properties: PropertyInput[] },
): Promise<Identity> {
  const current = await identityFor(access, input.identityId, 'input.identityId');
  const issues = new Issues();
  const properties = checkProperties(issues, 'input.properties', input.properties);
  if (!input.properties.length) issues.add('input.properties', 'must not be empty');
  issues.throwIfAny();
  return (await changeIdentity(access, current.id, async (tx, before) => ({
    after: before,
    properties: (await mergeProperties(tx, current.organizationId, properties.map((property) => ({ identityId: current.id, property })), new Set([current.id]))).get(current.id),
  })))!;
}

/** Removes properties of an identity by key; keys it does not have are ignored. */
export async function deleteIdentityProperties(
  access: Access,
  input: { identityId: string; keys: string[] },
): Promise<{ identity: Identity; deletedKeys: string[] }> {
  const current = await identityFor(access, input.identityId, 'input.identityId');
  if (!input.keys.length) throw ValidationError.field('input.keys', 'must not be empty');
  let deletedKeys: string[] = [];
  const identity = await changeIdentity(access, current.id, async (tx, before) => {
    const deleted = await tx.$queryRaw<StoredProperty[]>`
      DELETE FROM identity_properties WHERE identity_id = ${current.id}::uuid AND key = ANY(${input.keys}::text[])
      RETURNING identity_id AS "identityId", key, type, value`;
    deletedKeys = deleted.map((d) => d.key).sort();
    return { after: before, properties: removedProperties(deleted) };
  });
  return { identity: identity!, deletedKeys };
}

export interface LinkIdentityInput {
  identityId: string;
  userId: string;
  linkedBy?: LinkedBy | null;
}

/** The member of the organization a link names, or NOT_FOUND. */
async function memberFor(organizationId: string, rawId: string, path: string) {
  const issues = new Issues();
  const ref = userRef(issues, 'input.', rawId, undefined);
  issues.throwIfAny();
  const member = (await loadMembers(organizationId, [ref!])).get(`id:${ref!.id}`);
  if (!member) throw new NotFoundError('User', `${path}: no member of the organization matches.`);
  return member;
}

/**
 * Links an identity to a member (ORGANIZATION_ADMIN): MANUAL by default, SCIM for a
 * provisioning sync. CONFLICT when it is linked to someone else: unlink it first.
 */
export async function linkIdentity(access: Access, input: LinkIdentityInput): Promise<Identity> {
  const current = await identityFor(access, input.identityId, 'input.identityId', 'admin');
  const linkedBy = input.linkedBy ?? 'MANUAL';
  if (linkedBy === 'AUTO') throw ValidationError.field('input.linkedBy', 'must be MANUAL or SCIM: only the server links AUTO');
  const member = await memberFor(current.organizationId, input.userId, 'input.userId');
  if (current.userId && current.userId !== member.id) {
    throw new ConflictError(['input.identityId'], 'The identity is linked to another user; unlink it first.');
  }
  if (current.userId === member.id && current.linkedBy === linkedBy) return current;
  return (await changeIdentity(access, current.id, async (tx, before) => {
    if (before.userId && before.userId !== member.id) {
      throw new ConflictError(['input.identityId'], 'The identity is linked to another user; unlink it first.');
    }
    return { after: await tx.identity.update({ where: { id: current.id }, data: { userId: member.id, linkedBy, linkedAt: new Date() } }) };
  }))!;
}

/** Removes an identity's link to its user (ORGANIZATION_ADMIN); nothing to do when it has none. */
export async function unlinkIdentity(access: Access, input: { identityId: string }): Promise<Identity> {
  const current = await identityFor(access, input.identityId, 'input.identityId', 'admin');
  if (!current.userId) return current;
  return (await changeIdentity(access, current.id, async (tx) => ({
    after: await tx.identity.update({ where: { id: current.id }, data: { userId: null, linkedBy: null, linkedAt: null } }),
  })))!;
}

export interface CreateUserIdentityInput {
  organizationId?: string | null;
  userId: string;
  sourceId?: string | null;
  sourceKey?: string | null;
  externalId: string;
  externalUsername?: string | null;
  externalEmail?: string | null;
  externalEmailVerified?: boolean | null;
  externalDisplayName?: string | null;
  lastSyncedAt?: Date | string | null;
  identifierKey?: string | null;
  name?: string | null;
  linkedBy?: LinkedBy | null;
}

/**
 * Creates a member's account at an identity provider, linked to them: AUTO when the
 * provider verified the account's email and it is the member's (write access),
 * otherwise MANUAL or SCIM as `linkedBy` says, which only an ORGANIZATION_ADMIN may do.
 * The identity is a USER named after the account, keyed `<source key>:<externalId>`
 * unless the input says otherwise.
 */
export async function createUserIdentity(access: Access, input: CreateUserIdentityInput): Promise<Identity> {
  const issues = new Issues();
  const organizationId = await requireOrganizationOf(access, issues, 'input.organizationId', input.organizationId);
  if (input.linkedBy === 'AUTO') issues.add('input.linkedBy', 'must be MANUAL or SCIM: the server decides when a link is AUTO');
  const ref = sourceRef(issues, 'input.', input.sourceId, input.sourceKey);
  issues.throwIfAny();
  const member = await memberFor(organizationId, input.userId, 'input.userId');
  const source = providerOf(await loadSources(organizationId, [ref!]), ref!, 'input.');
  if (!('kind' in source)) throw source;
  const display = [input.externalDisplayName, input.externalUsername, input.externalEmail, input.externalId]
    .find((v): v is string => typeof v === 'string' && v.trim().length > 0)
    ?.trim()
    .slice(0, 200);
  const fields = {
    identifierKey: input.identifierKey ?? `${source.key}:${input.externalId}`,
    identityType: 'USER',
    name: input.name ?? display,
    sourceId: source.id,
    externalId: input.externalId,
    externalUsername: input.externalUsername,
    externalEmail: input.externalEmail,
    externalEmailVerified: input.externalEmailVerified,
    externalDisplayName: input.externalDisplayName,
    lastSyncedAt: input.lastSyncedAt,
  };
  const pathOf = () => 'input.';
  const { rows, problems } = await prepareIdentities(organizationId, [fields], pathOf, { create: true });
  throwProblems(problems);
  const row = rows[0]!;
  const auto = row.linkedBy === 'AUTO' && row.userId === member.id;
  if (!auto && !(await access.can(organizationId, 'admin'))) {
    throw forbidden("Only an ORGANIZATION_ADMIN can link an account unless the provider verified that its email is the user's.");
  }
  const linked: IdentityRow = { ...row, userId: member.id, linkedBy: auto ? 'AUTO' : (input.linkedBy ?? 'MANUAL') };
  const [result] = await writeIdentities(organizationId, [linked], pathOf, access.viewer, { create: true });
  return result!.identity;
}

/** The selectors of `identity(...)`: exactly one of id, identifierKey, email, phoneNumber or externalId (with a source). */
export interface IdentityLookup {
  organizationId?: string | null;
  id?: string | null;
  identifierKey?: string | null;
  email?: string | null;
  phoneNumber?: string | null;
  externalId?: string | null;
  sourceId?: string | null;
  sourceKey?: string | null;
}

/**
 * The where of an identity lookup, and the organization it reads (null for a lookup
 * by id, which the caller filters by what the viewer may read). BAD_USER_INPUT for a
 * malformed lookup.
 */
export function identityLookup(access: Access, args: IdentityLookup): { organizationId: string | null; where: Prisma.IdentityWhereInput } {
  const issues = new Issues();
  const selectors = (['id', 'identifierKey', 'email', 'phoneNumber', 'externalId'] as const).filter((k) => args[k] != null);
  if (selectors.length !== 1) issues.add('id', 'give exactly one of id, identifierKey, email, phoneNumber or externalId');
  const id = issues.id('id', args.id, 'Identity');
  const mail = email(issues, 'email', args.email);
  const phone = phoneNumber(issues, 'phoneNumber', args.phoneNumber);
  const ref = args.externalId != null ? sourceRef(issues, '', args.sourceId, args.sourceKey) : null;
  const organizationId = id ? null : organizationOf(access, issues, 'organizationId', args.organizationId);
  issues.throwIfAnyInRead();
  if (id) return { organizationId: null, where: { id } };
  const where: Prisma.IdentityWhereInput = { organizationId: organizationId! };
  if (args.identifierKey != null) where.identifierKey = args.identifierKey;
  if (mail) where.email = mail;
  if (phone) where.phoneNumber = phone;
  if (ref) Object.assign(where, { externalId: args.externalId, ...(ref.id ? { sourceId: ref.id } : { source: { key: ref.key } }) });
  return { organizationId: organizationId!, where };
}

/** Filters of `Organization.identities` and the other identity lists. */
export interface IdentityFilter {
  organizationId?: string | null;
  identityType?: IdentityType | null;
  projectId?: string | null;
  identifierKey?: string | null;
  email?: string | null;
  phoneNumber?: string | null;
  userId?: string | null;
  linked?: boolean | null;
  search?: string | null;
}

/** The where of an identity list; malformed values are BAD_USER_INPUT. */
export function identitiesWhere(args: IdentityFilter): Prisma.IdentityWhereInput {
  const issues = new Issues();
  const organizationId = issues.id('organizationId', args.organizationId, 'Organization');
  const userId = issues.id('userId', args.userId, 'User');
  const mail = email(issues, 'email', args.email);
  const phone = phoneNumber(issues, 'phoneNumber', args.phoneNumber);
  issues.throwIfAnyInRead();
  const search = args.search?.trim();
  return {
    ...(organizationId && { organizationId }),
    ...(args.identityType && { identityType: args.identityType }),
    ...(args.projectId != null && { projectId: args.projectId }),
    ...(args.identifierKey != null && { identifierKey: args.identifierKey }),
    ...(mail && { email: mail }),
    ...(phone && { phoneNumber: phone }),
    ...(args.linked != null && { userId: args.linked ? { not: null } : null }),
    ...(userId && { userId }),
    ...(search && { name: { contains: search, mode: 'insensitive' as const } }),
  };
}

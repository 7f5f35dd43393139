import { NotFoundError, ValidationError } from '../../errors.ts';
import type { IdentityType, LinkedBy, PropertyType } from '../../generated/prisma/client.ts';
import { issuesOf } from '../shared/bulk.ts';
import {
  bool,
  email,
  instant,
  jsonBytes,
  oneOf,
  phoneNumber,
  sourceRef,
  sourceRefKey,
  text,
  type ReferencedSource,
  type SourceRef,
} from '../shared/inputs.ts';
import { Issues } from '../shared/validate.ts';

// Checking identity input without the database: fields, properties, and the rules of
// provider accounts.

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
export function checkIdentity(base: string, raw: unknown, region: string | null = null): CheckedIdentity | ValidationError {
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
    phoneNumber: phoneNumber(issues, `${base}phoneNumber`, item.phoneNumber, region) ?? null,
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
export function providerRules(issues: Issues, base: string, s: Record<string, unknown> & { hasSource: boolean }) {
  if (s.hasSource && s.externalId == null) issues.add(`${base}externalId`, 'is required with a source');
  if (!s.hasSource) {
    const given = PROVIDER_FIELDS.filter((f) => s[f] != null);
    if (s.externalEmailVerified === true) given.push('externalEmailVerified' as never);
    if (given.length) issues.add(`${base}sourceId`, `is required with ${given.join(', ')}: give sourceId or sourceKey`);
  }
}

/** The identity provider a reference names, or the problem with it. */
export function providerOf(
  sources: Map<string, ReferencedSource>,
  ref: SourceRef,
  base: string,
): ReferencedSource | NotFoundError | ValidationError {
  const field = `${base}${ref.id ? 'sourceId' : 'sourceKey'}`;
  const source = sources.get(sourceRefKey(ref));
  if (!source) return new NotFoundError('IntegrationSource', `${field}: no source of the organization matches.`, field);
  if (source.kind !== 'IDENTITY_PROVIDER') return ValidationError.field(field, 'must be an IDENTITY_PROVIDER source');
  return source;
}

/** The member a provider account links to by itself (AUTO), if any: see the comment of service.ts. */
export function autoLinkEmail(row: { sourceId: string | null; externalEmail: string | null; externalEmailVerified: boolean }) {
  return row.sourceId && row.externalEmail && row.externalEmailVerified ? row.externalEmail : null;
}

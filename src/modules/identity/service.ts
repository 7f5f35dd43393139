import type { Access } from '../../context.ts';
import { Prisma } from '../../db.ts';
import { column, table } from '../shared/sql-names.ts';
import { deleteRows, keepDeleted } from '../deletion/store.ts';
import { NotFoundError, ValidationError } from '../../errors.ts';
import type { Identity } from '../../generated/prisma/client.ts';
import { bulkOrganization, throwProblems } from '../shared/bulk.ts';
import { bool, email, instant, loadMembers, loadSources, oneOf, phoneNumber, sourceRef, text } from '../shared/inputs.ts';
import { requireOrganizationOf } from '../shared/tenant.ts';
import { Issues } from '../shared/validate.ts';
import { suggestIdentityOwners } from '../suggestion/service.ts';
import { auditedChange } from '../shared/audited.ts';
import { AUDITED_IDENTITY, identityFor } from './change.ts';
import { regionForPhones } from '../matching/regions.ts';
import {
  autoLinkEmail,
  checkProperties,
  IDENTITY_TYPES,
  MAX_BULK_IDENTITIES,
  providerOf,
  providerRules,
  type CreateIdentityInput,
  type IdentityFieldsInput,
  type IdentityRow,
  type PropertyInput,
  type UpsertIdentitiesInput,
} from './check.ts';
import { clashPaths, writeConflict } from './conflicts.ts';
import { prepareIdentities } from './prepare.ts';
import { mergeProperties, propertyColumns, removedProperties, type StoredProperty } from './properties.ts';
import { writeIdentities, type IdentityUpsert } from './write.ts';

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
//
// check.ts checks input, prepare.ts and conflicts.ts check it against the database,
// write.ts writes batches, properties.ts and events.ts keep properties and the audit
// trail, link.ts links, filters.ts reads.

/** Creates an identity (write access); CONFLICT when its identifier key, email, phone number or account is taken. */
export async function createIdentity(access: Access, input: CreateIdentityInput): Promise<Identity> {
  const organizationId = await requireOrganizationOf(access, new Issues(), 'input.organizationId', input.organizationId);
  const pathOf = () => 'input.';
  const paths = clashPaths(pathOf, [input]);
  const { rows, problems } = await prepareIdentities(organizationId, [input], pathOf, { create: true, paths });
  throwProblems(problems);
  const [result] = await writeIdentities(organizationId, [rows[0]!], pathOf, access.viewer, { create: true, paths });
  return result!.identity;
}

/**
 * Creates an identity, or replaces the fields of the one with this identifier key
 * (write access). Properties given are merged by key; the others stay.
 */
export async function upsertIdentity(access: Access, input: CreateIdentityInput): Promise<IdentityUpsert> {
  const organizationId = await requireOrganizationOf(access, new Issues(), 'input.organizationId', input.organizationId);
  const pathOf = () => 'input.';
  const paths = clashPaths(pathOf, [input]);
  const { rows, problems } = await prepareIdentities(organizationId, [input], pathOf, { paths });
  throwProblems(problems);
  const [result] = await writeIdentities(organizationId, [rows[0]!], pathOf, access.viewer, { paths });
  return result!;
}

/** Upserts up to MAX_BULK_IDENTITIES identities, all or none (the import's path). */
export async function upsertIdentities(access: Access, input: UpsertIdentitiesInput): Promise<IdentityUpsert[]> {
  const organizationId = await bulkOrganization(access, input, MAX_BULK_IDENTITIES);
  const pathOf = (i: number) => `input.items[${i}].`;
  const paths = clashPaths(pathOf, input.items);
  const { rows, problems } = await prepareIdentities(organizationId, input.items, pathOf, { paths });
  throwProblems(problems);
  return writeIdentities(organizationId, rows as IdentityRow[], pathOf, access.viewer, { paths });
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
  const region = await regionForPhones(current.organizationId, [input]);
  const next = {
    identifierKey: given('identifierKey', () => text(issues, 'input.identifierKey', input.identifierKey, 255), current.identifierKey),
    identityType: given('identityType', () => oneOf(issues, 'input.identityType', input.identityType, IDENTITY_TYPES), current.identityType),
    name: given('name', () => text(issues, 'input.name', input.name, 200), current.name),
    email: given('email', () => email(issues, 'input.email', input.email), current.email),
    phoneNumber: given('phoneNumber', () => phoneNumber(issues, 'input.phoneNumber', input.phoneNumber, region), current.phoneNumber),
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
    return await auditedChange(access.viewer, AUDITED_IDENTITY, current.id, async (tx) => {
      const after = await tx.identity.update({ where: { id: current.id }, data: { ...data, ...link } });
      await suggestIdentityOwners(tx, after.organizationId, [after.id]);
      return after;
    });
  } catch (err) {
    writeConflict(err);
  }
}

/** Deletes an identity with its properties; returns its id. */
export async function deleteIdentity(access: Access, input: { id: string; reason?: string | null }): Promise<string> {
  const issues = new Issues();
  const reason = text(issues, 'input.reason', input.reason, 1000);
  issues.throwIfAny();
  const current = await identityFor(access, input.id, 'input.id');
  await auditedChange(access.viewer, AUDITED_IDENTITY, current.id, async (tx, before, more) => {
    // Its properties go with it, kept in the same deleted item: the event records them as removed.
    const properties = await deleteRows(tx, 'identity_properties', Prisma.sql`${column('IdentityProperty', 'identityId')} = ${current.id}::uuid`);
    const identities = await deleteRows(tx, 'identities', Prisma.sql`${column('Identity', 'id')} = ${current.id}::uuid`);
    await keepDeleted(tx, access.viewer, {
      organizationId: current.organizationId,
      entityType: 'Identity',
      entityId: current.id,
      rows: { identities, identity_properties: properties },
      label: [before.name, before.identifierKey, before.email].filter(Boolean).join(' · '),
      reason,
    });
    const gone = properties.map((p) => ({ identityId: current.id, key: p.key, type: p.type, value: p.value }) as StoredProperty);
    more(removedProperties(gone));
    return null;
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
  return auditedChange(access.viewer, AUDITED_IDENTITY, current.id, async (tx, before, more) => {
    const entries = properties.map((property) => ({ identityId: current.id, property }));
    more((await mergeProperties(tx, current.organizationId, entries, new Set([current.id]))).get(current.id) ?? {});
    return before;
  });
}

/** Removes properties of an identity by key; keys it does not have are ignored. */
export async function deleteIdentityProperties(
  access: Access,
  input: { identityId: string; keys: string[] },
): Promise<{ identity: Identity; deletedKeys: string[] }> {
  const current = await identityFor(access, input.identityId, 'input.identityId');
  if (!input.keys.length) throw ValidationError.field('input.keys', 'must not be empty');
  let deletedKeys: string[] = [];
  const identity = await auditedChange(access.viewer, AUDITED_IDENTITY, current.id, async (tx, before, more) => {
    const deleted = await tx.$queryRaw<StoredProperty[]>`
      DELETE FROM ${table('IdentityProperty')} WHERE ${column('IdentityProperty', 'identityId')} = ${current.id}::uuid AND ${column('IdentityProperty', 'key')} = ANY(${input.keys}::text[])
      RETURNING ${propertyColumns()}`;
    deletedKeys = deleted.map((d) => d.key).sort();
    more(removedProperties(deleted));
    return before;
  });
  return { identity, deletedKeys };
}

export { MAX_BULK_IDENTITIES, MAX_PROPERTIES, type IdentityRow } from './check.ts';
export { identitiesWhere, identityLookup } from './filters.ts';
export { createUserIdentity, linkIdentity, unlinkIdentity } from './link.ts';
export { prepareIdentities } from './prepare.ts';
export { writeIdentities, type IdentityUpsert } from './write.ts';

import { Prisma } from '../../db.ts';
import type { PropertyType } from '../../generated/prisma/client.ts';
import { type Changes } from '../audit/service.ts';
import { selectList } from '../shared/sql-names.ts';
import { type CheckedProperty } from './check.ts';

// Identity properties: merged by key in one statement, with their audit changes.

export type StoredProperty = { identityId: string; key: string; type: PropertyType; value: unknown };

/** The columns of a StoredProperty, under its field names; `prefix` is a table alias. */
export const propertyColumns = (prefix?: string) => selectList('IdentityProperty', ['identityId', 'key', 'type', 'value'], prefix);

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
export function removedProperties(removed: StoredProperty[]): Changes {
  return Object.fromEntries(removed.map((p) => [`properties.${p.key}`, { before: { type: p.type, value: p.value }, after: null }]));
}

/** The properties `entries` name, as they are now, locked until the transaction ends. */
function lockProperties(tx: Prisma.TransactionClient, identityIds: string[], keys: string[]) {
  return tx.$queryRaw<StoredProperty[]>`
    SELECT ${propertyColumns('p')} FROM identity_properties p
    JOIN unnest(${identityIds}::uuid[], ${keys}::text[]) AS t(identity_id, key) ON p.identity_id = t.identity_id AND p.key = t.key
    ORDER BY p.identity_id, p.key COLLATE "C"
    FOR UPDATE OF p`;
}

/**
 * Merges properties by key; returns the changes, by identity id. The properties the
 * entries replace are read (and locked) first, for the events: only those of `existing`
 * identities, as one created in this transaction has none yet.
 */
export async function mergeProperties(
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
    RETURNING ${propertyColumns()}`;
  return propertyChanges(before, written);
}

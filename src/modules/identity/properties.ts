import { Prisma } from '../../db.ts';
import type { PropertyType } from '../../generated/prisma/client.ts';
import { type Changes } from '../audit/service.ts';
import { selectList, sqlNames } from '../shared/sql-names.ts';
import { type CheckedProperty } from './check.ts';

// Identity properties: merged by key in one statement, with their audit changes.

export type StoredProperty = { identityId: string; key: string; type: PropertyType; value: unknown };

/** The columns of a StoredProperty, under its field names; `prefix` is a table alias. */
export const propertyColumns = (prefix?: string) => selectList('IdentityProperty', ['identityId', 'key', 'type', 'value'], prefix);

const PROPERTY = sqlNames('IdentityProperty');

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
  const c = PROPERTY();
  return tx.$queryRaw<StoredProperty[]>`
    SELECT ${propertyColumns('p')} FROM ${c.$table} p
    JOIN unnest(${identityIds}::uuid[], ${keys}::text[]) AS t(identity_id, key) ON p.${c.identityId} = t.identity_id AND p.${c.key} = t.key
    ORDER BY p.${c.identityId}, p.${c.key} COLLATE "C"
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
  const c = PROPERTY();
  const written = await tx.$queryRaw<StoredProperty[]>`
    INSERT INTO ${c.$table} AS p (${c.organizationId}, ${c.identityId}, ${c.key}, ${c.type}, ${c.value})
    SELECT ${organizationId}::uuid, t.identity_id, t.key, t.type::"PropertyType", t.value
    FROM unnest(${entries.map((e) => e.identityId)}::uuid[], ${entries.map((e) => e.property.key)}::text[],
      ${entries.map((e) => e.property.type)}::text[], ${entries.map((e) => JSON.stringify(e.property.value))}::jsonb[])
      AS t(identity_id, key, type, value)
    ON CONFLICT (${c.identityId}, ${c.key}) DO UPDATE SET ${c.type} = EXCLUDED.${c.type}, ${c.value} = EXCLUDED.${c.value}, ${c.updatedAt} = CURRENT_TIMESTAMP
    WHERE (p.${c.type}, p.${c.value}) IS DISTINCT FROM (EXCLUDED.${c.type}, EXCLUDED.${c.value})
    RETURNING ${propertyColumns()}`;
  return propertyChanges(before, written);
}

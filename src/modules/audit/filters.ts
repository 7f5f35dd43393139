import type { Prisma } from '../../generated/prisma/client.ts';
import { globalIdParts, parseId } from '../shared/validate.ts';
import { isUuid, NO_ROW } from '../shared/visibility.ts';

// What an AuditEventFilter selects, as a Prisma condition: the rules of the trail's
// filters, kept out of the resolvers that list the events.

export type Filter = {
  actorUserId?: string | null;
  actorApiKeyId?: string | null;
  actorType?: 'USER' | 'API_KEY' | 'SYSTEM' | null;
  action?: string | null;
  entityType?: string | null;
  entityId?: string | null;
  since?: Date | null;
  until?: Date | null;
};

/** The UUID a filter's id names (a global id of `typename`, or a UUID); an id of nothing matches nothing. */
function filterId(value: string | null | undefined, typename: string): string | undefined {
  if (!value) return undefined;
  return parseId(value, typename) ?? NO_ROW.id;
}

/** The entity a filter's `entityId` names: a global id gives type and UUID, a UUID the UUID alone. */
function filterEntity(value: string | null | undefined): { entityId?: string; entityType?: string } {
  if (!value) return {};
  if (isUuid(value)) return { entityId: value };
  const parts = globalIdParts(value);
  return parts ? { entityId: parts.id, entityType: parts.typename } : { entityId: NO_ROW.id };
}

/** The events a filter lets through; every field given must match. */
export function filterWhere(filter: Filter | null | undefined): Prisma.AuditEventWhereInput {
  if (!filter) return {};
  const entity = filterEntity(filter.entityId);
  const actorUserId = filterId(filter.actorUserId, 'User');
  const actorApiKeyId = filterId(filter.actorApiKeyId, 'ApiKey');
  return {
    ...(actorUserId ? { actorUserId } : {}),
    ...(actorApiKeyId ? { actorApiKeyId } : {}),
    ...(filter.actorType ? { actorType: filter.actorType } : {}),
    ...(filter.action ? { action: filter.action } : {}),
    ...(filter.entityType ? { entityType: filter.entityType } : {}),
    ...(entity.entityId ? { entityId: entity.entityId } : {}),
    // Both a type filter and a global id's type apply: they must agree for an event to match.
    ...(entity.entityType ? { AND: [{ entityType: entity.entityType }] } : {}),
    ...(filter.since || filter.until
      ? { createdAt: { ...(filter.since ? { gte: filter.since } : {}), ...(filter.until ? { lt: filter.until } : {}) } }
      : {}),
  };
}

/** The events of an organization's trail a filter lets through. */
export function trailWhere(organizationId: string, filter: Filter | null | undefined): Prisma.AuditEventWhereInput {
  return { organizationId, ...filterWhere(filter) };
}

// A profile change is recorded once without an organization and copied into the trail of
// each organization the user belongs to; the user's own history lists it once.
const NOT_A_COPY: Partial<Record<string, Prisma.AuditEventWhereInput>> = {
  User: { NOT: { action: 'UPDATE', organizationId: { not: null } } },
};

/** The events of one object's history (an `entityType` with this id) a filter lets through. */
export function historyWhere(entityType: string, entityId: string, filter: Filter | null | undefined, readable: string[] | 'all'): Prisma.AuditEventWhereInput {
  // An object's events in organizations the viewer may not read (a user's, say) stay hidden.
  const tenant = readable === 'all' ? {} : { OR: [{ organizationId: null }, { organizationId: { in: readable } }] };
  // The filter narrows the object's events; its own entityId or entityType never replaces the object's.
  return { AND: [{ entityType, entityId, ...NOT_A_COPY[entityType] }, filterWhere(filter), tenant] };
}

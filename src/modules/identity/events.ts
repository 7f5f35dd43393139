import type { Identity } from '../../generated/prisma/client.ts';
import { changesOf, type AuditInput, type Changes } from '../audit/service.ts';

/** The fields of an identity its audit events record (its properties are recorded as `properties.<key>`). */
export const AUDITED_IDENTITY_FIELDS = [
  'identifierKey', 'identityType', 'name', 'email', 'phoneNumber', 'projectId', 'sourceId', 'externalId',
  'externalUsername', 'externalEmail', 'externalEmailVerified', 'externalDisplayName', 'lastSyncedAt', 'userId', 'linkedBy',
] as const;

/** The audit event of a change to one identity (`before` null: created; `after` null: deleted), with property changes. */
export function identityEvent(action: string, before: Identity | null, after: Identity | null, properties: Changes = {}): AuditInput {
  const row = (after ?? before)!;
  return {
    organizationId: row.organizationId,
    entityType: 'Identity',
    entityId: row.id,
    action,
    changes: { ...changesOf(before, after, AUDITED_IDENTITY_FIELDS), ...properties },
  };
}

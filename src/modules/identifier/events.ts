import type { Identifier } from '../../generated/prisma/client.ts';
import { changesOf, type AuditInput } from '../audit/service.ts';
import type { FieldOf } from '../shared/sql-names.ts';

/** The fields of an identifier its audit events record. */
export const AUDITED_IDENTIFIER_FIELDS = [
  'userId',
  'sourceId',
  'identifierKey',
  'identifierValue',
  'valueKind',
  'discoveryMethod',
  'confidenceScore',
  'discoveryMetadata',
] as const satisfies readonly FieldOf<'Identifier'>[];

/** What an identifier's event is made of: its id, organization and audited fields. */
export type AuditedIdentifier = Pick<Identifier, 'id' | 'organizationId' | (typeof AUDITED_IDENTIFIER_FIELDS)[number]>;

/** The audit event of a change to one identifier (`before` null: created; `after` null: deleted). */
export function identifierEvent(action: string, before: AuditedIdentifier | null, after: AuditedIdentifier | null): AuditInput {
  const row = (after ?? before)!;
  return {
    organizationId: row.organizationId,
    entityType: 'Identifier',
    entityId: row.id,
    action,
    changes: changesOf(before, after, AUDITED_IDENTIFIER_FIELDS),
    discoveryMethod: row.discoveryMethod,
  };
}

import type { Access } from '../../context.ts';
import { Prisma } from '../../db.ts';
import type { IdentityType } from '../../generated/prisma/client.ts';
import { email, phoneNumber, sourceRef } from '../shared/inputs.ts';
import { containsTextWhere } from '../shared/rules.ts';
import { organizationOf } from '../shared/tenant.ts';
import { Issues } from '../shared/validate.ts';

// The where clauses of identity reads: a lookup of one, and the filters of lists.

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
    // Both apply when both are given (linked: false with a userId finds none): neither replaces the other.
    AND: [...(args.linked != null ? [{ userId: args.linked ? { not: null } : null }] : []), ...(userId ? [{ userId }] : [])],
    ...(search && containsTextWhere('name', search)),
  };
}

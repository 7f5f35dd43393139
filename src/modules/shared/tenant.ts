import type { Access } from '../../context.ts';
import { forbidden, NotFoundError } from '../../errors.ts';
import { requireOrganizationAccess } from './authorize.ts';
import { type Issues, parseId } from './validate.ts';
import { readableWhere } from './rules.ts';
import { NIL_UUID } from './visibility.ts';

// The organization a write acts in, and who may see which tenant rows, for services
// whose input may leave the organization to the request (X-Organization-ID).

/**
 * The organization an operation names in `value` (global id or UUID), or, when it
 * names none, the one the request is narrowed to (X-Organization-ID or a credential
 * bound to one organization). Undefined, with an issue at `path`, when neither says.
 */
export function organizationOf(access: Access, issues: Issues, path: string, value: string | null | undefined) {
  if (value != null) {
    const id = issues.id(path, value, 'Organization');
    return id ? (access.organizationFor(id) ?? undefined) : undefined;
  }
  const scoped = access.organizationFor(null);
  if (!scoped) issues.add(path, 'is required unless the X-Organization-ID header names the organization');
  return scoped ?? undefined;
}

/**
 * Resolves the organization of a write (see organizationOf) and requires `level`
 * there: TENANT_MISMATCH for another tenant's credential, FORBIDDEN for anyone else
 * without it. Throws the collected issues when the organization is unknown.
 */
export async function requireOrganizationOf(
  access: Access,
  issues: Issues,
  path: string,
  value: string | null | undefined,
  level: 'write' | 'admin' = 'write',
): Promise<string> {
  const organizationId = organizationOf(access, issues, path, value);
  // organizationOf adds an issue whenever it finds no organization.
  if (!organizationId) issues.throwIfAny();
  await requireOrganizationAccess(access, organizationId!, level);
  return organizationId!;
}

/**
 * For a write on a tenant row named by its own id. A row of an organization the
 * viewer cannot see (another tenant's, or one where the viewer is only PENDING or
 * SUSPENDED) answers NOT_FOUND exactly like an id that does not exist; a visible row
 * the viewer may not change this way is FORBIDDEN.
 */
export async function requireRowIn(
  access: Access,
  organizationId: string | null | undefined,
  level: 'write' | 'admin',
  entity: string,
): Promise<string> {
  if (!organizationId) throw new NotFoundError(entity);
  const scope = access.organizationFor(null);
  if (scope && scope !== organizationId) throw new NotFoundError(entity);
  if (await access.can(organizationId, level)) return organizationId;
  if (await access.can(organizationId, 'read')) throw forbidden();
  throw new NotFoundError(entity);
}

type OrganizationScope = { orgRead: string } | { orgWrite: string } | { orgAdmin: string };

/**
 * Scope-auth scopes of an operation whose arguments may name an organization: `level`
 * there (or in the organization the request is narrowed to). An id that does not
 * parse, or no organization at all, is left to the service, which answers
 * BAD_USER_INPUT naming the field; a credential bound to another organization gets
 * TENANT_MISMATCH before any lookup.
 */
export function scopesForOrganization(
  level: 'orgRead' | 'orgWrite' | 'orgAdmin',
  value: string | null | undefined,
  access: Access,
): { authenticated: true } | OrganizationScope {
  const named = value == null ? null : parseId(value, 'Organization');
  if (value != null && !named) return { authenticated: true };
  const organizationId = access.organizationFor(named);
  if (!organizationId) return { authenticated: true };
  return { [level]: organizationId } as OrganizationScope;
}

/**
 * A filter on tenant rows (any model with `organizationId`) to those the viewer may
 * read, built without a query so it can go into the plan of a nested list (a user's
 * identifiers span organizations): the same rule as Access.organizationIdsWith('read'),
 * as a subquery on the viewer's active memberships. Given that list (`readable`, as
 * the read engine has it), the rule is the list itself.
 */
export function readableRowsWhere(access: Access, readable?: string[] | 'all') {
  if (readable !== undefined) return readableWhere(readable);
  const v = access.viewer;
  const scope = access.organizationFor(null);
  if (v.kind === 'anonymous') return { organizationId: NIL_UUID };
  if (v.kind === 'apiKey') return { organizationId: scope === v.organizationId ? v.organizationId : NIL_UUID };
  const inScope = scope ? { organizationId: scope } : {};
  if (v.isSystemAdmin) return inScope;
  // The membership read with the credential (in a compiled read, checked again in the
  // same statement) answers for the one organization a narrowed request acts in, so the
  // subquery is not repeated for every row of every list.
  const known = scope ? v.knownMemberships?.get(scope) : undefined;
  if (known !== undefined) return { organizationId: known?.state === 'ACTIVE' ? scope! : NIL_UUID };
  return {
    ...inScope,
    organization: { members: { some: { userId: v.userId, state: 'ACTIVE' as const } } },
  };
}

/**
 * The viewer's own memberships, which they see in any state (an invitation shows
 * before it is accepted): all of them, or only the one in the organization a request
 * narrowed to one acts in. Null for API keys and anonymous callers. Rendered in SQL
 * by the read engine (shared/rules.ts, visibleMembershipsWhere).
 */
export function ownMembershipsWhere(access: Access): { userId: string; organizationId?: string } | null {
  if (access.viewer.kind !== 'user') return null;
  const scope = access.organizationFor(null);
  return { userId: access.viewer.userId, ...(scope ? { organizationId: scope } : {}) };
}

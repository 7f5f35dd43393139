import type { Access, AccessLevel, Viewer } from '../../context.ts';
import { forbidden } from '../../errors.ts';

// The checks services repeat before they write (the schema declares the same rules
// with scope-auth; services assert them again so no caller can skip them).

export const isSystemAdmin = (viewer: Viewer) => viewer.kind === 'user' && viewer.isSystemAdmin;

/**
 * For an operation that names an organization in its input: TENANT_MISMATCH for a
 * credential bound to another one, FORBIDDEN without `level` there. A non-member gets
 * the same answer whether or not the organization exists.
 */
export async function requireOrganizationAccess(access: Access, organizationId: string, level: AccessLevel) {
  access.assertTenant(organizationId);
  if (!(await access.can(organizationId, level))) throw forbidden();
}

export function requireSystemAdmin(viewer: Viewer, what: string) {
  if (!isSystemAdmin(viewer)) throw forbidden(`Only a system admin can ${what}.`);
}

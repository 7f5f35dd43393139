import { ApiError, ErrorCode, tenantMismatch } from '../../errors.ts';
import { UUID_RE } from '../shared/visibility.ts';

// X-Organization-ID names the organization a request acts in; X-Tenant-ID is its alias.
// Both are read here only, so the context and the credential lookup agree on it.

const HEADERS = ['X-Organization-ID', 'X-Tenant-ID'] as const;

/**
 * The organization the request's headers name (lower-cased), or null when neither
 * header is sent. A header that is not a UUID is BAD_USER_INPUT under its own name;
 * the two headers naming different organizations is TENANT_MISMATCH.
 */
export function requestedOrganizationId(headers: Headers): string | null {
  let named: string | null = null;
  for (const header of HEADERS) {
    const value = headers.get(header);
    if (value === null) continue;
    if (!UUID_RE.test(value)) {
      throw new ApiError(ErrorCode.BAD_USER_INPUT, `${header} must be a UUID.`, {
        details: [{ path: header, message: 'not a UUID' }],
      });
    }
    const id = value.toLowerCase();
    if (named !== null && named !== id) throw tenantMismatch('headers');
    named = id;
  }
  return named;
}

import type { Plugin } from 'graphql-yoga';
import { ApiError, ErrorCode } from '../errors.ts';

// A browser sends form, multipart and text/plain POSTs, and header-less GETs, to any
// origin without a CORS preflight. Such requests must carry a custom header (which
// forces a preflight), or they are refused: no cross-site request can then run an
// operation with the user's cookies or ambient credentials.
const SIMPLE_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'];
export const CSRF_HEADERS = ['x-graphql-csrf', 'apollo-require-preflight'];

export function useCsrfPrevention(): Plugin {
  return {
    onRequestParse({ request }) {
      const type = request.headers.get('content-type')?.toLowerCase();
      const preflighted = !!type && !SIMPLE_TYPES.some((t) => type.startsWith(t));
      if (preflighted || CSRF_HEADERS.some((h) => request.headers.has(h))) return;
      throw new ApiError(
        ErrorCode.FORBIDDEN,
        `This request could be forged by another site: send it as application/json or with an ${CSRF_HEADERS[0]} header.`,
        { http: { status: 403 } },
      );
    },
  };
}

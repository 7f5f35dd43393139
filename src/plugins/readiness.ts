import type { Plugin } from 'graphql-yoga';
import { errorFields, logger } from '../observability/logger.ts';

/**
 * `endpoint` (any method): 200 `ready` while `check` resolves true, 503 `not ready`
 * otherwise. Why a check failed (a database address, say) goes to the log, never to the
 * caller. Other requests pay one string comparison (Yoga's own readiness plugin
 * matches every request against a URL pattern, a measurable share of a small
 * request's CPU).
 */
export function useReadiness(endpoint: string, check: () => Promise<boolean>): Plugin {
  return {
    onRequest({ url, endResponse, fetchAPI }) {
      if (url.pathname !== endpoint) return;
      const answer = (ready: boolean) =>
        endResponse(
          new fetchAPI.Response(ready ? 'ready\n' : 'not ready\n', {
            status: ready ? 200 : 503,
            headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
          }),
        );
      return check().then(answer, (err: unknown) => {
        logger.warn(errorFields(err), 'readiness check failed');
        answer(false);
      });
    },
  };
}

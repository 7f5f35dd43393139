import type { Plugin } from 'graphql-yoga';

/**
 * `endpoint` (any method): 200 while `check` resolves true, 503 (with the error's message, if
 * it throws) otherwise. Other requests pay one string comparison (Yoga's own readiness
 * plugin matches every request against a URL pattern, a measurable share of a small
 * request's CPU).
 */
export function useReadiness(endpoint: string, check: () => Promise<boolean>): Plugin {
  return {
    onRequest({ url, endResponse, fetchAPI }) {
      if (url.pathname !== endpoint) return;
      return check().then(
        (ready) => endResponse(new fetchAPI.Response(null, { status: ready ? 200 : 503 })),
        (err: unknown) =>
          endResponse(
            new fetchAPI.Response(err instanceof Error ? err.message : null, {
              status: 503,
              headers: err instanceof Error ? { 'content-type': 'text/plain; charset=utf-8' } : {},
            }),
          ),
      );
    },
  };
}

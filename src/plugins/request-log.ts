import { randomUUID } from 'node:crypto';
import { Kind, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { logger } from '../observability/logger.ts';
import { requestScope, type RequestScope } from '../observability/request-context.ts';

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * One structured log line per GraphQL request: request id, organization, operation
 * name, duration, status and error codes. The request id comes from X-Request-ID when
 * it is well-formed (so a gateway's id carries through) or is made here, is echoed in
 * the response header, and is available to all code of the request.
 */
export function useRequestLog(): Plugin {
  const scopes = new WeakMap<Request, { scope: RequestScope; started: number; codes: Set<string> }>();
  return {
    onRequest({ request }) {
      const given = request.headers.get('x-request-id');
      const scope: RequestScope = { requestId: given && REQUEST_ID.test(given) ? given : randomUUID() };
      scopes.set(request, { scope, started: performance.now(), codes: new Set() });
      requestScope.enterWith(scope);
    },
    onExecute({ args }) {
      const scope = requestScope.getStore();
      if (!scope) return;
      const definitions = (args.document as DocumentNode).definitions;
      const op = definitions.find(
        (d): d is OperationDefinitionNode =>
          d.kind === Kind.OPERATION_DEFINITION && (!args.operationName || d.name?.value === args.operationName),
      );
      scope.operationName = op?.name?.value ?? null;
      // The organization the request acts in: its credential's (an API key's, a bound
      // token's), else the one its header names.
      const ctx = args.contextValue as { requestedOrganizationId?: string | null; access?: { scopeOrganizationId: string | null } };
      scope.organizationId = ctx.access?.scopeOrganizationId ?? ctx.requestedOrganizationId ?? null;
    },
    onResultProcess({ request, result }) {
      const entry = scopes.get(request);
      if (!entry) return;
      for (const r of Array.isArray(result) ? result : [result]) {
        const errors = (r as { errors?: { extensions?: { code?: unknown } }[] } | undefined)?.errors ?? [];
        for (const e of errors) if (typeof e.extensions?.code === 'string') entry.codes.add(e.extensions.code);
      }
    },
    onResponse({ request, response }) {
      const entry = scopes.get(request);
      if (!entry) return;
      response.headers.set('x-request-id', entry.scope.requestId);
      if (!new URL(request.url).pathname.endsWith('/graphql')) return;
      logger.info(
        {
          requestId: entry.scope.requestId,
          organizationId: entry.scope.organizationId ?? null,
          operationName: entry.scope.operationName ?? null,
          method: request.method,
          status: response.status,
          durationMs: Math.round((performance.now() - entry.started) * 10) / 10,
          errorCodes: [...entry.codes],
        },
        'graphql request',
      );
    },
  };
}

import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Config } from './config.ts';
import { admitRequest, createContext, type Context } from './context.ts';
import { database } from './db.ts';
import { inRequestScope } from './db/scope.ts';
import { PROJECT_ROOT } from './paths.ts';
import { refusingRequest } from './errors.ts';
import { yogaLogger } from './observability/logger.ts';
import { currentRequest } from './observability/request-context.ts';
import { createAuthenticator, type Authenticator } from './modules/auth/authenticate.ts';
import { requestedOrganizationId as organizationNamedBy } from './modules/auth/tenant-header.ts';
import { useBodyLimit } from './plugins/body-limit.ts';
import { useConnectionArguments } from './plugins/connection-args.ts';
import { useCsrfPrevention } from './plugins/csrf.ts';
import { maskError, useRetryAfter, useStableErrorCodes } from './plugins/errors.ts';
import { useInputGuard } from './plugins/input-guard.ts';
import { useQueryLimits } from './plugins/limits.ts';
import { useReadiness } from './plugins/readiness.ts';
import { useMetrics } from './plugins/metrics.ts';
import { usePlannedOperations } from './plugins/planned-operations.ts';
import { MemoryCounterStore, useRateLimit, type CounterStore } from './plugins/rate-limit.ts';
import { useReadRouting } from './plugins/read-routing.ts';
import { useRowScope } from './plugins/row-scope.ts';
import { useRequestLog } from './plugins/request-log.ts';
import { useSubgraphGuard } from './plugins/subgraph-guard.ts';
import { schema } from './schema.ts';


// GraphiQL opens with the example operations of examples/operations.graphql (the
// "who is this?" resolve first), under a note on the headers to set.
const EXAMPLE_QUERY = `# Welcome to the identity graph.
# Set the Authorization header (Bearer <token>) and X-Organization-ID in the Headers
# tab below. In development,
#   npm run token -- --email you@example.com --org my-org
# prints both, ready to paste there. Then pick an operation with the run button.

${readFileSync(path.join(PROJECT_ROOT, 'examples', 'operations.graphql'), 'utf8').replace(/^(#[^\n]*\n)+\n/, '')}`;

export interface AppOptions {
  config: Config;
  /** How credentials are verified; built from `config.auth` when not given. */
  authenticator?: Authenticator;
  /** Checked by the readiness endpoint; false once shutdown begins. */
  isAccepting?: () => boolean;
  /** Where rate-limit counters live (Redis when configured); in memory by default. */
  counters?: CounterStore;
  /** OpenTelemetry's plugin, when tracing is on. */
  tracing?: Plugin;
  /** Development: headers GraphiQL opens with (a token and organization), asked for on each page load. */
  graphiqlHeaders?: () => Promise<Record<string, string> | null>;
}

export type App = YogaServerInstance<Record<string, never>, Context>;

/** Builds the server without opening a port; tests call `app.fetch` directly. */
export function createApp({
  config,
  authenticator = createAuthenticator(config.auth),
  isAccepting = () => true,
  tracing,
  counters = new MemoryCounterStore(),
  graphiqlHeaders,
}: AppOptions): App {
  async function requestContext(request: Request): Promise<Context> {
    const requestedOrganizationId = organizationNamedBy(request.headers);
    const requestId = currentRequest()?.requestId ?? randomUUID();
    const viewer = await authenticator.authenticate(request);
    const authenticateAgain = () => authenticator.authenticate(request, { again: true });
    const ctx = createContext({ viewer, requestedOrganizationId, requestId, authenticateAgain });
    await admitRequest(ctx);
    return ctx;
  }

  return withRequestScopes(createYoga<Record<string, never>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/health',
    landingPage: false,
    graphiql: config.graphiql
      ? async () => {
          const headers = await graphiqlHeaders?.();
          return { title: 'Identity graph', defaultQuery: EXAMPLE_QUERY, ...(headers ? { headers: JSON.stringify(headers, null, 2) } : {}) };
        }
      : false,
    // GraphiQL's assets are inlined in the page, so it works without reaching a CDN.
    // They are 9 MB of JavaScript to load: loaded on the first page, not at start.
    renderGraphiQL: async (options) => (await import('@graphql-yoga/render-graphiql')).renderGraphiQL(options),
    maskedErrors: { maskError },
    logging: yogaLogger,
    batching: config.batchLimit > 0 ? { limit: config.batchLimit } : false,
    // useBodyLimit below limits every body (BODY_LIMIT_BYTES).
    maxRequestBodySize: false,
    // Whatever refuses the request here answers for all of it, with its HTTP status.
    context: ({ request }) =>
      requestContext(request).catch((error: unknown) => {
        throw refusingRequest(error);
      }),
    plugins: [
      ...(tracing ? [tracing] : []),
      useRequestLog(),
      useBodyLimit(config.bodyLimitBytes),
      useCsrfPrevention(),
      useSubgraphGuard(config.subgraph, config.introspection),
      ...(config.introspection ? [] : [useDisableIntrospection()]),
      ...useQueryLimits(config.limits),
      useInputGuard(),
      useConnectionArguments(),
      useStableErrorCodes(),
      useRetryAfter(),
      useRateLimit(config.rateLimits, counters),
      ...useMetrics(),
      // Before the planned reads, so they run where the operation's reads are routed.
      useReadRouting({ readYourWritesMs: config.replicas.readYourWritesMs, redisUrl: config.rateLimits.redisUrl, diagnostics: config.env !== 'production' }),
      useRowScope(),
      // Last of the execution hooks: every check above applies before it answers.
      usePlannedOperations(),
      useReadiness('/ready', async () => {
        if (!isAccepting() || !database) return false;
        await database.query('SELECT 1');
        return true;
      }),
    ],
  }));
}

/** Where a request enters the server: as a Node.js listener or through `fetch`. */
const ENTRIES = new Set<PropertyKey>(['fetch', 'handle', 'handleNodeRequestAndResponse', 'handleRequest']);

/**
 * The server with each request handled in a row-level security scope of its own
 * (src/db/scope.ts), so that what one request's credential may see never carries over
 * to another's statements, nor to code running beside it.
 */
function withRequestScopes(app: App): App {
  return new Proxy(app, {
    apply: (target, self, args) => inRequestScope(() => Reflect.apply(target, self, args) as unknown),
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (!ENTRIES.has(property) || typeof value !== 'function') return value;
      return (...args: unknown[]) => inRequestScope(() => Reflect.apply(value, target, args) as unknown);
    },
  });
}

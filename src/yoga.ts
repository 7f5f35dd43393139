import { randomUUID } from 'node:crypto';
import { createYoga, useReadinessCheck, type YogaServerInstance } from 'graphql-yoga';
import type { Config } from './config.ts';
import { createContext, type Context } from './context.ts';
import { database } from './db.ts';
import { ApiError, ErrorCode } from './errors.ts';
import { authenticate, type AuthConfig } from './modules/auth/authenticate.ts';
import { schema } from './schema.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const EXAMPLE_QUERY = `# Welcome to the identity graph.
# Set the Authorization header (Bearer <token>) and, for tenant data,
# X-Organization-ID in the Headers tab below. See README.md for a development token.
query Hello {
  __typename
}
`;

export interface AppOptions {
  config: Config;
  auth: AuthConfig;
  /** Checked by the readiness endpoint; false once shutdown begins. */
  isAccepting?: () => boolean;
}

export type App = YogaServerInstance<Record<string, never>, Context>;

/** Builds the server without opening a port; tests call `app.fetch` directly. */
export function createApp({ config, auth, isAccepting = () => true }: AppOptions): App {
  return createYoga<Record<string, never>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/health',
    landingPage: false,
    graphiql: config.env === 'production' ? false : { title: 'Identity graph', defaultQuery: EXAMPLE_QUERY },
    maskedErrors: { isDev: config.env === 'development' },
    context: async ({ request }) => {
      const tenant = request.headers.get('x-organization-id') ?? request.headers.get('x-tenant-id');
      if (tenant !== null && !UUID.test(tenant)) {
        throw new ApiError(ErrorCode.BAD_USER_INPUT, 'X-Organization-ID must be a UUID.', {
          details: [{ path: 'X-Organization-ID', message: 'not a UUID' }],
        });
      }
      const viewer = await authenticate(request, auth);
      const ctx = createContext({
        viewer,
        requestedOrganizationId: tenant?.toLowerCase() ?? null,
        requestId: request.headers.get('x-request-id') ?? randomUUID(),
      });
      if (ctx.requestedOrganizationId) ctx.access.assertTenant(ctx.requestedOrganizationId);
      return ctx;
    },
    plugins: [
      useReadinessCheck({
        endpoint: '/ready',
        check: async () => {
          if (!isAccepting() || !database) return false;
          await database.query('SELECT 1');
          return true;
        },
      }),
    ],
  });
}

import type { AuthSettings } from '../../config.ts';
import type { PrismaClient } from '../../db.ts';
import { ensureDevMembership, grantThroughServer, mintDevToken } from '../auth/dev.ts';
import type { DemoTransport, GraphQLAnswer } from './load.ts';

// The two ways the demo loader reaches a server: inside the server process on start,
// or, for `npm run demo`, a running development server that holds the embedded
// database (or this process's own in-process server on any other database).

const TOKEN_TTL_SECONDS = 12 * 3600;

type Fetch = (url: string, init: RequestInit) => Promise<Response> | Response;

async function post(fetch: Fetch, url: string, query: string, variables: Record<string, unknown>, headers: Record<string, string>) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GraphQLAnswer;
}

/** Through an app in this process, writing memberships with `prisma`. */
export function inProcessTransport(app: { fetch: Fetch }, prisma: PrismaClient, secret: string, settings: AuthSettings): DemoTransport {
  return {
    grant: (grant) => ensureDevMembership(prisma, grant),
    token: (user) => mintDevToken(user, { secret, settings, ttlSeconds: TOKEN_TTL_SECONDS }),
    graphql: (query, variables, headers) => post(app.fetch, 'http://localhost/graphql', query, variables, headers),
  };
}

/** Through a running development server at `base` (its GraphQL endpoint and development grant). */
export function serverTransport(base: string, secret: string, settings: AuthSettings): DemoTransport {
  return {
    grant: (grant) => grantThroughServer(base, secret, grant),
    token: (user) => mintDevToken(user, { secret, settings, ttlSeconds: TOKEN_TTL_SECONDS }),
    graphql: (query, variables, headers) => post(fetch, new URL('/graphql', base).toString(), query, variables, headers),
  };
}

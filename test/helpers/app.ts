import { SignJWT } from 'jose';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { expect } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { createApp } from '../../src/yoga.ts';

export const TEST_JWT_SECRET = 'test-secret-of-at-least-thirty-two-bytes!';

export const app = createApp({ config: loadConfig({ NODE_ENV: 'test', JWT_SECRET: TEST_JWT_SECRET }) });

/** A server built with other settings (environment variables as the server reads them). */
export function appWith(env: Record<string, string>, options: Partial<Parameters<typeof createApp>[0]> = {}) {
  return createApp({
    // Production refuses an HS256 secret, as the server does.
    config: loadConfig({ NODE_ENV: 'test', ...(env.NODE_ENV === 'production' ? {} : { JWT_SECRET: TEST_JWT_SECRET }), ...env }),
    ...options,
  });
}

export interface GqlResult<T = Record<string, any>> {
  status: number;
  data: T | null | undefined;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, any> }[];
}

export interface GqlOptions {
  variables?: Record<string, unknown>;
  /** A bearer token, or a user to mint one for. */
  token?: string;
  asUser?: { authSubject: string | null };
  organizationId?: string;
  headers?: Record<string, string>;
  /** Another server instance than the default one. */
  app?: ReturnType<typeof createApp>;
}

export async function tokenFor(subject: string, claims: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));
}

/**
 * Runs one operation through the server in-process (no port), as a client would. A
 * typed document (src/client, from `npm run codegen`) types the variables and result.
 */
export async function gql<T = Record<string, any>, V = Record<string, unknown>>(
  document: string | TypedDocumentNode<T, V>,
  options: GqlOptions & { variables?: V } = {},
): Promise<GqlResult<T>> {
  const query = typeof document === 'string' ? document : print(document);
  const headers: Record<string, string> = { 'content-type': 'application/json', ...options.headers };
  let token = options.token;
  if (!token && options.asUser) {
    if (!options.asUser.authSubject) throw new Error('asUser needs a user with an authSubject');
    token = await tokenFor(options.asUser.authSubject);
  }
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.organizationId) headers['x-organization-id'] = options.organizationId;
  const response = await (options.app ?? app).fetch('http://localhost/graphql', {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables: options.variables }),
  });
  const body = (await response.json()) as Omit<GqlResult<T>, 'status'>;
  return { status: response.status, ...body };
}

/** Asserts the operation failed with this code: a GraphQL error's extensions.code, or a typed error's code. */
export function expectErrorCode(result: GqlResult, code: string): void {
  const codes = [
    ...(result.errors ?? []).map((e) => e.extensions?.code),
    ...typedErrorCodes(result.data),
  ];
  expect(codes, JSON.stringify(result, null, 2)).toContain(code);
}

export function expectNoErrors(result: GqlResult): void {
  expect(result.errors, JSON.stringify(result.errors, null, 2)).toBeUndefined();
}

function typedErrorCodes(data: unknown): string[] {
  if (!data || typeof data !== 'object') return [];
  const out: string[] = [];
  for (const value of Object.values(data)) {
    if (value && typeof value === 'object') {
      const v = value as Record<string, unknown>;
      if (typeof v.code === 'string' && typeof v.__typename === 'string' && v.__typename.endsWith('Error')) out.push(v.code);
      out.push(...typedErrorCodes(value));
    }
  }
  return out;
}

export function globalId(type: string, id: string): string {
  return Buffer.from(`${type}:${id}`).toString('base64');
}

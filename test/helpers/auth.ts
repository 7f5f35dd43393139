import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { expect } from 'vitest';
import { prisma } from '../../src/db.ts';
import type { GqlResult } from './app.ts';

// Credentials for tests: keys generated in the test, tokens signed with them, a JWKS
// served from a loopback HTTP server, and the assertions every rejection makes.

export const UNAUTHENTICATED_MESSAGE = 'Authentication is required: send a valid bearer token or API key.';

export interface TestKey {
  alg: string;
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

export async function aSigningKey(alg: 'RS256' | 'ES256' | 'EdDSA' | 'RS384', kid = `${alg}-${Math.random().toString(36).slice(2, 10)}`): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicKey, publicJwk };
}

export interface TokenOptions {
  subject?: string;
  issuer?: string;
  audience?: string;
  /** Seconds from now; negative for an expired token; null for no `exp` at all. */
  expiresIn?: number | null;
  /** Seconds from now for `iat` (positive: issued in the future); now when absent. */
  issuedIn?: number;
  header?: Record<string, unknown>;
}

/** A JWT signed with `key` (a generated key pair, or an HMAC secret for HS256). */
export async function aToken(
  key: TestKey | { alg: 'HS256'; secret: string | Uint8Array },
  claims: JWTPayload = {},
  options: TokenOptions = {},
): Promise<string> {
  const header = 'kid' in key ? { alg: key.alg, kid: key.kid } : { alg: 'HS256' };
  let jwt = new SignJWT(claims).setProtectedHeader({ ...header, ...options.header } as { alg: string }).setIssuedAt(
    options.issuedIn === undefined ? undefined : Math.floor(Date.now() / 1000) + options.issuedIn,
  );
  if (options.subject) jwt = jwt.setSubject(options.subject);
  if (options.issuer) jwt = jwt.setIssuer(options.issuer);
  if (options.audience) jwt = jwt.setAudience(options.audience);
  if (options.expiresIn !== null) jwt = jwt.setExpirationTime(Math.floor(Date.now() / 1000) + (options.expiresIn ?? 300));
  if ('secret' in key) return jwt.sign(typeof key.secret === 'string' ? new TextEncoder().encode(key.secret) : key.secret);
  return jwt.sign(key.privateKey);
}

/** An unsigned token (`alg: none`) with these claims. */
export function anUnsignedToken(claims: JWTPayload): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
}

export interface JwksServer {
  url: string;
  /** How many times the JWKS was fetched. */
  fetches: number;
  /** Replace the published keys (rotation). */
  publish(keys: TestKey[]): void;
  /** Stop answering (requests hang until the client times out). */
  hang(on: boolean): void;
  close(): Promise<void>;
}

/** A JWKS on a loopback HTTP server, like an identity provider's. */
export async function aJwksServer(keys: TestKey[]): Promise<JwksServer> {
  let published = keys;
  let hanging = false;
  const state = { fetches: 0 };
  const server: Server = createServer((req, res) => {
    if (req.url !== '/.well-known/jwks.json') {
      res.writeHead(404).end();
      return;
    }
    state.fetches++;
    if (hanging) return;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: published.map((k) => k.publicJwk) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get fetches() {
      return state.fetches;
    },
    publish(next) {
      published = next;
    },
    hang(on) {
      hanging = on;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Row counts of every table a credential could make a request write to. */
export async function rowCounts() {
  const [users, organizations, members, apiKeys, identifiers, identities] = await Promise.all([
    prisma.user.count(),
    prisma.organization.count(),
    prisma.member.count(),
    prisma.apiKey.count(),
    prisma.identifier.count(),
    prisma.identity.count(),
  ]);
  return { users, organizations, members, apiKeys, identifiers, identities };
}

/**
 * The one answer every rejected credential gets: HTTP 401, one UNAUTHENTICATED error
 * with the fixed message and nothing else (no data, no reason).
 */
export function expectRejectedCredential(result: GqlResult, label = ''): void {
  expect(result.status, label).toBe(401);
  expect(result.errors, label).toHaveLength(1);
  const [error] = result.errors!;
  expect(error!.message, label).toBe(UNAUTHENTICATED_MESSAGE);
  expect(error!.extensions, label).toEqual({ code: 'UNAUTHENTICATED' });
  expect(result.data ?? null, label).toBeNull();
}

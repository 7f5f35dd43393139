import { decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyOptions } from 'jose';
import { normalizeTyp, type AuthSettings } from '../../config.ts';
import { ANONYMOUS, type Viewer } from '../../context.ts';
import { ApiError, ErrorCode, unauthenticated } from '../../errors.ts';
import { logger } from '../../observability/logger.ts';
import { UUID_RE } from '../shared/visibility.ts';
import { requestedOrganizationId } from './tenant-header.ts';
import { looksLikeApiKey, viewerForApiKey } from './api-keys.ts';
import { JwksUnavailableError, RemoteJwks } from './jwks.ts';
import { userForToken } from './users.ts';

// Turns a request's credential into a Viewer, once per request. The credential is an
// `Authorization: Bearer` JWT, or an organization API key (in `X-API-Key`, or as the
// bearer value). Nothing else is read: a token in the query string or the body is
// ignored. Every rejection is the same UNAUTHENTICATED error, whatever was wrong; the
// reason goes to the debug log only.
//
// What a credential was found to be (its user and membership, or its key) is
// remembered for its next requests, as a viewer marked unconfirmed: a compiled read
// checks those facts inside its own statement, so a request costs one statement, and
// anything else reads them again first (context.ts confirmViewer).

export interface AuthenticateOptions {
  /** Read the credential's facts from the database even when they are in memory. */
  again?: boolean;
}

export interface Authenticator {
  /**
   * The request's viewer. A credential seen lately may give a viewer from memory,
   * marked `unconfirmed` (context.ts confirmViewer); with `again`, never.
   */
  authenticate(request: Request, options?: AuthenticateOptions): Promise<Viewer>;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const BEARER = /^Bearer +(\S+) *$/i;

class Rejected extends Error {}

// A token's claims cannot change, and its expiry and key set are checked on every use:
// the bound only keeps idle entries from lingering.
const VERIFIED_TTL_MS = 10 * 60_000;
const VERIFIED_MAX = 10_000;
/** Viewers kept per verified token, by the organization the request acts in (or none). */
const VIEWERS_PER_TOKEN = 8;

function reject(reason: string): never {
  throw new Rejected(reason);
}

export function createAuthenticator(settings: AuthSettings): Authenticator {
  const secret = settings.jwtSecret ? new TextEncoder().encode(settings.jwtSecret) : null;
  const jwks = settings.jwksUrl
    ? new RemoteJwks(new URL(settings.jwksUrl), {
        timeoutMs: settings.jwksTimeoutMs,
        cooldownMs: settings.jwksCooldownMs,
        cacheMaxAgeMs: settings.jwksCacheMaxAgeMs,
      })
    : null;
  const claimChecks: JWTVerifyOptions = {
    issuer: settings.issuer,
    audience: settings.audience,
    clockTolerance: settings.clockToleranceSeconds,
    requiredClaims: ['exp', 'sub'],
  };

  // Verified tokens, so a client's next requests skip the signature check (a sizeable
  // share of a small request's CPU: README, Performance). Only the
  // very same token string finds an entry; it lives at most VERIFIED_TTL_MS, never
  // past the token's `exp`, and only while the key set it was verified with is the
  // current one (a rotation that withdraws a key refuses its tokens at once).
  //
  // With the claims go the viewers the token was last found to be, by organization:
  // the next request may act as one without reading the user and memberships first,
  // since whatever answers it checks them in its own statement (context.ts
  // confirmViewer). Only viewers admitted to their organization (if any) are kept.
  interface Verified {
    claims: JWTPayload;
    until: number;
    generation: number;
    viewers: Map<string, Viewer>;
  }
  const verified = new Map<string, Verified>();
  const generation = () => jwks?.generation ?? 0;

  /** The verified claims of a JWT; throws for anything short of a valid token. */
  async function verify(token: string): Promise<Verified> {
    const now = Date.now();
    const hit = verified.get(token);
    if (hit && hit.until > now && hit.generation === generation()) return hit;
    if (hit) verified.delete(token);
    const claims = await verifySignature(token);
    // jose checks `iat` only against a maximum age; a token issued in the future (beyond
    // the clock tolerance) comes from a wrong clock or a forger, and is refused.
    if (typeof claims.iat === 'number' && claims.iat > now / 1000 + settings.clockToleranceSeconds) reject('iat in the future');
    const entry = { claims, until: Math.min(Number(claims.exp) * 1000, now + VERIFIED_TTL_MS), generation: generation(), viewers: new Map() };
    if (typeof claims.exp === 'number' && claims.exp * 1000 > now) {
      if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value!);
      verified.set(token, entry);
    }
    return entry;
  }

  async function verifySignature(token: string): Promise<JWTPayload> {
    if (!JWT_SHAPE.test(token)) reject('not a compact JWS');
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      reject('unreadable header');
    }
    const alg = header.alg;
    // With JWT_TYPES set, only tokens made for this use are accepted (an access token
    // `at+jwt`, not an ID token of the same provider).
    if (settings.types && !(typeof header.typ === 'string' && settings.types.includes(normalizeTyp(header.typ)))) {
      reject('typ not accepted');
    }
    // Each key type verifies only its own algorithms, so a token signed with a public
    // key as an HMAC secret (or with `alg: none`) never reaches a matching key.
    if (alg === 'HS256') {
      if (!secret) reject('HS256 tokens are not accepted');
      return (await jwtVerify(token, secret, { ...claimChecks, algorithms: ['HS256'] })).payload;
    }
    if (!jwks) reject(`no keys for ${alg}`);
    return (await jwtVerify(token, jwks.getKey, { ...claimChecks, algorithms: settings.algorithms })).payload;
  }

  async function viewerForToken(token: string, requestedOrganizationId: string | null, again: boolean): Promise<Viewer> {
    let entry: Verified;
    try {
      entry = await verify(token);
    } catch (err) {
      if (err instanceof JwksUnavailableError) {
        logger.warn({ error: err.message }, 'identity provider keys unavailable');
        throw new ApiError(ErrorCode.SERVICE_UNAVAILABLE, 'Credentials cannot be verified right now; retry shortly.');
      }
      if (err instanceof Rejected || err instanceof errors.JOSEError) throw err;
      // Anything else jose raises on hostile input (bad base64, bad JSON) is a rejection too.
      reject('token could not be verified');
    }
    const claims = entry.claims;
    const subject = claims.sub;
    if (typeof subject !== 'string' || subject.length === 0 || subject.length > 255) reject('bad sub');
    const bound = claims[settings.organizationClaim];
    if (bound !== undefined && (typeof bound !== 'string' || !UUID_RE.test(bound))) reject('bad organization claim');
    const boundOrganizationId = typeof bound === 'string' ? bound.toLowerCase() : null;
    // The organization the request acts in (a bound token's, else the header's): the
    // membership there is read with the user, in one statement; without one, every
    // membership is. Viewers are remembered by it ('' for none).
    const organizationId = boundOrganizationId ?? requestedOrganizationId;
    const key = organizationId ?? '';
    const remembered = again ? undefined : entry.viewers.get(key);
    if (remembered) return remembered;
    const user = await userForToken(subject, claims, settings.provisionUsers, organizationId);
    if (!user) reject('no user for this subject');
    const viewer: Viewer = {
      kind: 'user',
      userId: user.id,
      isSystemAdmin: user.isSystemAdmin,
      boundOrganizationId,
      ...(user.memberships && { knownMemberships: user.memberships }),
      ...(user.allMemberships && { allMemberships: true }),
    };
    const admitted = organizationId === null || user.isSystemAdmin || user.memberships?.get(organizationId)?.state === 'ACTIVE';
    if (user.check && admitted) {
      if (entry.viewers.size >= VIEWERS_PER_TOKEN) entry.viewers.delete(entry.viewers.keys().next().value!);
      entry.viewers.set(key, { ...viewer, unconfirmed: user.check });
    } else {
      entry.viewers.delete(key);
    }
    return viewer;
  }

  // API keys' viewers, by key, remembered as tokens' are, until the key's lastUsedAt is
  // due to be written again.
  const keys = new Map<string, { viewer: Viewer; until: number }>();

  async function viewerForKey(key: string, again: boolean): Promise<Viewer> {
    const known = keys.get(key);
    if (known && !again && known.until > Date.now()) return known.viewer;
    keys.delete(key);
    const found = (await viewerForApiKey(key)) ?? reject('unknown or revoked API key');
    if (keys.size >= VERIFIED_MAX) keys.delete(keys.keys().next().value!);
    keys.set(key, { viewer: { ...found.viewer, unconfirmed: found.check } as Viewer, until: found.rememberUntil });
    return found.viewer;
  }

  async function authenticate(request: Request, again: boolean): Promise<Viewer> {
    const authorization = request.headers.get('authorization');
    const apiKeyHeader = request.headers.get('x-api-key');
    if (authorization === null && apiKeyHeader === null) return ANONYMOUS;
    // One credential per request: two could name different organizations or users.
    if (authorization !== null && apiKeyHeader !== null) reject('two credentials');
    const raw = apiKeyHeader ?? authorization ?? '';
    // A repeated header arrives joined with ", "; no single credential has a comma.
    if (raw.includes(',')) reject('more than one credential');
    if (raw.length > settings.maxTokenLength + 16) reject('oversized credential');
    const credential = apiKeyHeader !== null ? apiKeyHeader.trim() : BEARER.exec(raw)?.[1];
    if (!credential) reject('malformed credential');
    if (credential.length > settings.maxTokenLength) reject('oversized credential');
    if (looksLikeApiKey(credential)) {
      return viewerForKey(credential, again);
    }
    if (apiKeyHeader !== null) reject('X-API-Key is not an API key');
    return viewerForToken(credential, requestedOrganizationId(request.headers), again);
  }

  return {
    async authenticate(request, options) {
      try {
        return await authenticate(request, options?.again ?? false);
      } catch (err) {
        if (err instanceof Rejected || err instanceof errors.JOSEError) {
          logger.debug({ reason: err instanceof Rejected ? err.message : err.code }, 'credential rejected');
          throw unauthenticated();
        }
        throw err;
      }
    },
  };
}

import { createLocalJWKSet, errors, type FlattenedJWSInput, type JSONWebKeySet, type JWSHeaderParameters } from 'jose';

// The identity provider's signing keys, fetched from its JWKS URL and kept in process
// memory (a cache: any instance can fetch them again). Unlike jose's remote set, this
// one also rate-limits failed fetches, and keeps verifying with the keys it has while
// the provider cannot be reached, so a provider outage is not a sign-in outage and a
// flood of tokens with made-up key ids cannot turn into a flood of fetches.

export interface JwksOptions {
  timeoutMs: number;
  /** Least time between two fetches that are not due to the cache expiring. */
  cooldownMs: number;
  /** How long fetched keys are used before they are fetched again. */
  cacheMaxAgeMs: number;
}

/** The keys could not be fetched and none are cached: the server, not the token, is at fault. */
export class JwksUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'JwksUnavailableError';
  }
}

const MAX_JWKS_BYTES = 512 * 1024;

export class RemoteJwks {
  private keys: ReturnType<typeof createLocalJWKSet> | undefined;
  private fetchedAt = 0;
  private attemptedAt = Number.NEGATIVE_INFINITY;
  private pending: Promise<void> | undefined;
  /** Counts the key sets fetched: verifications made with an older set are not reused. */
  generation = 0;

  constructor(
    readonly url: URL,
    private readonly options: JwksOptions,
  ) {}

  /** The key for a token's header, for jose's `jwtVerify`. */
  readonly getKey = async (header: JWSHeaderParameters, token: FlattenedJWSInput) => {
    if (!this.keys || Date.now() - this.fetchedAt >= this.options.cacheMaxAgeMs) {
      // With keys in hand a failed refresh is not fatal: keep using them.
      await this.refresh().catch((err) => {
        if (!this.keys) throw err;
      });
    }
    if (!this.keys) throw new JwksUnavailableError('no signing keys fetched yet');
    try {
      return await this.keys(header, token);
    } catch (err) {
      // An unknown key id may mean the provider rotated its keys: fetch once more,
      // unless a fetch happened within the cooldown.
      if (!(err instanceof errors.JWKSNoMatchingKey) || !this.mayFetch()) throw err;
      await this.refresh();
      return this.keys(header, token);
    }
  };

  private mayFetch(): boolean {
    return Date.now() - this.attemptedAt >= this.options.cooldownMs;
  }

  /** Fetches the set, joining a fetch already under way; at most one fetch per cooldown. */
  private refresh(): Promise<void> {
    if (this.pending) return this.pending;
    if (!this.mayFetch()) {
      return this.keys ? Promise.resolve() : Promise.reject(new JwksUnavailableError('signing keys unavailable'));
    }
    this.attemptedAt = Date.now();
    this.pending = this.load().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async load(): Promise<void> {
    let body: unknown;
    try {
      const response = await fetch(this.url, {
        headers: { accept: 'application/json' },
        redirect: 'error',
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      if (!response.ok) throw new Error(`JWKS answered HTTP ${response.status}`);
      const text = await response.text();
      if (text.length > MAX_JWKS_BYTES) throw new Error('JWKS is too large');
      body = JSON.parse(text);
    } catch (err) {
      throw new JwksUnavailableError(`fetching the JWKS failed: ${(err as Error).message}`, { cause: err });
    }
    const keys = (body as { keys?: unknown })?.keys;
    if (!Array.isArray(keys)) throw new JwksUnavailableError('the JWKS has no "keys" array');
    this.keys = createLocalJWKSet(body as JSONWebKeySet);
    this.fetchedAt = Date.now();
    this.generation++;
  }
}

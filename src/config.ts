import path from 'node:path';
import type { ReplicaSettings } from './db/replicas.ts';

// Every setting the server reads, with its default. README's configuration table
// lists the same names; keep them together.

export interface HttpTimeouts {
  /** Time to receive a request's headers, from the connection or the previous request. */
  headersMs: number;
  /** Time to receive a whole request, headers and body. */
  requestMs: number;
  /** How long an idle keep-alive connection stays open. */
  keepAliveMs: number;
}

export interface QueryLimits {
  maxDepth: number;
  maxAliases: number;
  maxDirectives: number;
  maxTokens: number;
  maxCost: number;
  maxPageSize: number;
  /** Hide "Did you mean …?" suggestions, which leak the schema when introspection is off. */
  blockFieldSuggestions: boolean;
  /** Say in errors what a limit is and what the operation reached; otherwise only which limit it broke. */
  exposeLimits: boolean;
}

export interface RateLimits {
  /** Units per window for one credential (a user, an API key, or an anonymous address); 0 turns it off. */
  perCredential: number;
  /** Units per window for one organization, whoever calls; 0 turns it off. */
  perOrganization: number;
  windowMs: number;
  redisUrl?: string | undefined;
}

export interface SubgraphGuard {
  /** The secret the gateway sends in X-Subgraph-Secret; unset turns the guard off. */
  secret: string | undefined;
  /** Require it on every request, not only on `_service` and `_entities`. */
  requireForAll: boolean;
}

export interface Config {
  env: 'development' | 'production' | 'test';
  host: string;
  port: number;
  /** PostgreSQL connection string; when absent the embedded database is used. */
  databaseUrl: string | undefined;
  /** The role that owns the schema and runs migrations, when the server's own (DATABASE_URL) may not. */
  migrationDatabaseUrl: string | undefined;
  /** Where the embedded database keeps its files. */
  pgliteDataDir: string;
  /** Apply pending migrations to PostgreSQL on start (the embedded database always migrates). */
  migrateOnStart: boolean;
  /** Streaming replicas that serve reads of queries, and how reads stay current (src/db/replicas.ts). */
  replicas: ReplicaSettings & {
    /** After a write, the same credential's reads in the same organization go to the primary this long. */
    readYourWritesMs: number;
  };
  databasePoolSize: number;
  /** How long a request waits for a free PostgreSQL connection before SERVICE_UNAVAILABLE. */
  databasePoolTimeoutMs: number;
  /** PostgreSQL ends any statement running longer than this. */
  statementTimeoutMs: number;
  /** How long shutdown waits for in-flight requests before closing connections. */
  shutdownGraceMs: number;
  /** How often each instance purges deleted objects past their organization's retention; 0: never. */
  purgeIntervalSeconds: number;
  /** After SIGTERM, how long requests are still served (readiness failing) before the listener closes. */
  shutdownDrainMs: number;
  /** Slow-client limits of the HTTP server. */
  httpTimeouts: HttpTimeouts;
  logLevel: string;
  /** Query limits, checked before an operation runs. */
  limits: QueryLimits;
  rateLimits: RateLimits;
  /** Largest request body accepted, in bytes. */
  bodyLimitBytes: number;
  /** Most operations in one batched request; 0 turns batching off. */
  batchLimit: number;
  introspection: boolean;
  graphiql: boolean;
  /** Development: load the demo organization into an empty embedded database on start. */
  demoData: boolean;
  /** Federation: the secret the gateway sends, and whether every request needs it. */
  subgraph: SubgraphGuard;
  auth: AuthSettings;
  webhooks: WebhookSettings;
}

/** How change webhooks are delivered (src/modules/webhook). */
export interface WebhookSettings {
  production: boolean;
  /** Where deliveries are sent from: this server process, or only `npm run worker` processes. */
  delivery: 'in-process' | 'worker';
  /** How long one attempt may take, connection to last byte read. */
  timeoutMs: number;
  /** Most bytes of a response read (and kept with the attempt). */
  responseBytes: number;
  /** How long a delivery is retried before it is marked failed, and an endpoint may fail before it is disabled. */
  retryWindowSeconds: number;
  /** The first retry's delay; each next one doubles, with jitter. */
  retryDelaySeconds: number;
  /** Hosts and addresses (exact host names, IPs, or CIDR ranges) an endpoint may resolve to although they are private. */
  allowedHosts: string[];
  /** Deliveries one process sends at once. */
  concurrency: number;
  /** How often an idle worker looks for deliveries, in seconds. */
  pollSeconds: number;
  /** How long a sending worker may be silent before its delivery is retried elsewhere (it crashed), in seconds. */
  expireSeconds: number;
  /** How often expired deliveries are looked for, in seconds. */
  maintenanceSeconds: number;
}

/** How credentials are verified (src/modules/auth). */
export interface AuthSettings {
  /** HS256 secret for bearer tokens; development and tests only. */
  jwtSecret: string | undefined;
  /** Where the identity provider publishes its signing keys (production). */
  jwksUrl: string | undefined;
  /** Required `iss` claim, when set. */
  issuer: string | undefined;
  /** Accepted `aud` values (any one), when set. */
  audience: string[] | undefined;
  /** Algorithms accepted for keys from the JWKS; never HS* or none. */
  algorithms: string[];
  /** Accepted `typ` headers (normalized: lower case, no `application/`), when set; a token without one is refused. */
  types: string[] | undefined;
  /** Leeway for `exp`, `nbf` and `iat`, in seconds. */
  clockToleranceSeconds: number;
  /** Longest bearer credential accepted, checked before it is parsed. */
  maxTokenLength: number;
  jwksTimeoutMs: number;
  /** Least time between two fetches of the JWKS triggered by unknown keys (or after a failure). */
  jwksCooldownMs: number;
  /** How long fetched keys are used before the JWKS is fetched again. */
  jwksCacheMaxAgeMs: number;
  /** Claim that binds a token to one organization (its id). */
  organizationClaim: string;
  /** Create a User on the first sign-in of an unknown subject with a verified email. */
  provisionUsers: boolean;
}

const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`${name} must be an integer >= ${min}, got "${raw}"`);
  }
  return value;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new Error(`${name} must be true or false, got "${env[name]}"`);
}

function list(env: Env, name: string): string[] | undefined {
  const items = env[name]?.split(',').map((s) => s.trim()).filter(Boolean);
  return items?.length ? items : undefined;
}

/** A JWT `typ` header as compared: case-insensitive, `application/` left out (RFC 7515, 4.1.9). */
export function normalizeTyp(typ: string): string {
  return typ.toLowerCase().replace(/^application\//, '');
}

function authSettings(env: Env, nodeEnv: string): AuthSettings {
  const jwtSecret = env.JWT_SECRET || undefined;
  const jwksUrl = env.JWT_JWKS_URL || undefined;
  const issuer = env.JWT_ISSUER || undefined;
  const audience = list(env, 'JWT_AUDIENCE');
  const algorithms = list(env, 'JWT_ALGORITHMS') ?? ['RS256', 'ES256', 'EdDSA'];
  // Only asymmetric algorithms may verify with JWKS keys: an HS* entry would let a
  // token signed with the public key as an HMAC secret pass (algorithm confusion).
  const refused = algorithms.filter((a) => !ASYMMETRIC_ALGORITHMS.includes(a));
  if (refused.length) {
    throw new Error(`JWT_ALGORITHMS may list only ${ASYMMETRIC_ALGORITHMS.join(', ')}; refused: ${refused.join(', ')}`);
  }
  if (jwtSecret && Buffer.byteLength(jwtSecret) < 32) throw new Error('JWT_SECRET must be at least 32 bytes long');
  if (jwksUrl) {
    let url: URL;
    try {
      url = new URL(jwksUrl);
    } catch {
      throw new Error(`JWT_JWKS_URL must be a URL, got "${jwksUrl}"`);
    }
    if (url.protocol !== 'https:' && !(nodeEnv !== 'production' && url.protocol === 'http:')) {
      throw new Error('JWT_JWKS_URL must be an https URL');
    }
  }
  if (nodeEnv === 'production') {
    if (jwtSecret) throw new Error('JWT_SECRET is for development: production verifies tokens with JWT_JWKS_URL');
    if (jwksUrl && (!issuer || !audience)) throw new Error('JWT_JWKS_URL needs JWT_ISSUER and JWT_AUDIENCE');
  }
  return {
    jwtSecret,
    jwksUrl,
    issuer,
    audience,
    algorithms,
    types: list(env, 'JWT_TYPES')?.map(normalizeTyp),
    clockToleranceSeconds: int(env, 'JWT_CLOCK_TOLERANCE_SECONDS', 5, 0),
    maxTokenLength: int(env, 'JWT_MAX_TOKEN_LENGTH', 8192, 256),
    jwksTimeoutMs: int(env, 'JWT_JWKS_TIMEOUT_MS', 5000, 100),
    jwksCooldownMs: int(env, 'JWT_JWKS_COOLDOWN_MS', 30_000, 0),
    jwksCacheMaxAgeMs: int(env, 'JWT_JWKS_CACHE_MAX_AGE_MS', 600_000, 1000),
    organizationClaim: env.JWT_ORGANIZATION_CLAIM || 'org_id',
    provisionUsers: bool(env, 'AUTH_PROVISION_USERS', true),
  };
}

function webhookSettings(env: Env, nodeEnv: string): WebhookSettings {
  const delivery = env.WEBHOOK_DELIVERY || 'in-process';
  if (delivery !== 'in-process' && delivery !== 'worker') {
    throw new Error(`WEBHOOK_DELIVERY must be in-process or worker, got "${delivery}"`);
  }
  const timeoutMs = int(env, 'WEBHOOK_TIMEOUT_MS', 10_000, 100);
  return {
    production: nodeEnv === 'production',
    delivery,
    timeoutMs,
    responseBytes: int(env, 'WEBHOOK_RESPONSE_BYTES', 1024, 0),
    retryWindowSeconds: int(env, 'WEBHOOK_RETRY_WINDOW_SECONDS', 86_400, 1),
    retryDelaySeconds: int(env, 'WEBHOOK_RETRY_DELAY_SECONDS', 5, 1),
    allowedHosts: list(env, 'WEBHOOK_ALLOWED_HOSTS') ?? [],
    concurrency: int(env, 'WEBHOOK_CONCURRENCY', 10, 1),
    pollSeconds: int(env, 'WEBHOOK_POLL_SECONDS', 2, 1),
    // A worker that is still sending holds its job; after the timeout and a margin it has crashed.
    expireSeconds: Math.max(int(env, 'WEBHOOK_EXPIRE_SECONDS', 60, 1), Math.ceil(timeoutMs / 1000) + 5),
    maintenanceSeconds: int(env, 'WEBHOOK_MAINTENANCE_SECONDS', 30, 1),
  };
}

function httpTimeouts(env: Env): HttpTimeouts {
  const timeouts = {
    headersMs: int(env, 'HTTP_HEADERS_TIMEOUT_MS', 10_000, 100),
    requestMs: int(env, 'HTTP_REQUEST_TIMEOUT_MS', 30_000, 100),
    keepAliveMs: int(env, 'HTTP_KEEP_ALIVE_TIMEOUT_MS', 5000, 100),
  };
  if (timeouts.headersMs > timeouts.requestMs) throw new Error('HTTP_HEADERS_TIMEOUT_MS must not exceed HTTP_REQUEST_TIMEOUT_MS');
  return timeouts;
}

/** Whether OpenTelemetry tracing is on: when an OTLP endpoint is configured (observability/tracing.ts). */
export function tracingEnabled(env: Env = process.env): boolean {
  return !!(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = env.NODE_ENV ?? 'development';
  if (!['development', 'production', 'test'].includes(nodeEnv)) {
    throw new Error(`NODE_ENV must be development, production or test, got "${nodeEnv}"`);
  }
  if (env.DATABASE_REPLICA_URLS && !env.DATABASE_URL) throw new Error('DATABASE_REPLICA_URLS needs DATABASE_URL (the primary)');
  return {
    env: nodeEnv as Config['env'],
    host: env.HOST || '127.0.0.1',
    port: int(env, 'PORT', 4000),
    databaseUrl: env.DATABASE_URL || undefined,
    migrationDatabaseUrl: env.MIGRATION_DATABASE_URL || env.DATABASE_URL || undefined,
    pgliteDataDir: path.resolve(env.PGLITE_DATA_DIR || 'data/pglite'),
    migrateOnStart: bool(env, 'MIGRATE_ON_START', false),
    replicas: {
      urls: list(env, 'DATABASE_REPLICA_URLS') ?? [],
      maxLagMs: int(env, 'REPLICA_MAX_LAG_MS', 5000, 0),
      checkMs: int(env, 'REPLICA_CHECK_MS', 1000, 50),
      readYourWritesMs: int(env, 'READ_YOUR_WRITES_MS', 2000, 0),
    },
    databasePoolSize: int(env, 'DATABASE_POOL_SIZE', 10, 1),
    databasePoolTimeoutMs: int(env, 'DATABASE_POOL_TIMEOUT_MS', 5000, 1),
    statementTimeoutMs: int(env, 'STATEMENT_TIMEOUT_MS', 15_000, 0),
    shutdownGraceMs: int(env, 'SHUTDOWN_GRACE_MS', 10_000),
    purgeIntervalSeconds: int(env, 'PURGE_INTERVAL_SECONDS', 3600, 0),
    shutdownDrainMs: int(env, 'SHUTDOWN_DRAIN_MS', nodeEnv === 'production' ? 5000 : 0),
    httpTimeouts: httpTimeouts(env),
    logLevel: env.LOG_LEVEL || (nodeEnv === 'test' ? 'silent' : 'info'),
    limits: {
      maxDepth: int(env, 'MAX_QUERY_DEPTH', 12, 1),
      maxAliases: int(env, 'MAX_ALIASES', 30, 0),
      maxDirectives: int(env, 'MAX_DIRECTIVES', 20, 0),
      maxTokens: int(env, 'MAX_TOKENS', 5000, 1),
      maxCost: int(env, 'MAX_QUERY_COST', 50_000, 1),
      maxPageSize: int(env, 'MAX_PAGE_SIZE', 100, 1),
      blockFieldSuggestions: nodeEnv === 'production',
      exposeLimits: nodeEnv !== 'production',
    },
    rateLimits: {
      perCredential: int(env, 'RATE_LIMIT_PER_CREDENTIAL', 1200, 0),
      perOrganization: int(env, 'RATE_LIMIT_PER_ORGANIZATION', 6000, 0),
      windowMs: int(env, 'RATE_LIMIT_WINDOW_MS', 60_000, 1000),
      redisUrl: env.REDIS_URL || undefined,
    },
    bodyLimitBytes: int(env, 'BODY_LIMIT_BYTES', 1_048_576, 1024),
    batchLimit: int(env, 'BATCH_LIMIT', 0, 0),
    introspection: bool(env, 'INTROSPECTION', nodeEnv !== 'production'),
    graphiql: bool(env, 'GRAPHIQL', nodeEnv !== 'production'),
    demoData: bool(env, 'DEMO_DATA', true),
    subgraph: {
      secret: env.SUBGRAPH_SECRET || undefined,
      requireForAll: bool(env, 'SUBGRAPH_SECRET_REQUIRED_FOR_ALL', false),
    },
    auth: authSettings(env, nodeEnv),
    webhooks: webhookSettings(env, nodeEnv),
  };
}

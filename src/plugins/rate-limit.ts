import { Kind, type DocumentNode, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';
import type { Context } from '../context.ts';
import { ApiError, ErrorCode } from '../errors.ts';
import { errorFields, logger } from '../observability/logger.ts';
import type { RateLimits } from '../config.ts';

// Rate limits per credential and per organization, in windows that start with a
// counter's first unit. Each root field of
// an operation costs one unit (so aliases and batched operations count each); an
// operation over either limit is refused with RATE_LIMITED and Retry-After before it
// runs. Counters live in Redis when REDIS_URL is set, so every server process shares
// them, and in process memory otherwise.

export interface CounterStore {
  /**
   * Adds `cost` to the counter of `key`. A counter's window starts with its first
   * unit and lasts `windowMs`; returns the total in the window and the time left.
   */
  add(key: string, cost: number, windowMs: number): Promise<{ total: number; resetInMs: number }>;
  close(): Promise<void>;
}

export class MemoryCounterStore implements CounterStore {
  private readonly counters = new Map<string, { resetAt: number; count: number }>();
  private adds = 0;

  async add(key: string, cost: number, windowMs: number) {
    const now = Date.now();
    let entry = this.counters.get(key);
    if (!entry || entry.resetAt <= now) {
      entry = { resetAt: now + windowMs, count: 0 };
      this.counters.set(key, entry);
      if (++this.adds % 1024 === 0) this.sweep(now);
    }
    entry.count += cost;
    return { total: entry.count, resetInMs: entry.resetAt - now };
  }

  private sweep(now: number) {
    for (const [key, entry] of this.counters) if (entry.resetAt <= now) this.counters.delete(key);
  }

  async close() {}
}

const INCR = `local c = redis.call('INCRBY', KEYS[1], ARGV[1])
if c == tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return {c, redis.call('PTTL', KEYS[1])}`;

export class RedisCounterStore implements CounterStore {
  private readonly redis: Redis;

  constructor(url: string) {
    // Loaded only when a Redis store is configured.
    const { Redis: Client } = createRequire(import.meta.url)('ioredis') as typeof import('ioredis');
    this.redis = new Client(url, { maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: 1000 });
    this.redis.on('error', (err) => logger.warn(errorFields(err), 'rate limit store error'));
  }

  async add(key: string, cost: number, windowMs: number) {
    const [total, ttl] = (await this.redis.eval(INCR, 1, `ratelimit:${key}`, cost, windowMs)) as [number, number];
    return { total: Number(total), resetInMs: Math.max(0, Number(ttl)) };
  }

  async close() {
    this.redis.disconnect();
  }
}

function rootFieldCount(selectionSet: SelectionSetNode, document: DocumentNode, depth = 0): number {
  let n = 0;
  for (const sel of selectionSet.selections) {
    if (sel.kind === Kind.FIELD) n += 1;
    else if (sel.kind === Kind.INLINE_FRAGMENT && depth < 5) n += rootFieldCount(sel.selectionSet, document, depth + 1);
    else if (sel.kind === Kind.FRAGMENT_SPREAD && depth < 5) {
      const frag = document.definitions.find((d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === sel.name.value);
      if (frag && frag.kind === Kind.FRAGMENT_DEFINITION) n += rootFieldCount(frag.selectionSet, document, depth + 1);
    }
  }
  return n;
}

type ExecutionContext = Context & { request: Request; req?: { socket?: { remoteAddress?: string } } };

function credentialKey(ctx: ExecutionContext): string {
  const v = ctx.viewer;
  if (v.kind === 'user') return `user:${v.userId}`;
  if (v.kind === 'apiKey') return `key:${v.apiKeyId}`;
  // Anonymous callers are told apart by the address of the connection (Node's server
  // context); behind a proxy they share the proxy's, which errs on the strict side.
  return `anon:${ctx.req?.socket?.remoteAddress ?? 'unknown'}`;
}

export function useRateLimit(limits: RateLimits, store: CounterStore): Plugin {
  const retryAfter = new WeakMap<Request, number>();
  const enabled = limits.perCredential > 0 || limits.perOrganization > 0;
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      if (!enabled) return;
      const ctx = args.contextValue as unknown as ExecutionContext;
      const document = args.document as DocumentNode;
      const op = document.definitions.find(
        (d): d is OperationDefinitionNode =>
          d.kind === Kind.OPERATION_DEFINITION && (!args.operationName || d.name?.value === args.operationName),
      );
      const cost = op ? Math.max(1, rootFieldCount(op.selectionSet, document)) : 1;
      const checks: [string, number][] = [];
      if (limits.perCredential > 0) checks.push([`cred:${credentialKey(ctx)}`, limits.perCredential]);
      const org =
        ctx.requestedOrganizationId ?? (ctx.viewer.kind !== 'anonymous' ? ctx.viewer.boundOrganizationId : null);
      if (limits.perOrganization > 0 && org) checks.push([`org:${org}`, limits.perOrganization]);
      try {
        const counts = await Promise.all(checks.map(([key]) => store.add(key, cost, limits.windowMs)));
        const over = counts.filter((c, i) => c.total > checks[i]![1]);
        if (over.length) {
          const seconds = Math.max(1, Math.ceil(Math.max(...over.map((c) => c.resetInMs)) / 1000));
          retryAfter.set(ctx.request, seconds);
          setResultAndStopExecution({
            errors: [
              new ApiError(ErrorCode.RATE_LIMITED, `Too many requests; retry after ${seconds} s.`, { retryAfter: seconds }),
            ],
          });
        }
      } catch (err) {
        // The limiter protects the service; it must not take it down. Fail open.
        logger.warn(errorFields(err), 'rate limit check failed; request allowed');
      }
    },
    onResponse({ request, response }) {
      const seconds = retryAfter.get(request);
      if (seconds !== undefined) response.headers.set('retry-after', String(seconds));
    },
  };
}

export function createCounterStore(limits: RateLimits): CounterStore {
  return limits.redisUrl ? new RedisCounterStore(limits.redisUrl) : new MemoryCounterStore();
}

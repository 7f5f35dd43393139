import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';
import { errorFields, logger } from '../observability/logger.ts';

// Who wrote lately (READ_YOUR_WRITES_MS): a key per credential and organization that
// lives that long after each write. It is shared through Redis when REDIS_URL is set,
// so a read served by another server process sees the write's key too; in process
// memory otherwise.

export interface RecentWrites {
  /** Notes a write under each key, remembered `ms` milliseconds. */
  mark(keys: string[], ms: number): Promise<void>;
  /** Whether any key was marked within its time. */
  any(keys: string[]): Promise<boolean>;
  close(): Promise<void>;
}

export class MemoryRecentWrites implements RecentWrites {
  private readonly until = new Map<string, number>();

  async mark(keys: string[], ms: number) {
    const now = Date.now();
    if (this.until.size > 10_000) for (const [k, t] of this.until) if (t <= now) this.until.delete(k);
    for (const key of keys) this.until.set(key, now + ms);
  }

  async any(keys: string[]) {
    const now = Date.now();
    return keys.some((k) => (this.until.get(k) ?? 0) > now);
  }

  async close() {}
}

export class RedisRecentWrites implements RecentWrites {
  private readonly redis: Redis;

  constructor(url: string) {
    // Loaded only when a Redis store is configured.
    const { Redis: Client } = createRequire(import.meta.url)('ioredis') as typeof import('ioredis');
    this.redis = new Client(url, { maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: 1000 });
    this.redis.on('error', (err) => logger.warn(errorFields(err), 'recent-writes store error'));
  }

  async mark(keys: string[], ms: number) {
    const multi = this.redis.multi();
    for (const key of keys) multi.set(`wrote:${key}`, '1', 'PX', ms);
    await multi.exec();
  }

  async any(keys: string[]) {
    const found = await this.redis.exists(...keys.map((k) => `wrote:${k}`));
    return found > 0;
  }

  async close() {
    this.redis.disconnect();
  }
}

import { AsyncLocalStorage } from 'node:async_hooks';
import type pg from 'pg';
import type { PrismaClient } from '../generated/prisma/client.ts';
import { errorFields, logger } from '../observability/logger.ts';

// Streaming read replicas (DATABASE_REPLICA_URLS). Reads of query operations go to a
// healthy replica, round robin; everything else (mutations and the reads inside them,
// authentication, membership checks, subscriptions, migrations) stays on the primary,
// which is also where every read goes when no replica qualifies. The routing is per
// request: plugins/read-routing.ts decides it when an operation starts, and the two
// read paths (Prisma, prepared statements) ask `servingReplica()` on every statement.

/** One replica's connections: Prisma's pool (inside its client) and the prepared statements' pool. */
export interface ReplicaConnections {
  prisma: PrismaClient;
  prepared: pg.Pool;
  close(): Promise<void>;
}

export interface Replica {
  readonly describe: string;
  readonly connections: ReplicaConnections;
  /** In recovery, reachable, and no further behind than REPLICA_MAX_LAG_MS at the last check. */
  healthy: boolean;
  /** The WAL position replayed at the last check: it has every commit up to there. */
  replayed: bigint;
  lagMs: number;
}

/** How one request's reads are served. Mutable: a request starts on the primary and may be moved. */
export interface ReadRoute {
  replica: Replica | null;
  /** Set by a mutation (or a read that must be current): the rest of the request stays on the primary. */
  primaryOnly: boolean;
}

const routes = new AsyncLocalStorage<ReadRoute>();

/** Gives the current request a route of its own, on the primary until an operation moves it. */
export function beginRoute(): ReadRoute {
  const route: ReadRoute = { replica: null, primaryOnly: false };
  routes.enterWith(route);
  return route;
}

export const currentRoute = (): ReadRoute | undefined => routes.getStore();

/** The replica that serves a read made now, or null for the primary. */
export function servingReplica(): Replica | null {
  const route = routes.getStore();
  if (!route || route.primaryOnly || !route.replica?.healthy) return null;
  return route.replica;
}

/** Runs `read` on the primary whatever the request's route: for answers that must be current. */
export function onPrimary<T>(read: () => T): T {
  return routes.run({ replica: null, primaryOnly: true }, read);
}

/**
 * The process's Prisma client as services see it: every property is taken from the
 * serving replica's client or the primary's, at the moment it is used. Each client has
 * its own batching of lookups, so reads of requests on different servers never share
 * a statement.
 */
export function routedPrisma(primary: PrismaClient): PrismaClient {
  return new Proxy(primary, {
    get(target, property) {
      const client = servingReplica()?.connections.prisma ?? target;
      const value = Reflect.get(client, property, client) as unknown;
      return typeof value === 'function' && typeof property === 'string' && property.startsWith('$') ? value.bind(client) : value;
    },
  });
}

/** A WAL position (`16/B374D848`) as a number, or null when the text is not one. */
export function parseLsn(text: string): bigint | null {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  return m ? (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`) : null;
}

export const formatLsn = (lsn: bigint): string => `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;

export interface ReplicaSettings {
  urls: string[];
  /** A replica further behind than this is left out until it catches up. */
  maxLagMs: number;
  /** How often each replica's state is read. */
  checkMs: number;
}

// Read on the replica at each check. Lag counts from the last replayed commit, and only
// while the replica has not replayed all the primary had written before the check (an
// idle primary writes nothing, and its replicas are not behind).
const REPLICA_STATE = `SELECT pg_is_in_recovery() AS recovery, pg_last_wal_replay_lsn()::text AS replayed,
  (EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000)::float8 AS since`;

/**
 * How far behind a replica is, in milliseconds: none once it has replayed the primary's
 * position (`primary`, null when the primary could not be read), else the age of its last
 * replayed commit. A replica that has replayed no commit since it started (`since` null)
 * and is behind the primary is of unknown lag, so never within the limit; with no
 * primary to compare with, it is taken as current, as before there was a timestamp.
 */
export function replicaLagMs(replayed: bigint, since: number | null, primary: bigint | null): number {
  if (primary !== null && replayed >= primary) return 0;
  if (since === null) return primary === null ? 0 : Infinity;
  return Math.max(0, since);
}

export class ReplicaSet {
  readonly replicas: Replica[];
  private readonly probes: pg.Pool[];
  private next = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly settings: ReplicaSettings,
    open: (url: string) => ReplicaConnections,
    private readonly primaryLsn: () => Promise<bigint>,
    describe: (url: string) => string,
    /** Checks run on connections of their own, so a saturated pool cannot make a replica look down. */
    openProbe: (url: string) => pg.Pool,
  ) {
    this.replicas = settings.urls.map((url) => ({ describe: describe(url), connections: open(url), healthy: false, replayed: 0n, lagMs: Infinity }));
    this.probes = settings.urls.map(openProbe);
  }

  /** Checks every replica once, then again every `checkMs`. */
  async start(): Promise<void> {
    await this.check();
    this.timer = setInterval(() => void this.check(), this.settings.checkMs);
    this.timer.unref();
  }

  /**
   * The next healthy replica (round robin) that has replayed at least `atLeast`, or
   * null: then the primary serves.
   */
  choose(atLeast: bigint | null = null): Replica | null {
    const n = this.replicas.length;
    for (let i = 0; i < n; i++) {
      const replica = this.replicas[(this.next + i) % n]!;
      if (replica.healthy && (atLeast === null || replica.replayed >= atLeast)) {
        this.next = (this.next + i + 1) % n;
        return replica;
      }
    }
    return null;
  }

  /** The primary's current WAL position: every commit made so far ends at or before it. */
  position(): Promise<bigint> {
    return this.primaryLsn();
  }

  /** Reads every replica's state now. */
  async check(): Promise<void> {
    let primary: bigint | null = null;
    try {
      primary = await this.primaryLsn();
    } catch {
      // Without the primary's position, lag is measured from replay timestamps alone.
    }
    await Promise.all(this.replicas.map((r, i) => this.checkOne(r, this.probes[i]!, primary)));
  }

  /** Checks `replica` now (after an error on it): true when it is still healthy. */
  async probe(replica: Replica): Promise<boolean> {
    await this.checkOne(replica, this.probes[this.replicas.indexOf(replica)]!, null);
    return replica.healthy;
  }

  private async checkOne(replica: Replica, probe: pg.Pool, primary: bigint | null): Promise<void> {
    let healthy = false;
    let reason = '';
    try {
      const [row] = (await probe.query<{ recovery: boolean; replayed: string | null; since: number | null }>(REPLICA_STATE)).rows;
      const replayed = row?.replayed ? parseLsn(row.replayed) : null;
      if (!row?.recovery || replayed === null) {
        reason = 'not a streaming replica (not in recovery)';
      } else {
        replica.replayed = replayed;
        replica.lagMs = replicaLagMs(replayed, row.since, primary);
        healthy = replica.lagMs <= this.settings.maxLagMs;
        const behind = Number.isFinite(replica.lagMs) ? `${Math.round(replica.lagMs)} ms behind` : 'behind, with no commit replayed since it started';
        if (!healthy) reason = `${behind} (REPLICA_MAX_LAG_MS ${this.settings.maxLagMs})`;
      }
    } catch (err) {
      reason = (err as Error).message;
      if (replica.healthy) logger.warn({ replica: replica.describe, ...errorFields(err) }, 'read replica unreachable');
    }
    if (healthy !== replica.healthy) {
      if (healthy) logger.info({ replica: replica.describe }, 'read replica serves reads');
      else logger.warn({ replica: replica.describe, reason }, 'read replica left out; its reads go to the primary');
    }
    replica.healthy = healthy;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.replicas.map((r) => r.connections.close()), ...this.probes.map((p) => p.end())]);
  }
}

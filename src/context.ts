import DataLoader from 'dataloader';
import type { YogaInitialContext } from 'graphql-yoga';
import { prisma } from './db.ts';
import { onPrimary } from './db/replicas.ts';
import { asSystem, scopeRequestTo } from './db/scope.ts';
import { forbidden, refusingRequest, tenantMismatch } from './errors.ts';
import type { MemberRole, MembershipState } from './generated/prisma/client.ts';

/**
 * How a viewer taken from memory is known to be still good: the statement that read
 * its credential's facts (user and membership, or API key), given placeholders for its
 * parameters, and what it answered then. A compiled read runs it inside its own
 * statement and answers only if it still answers the same (engine/run.ts).
 */
export interface CredentialCheck {
  facts(placeholder: (value: unknown, cast: string) => string): string;
  expected: Readonly<Record<string, unknown>>;
}

/** Who is calling, verified once per request. Read-only; anonymous is explicit. */
export type Viewer =
  | { readonly kind: 'anonymous' }
  | {
      readonly kind: 'user';
      readonly userId: string;
      readonly isSystemAdmin: boolean;
      /** Set when the token itself is bound to one organization. */
      readonly boundOrganizationId: string | null;
      /**
       * Memberships read with the credential in this request (null: not a member), by
       * organization, so authorization need not read them again.
       */
      readonly knownMemberships?: ReadonlyMap<string, { role: MemberRole; state: MembershipState } | null>;
      /** Set when knownMemberships holds every membership of the user (a request acting in no one organization read them all). */
      readonly allMemberships?: boolean;
      /** Set when the credential's facts came from memory, not read in this request: see confirmViewer. */
      readonly unconfirmed?: CredentialCheck;
    }
  | {
      readonly kind: 'apiKey';
      readonly apiKeyId: string;
      readonly organizationId: string;
      readonly role: MemberRole;
      readonly boundOrganizationId: string;
      readonly unconfirmed?: CredentialCheck;
    };

export const ANONYMOUS: Viewer = Object.freeze({ kind: 'anonymous' });

export type AccessLevel = 'read' | 'write' | 'admin';

/**
 * What each role may do inside its organization: read everything; write Identifiers
 * and Identities; administer (members, sources, API keys). PENDING and SUSPENDED
 * members hold no role at all.
 */
export const ROLE_LEVELS: Record<MemberRole, readonly AccessLevel[]> = {
  SYSTEM_ADMIN: ['read', 'write', 'admin'],
  ORGANIZATION_ADMIN: ['read', 'write', 'admin'],
  ANALYST: ['read', 'write'],
};

export interface Context {
  viewer: Viewer;
  /** The organization the request names in X-Organization-ID / X-Tenant-ID, if any. */
  requestedOrganizationId: string | null;
  requestId: string;
  access: Access;
  /** Reads the request's credential again, from the database (see confirmViewer). */
  authenticateAgain?: () => Promise<Viewer>;
  /** A per-request DataLoader registry: one loader per key, never shared between requests. */
  loader<K, V>(key: string, batch: DataLoader.BatchLoadFn<K, V>, options?: DataLoader.Options<K, V>): DataLoader<K, V>;
}

/**
 * What the viewer may do in each organization. Memberships are loaded in one batch
 * per request, whatever the number of organizations a query touches.
 *
 * A request acts in at most one organization when its credential is bound to one
 * (an API key, a token with an organization claim) or when it names one in
 * X-Organization-ID: everywhere else it holds no role, and naming another
 * organization explicitly is TENANT_MISMATCH.
 */
export class Access {
  /** The one organization this request may act in, or null when it is not narrowed to one. */
  readonly scopeOrganizationId: string | null;
  /** What narrowed the request: its credential, or its X-Organization-ID header. */
  private readonly scopedBy: 'credential' | 'header';
  private readonly memberships: DataLoader<string, { role: MemberRole; state: MembershipState } | null>;
  private active: Promise<Map<string, MemberRole> | 'all'> | undefined;

  constructor(
    readonly viewer: Viewer,
    requestedOrganizationId: string | null = null,
  ) {
    const bound = viewer.kind === 'anonymous' ? null : viewer.boundOrganizationId;
    this.scopeOrganizationId = bound ?? requestedOrganizationId;
    this.scopedBy = bound ? 'credential' : 'header';
    this.memberships = new DataLoader(async (organizationIds) => {
      if (viewer.kind !== 'user') return organizationIds.map(() => null);
      if (viewer.allMemberships) return organizationIds.map((id) => viewer.knownMemberships?.get(id) ?? null);
      // Roles decide what a request may do: read from the primary, never from a replica
      // behind, and for the server, as they decide the request's own scope.
      const rows = await onPrimary(() =>
        asSystem(() => prisma.member.findMany({
          where: { userId: viewer.userId, organizationId: { in: [...organizationIds] } },
          select: { organizationId: true, role: true, state: true },
        })),
      );
      const byOrg = new Map(rows.map((r) => [r.organizationId, r]));
      return organizationIds.map((id) => byOrg.get(id) ?? null);
    });
    if (viewer.kind === 'user') for (const [id, member] of viewer.knownMemberships ?? []) this.memberships.prime(id, member);
  }

  /** The role the viewer holds in an organization, or null when it holds none (or is not ACTIVE). */
  async roleIn(organizationId: string): Promise<MemberRole | null> {
    const v = this.viewer;
    if (v.kind === 'anonymous') return null;
    if (this.scopeOrganizationId && this.scopeOrganizationId !== organizationId) return null;
    if (v.kind === 'apiKey') return v.organizationId === organizationId ? v.role : null;
    if (v.isSystemAdmin) return 'SYSTEM_ADMIN';
    const member = await this.memberships.load(organizationId);
    return member && member.state === 'ACTIVE' ? member.role : null;
  }

  /** Active roles by organization (one query per request), or 'all' for a system admin. */
  private activeRoles(): Promise<Map<string, MemberRole> | 'all'> {
    this.active ??= (async () => {
      const v = this.viewer;
      const scope = this.scopeOrganizationId;
      if (v.kind === 'anonymous') return new Map();
      if (v.kind === 'apiKey') return new Map(scope === v.organizationId ? [[v.organizationId, v.role]] : []);
      if (v.isSystemAdmin) return scope ? new Map([[scope, 'SYSTEM_ADMIN' as const]]) : 'all';
      if (v.allMemberships) {
        const active = [...(v.knownMemberships ?? [])].filter(([id, m]) => m?.state === 'ACTIVE' && (!scope || id === scope));
        return new Map(active.map(([id, m]) => [id, m!.role]));
      }
      const known = scope ? v.knownMemberships?.get(scope) : undefined;
      if (known !== undefined) return new Map(known?.state === 'ACTIVE' ? [[scope!, known.role]] : []);
      const rows = await onPrimary(() =>
        asSystem(() => prisma.member.findMany({
          where: { userId: v.userId, state: 'ACTIVE', ...(scope ? { organizationId: scope } : {}) },
          select: { organizationId: true, role: true },
        })),
      );
      return new Map(rows.map((r) => [r.organizationId, r.role]));
    })();
    return this.active;
  }

  /**
   * Organizations where the viewer holds `level`: 'all' for a system admin (not
   * narrowed to one organization), otherwise a list. Read paths that are not scoped
   * by a parent (node lookups, root lists) filter by it.
   */
  async organizationIdsWith(level: AccessLevel): Promise<string[] | 'all'> {
    const roles = await this.activeRoles();
    if (roles === 'all') return 'all';
    return [...roles].filter(([, role]) => ROLE_LEVELS[role].includes(level)).map(([id]) => id);
  }

  /**
   * The organizations whose rows this request's statements may see at all (row-level
   * security, src/db/scope.ts): the one it is narrowed to; else every organization the
   * viewer belongs to in any state (a PENDING member sees their invitation), or 'all'
   * for a system admin. Finer rules (roles, states) stay with the services. The
   * memberships read here also answer roleIn and organizationIdsWith.
   */
  async rowScope(): Promise<string[] | 'all'> {
    const known = this.knownRowScope();
    if (known) return known;
    const v = this.viewer as Extract<Viewer, { kind: 'user' }>;
    const rows = await onPrimary(() =>
      asSystem(() => prisma.member.findMany({ where: { userId: v.userId }, select: { organizationId: true, role: true, state: true } })),
    );
    for (const r of rows) this.memberships.prime(r.organizationId, { role: r.role, state: r.state });
    this.active ??= Promise.resolve(new Map(rows.filter((r) => r.state === 'ACTIVE').map((r) => [r.organizationId, r.role])));
    return (this.memberOf = rows.map((r) => r.organizationId));
  }

  /** The organizations a user not narrowed to one belongs to in any state, once rowScope has read them. */
  private memberOf: string[] | undefined;

  /**
   * rowScope's answer when it is known without a statement (or was read already), else
   * undefined. No row this request reads is of another organization: the read engine
   * decides from it which organizations a row reached below the root may belong to.
   */
  knownRowScope(): string[] | 'all' | undefined {
    const v = this.viewer;
    if (v.kind === 'anonymous') return [];
    if (this.scopeOrganizationId) return [this.scopeOrganizationId];
    if (v.kind === 'apiKey') return [v.organizationId];
    if (v.isSystemAdmin) return 'all';
    if (v.allMemberships) return [...(v.knownMemberships?.keys() ?? [])];
    return this.memberOf;
  }

  /** Organizations whose data the viewer may read (see organizationIdsWith). */
  readableOrganizationIds(): Promise<string[] | 'all'> {
    return this.organizationIdsWith('read');
  }

  async can(organizationId: string, level: AccessLevel): Promise<boolean> {
    const role = await this.roleIn(organizationId);
    return role !== null && ROLE_LEVELS[role].includes(level);
  }

  /**
   * For operations that name an organization explicitly: a credential bound to
   * another organization, or a request whose X-Organization-ID names another one, is
   * TENANT_MISMATCH rather than a plain refusal.
   */
  assertTenant(organizationId: string): void {
    if (this.viewer.kind !== 'anonymous' && this.scopeOrganizationId && this.scopeOrganizationId !== organizationId) {
      throw tenantMismatch(this.scopedBy);
    }
  }

  /**
   * The organization an operation acts in: the one its arguments name (checked with
   * assertTenant), else the one the request is narrowed to, else null.
   */
  organizationFor(argumentOrganizationId: string | null | undefined): string | null {
    if (argumentOrganizationId) {
      this.assertTenant(argumentOrganizationId);
      return argumentOrganizationId;
    }
    return this.scopeOrganizationId;
  }
}

export interface ContextInput {
  viewer: Viewer;
  requestedOrganizationId: string | null;
  requestId: string;
  authenticateAgain?: () => Promise<Viewer>;
}

/**
 * A request that names its organization acts only there: a credential bound to another
 * one is TENANT_MISMATCH; a viewer who may not read it is FORBIDDEN, whether or not it
 * exists. Anonymous requests are refused by the schema.
 */
export async function admitRequest(ctx: Context): Promise<void> {
  const organizationId = ctx.requestedOrganizationId;
  if (organizationId && ctx.viewer.kind !== 'anonymous') {
    ctx.access.assertTenant(organizationId);
    if (!(await ctx.access.can(organizationId, 'read'))) throw forbidden();
  }
}

/** Scopes the request's statements to the organizations its viewer may see (row-level security, src/db/scope.ts). */
export async function scopeRequest(ctx: Context): Promise<void> {
  const rows = await ctx.access.rowScope();
  scopeRequestTo(rows === 'all' ? '*' : rows);
}

/**
 * Makes the request's viewer one read in this request. A viewer whose credential came
 * from memory may answer a compiled read, which checks the credential in its own
 * statement; anything else (resolvers, mutations, subscriptions) first reads the
 * credential again, and the request is admitted again on what it finds.
 */
export async function confirmViewer(ctx: Context): Promise<void> {
  if (ctx.viewer.kind === 'anonymous' || !ctx.viewer.unconfirmed) return;
  const viewer = await asSystem(() => ctx.authenticateAgain!());
  ctx.viewer = viewer;
  ctx.access = new Access(viewer, ctx.requestedOrganizationId);
  // The request's statements were scoped by the remembered memberships (a request acting
  // in no one organization sees those of every one): scoped again by those read now.
  await scopeRequest(ctx);
  await admitRequest(ctx).catch((error: unknown) => {
    throw refusingRequest(error);
  });
}

export function createContext({ viewer, requestedOrganizationId, requestId, authenticateAgain }: ContextInput): Context {
  const loaders = new Map<string, DataLoader<unknown, unknown>>();
  return {
    viewer,
    requestedOrganizationId,
    requestId,
    ...(authenticateAgain && { authenticateAgain }),
    access: new Access(viewer, requestedOrganizationId),
    loader<K, V>(key: string, batch: DataLoader.BatchLoadFn<K, V>, options?: DataLoader.Options<K, V>) {
      let l = loaders.get(key) as DataLoader<K, V> | undefined;
      if (!l) {
        l = new DataLoader(batch, options);
        loaders.set(key, l as DataLoader<unknown, unknown>);
      }
      return l;
    },
  };
}

export type GraphQLContext = Context & YogaInitialContext;

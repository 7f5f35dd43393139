import DataLoader from 'dataloader';
import type { YogaInitialContext } from 'graphql-yoga';
import { prisma } from './db.ts';
import { tenantMismatch } from './errors.ts';
import type { MemberRole } from './generated/prisma/client.ts';

/** Who is calling, verified once per request. Read-only; anonymous is explicit. */
export type Viewer =
  | { readonly kind: 'anonymous' }
  | {
      readonly kind: 'user';
      readonly userId: string;
      readonly isSystemAdmin: boolean;
      /** Set when the token itself is bound to one organization. */
      readonly boundOrganizationId: string | null;
    }
  | {
      readonly kind: 'apiKey';
      readonly apiKeyId: string;
      readonly organizationId: string;
      readonly role: MemberRole;
      readonly boundOrganizationId: string;
    };

export const ANONYMOUS: Viewer = Object.freeze({ kind: 'anonymous' });

export type AccessLevel = 'read' | 'write' | 'admin';

const ROLE_LEVELS: Record<MemberRole, AccessLevel[]> = {
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
  /** A per-request DataLoader registry: one loader per key, never shared between requests. */
  loader<K, V>(key: string, batch: DataLoader.BatchLoadFn<K, V>, options?: DataLoader.Options<K, V>): DataLoader<K, V>;
}

/**
 * What the viewer may do in each organization. Memberships are loaded in one batch
 * per request, whatever the number of organizations a query touches.
 */
export class Access {
  private readonly memberships: DataLoader<string, { role: MemberRole; state: string } | null>;

  constructor(readonly viewer: Viewer) {
    this.memberships = new DataLoader(async (organizationIds) => {
      if (viewer.kind !== 'user') return organizationIds.map(() => null);
      const rows = await prisma.member.findMany({
        where: { userId: viewer.userId, organizationId: { in: [...organizationIds] } },
        select: { organizationId: true, role: true, state: true },
      });
      const byOrg = new Map(rows.map((r) => [r.organizationId, r]));
      return organizationIds.map((id) => byOrg.get(id) ?? null);
    });
  }

  /** The role the viewer holds in an organization, or null when it holds none (or is not ACTIVE). */
  async roleIn(organizationId: string): Promise<MemberRole | null> {
    const v = this.viewer;
    if (v.kind === 'anonymous') return null;
    if (v.kind === 'apiKey') return v.organizationId === organizationId ? v.role : null;
    if (v.boundOrganizationId && v.boundOrganizationId !== organizationId) return null;
    if (v.isSystemAdmin) return 'SYSTEM_ADMIN';
    const member = await this.memberships.load(organizationId);
    return member && member.state === 'ACTIVE' ? member.role : null;
  }

  private readable: Promise<string[] | 'all'> | undefined;

  /**
   * Organizations whose data the viewer may read: 'all' for a system admin, otherwise
   * a list (one query per request). Read paths that are not scoped by a parent
   * (node lookups, root lists) filter by it.
   */
  readableOrganizationIds(): Promise<string[] | 'all'> {
    this.readable ??= (async () => {
      const v = this.viewer;
      if (v.kind === 'anonymous') return [];
      if (v.kind === 'apiKey') return [v.organizationId];
      if (v.isSystemAdmin) return v.boundOrganizationId ? [v.boundOrganizationId] : 'all';
      const rows = await prisma.member.findMany({
        where: {
          userId: v.userId,
          state: 'ACTIVE',
          ...(v.boundOrganizationId ? { organizationId: v.boundOrganizationId } : {}),
        },
        select: { organizationId: true },
      });
      return rows.map((r) => r.organizationId);
    })();
    return this.readable;
  }

  async can(organizationId: string, level: AccessLevel): Promise<boolean> {
    const role = await this.roleIn(organizationId);
    return role !== null && ROLE_LEVELS[role].includes(level);
  }

  /**
   * For operations that name an organization explicitly: a credential bound to
   * another organization is TENANT_MISMATCH rather than a plain refusal.
   */
  assertTenant(organizationId: string): void {
    const v = this.viewer;
    if (v.kind !== 'anonymous' && v.boundOrganizationId && v.boundOrganizationId !== organizationId) {
      throw tenantMismatch();
    }
  }
}

export interface ContextInput {
  viewer: Viewer;
  requestedOrganizationId: string | null;
  requestId: string;
}

export function createContext({ viewer, requestedOrganizationId, requestId }: ContextInput): Context {
  const loaders = new Map<string, DataLoader<unknown, unknown>>();
  return {
    viewer,
    requestedOrganizationId,
    requestId,
    access: new Access(viewer),
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

import type { Context } from '../../context.ts';

// Rules of the read paths, each written once: the general path hands them to Prisma,
// the read engine (shared/engine) renders the same objects in SQL (engine/where.ts).

/** Page sizes of every connection: the default, and the most one page may hold. */
export const PAGE = { default: 20, max: 100 } as const;

/** The stable order of lists of rows: oldest first, ties broken by id. */
export const OLDEST_FIRST = [{ createdAt: 'asc' as const }, { id: 'asc' as const }];

/** The organizations `readable` lists ('all': any): the rule of the `organizations` list, in its resolver and compiled. */
export const readableOrganizationsRule = (readable: string[] | 'all') => (readable === 'all' ? {} : { id: { in: readable } });

/** Rows (any model with organizationId) of the organizations `readable` lists ('all': any). */
export const readableWhere = (readable: string[] | 'all') => (readable === 'all' ? {} : { organizationId: { in: readable } });

/** Rows only an organization's admins see (API keys, webhook endpoints and deliveries): those of the organizations `administered` lists. */
export const administeredWhere = (administered: string[] | 'all') => readableWhere(administered);

/**
 * Users the viewer may see, given the organizations they may read: themself, and the
 * members of every organization they may read (everyone, for a system admin).
 */
export function visibleUsersWhere(viewerUserId: string | null, readable: string[] | 'all') {
  if (readable === 'all') return {};
  const self = viewerUserId ? [{ id: viewerUserId }] : [];
  return { OR: [...self, { memberships: { some: { organizationId: { in: readable } } } }] };
}

/**
 * Users whose sign-in subject (`authSubject`) the viewer may read, given the
 * organizations it administers: themself, and the members (in any state) of those
 * organizations (everyone, for a system admin acting nowhere in particular). It is the
 * visible-users rule over the administered organizations instead of the readable ones.
 */
export const authSubjectReadersWhere = (viewerUserId: string | null, administered: string[] | 'all') => visibleUsersWhere(viewerUserId, administered);

/** visibleUsersWhere for a request's viewer, as the read engine takes a rule: users named by id in other rows are read by it too (shared/pointed.ts). */
export const visibleUserRule = (ctx: Context, readable: string[] | 'all') =>
  visibleUsersWhere(ctx.access.viewer.kind === 'user' ? ctx.access.viewer.userId : null, readable);

/**
 * Memberships the viewer may see: those in organizations they may read, and their own
 * (`own`: tenant.ts, ownMembershipsWhere) in any state.
 */
export function visibleMembershipsWhere(own: object | null, readable: string[] | 'all') {
  if (readable === 'all') return {};
  return { OR: [...(own ? [own] : []), readableWhere(readable)] };
}

/**
 * What a text search keeps: rows whose `field` contains the text in any case, LIKE's
 * wildcards (`%`, `_`) and its escape (a backslash) matched as themselves. Every `search` applies it.
 */
export const containsTextWhere = <F extends string>(field: F, text: string) =>
  ({ [field]: { contains: text.replace(/[\\%_]/g, '\\$&'), mode: 'insensitive' as const } }) as Record<F, { contains: string; mode: 'insensitive' }>;

/** What a score missing from an identifier or a suggestion counts as: certain. No score means nobody scored it down. */
export const UNSCORED = 1;

/** Whether a score (null: unscored, counted as UNSCORED) meets a minimum (null: none); every minConfidence applies this. */
export const meetsMinimum = (score: number | null | undefined, min: number | null | undefined) => min == null || (score ?? UNSCORED) >= min;

/**
 * The same rule as a Prisma filter on the score field `field`, for lists that filter in
 * the database (the read engine renders the same object, engine/where.ts).
 */
export const meetsMinimumWhere = (field: string, min: number | null | undefined) =>
  min == null ? {} : { OR: [{ [field]: { gte: min } }, { [field]: null }] };

/** A term of a ranking: a field, its direction, and what a null counts as (a null with none is not ranked). */
export interface RankTerm<F extends string = string> {
  field: F;
  descending: boolean;
  nullAs?: number;
}

/**
 * How matches of a lookup rank, best first: a higher confidence (unscored counts as
 * certain), then the newest, then by id. The general path sorts by rankMatches; the
 * read engine renders the same terms in SQL (engine/where.ts, rankSql).
 */
export const MATCH_RANK: RankTerm<'confidenceScore' | 'updatedAt' | 'id'>[] = [
  { field: 'confidenceScore', descending: true, nullAs: UNSCORED },
  { field: 'updatedAt', descending: true },
  { field: 'id', descending: false },
];

type Ranked = { confidenceScore: number | null; updatedAt: Date; id: string };

/** MATCH_RANK as a comparator. Ids compare as text: lower-case UUIDs order as PostgreSQL orders uuids. */
export function rankMatches(a: Ranked, b: Ranked): number {
  for (const t of MATCH_RANK) {
    const value = (r: Ranked) => {
      const v = r[t.field] ?? t.nullAs!;
      return v instanceof Date ? v.getTime() : v;
    };
    const [x, y] = [value(a), value(b)];
    const c = x < y ? -1 : x > y ? 1 : 0;
    if (c) return t.descending ? -c : c;
  }
  return 0;
}

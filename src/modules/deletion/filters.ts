import type { Prisma } from '../../generated/prisma/client.ts';
import { containsTextWhere } from '../shared/rules.ts';
import type { DeletedKind } from './store.ts';

// What a DeletedItemFilter selects, as a Prisma condition: the rules of the list of
// deleted objects, kept out of the resolvers that page through it.

export type Filter = { entityType?: DeletedKind | null; deletedAfter?: Date | null; deletedBefore?: Date | null; search?: string | null };

/** The organization's deleted objects a filter lets through; every field given must match. */
export const deletedItemsWhere = (organizationId: string, f: Filter | null | undefined): Prisma.DeletedItemWhereInput => ({
  organizationId,
  ...(f?.entityType && { entityType: f.entityType }),
  ...((f?.deletedAfter || f?.deletedBefore) && {
    deletedAt: { ...(f.deletedAfter && { gte: f.deletedAfter }), ...(f.deletedBefore && { lt: f.deletedBefore }) },
  }),
  ...(f?.search && {
    OR: [containsTextWhere('label', f.search), containsTextWhere('reason', f.search)],
  }),
});

import type { Context } from '../../context.ts';
import { prisma } from '../../db.ts';
import type { Identity, User } from '../../generated/prisma/client.ts';
import { pointedRow, type FieldSql } from './engine/index.ts';
import { readableWhere, visibleUserRule } from './rules.ts';

// Rows one row names by id (an identifier's or identity's user, an audit event's actor,
// a suggestion's parties) are read under the rule `node(id)` reads them by, not the rule
// of the row that names them: a user named by a row of an organization may have left it,
// and a suggestion's parties are ids without a foreign key. Each rule is written once
// here, for the general path (a per-request loader) and the read engine (pointedRow).

/** Tenant rows of organizations the viewer may read, as the read engine takes a rule. */
export const readableRowRule = (_ctx: Context, readable: string[] | 'all') => readableWhere(readable);

/**
 * One query per request, kind of row and selection for every id asked, under `rule`;
 * null for an id the rule hides. `query` is what the operation selects of the rows (a
 * Prisma include or select), loaded in the same statement.
 */
function loadUnder<T extends { id: string }>(
  ctx: Context,
  key: string,
  rule: (ctx: Context, readable: string[] | 'all') => object,
  find: (args: { where: object }) => Promise<T[]>,
  id: string,
  query: object,
): Promise<T | null> {
  return ctx
    .loader<string, T | null>(`pointed:${key}:${JSON.stringify(query)}`, async (ids) => {
      const rows = await find({ ...query, where: { id: { in: [...ids] }, ...rule(ctx, await ctx.access.readableOrganizationIds()) } });
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((i) => byId.get(i) ?? null);
    })
    .load(id);
}

/** The user with this id when the viewer may see it, else null. */
export const loadVisibleUser = (ctx: Context, id: string, query: object = {}) =>
  loadUnder<User>(ctx, 'User', visibleUserRule, (args) => prisma.user.findMany(args) as Promise<User[]>, id, query);

/** The identity with this id when the viewer may read its organization, else null. */
export const loadReadableIdentity = (ctx: Context, id: string) =>
  loadUnder<Identity>(ctx, 'Identity', readableRowRule, (args) => prisma.identity.findMany(args), id, {});

/** The compiled form of a field whose value is the user its row's `column` names, under the same rule. */
export const visibleUserSql = (column: string): FieldSql => pointedRow('User', column, visibleUserRule);

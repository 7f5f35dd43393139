import type { Context } from '../../context.ts';
import type { RowsWhere } from './engine/index.ts';
import { administeredWhere, readableWhere } from './rules.ts';

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isUuid = (value: string) => UUID_RE.test(value);

/** The UUID no row has: a filter on it matches nothing. */
export const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/**
 * The unique-lookup filter for an id that is not a UUID: it matches no row and never
 * reaches the database as a malformed value.
 */
export const NO_ROW = { id: NIL_UUID, AND: [{ id: { in: [] as string[] } }] };

/**
 * The unique-lookup filter for a tenant row found by a global id: it matches only
 * when the viewer may read the row's organization, so another tenant's id answers
 * exactly like an id that does not exist.
 */
export async function tenantRowWhere(id: string, ctx: Context) {
  if (!isUuid(id)) return NO_ROW;
  return { id, ...readableWhere(await ctx.access.readableOrganizationIds()) };
}

/**
 * The unique-lookup filter for a tenant row only an organization's admins see (API
 * keys, webhook endpoints): for anyone else it answers exactly like an id that does
 * not exist.
 */
export async function administeredRowWhere(id: string, ctx: Context) {
  if (!isUuid(id)) return NO_ROW;
  return { id, ...administeredWhere(await ctx.access.organizationIdsWith('admin')) };
}

/**
 * The unique-lookup filter for a row found by a global id under `visible`: the rule the
 * read engine finds node(id)'s row by (compiledNode), so both paths apply one rule.
 */
export async function nodeRowWhere(id: string, ctx: Context, visible: RowsWhere) {
  if (!isUuid(id)) return NO_ROW;
  const [readable, administered] = await Promise.all([ctx.access.readableOrganizationIds(), ctx.access.organizationIdsWith('admin')]);
  return { id, AND: [visible(ctx, readable, administered)] };
}

import { builder } from '../../builder.ts';
import type { Context } from '../../context.ts';
import { prisma } from '../../db.ts';
import { IdentifierRef } from '../identifier/schema.ts';
import { IdentityRef } from '../identity/schema.ts';
import { MemberRef } from '../member/schema.ts';
import { OrganizationRef } from '../organization/schema.ts';
import { prebuiltUsers, rootPlanners } from '../shared/engine/index.ts';
import { parseGlobalId } from '../shared/validate.ts';
import { UserRef } from '../user/schema.ts';
import { usersLeadingFrom } from '../user/service.ts';

// Entities of the subgraph, keyed by `id` (the global id every client already has).
// A gateway's `_entities` call resolves all representations of one type with one
// query through a per-request DataLoader, under the same visibility rules as
// `node(id)`: a representation of another tenant's object resolves to null.

type Readable = string[] | 'all';
/** The visible rows among `ids`, or a map from requested id to row (when an id leads to another row). */
type LoadMany<T> = (ids: string[], readable: Readable, ctx: Context) => Promise<(T & { id: string })[] | Map<string, T>>;

/** Declares `ref` an entity keyed by `id`; `loadMany` returns the visible rows among `ids`. */
export function federatedEntity<T>(ref: Parameters<typeof builder.asEntity>[0], typename: string, loadMany: LoadMany<T>) {
  builder.asEntity(ref as never, {
    key: builder.selection<{ id: string }>('id'),
    resolveReference: async ({ id }: { id: string }, ctx: Context) => {
      const uuid = parseGlobalId(id, typename);
      if (uuid === null) return null;
      const loader = ctx.loader<string, T | null>(`entity:${typename}`, async (keys) => {
        const readable = await ctx.access.readableOrganizationIds();
        const rows = await loadMany([...keys], readable, ctx);
        const byId = rows instanceof Map ? rows : new Map(rows.map((r) => [r.id, r]));
        return keys.map((k) => byId.get(k) ?? null);
      });
      return loader.load(uuid);
    },
  } as never);
}

federatedEntity(OrganizationRef, 'Organization', (ids, readable) =>
  prisma.organization.findMany({
    where: { id: { in: readable === 'all' ? ids : ids.filter((id) => readable.includes(id)) } },
  }),
);

// A merged user's reference resolves to the user it was merged into; only a miss costs more.
federatedEntity(UserRef, 'User', (ids, _readable, ctx) => usersLeadingFrom(ctx.access, ids));

// A gateway's `_entities` call for users only (the common one) is answered by one
// statement (plugins/planned-operations.ts) when every user is visible; anything else
// (other types, misses, merged users) takes the general path.
rootPlanners.set('_entities', async (ctx, info, args) => {
  const ids: string[] = [];
  for (const representation of (args.representations ?? []) as { __typename?: unknown; id?: unknown }[]) {
    if (representation?.__typename !== 'User' || typeof representation.id !== 'string') return undefined;
    const id = parseGlobalId(representation.id, 'User');
    if (id === null) return undefined;
    ids.push(id);
  }
  return ids.length ? prebuiltUsers(ctx, info, ids) : undefined;
});

/** Tenant rows: visible when their organization is readable. */
const inReadable = (readable: Readable) => (readable === 'all' ? {} : { organizationId: { in: readable } });

federatedEntity(MemberRef, 'Member', (ids, readable) => prisma.member.findMany({ where: { id: { in: ids }, ...inReadable(readable) } }));
federatedEntity(IdentifierRef, 'Identifier', (ids, readable) =>
  prisma.identifier.findMany({ where: { id: { in: ids }, ...inReadable(readable) } }),
);
federatedEntity(IdentityRef, 'Identity', (ids, readable) => prisma.identity.findMany({ where: { id: { in: ids }, ...inReadable(readable) } }));

import SchemaBuilder from '@pothos/core';
import DirectivesPlugin from '@pothos/plugin-directives';
import ErrorsPlugin from '@pothos/plugin-errors';
import FederationPlugin from '@pothos/plugin-federation';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import SimpleObjectsPlugin from '@pothos/plugin-simple-objects';
import { DateTimeResolver, JSONObjectResolver, JSONResolver } from 'graphql-scalars';
import type { Context } from './context.ts';
import { prisma } from './db.ts';
import { batchedLookups } from './db/batched-lookups.ts';
import { ApiError, ErrorCode, forbidden, unauthenticated } from './errors.ts';
import type PrismaTypes from './generated/pothos-types.ts';
import { getDatamodel } from './generated/pothos-types.ts';
import { PAGE } from './modules/shared/rules.ts';

// The one place plugins, scalars and builder options live; types are defined in
// src/modules/*. Plugin order matters:
// - relay first, so scope-auth receives parsed global ids in `authScopes` of nodes;
// - scope-auth before the plugins that wrap resolvers, so nothing runs before the
//   authorization check;
// - prisma plans relation loading;
// - errors turns expected failures (DomainError subclasses) into typed result members;
// - simple-objects for plain output shapes that are not database rows;
// - directives then federation last, after every plugin that wraps resolvers: they add
//   the subgraph's @key directives and `_entities` resolution (src/modules/federation).
/**
 * Where the ids of a type that load nothing lead instead, by type name: a module whose
 * rows can be replaced (a merged user by its survivor) registers its redirect with
 * redirectNodes, so `node` and `nodes` follow it without this file knowing the domain.
 */
const redirects = new Map<string, (ids: string[]) => Promise<Map<string, string>>>();

export function redirectNodes(typename: string, redirect: (ids: string[]) => Promise<Map<string, string>>): void {
  redirects.set(typename, redirect);
}

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  DefaultFieldNullability: false;
  DefaultInputFieldRequiredness: true;
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
    JSON: { Input: unknown; Output: unknown };
    JSONObject: { Input: Record<string, unknown>; Output: Record<string, unknown> };
    ID: { Input: string; Output: string };
  };
  AuthScopes: {
    /** Any verified credential. */
    authenticated: boolean;
    /** A user with isSystemAdmin. */
    systemAdmin: boolean;
    /** May read everything of the organization with this id. */
    orgRead: string;
    /** May write identifiers and identities of the organization with this id. */
    orgWrite: string;
    /** May administer the organization with this id. */
    orgAdmin: string;
  };
}>({
  plugins: [RelayPlugin, ScopeAuthPlugin, PrismaPlugin, ErrorsPlugin, SimpleObjectsPlugin, DirectivesPlugin, FederationPlugin],
  defaultFieldNullability: false,
  defaultInputFieldRequiredness: true,
  scopeAuth: {
    authorizeOnSubscribe: true,
    authScopes: (ctx) => ({
      authenticated: ctx.viewer.kind !== 'anonymous',
      systemAdmin: ctx.viewer.kind === 'user' && ctx.viewer.isSystemAdmin,
      // A credential bound to another organization than the one named is told so
      // (TENANT_MISMATCH) instead of being refused like a non-member.
      orgRead: (organizationId) => (ctx.access.assertTenant(organizationId), ctx.access.can(organizationId, 'read')),
      orgWrite: (organizationId) => (ctx.access.assertTenant(organizationId), ctx.access.can(organizationId, 'write')),
      orgAdmin: (organizationId) => (ctx.access.assertTenant(organizationId), ctx.access.can(organizationId, 'admin')),
    }),
    // Anonymous callers are told to authenticate; everyone else is refused. Errors
    // thrown by a scope (TENANT_MISMATCH) pass through unchanged.
    unauthorizedError: (_parent, ctx) =>
      ctx.viewer.kind === 'anonymous' ? unauthenticated() : forbidden(),
  },
  prisma: {
    // Per request, so that lookups by id of one request are batched (src/db/batched-lookups.ts).
    client: () => batchedLookups(prisma),
    dmmf: getDatamodel(),
    exposeDescriptions: false,
    filterConnectionTotalCount: true,
    // Page sizes are a rule the read engine applies too (modules/shared/rules.ts).
    defaultConnectionSize: PAGE.default,
    maxConnectionSize: PAGE.max,
    onUnusedQuery: process.env.NODE_ENV === 'production' ? null : 'warn',
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    idFieldOptions: { description: 'Global id: opaque, stable, accepted by `node(id)`.' },
    nodeTypeOptions: { description: 'An object with a global id that `node(id)` can fetch again.' },
    nodeQueryOptions: {
      description:
        'Fetches any object by its global id; null when it does not exist or is not visible to you. The id of a merged user leads to the user it was merged into.',
      args: { id: { description: 'A global id, as returned in any `id` field.' } },
      // The plugin's callback loads `args.id` whatever it is given, so a tombstone's id
      // is swapped for its survivor's before the second load. Only a miss costs more.
      resolve: async (_root, args, _ctx, _info, resolveNode) => {
        const found = await resolveNode(args.id);
        const redirect = redirects.get(args.id.typename);
        if (found || !redirect) return found;
        const survivor = (await redirect([args.id.id])).get(args.id.id);
        if (!survivor) return null;
        args.id = { typename: args.id.typename, id: survivor };
        return resolveNode(args.id);
      },
    },
    nodesQueryOptions: {
      description:
        'Fetches objects by global ids, in order; null for each that does not exist or is not visible to you. Ids of merged users lead to the users they were merged into.',
      args: { ids: { description: 'Global ids, as returned in `id` fields.' } },
      resolve: async (_root, args, _ctx, _info, resolveNodes) => {
        const all = args.ids;
        const found = await resolveNodes(all);
        const missing = all.flatMap((id, i) => (found[i] == null && redirects.has(id.typename) ? [i] : []));
        if (!missing.length) return found;
        const survivors = new Map<number, string>();
        for (const [typename, redirect] of redirects) {
          const ofType = missing.filter((i) => all[i]!.typename === typename);
          if (!ofType.length) continue;
          const led = await redirect(ofType.map((i) => all[i]!.id));
          for (const i of ofType) if (led.has(all[i]!.id)) survivors.set(i, led.get(all[i]!.id)!);
        }
        const retry = missing.filter((i) => survivors.has(i));
        if (!retry.length) return found;
        args.ids = retry.map((i) => ({ typename: all[i]!.typename, id: survivors.get(i)! }));
        const again = await resolveNodes(args.ids);
        args.ids = all;
        const out = [...found];
        retry.forEach((i, k) => (out[i] = again[k]));
        return out;
      },
    },
    // Connections (Relay cursor pagination) share these descriptions.
    pageInfoTypeOptions: { description: 'Where a page sits in the whole list, for fetching the next or previous one.' },
    pageInfoFieldOptions: { description: 'How to fetch the next or previous page.' },
    hasNextPageFieldOptions: { description: 'Whether more items follow this page.' },
    hasPreviousPageFieldOptions: { description: 'Whether items precede this page.' },
    startCursorFieldOptions: { description: 'Cursor of the first item of the page; pass it as `before` for the previous page.' },
    endCursorFieldOptions: { description: 'Cursor of the last item of the page; pass it as `after` for the next page.' },
    edgesFieldOptions: { description: 'The items of the page, each with its cursor.' },
    nodeFieldOptions: { description: 'The item.' },
    cursorFieldOptions: { description: 'Opaque position of the item; pass it as `after` or `before`.' },
    firstArgOptions: { description: 'Return at most this many items from the start (after `after`); at most 100, default 20.' },
    afterArgOptions: { description: 'Return items after this cursor.' },
    lastArgOptions: { description: 'Return at most this many items from the end (before `before`); at most 100.' },
    beforeArgOptions: { description: 'Return items before this cursor.' },
  },
  errors: {
    defaultTypes: [],
  },
});

builder.addScalarType('DateTime', DateTimeResolver, {
  description: 'An instant in time, as an ISO-8601 string with a time zone (RFC 3339).',
});
builder.addScalarType('JSON', JSONResolver, { description: 'Any JSON value.' });
builder.addScalarType('JSONObject', JSONObjectResolver, { description: 'A JSON object.' });

builder.queryType({ description: 'The root of every read.' });
builder.mutationType({ description: 'The root of every write.' });

export { ApiError, ErrorCode };

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
    // node and nodes are defined by modules/shared/node.ts, with `asOf`.
    nodeQueryOptions: false,
    nodesQueryOptions: false,
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

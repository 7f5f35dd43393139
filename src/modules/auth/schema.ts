import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../../builder.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../errors.ts';
import type { ApiKey } from '../../generated/prisma/client.ts';
import { totalCountField } from '../shared/connections.ts';
import { columnValue, compiledConnection, compiledField, compiledNode, model, seenWithin } from '../shared/engine/index.ts';
import { mutationResult } from '../shared/errors.ts';
import { administeredWhere } from '../shared/rules.ts';
import { scopesForOrganization } from '../shared/tenant.ts';
import { administeredRowWhere } from '../shared/visibility.ts';
import { createApiKey, deleteApiKey, revokeApiKey, type ApiKeyRole } from './api-keys.ts';

export const ApiKeyRoleEnum = builder.enumType('ApiKeyRole', {
  description: 'What an API key may do in its organization (the member roles a machine client may hold).',
  values: {
    ORGANIZATION_ADMIN: { description: 'Everything inside the organization: members, sources, keys, identities, identifiers.' },
    ANALYST: { description: 'Reads the organization; writes identifiers and identities.' },
  } satisfies Record<ApiKeyRole, unknown>,
});

export const ApiKeyRef = builder.prismaNode('ApiKey', {
  description:
    "A credential for a machine client (an MCP tool, a discovery job), bound to one organization with a role. Only the organization's admins see keys; the secret itself is shown once, when the key is created.",
  id: { field: 'id' },
  nullable: true,
  // Null for anyone who does not administer the key's organization, exactly as for
  // an id that does not exist.
  findUnique: (id, ctx) => administeredRowWhere(id, ctx),
  fields: (t) => ({
    name: t.exposeString('name', { description: 'What the key is for.' }),
    role: t.field({
      type: ApiKeyRoleEnum,
      description: 'What the key may do in its organization.',
      resolve: (key) => key.role as ApiKeyRole,
    }),
    prefix: t.exposeString('prefix', {
      description: 'The first characters of the key (`igk_` and 8 more), to tell keys apart.',
    }),
    active: t.boolean({ description: 'Whether the key still authenticates (it is not revoked).', resolve: (key) => key.revokedAt === null }),
    lastUsedAt: t.expose('lastUsedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the key last authenticated a request (to the minute); null if never.',
    }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true, description: 'When the key was revoked; null while active.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the key was created.' }),
    organization: t.relation('organization', { description: 'The organization the key is bound to.' }),
  }),
});

// node(id) is compiled under the rule of findUnique above, and so are the key's fields
// (the secret's hash is no field); role and active are computed from their columns.
compiledNode('ApiKey', (_ctx, _readable, administered) => administeredWhere(administered));
// Only its organization's admins see a key, on every path: so is its organization.
seenWithin('ApiKey', 'admin');
compiledField('ApiKey', 'role', (_b, alias) => columnValue(model('ApiKey'), alias, 'role'));
compiledField('ApiKey', 'active', (_b, alias) => `(${alias}.${model('ApiKey').fields.get('revokedAt')!.column} IS NULL)`);

// The same query is given to Pothos and to the read engine, which compiles the
// connection only for a viewer who administers the organization (its auth scopes).
const apiKeysQuery = (args: { includeRevoked?: boolean | null }) => ({
  where: args.includeRevoked ? {} : { revokedAt: null },
  orderBy: [{ createdAt: 'asc' as const }, { id: 'asc' as const }],
});
compiledConnection('Organization', 'apiKeys', apiKeysQuery);

builder.prismaObjectField('Organization', 'apiKeys', (t) =>
  t.relatedConnection(
    'apiKeys',
    {
      description:
        "The organization's API keys, oldest first; revoked ones only with `includeRevoked`. Null, with FORBIDDEN, unless you administer the organization.",
      cursor: 'id',
      nullable: true,
      totalCount: true,
      authScopes: (organization) => ({ orgAdmin: organization.id }),
      args: {
        includeRevoked: t.arg.boolean({
          required: false,
          defaultValue: false,
          description: 'Also list revoked keys.',
        }),
      },
      query: apiKeysQuery,
    },
    { description: 'A page of API keys.', fields: totalCountField },
    { description: 'An API key in a page.' },
  ),
);

const CreateApiKeyInput = builder.inputType('CreateApiKeyInput', {
  description: 'A new API key.',
  fields: (t) => ({
    organizationId: t.id({
      required: false,
      description: 'The organization: its global id (or UUID). Defaults to the one X-Organization-ID names.',
    }),
    name: t.string({ description: 'What the key is for, e.g. `discovery job`; up to 200 characters.' }),
    role: t.field({
      type: ApiKeyRoleEnum,
      required: false,
      defaultValue: 'ANALYST',
      description: 'What the key may do; ANALYST unless given.',
    }),
  }),
});

const DeleteApiKeyInput = builder.inputType('DeleteApiKeyInput', {
  description: 'The API key to delete.',
  fields: (t) => ({
    id: t.id({ description: 'The key: its global id (or UUID).' }),
    reason: t.string({ required: false, description: 'Why it is deleted, up to 1000 characters; shown in deletedItems.' }),
  }),
});

const RevokeApiKeyInput = builder.inputType('RevokeApiKeyInput', {
  description: 'The API key to revoke.',
  fields: (t) => ({
    id: t.id({ description: 'The key: its global id (or UUID).' }),
  }),
});

const CreatedApiKeyRef = builder.objectRef<{ apiKey: ApiKey; secret: string }>('CreateApiKeySuccess').implement({
  description: 'The key was created. Its secret is in this answer and nowhere else: store it now.',
  fields: (t) => ({
    apiKey: t.field({ type: ApiKeyRef, description: 'The key, as it is listed from now on.', resolve: (r) => r.apiKey }),
    secret: t.exposeString('secret', {
      description:
        'The whole key, shown this once (only its hash is stored). Send it as `X-API-Key: <secret>` or `Authorization: Bearer <secret>`.',
    }),
  }),
});

builder.mutationFields((t) => ({
  createApiKey: t.field({
    type: CreatedApiKeyRef,
    description: 'Creates an API key for an organization you administer, and returns its secret once.',
    // An id that does not parse, or no organization at all, is left to the service,
    // which answers BAD_USER_INPUT naming the field.
    authScopes: (_root, { input }, ctx) => scopesForOrganization('orgAdmin', input.organizationId, ctx.access),
    args: { input: t.arg({ type: CreateApiKeyInput, description: 'The key to create.' }) },
    errors: {
      types: [ValidationError, ConflictError, NotFoundError],
      directResult: true,
      union: { name: 'CreateApiKeyResult', description: 'The outcome of creating an API key.' },
    },
    resolve: (_root, { input }, ctx) => createApiKey(ctx.access, { ...input, role: input.role ?? 'ANALYST' }),
  }),
  revokeApiKey: t.field({
    type: ApiKeyRef,
    description:
      'Revokes an API key of an organization you administer: it stops authenticating at once. Revoking a revoked key changes nothing.',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: RevokeApiKeyInput, description: 'The key to revoke.' }) },
    errors: mutationResult('RevokeApiKey', 'apiKey', 'revoking an API key'),
    resolve: (_root, { input }, ctx) => revokeApiKey(ctx.access, input),
  }),
  deleteApiKey: t.field({
    type: 'ID',
    description:
      "Deletes an API key of an organization you administer: it stops authenticating at once and leaves the list of keys. restoreApiKey brings it back, its secret working again, until the organization's retention runs out.",
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: DeleteApiKeyInput, description: 'The key to delete.' }) },
    errors: mutationResult('DeleteApiKey', { name: 'deletedId', description: 'The global id the deleted key had.' }, 'deleting an API key'),
    resolve: async (_root, { input }, ctx) => encodeGlobalID('ApiKey', await deleteApiKey(ctx.access, input)),
  }),
}));

import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../../builder.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../errors.ts';
import type { WebhookDeliveryStatus, WebhookEndpoint } from '../../generated/prisma/client.ts';
import { OLDEST_FIRST, totalCountField } from '../shared/connections.ts';
import { compiledConnection, compiledField, compiledNode, model, seenWithin } from '../shared/engine/index.ts';
import { globalId } from '../shared/engine/text.ts';
import { mutationResult } from '../shared/errors.ts';
import { administeredWhere } from '../shared/rules.ts';
import { scopesForOrganization } from '../shared/tenant.ts';
import { administeredRowWhere } from '../shared/visibility.ts';
import { createEndpoint, deleteEndpoint, redeliver, redeliverFailed, rotateEndpointSecret, updateEndpoint } from './service.ts';

// Webhook endpoints, their deliveries and attempts: only the organization's admins
// see them (a node id of another answers like one that does not exist).

// The same queries are given to Pothos and to the read engine (compiledConnection).
const oldestFirst = () => ({ orderBy: OLDEST_FIRST });
const deliveriesQuery = (args: { status?: WebhookDeliveryStatus | null }) => ({
  where: args.status ? { status: args.status } : {},
  orderBy: [{ createdAt: 'desc' as const }, { id: 'desc' as const }],
});

// node(id) of an endpoint or a delivery is compiled under the rule of their findUnique,
// and so are their fields (the signing secrets are no fields). The organization's
// endpoints compile only for a viewer who administers it (their auth scopes); those
// below an endpoint or a delivery follow from it.
const administered = (_ctx: unknown, _readable: unknown, administered: string[] | 'all') => administeredWhere(administered);
compiledNode('WebhookEndpoint', administered);
compiledNode('WebhookDelivery', administered);
// Only its organization's admins see an endpoint, on every path: so is its organization's.
seenWithin('WebhookEndpoint', 'admin');
compiledField('WebhookDelivery', 'auditEventId', (_b, alias) => globalId('AuditEvent', `${alias}.${model('WebhookDelivery').fields.get('auditEventId')!.column}`));
compiledConnection('Organization', 'webhookEndpoints', oldestFirst);
compiledConnection('WebhookEndpoint', 'deliveries', deliveriesQuery);
compiledConnection('WebhookDelivery', 'attempts', oldestFirst);

export const WebhookEndpointRef = builder.prismaNode('WebhookEndpoint', {
  description:
    "A URL the organization's changes are sent to, signed per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature). Visible to the organization's admins only.",
  id: { field: 'id' },
  nullable: true,
  findUnique: (id, ctx) => administeredRowWhere(id, ctx),
  fields: (t) => ({
    url: t.exposeString('url', { description: 'Where deliveries are POSTed.' }),
    description: t.exposeString('description', { nullable: true, description: 'What the endpoint is for.' }),
    eventTypes: t.exposeStringList('eventTypes', {
      description: 'The audit events sent, as `Entity.ACTION` or `Entity.*` (e.g. `Identity.UPDATE`); empty: every event.',
    }),
    enabled: t.exposeBoolean('enabled', { description: 'Whether changes are sent to it now.' }),
    disabledReason: t.exposeString('disabledReason', {
      nullable: true,
      description: 'Why it is disabled: by an administrator, or after failing for a day (with the last error).',
    }),
    disabledAt: t.expose('disabledAt', { type: 'DateTime', nullable: true, description: 'When it was disabled.' }),
    failingSince: t.expose('failingSince', {
      type: 'DateTime',
      nullable: true,
      description: 'Since when every attempt has failed; null after a success. A day of failures disables it.',
    }),
    previousSecretExpiresAt: t.expose('previousSecretExpiresAt', {
      type: 'DateTime',
      nullable: true,
      description: 'Until when the secret replaced by the last rotation still signs beside the new one.',
    }),
    organization: t.relation('organization', { description: 'The organization whose changes it receives.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was created.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When it last changed.' }),
    deliveries: t.relatedConnection(
      'deliveries',
      {
        description: 'What was sent or is to be sent to it, newest first.',
        cursor: 'id',
        totalCount: true,
        args: {
          status: t.arg({ type: WebhookDeliveryStatusEnum, required: false, description: 'Only deliveries in this state.' }),
        },
        query: deliveriesQuery,
      },
      { description: 'A page of deliveries.', fields: totalCountField },
      { description: 'A delivery in a page.' },
    ),
  }),
});

const WebhookDeliveryStatusEnum = builder.enumType('WebhookDeliveryStatus', {
  description: 'Where a delivery stands.',
  values: {
    PENDING: { description: 'Not yet accepted by the endpoint: waiting for its turn or for a retry.' },
    DELIVERED: { description: 'The endpoint answered 2xx.' },
    FAILED: { description: 'Retried for the whole retry window (a day) without success; `redeliver` sends it again.' },
  } satisfies Record<WebhookDeliveryStatus, unknown>,
});

export const WebhookDeliveryRef = builder.prismaNode('WebhookDelivery', {
  description: 'One audit event sent to one endpoint; its id is the `webhook-id` of every attempt.',
  id: { field: 'id' },
  nullable: true,
  findUnique: (id, ctx) => administeredRowWhere(id, ctx),
  fields: (t) => ({
    eventType: t.exposeString('eventType', { description: 'The event, as `Entity.ACTION`.' }),
    auditEventId: t.id({
      description: 'Global id of the audit event it carries.',
      resolve: (d) => encodeGlobalID('AuditEvent', d.auditEventId),
    }),
    status: t.expose('status', { type: WebhookDeliveryStatusEnum, description: 'Where it stands.' }),
    attemptCount: t.exposeInt('attemptCount', { description: 'How many times it was sent.' }),
    lastAttemptAt: t.expose('lastAttemptAt', { type: 'DateTime', nullable: true, description: 'When it was last sent.' }),
    deliveredAt: t.expose('deliveredAt', { type: 'DateTime', nullable: true, description: 'When the endpoint accepted it.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the change committed.' }),
    endpoint: t.relation('endpoint', { description: 'Where it is sent.' }),
    attempts: t.relatedConnection(
      'attempts',
      { description: 'Every attempt, oldest first.', cursor: 'id', totalCount: true, query: oldestFirst },
      { description: 'A page of attempts.', fields: totalCountField },
      { description: 'An attempt in a page.' },
    ),
  }),
});

builder.prismaObject('WebhookAttempt', {
  description: 'One try at sending a delivery, and what the endpoint answered.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The attempt id.' }),
    succeeded: t.exposeBoolean('succeeded', { description: 'Whether the endpoint answered 2xx.' }),
    responseStatus: t.exposeInt('responseStatus', { nullable: true, description: 'The HTTP status, when there was an answer.' }),
    responseBody: t.exposeString('responseBody', { nullable: true, description: 'The first bytes of the answer (1 KB unless configured).' }),
    error: t.exposeString('error', { nullable: true, description: 'Why there was no answer (timeout, refused address, connection error).' }),
    durationMs: t.exposeInt('durationMs', { description: 'How long it took, in milliseconds.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was made.' }),
  }),
});

builder.prismaObjectField('Organization', 'webhookEndpoints', (t) =>
  t.relatedConnection(
    'webhookEndpoints',
    {
      description: "The organization's webhook endpoints, oldest first. Null, with FORBIDDEN, unless you administer the organization.",
      cursor: 'id',
      nullable: true,
      totalCount: true,
      authScopes: (organization) => ({ orgAdmin: organization.id }),
      query: oldestFirst,
    },
    { description: 'A page of webhook endpoints.', fields: totalCountField },
    { description: 'A webhook endpoint in a page.' },
  ),
);

const CreateInput = builder.inputType('CreateWebhookEndpointInput', {
  description: 'A new webhook endpoint.',
  fields: (t) => ({
    organizationId: t.id({
      required: false,
      description: 'The organization: its global id (or UUID). Defaults to the one X-Organization-ID names.',
    }),
    url: t.string({ description: 'Where to POST deliveries: https (http is allowed outside production), up to 2,048 characters.' }),
    description: t.string({ required: false, description: 'What the endpoint is for, up to 500 characters.' }),
    eventTypes: t.stringList({
      required: false,
      description: 'The audit events to send, as `Entity.ACTION` or `Entity.*` (e.g. `Identifier.CREATE`); none or empty: every event.',
    }),
  }),
});

const UpdateInput = builder.inputType('UpdateWebhookEndpointInput', {
  description: 'Changes to a webhook endpoint. Fields left out stay as they are.',
  fields: (t) => ({
    id: t.id({ description: 'The endpoint: its global id (or UUID).' }),
    url: t.string({ required: false, description: 'New URL (same rules as on creation).' }),
    description: t.string({ required: false, description: 'New description; null clears it.' }),
    eventTypes: t.stringList({ required: false, description: 'New event types; empty: every event.' }),
    enabled: t.boolean({
      required: false,
      description: 'False disables it (changes are no longer sent); true enables it again and forgets past failures.',
    }),
  }),
});

const IdInput = builder.inputType('WebhookEndpointIdInput', {
  description: 'The webhook endpoint to act on.',
  fields: (t) => ({ id: t.id({ description: 'The endpoint: its global id (or UUID).' }) }),
});

const RotateInput = builder.inputType('RotateWebhookEndpointSecretInput', {
  description: 'The endpoint whose signing secret to replace.',
  fields: (t) => ({
    id: t.id({ description: 'The endpoint: its global id (or UUID).' }),
    gracePeriodSeconds: t.int({
      required: false,
      description: 'How long the old secret keeps signing beside the new one (0 to 604800); a day unless given.',
    }),
  }),
});

const WithSecretRef = builder.objectRef<{ endpoint: WebhookEndpoint; secret: string }>('WebhookEndpointWithSecret').implement({
  description: 'An endpoint and its signing secret, shown in this answer only: store it now.',
  fields: (t) => ({
    endpoint: t.field({ type: WebhookEndpointRef, description: 'The endpoint.', resolve: (r) => r.endpoint }),
    secret: t.exposeString('secret', {
      description: 'The signing secret (`whsec_…`), as Standard Webhooks libraries take it to verify `webhook-signature`.',
    }),
  }),
});

const RedeliverInput = builder.inputType('RedeliverWebhookInput', {
  description: 'The delivery to send again.',
  fields: (t) => ({ id: t.id({ description: 'The delivery: its global id (or UUID).' }) }),
});

const RedeliverFailedInput = builder.inputType('RedeliverFailedWebhooksInput', {
  description: 'The endpoint whose failed deliveries to send again.',
  fields: (t) => ({ endpointId: t.id({ description: 'The endpoint: its global id (or UUID).' }) }),
});

const withSecretErrors = (name: string, description: string) => ({
  types: [ValidationError, ConflictError, NotFoundError],
  directResult: true,
  union: { name: `${name}Result`, description: `The outcome of ${description}.` },
});

builder.mutationFields((t) => ({
  createWebhookEndpoint: t.field({
    type: WithSecretRef,
    description: 'Adds a webhook endpoint to an organization you administer; answers with its signing secret, once.',
    authScopes: (_root, { input }, ctx) => scopesForOrganization('orgAdmin', input.organizationId, ctx.access),
    args: { input: t.arg({ type: CreateInput, description: 'The endpoint to add.' }) },
    errors: withSecretErrors('CreateWebhookEndpoint', 'adding a webhook endpoint'),
    resolve: (_root, { input }, ctx) => createEndpoint(ctx.access, input),
  }),
  updateWebhookEndpoint: t.field({
    type: WebhookEndpointRef,
    description: 'Changes, disables or enables a webhook endpoint of an organization you administer.',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: UpdateInput, description: 'The changes.' }) },
    errors: mutationResult('UpdateWebhookEndpoint', 'endpoint', 'changing a webhook endpoint'),
    resolve: (_root, { input }, ctx) => updateEndpoint(ctx.access, input),
  }),
  rotateWebhookEndpointSecret: t.field({
    type: WithSecretRef,
    description: 'Replaces the signing secret of a webhook endpoint; the old one signs too for the grace period.',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: RotateInput, description: 'The endpoint and the grace period.' }) },
    errors: withSecretErrors('RotateWebhookEndpointSecret', 'rotating a webhook secret'),
    resolve: (_root, { input }, ctx) => rotateEndpointSecret(ctx.access, input),
  }),
  deleteWebhookEndpoint: t.field({
    type: 'ID',
    description: 'Deletes a webhook endpoint with its deliveries (nothing more is sent to it).',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: IdInput, description: 'The endpoint to delete.' }) },
    errors: mutationResult(
      'DeleteWebhookEndpoint',
      { name: 'deletedId', description: 'The global id the deleted endpoint had.' },
      'deleting a webhook endpoint',
    ),
    resolve: async (_root, { input }, ctx) => encodeGlobalID('WebhookEndpoint', await deleteEndpoint(ctx.access, input)),
  }),
  redeliverWebhook: t.field({
    type: WebhookDeliveryRef,
    description: 'Sends a delivery again (with the same webhook-id), with a new retry window.',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: RedeliverInput, description: 'The delivery.' }) },
    errors: mutationResult('RedeliverWebhook', 'delivery', 'sending a delivery again'),
    resolve: (_root, { input }, ctx) => redeliver(ctx.access, input),
  }),
  redeliverFailedWebhooks: t.field({
    type: 'Int',
    description: 'Sends every FAILED delivery of an endpoint again, each with a new retry window.',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: RedeliverFailedInput, description: 'The endpoint.' }) },
    errors: mutationResult(
      'RedeliverFailedWebhooks',
      { name: 'count', description: 'How many deliveries are sent again.' },
      'sending failed deliveries again',
    ),
    resolve: (_root, { input }, ctx) => redeliverFailed(ctx.access, input),
  }),
}));

import type { Access } from '../../context.ts';
import { prisma, Prisma } from '../../db.ts';
import { NotFoundError } from '../../errors.ts';
import type { WebhookEndpoint } from '../../generated/prisma/client.ts';
import { changesOf, recordAudit } from '../audit/service.ts';
import { sqlNames } from '../shared/sql-names.ts';
import { requireRowIn, requireOrganizationOf } from '../shared/tenant.ts';
import { Issues, prismaErrorCode } from '../shared/validate.ts';
import { urlProblem } from './safety.ts';
import { webhookSettings } from './settings.ts';
import { jobsFor } from './outbox.ts';
import { newSecret } from './signing.ts';

const ENDPOINT = sqlNames('WebhookEndpoint');
const DELIVERY = sqlNames('WebhookDelivery');

// Webhook endpoints of an organization (ORGANIZATION_ADMIN of it): rules and storage.
// Every change is an audit event of entity type WebhookEndpoint; secrets never are.

/** The endpoint fields an audit event records (never the secrets). */
const AUDITED = ['url', 'description', 'eventTypes', 'enabled', 'disabledReason', 'previousSecretExpiresAt'] as const;

/** The changed objects audit events name, as event types name them (`Identity.UPDATE`). */
export const EVENT_ENTITIES = [
  'Organization', 'Member', 'User', 'IntegrationSource', 'Identifier', 'Identity', 'ApiKey', 'LinkSuggestion', 'WebhookEndpoint',
] as const;
/** What audit events say happened to them. */
export const EVENT_ACTIONS = ['CREATE', 'UPDATE', 'DELETE', 'RESTORE', 'PURGE', 'LINK', 'UNLINK', 'MERGE', 'UNMERGE', 'REVOKE', 'ROTATE_SECRET'] as const;

/** Longest grace period of a rotated secret: a week. */
const MAX_GRACE_SECONDS = 7 * 86_400;
const DISABLED_BY_ADMIN = 'Disabled by an administrator.';

function eventTypes(issues: Issues, path: string, value: readonly string[] | null | undefined) {
  if (value == null) return value;
  const out = [...new Set(value.map((v) => v.trim()))];
  out.forEach((type, i) => {
    const [entity, action, more] = type.split('.');
    const known =
      more === undefined &&
      (EVENT_ENTITIES as readonly string[]).includes(entity ?? '') &&
      (action === '*' || (EVENT_ACTIONS as readonly string[]).includes(action ?? ''));
    if (!known) issues.add(`${path}.${i}`, `must be Entity.ACTION or Entity.* with an entity of ${EVENT_ENTITIES.join(', ')}`);
  });
  if (out.length > 100) issues.add(path, 'must list at most 100 event types');
  return out;
}

function endpointUrl(issues: Issues, path: string, value: string | null | undefined) {
  const url = issues.text(path, value, 2048);
  if (url == null) return url;
  const problem = urlProblem(url, webhookSettings());
  if (problem) issues.add(path, problem);
  return url;
}

function endpointEvent(action: string, before: WebhookEndpoint | null, after: WebhookEndpoint | null) {
  const row = (after ?? before)!;
  return {
    organizationId: row.organizationId,
    entityType: 'WebhookEndpoint',
    entityId: row.id,
    action,
    changes: changesOf(before, after, AUDITED),
  };
}

export interface CreateEndpointInput {
  organizationId?: string | null;
  url: string;
  description?: string | null;
  eventTypes?: readonly string[] | null;
}

/** Adds an endpoint; answers with it and its signing secret. */
export async function createEndpoint(access: Access, input: CreateEndpointInput) {
  const issues = new Issues();
  const organizationId = await requireOrganizationOf(access, issues, 'input.organizationId', input.organizationId, 'admin');
  const url = endpointUrl(issues, 'input.url', input.url);
  const description = issues.text('input.description', input.description, 500);
  const types = eventTypes(issues, 'input.eventTypes', input.eventTypes);
  issues.throwIfAny();
  const secret = newSecret();
  try {
    const endpoint = await prisma.$transaction(async (tx) => {
      const created = await tx.webhookEndpoint.create({
        data: { organizationId, url: url!, description: description ?? null, eventTypes: types ?? [], secret },
      });
      await recordAudit(tx, access.viewer, [endpointEvent('CREATE', null, created)]);
      return created;
    });
    return { endpoint, secret };
  } catch (err) {
    if (prismaErrorCode(err) === 'P2003') throw new NotFoundError('Organization');
    throw err;
  }
}

async function organizationOfEndpoint(id: string) {
  const row = await prisma.webhookEndpoint.findUnique({ where: { id }, select: { organizationId: true } });
  return row?.organizationId ?? null;
}

/** The endpoint `value` names, if the viewer administers its organization; NOT_FOUND otherwise. */
export async function requireEndpoint(access: Access, issues: Issues, path: string, value: string) {
  const id = issues.id(path, value, 'WebhookEndpoint');
  issues.throwIfAny();
  await requireRowIn(access, await organizationOfEndpoint(id!), 'admin', 'WebhookEndpoint');
  return id!;
}

/**
 * Changes an endpoint under a lock, so `before` is what the change replaces, and records
 * the change. `change` returns the data to write from the row as it was.
 */
async function changeEndpoint(
  access: Access,
  id: string,
  action: string,
  change: (before: WebhookEndpoint) => Prisma.WebhookEndpointUpdateInput,
) {
  return prisma.$transaction(async (tx) => {
    const e = ENDPOINT();
    await tx.$queryRaw`SELECT ${e.id} FROM ${e.$table} WHERE ${e.id} = ${id}::uuid FOR NO KEY UPDATE`;
    const before = await tx.webhookEndpoint.findUnique({ where: { id } });
    if (!before) throw new NotFoundError('WebhookEndpoint');
    const after = await tx.webhookEndpoint.update({ where: { id }, data: change(before) });
    await recordAudit(tx, access.viewer, [endpointEvent(action, before, after)]);
    return after;
  });
}

export interface UpdateEndpointInput {
  id: string;
  url?: string | null;
  description?: string | null;
  eventTypes?: readonly string[] | null;
  enabled?: boolean | null;
}

/**
 * Changes an endpoint's URL, description, event types, or disables or enables it.
 * Enabling clears the reason it was disabled and its failures so far.
 */
export async function updateEndpoint(access: Access, input: UpdateEndpointInput) {
  const issues = new Issues();
  issues.notNull('input.url', input.url);
  issues.notNull('input.eventTypes', input.eventTypes);
  issues.notNull('input.enabled', input.enabled);
  const url = endpointUrl(issues, 'input.url', input.url);
  const description = issues.text('input.description', input.description, 500);
  const types = eventTypes(issues, 'input.eventTypes', input.eventTypes);
  const id = await requireEndpoint(access, issues, 'input.id', input.id);
  return changeEndpoint(access, id, 'UPDATE', (before) => ({
    ...(url != null && { url }),
    ...(description !== undefined && { description }),
    ...(types != null && { eventTypes: types }),
    ...(input.enabled === true && !before.enabled && { enabled: true, disabledReason: null, disabledAt: null, failingSince: null }),
    ...(input.enabled === false && before.enabled && { enabled: false, disabledReason: DISABLED_BY_ADMIN, disabledAt: new Date() }),
  }));
}

/**
 * Replaces an endpoint's signing secret. The old one keeps signing beside the new one
 * for `gracePeriodSeconds` (a day unless given), so receivers can switch without losing
 * a message; answers with the endpoint and the new secret.
 */
export async function rotateEndpointSecret(access: Access, input: { id: string; gracePeriodSeconds?: number | null }) {
  const issues = new Issues();
  const grace = input.gracePeriodSeconds ?? 86_400;
  if (!Number.isInteger(grace) || grace < 0 || grace > MAX_GRACE_SECONDS) {
    issues.add('input.gracePeriodSeconds', `must be an integer from 0 to ${MAX_GRACE_SECONDS}`);
  }
  const id = await requireEndpoint(access, issues, 'input.id', input.id);
  issues.throwIfAny();
  const secret = newSecret();
  const endpoint = await changeEndpoint(access, id, 'ROTATE_SECRET', (before) => ({
    secret,
    previousSecret: grace > 0 ? before.secret : null,
    previousSecretExpiresAt: grace > 0 ? new Date(Date.now() + grace * 1000) : null,
  }));
  return { endpoint, secret };
}

/** Deletes an endpoint with its deliveries; answers with its id. */
export async function deleteEndpoint(access: Access, input: { id: string }) {
  const id = await requireEndpoint(access, new Issues(), 'input.id', input.id);
  await prisma.$transaction(async (tx) => {
    const [before] = await tx.webhookEndpoint.findMany({ where: { id } });
    if (!before) throw new NotFoundError('WebhookEndpoint');
    await tx.webhookEndpoint.delete({ where: { id } });
    await recordAudit(tx, access.viewer, [endpointEvent('DELETE', before, null)]);
  });
  return id;
}

/**
 * Sends deliveries again: the ones `where` selects that are not pending become pending
 * with a new retry window, and their jobs are queued, in one statement. Answers their ids.
 */
async function resend(where: Prisma.Sql): Promise<string[]> {
  const d = DELIVERY();
  const rows = await prisma.$queryRaw<{ id: string }[]>`
    WITH again AS (
      UPDATE ${d.$table} SET ${d.status} = 'PENDING', ${d.pendingSince} = now(), ${d.leasedUntil} = NULL
      WHERE ${where} AND ${d.status} <> 'PENDING'
      RETURNING ${d.id} AS id
    ),
    jobs AS (${jobsFor('again')})
    SELECT id FROM again`;
  return rows.map((r) => r.id);
}

/** Sends one delivery again, whatever its state (ORGANIZATION_ADMIN of its organization). */
export async function redeliver(access: Access, input: { id: string }) {
  const issues = new Issues();
  const id = issues.id('input.id', input.id, 'WebhookDelivery');
  issues.throwIfAny();
  const row = await prisma.webhookDelivery.findUnique({ where: { id: id! }, select: { organizationId: true } });
  await requireRowIn(access, row?.organizationId, 'admin', 'WebhookDelivery');
  await resend(Prisma.sql`${DELIVERY().id} = ${id}::uuid`);
  return prisma.webhookDelivery.findUniqueOrThrow({ where: { id: id! } });
}

/** Sends every FAILED delivery of an endpoint again; answers how many. */
export async function redeliverFailed(access: Access, input: { endpointId: string }) {
  const id = await requireEndpoint(access, new Issues(), 'input.endpointId', input.endpointId);
  const d = DELIVERY();
  return (await resend(Prisma.sql`${d.endpointId} = ${id}::uuid AND ${d.status} = 'FAILED'`)).length;
}

import type { Viewer } from '../../context.ts';
import type { Prisma } from '../../db.ts';
import type { DiscoveryMethod } from '../../generated/prisma/client.ts';
import { currentRequest } from '../../observability/request-context.ts';

// Audit events: every successful mutation records what it changed, in the same
// transaction as the change (a failed mutation leaves none), and notifies listeners
// (subscriptions, in this process and in others on the same database) on commit.

export const CHANGES_CHANNEL = 'identity_graph_changes';

export type Changes = Record<string, { before: unknown; after: unknown }>;

export interface AuditInput {
  organizationId: string | null;
  entityType: string;
  entityId: string;
  action: string;
  changes: Changes;
  discoveryMethod?: DiscoveryMethod | null;
}

/** The fields of `fields` whose values differ between `before` and `after` (either may be null: create, delete). */
export function changesOf<T extends Record<string, unknown>>(
  before: T | null | undefined,
  after: T | null | undefined,
  fields: readonly (keyof T & string)[],
): Changes {
  const out: Changes = {};
  for (const f of fields) {
    const b = normalise(before?.[f]);
    const a = normalise(after?.[f]);
    if (JSON.stringify(b) !== JSON.stringify(a)) out[f] = { before: b, after: a };
  }
  return out;
}

function normalise(v: unknown): unknown {
  if (v === undefined) return null;
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'bigint') return v.toString();
  return v;
}

function actor(viewer: Viewer) {
  if (viewer.kind === 'user') return { actorType: 'USER' as const, actorUserId: viewer.userId, actorApiKeyId: null };
  if (viewer.kind === 'apiKey') return { actorType: 'API_KEY' as const, actorUserId: null, actorApiKeyId: viewer.apiKeyId };
  return { actorType: 'SYSTEM' as const, actorUserId: null, actorApiKeyId: null };
}

const NOTIFY_IDS_PER_MESSAGE = 150; // keeps each NOTIFY payload well under PostgreSQL's 8,000 bytes

/**
 * Records events inside the caller's transaction `tx` and queues their notification
 * (PostgreSQL delivers NOTIFY only when the transaction commits). Events that change
 * nothing are skipped. Two statements whatever the number of events, plus one NOTIFY
 * per 150 events.
 */
export async function recordAudit(tx: Prisma.TransactionClient, viewer: Viewer, events: AuditInput[]): Promise<void> {
  const real = events.filter((e) => Object.keys(e.changes).length > 0 || e.action !== 'UPDATE');
  if (!real.length) return;
  const who = actor(viewer);
  const requestId = currentRequest()?.requestId ?? null;
  const rows = await tx.auditEvent.createManyAndReturn({
    data: real.map((e) => ({
      ...who,
      organizationId: e.organizationId,
      entityType: e.entityType,
      entityId: e.entityId,
      action: e.action,
      changes: e.changes as Prisma.InputJsonValue,
      discoveryMethod: e.discoveryMethod ?? null,
      requestId,
    })),
    select: { id: true, organizationId: true },
  });
  const byOrg = new Map<string, string[]>();
  for (const r of rows) {
    if (!r.organizationId) continue;
    const list = byOrg.get(r.organizationId) ?? [];
    list.push(r.id);
    byOrg.set(r.organizationId, list);
  }
  const messages: string[] = [];
  for (const [o, ids] of byOrg) {
    for (let i = 0; i < ids.length; i += NOTIFY_IDS_PER_MESSAGE) {
      messages.push(JSON.stringify({ o, ids: ids.slice(i, i + NOTIFY_IDS_PER_MESSAGE) }));
    }
  }
  if (messages.length) {
    await tx.$executeRaw`SELECT pg_notify(${CHANGES_CHANNEL}, m) FROM unnest(${messages}::text[]) AS m`;
  }
}

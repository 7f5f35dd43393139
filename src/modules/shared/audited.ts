import type { Viewer } from '../../context.ts';
import { Prisma, prisma } from '../../db.ts';
import { NotFoundError } from '../../errors.ts';
import { type AuditInput, type Changes, changesOf, recordAudit } from '../audit/service.ts';
import { table } from './sql-names.ts';
import { prismaErrorCode, uniqueViolation } from './validate.ts';

// One way to change a row and record the change: every service whose rows carry an
// audit trail (users, organizations, sources, members, API keys, identifiers and
// identities) goes through here.

type Tx = Prisma.TransactionClient;
type Row = { id: string };

/** A kind of row whose changes are audited. */
export type Audited<R extends Row> = AuditedRows<R> & (
  | {
      /** The fields its events record. */
      fields: readonly string[];
      event?: undefined;
    }
  | {
      /** Writes its events itself, when they carry more than the changed fields (`more`: what the change added). */
      event: (action: string, before: R | null, after: R | null, more?: Changes) => AuditInput;
      fields?: undefined;
    }
);

interface AuditedRows<R extends Row> {
  /** Its Prisma model: the table a change locks. */
  model: Prisma.ModelName;
  /** The entity type of its audit events, and what NOT_FOUND names. */
  entityType: string;
  /** Reads one row. */
  find: (tx: Tx, id: string) => Promise<R | null>;
  /**
   * Reads one row and locks it in the same statement, for a kind whose changes hold a
   * stronger lock than the default; a change reads the row so instead of locking it first.
   */
  findLocked?: (tx: Tx, id: string) => Promise<R | null>;
  /** The organization its events belong to (null: none, as for a user). */
  organizationOf: (row: R) => string | null;
}

/**
 * The audit event of a change to a row (`before` null: created; `after` null: deleted);
 * `more` are changes beyond the row's own fields.
 */
export function auditEvent<R extends Row>(audited: Audited<R>, action: string, before: R | null, after: R | null, more: Changes = {}): AuditInput {
  if (audited.event) return audited.event(action, before, after, more);
  const row = (after ?? before)!;
  return {
    organizationId: audited.organizationOf(row),
    entityType: audited.entityType,
    entityId: row.id,
    action,
    changes: { ...changesOf(before as Record<string, unknown> | null, after as Record<string, unknown> | null, audited.fields), ...more },
  };
}

export interface ChangeOptions {
  /** The event's action; UPDATE unless told, DELETE when the change returns null. */
  action?: string;
  /**
   * Locks what the change must hold before the row is read: by default the row itself
   * (FOR NO KEY UPDATE, which lets inserts that only refer to it through), or as the
   * kind's `findLocked` reads it.
   */
  lock?: (tx: Tx) => Promise<unknown>;
  /** The error of a unique violation, given the violated fields. */
  conflict?: (fields: string[]) => Error;
  /** More organizations whose trails get a copy of the event (a user's, in each organization the user is a member of). */
  alsoIn?: (tx: Tx, id: string) => Promise<string[]>;
}

/**
 * Changes one row and records the change, in one transaction: the row is locked and
 * read first, so the event's "before" is what the change replaces even with another
 * change racing it. `change` returns the row as it is after (null when it deleted it;
 * `before` itself when it changed nothing, which records nothing unless it gave `more`
 * changes, such as an identity's properties). A row that is gone is NOT_FOUND; a unique
 * violation is the error `conflict` makes of it.
 */
export async function auditedChange<R extends Row, Result extends R | null>(
  viewer: Viewer,
  audited: Audited<R>,
  id: string,
  change: (tx: Tx, before: R, more: (changes: Changes) => void) => Promise<Result>,
  options: ChangeOptions = {},
): Promise<Result> {
  try {
    return await prisma.$transaction(async (tx) => {
      const before = await lockedRow(tx, audited, id, options.lock);
      if (!before) throw new NotFoundError(audited.entityType);
      const more: Changes = {};
      const after = await change(tx, before, (changes) => Object.assign(more, changes));
      if (after === before && !Object.keys(more).length) return after;
      const event = auditEvent(audited, after === null ? 'DELETE' : (options.action ?? 'UPDATE'), before, after, more);
      const copies = options.alsoIn ? (await options.alsoIn(tx, id)).map((organizationId) => ({ ...event, organizationId })) : [];
      await recordAudit(tx, viewer, [event, ...copies]);
      return after;
    });
  } catch (err) {
    const fields = options.conflict && uniqueViolation(err);
    if (fields) throw options.conflict!(fields);
    if (prismaErrorCode(err) === 'P2025') throw new NotFoundError(audited.entityType);
    throw err;
  }
}

/** The row a change starts from, read once what the change must hold is locked. */
async function lockedRow<R extends Row>(tx: Tx, audited: Audited<R>, id: string, lock: ChangeOptions['lock']): Promise<R | null> {
  if (lock) await lock(tx);
  else if (audited.findLocked) return audited.findLocked(tx, id);
  else await tx.$queryRaw`SELECT id FROM ${table(audited.model)} WHERE id = ${id}::uuid FOR NO KEY UPDATE`;
  return audited.find(tx, id);
}

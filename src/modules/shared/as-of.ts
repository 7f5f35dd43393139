import { prisma } from '../../db.ts';
import { asSystem } from '../../db/scope.ts';
import { sqlNames } from './sql-names.ts';
import { Issues } from './validate.ts';

// Reads as of a past moment (README, "Reading the past"): the moment asked for, checked
// against the history the database holds. An organization's history begins when its
// first version was written (its creation, or for one older than the history tables
// the migration that made them) and reaches back no further than its retention
// (history-retention.ts prunes what is older): a moment before that horizon is refused
// rather than answered with what happens to be left.

export const AS_OF_DESCRIPTION =
  'Answer with the state at this past moment (history of the organization is kept from its horizon; an earlier moment answers BAD_USER_INPUT naming it). Left out: now.';

const ORGANIZATION = sqlNames('Organization');
const ORGANIZATION_VERSION = sqlNames('OrganizationVersion');

/** The columns of a history table (a `…Version` model) that say when a version holds. */
export interface HistoryTable {
  table: string;
  id: string;
  validFrom: string;
  deleted: string;
}

/**
 * SQL of the rows as they were at `at` (SQL of a timestamptz), as a derived table: each
 * row's last version written at or before then, unless that version is its deletion.
 * Every read as of a moment takes its rows from here.
 */
export function versionsAt(h: HistoryTable, at: string): string {
  return `(SELECT * FROM ${h.table} v WHERE v.${h.validFrom} <= ${at} AND NOT v.${h.deleted}
    AND NOT EXISTS (SELECT 1 FROM ${h.table} w WHERE w.${h.id} = v.${h.id} AND w.${h.validFrom} > v.${h.validFrom} AND w.${h.validFrom} <= ${at}))`;
}

/**
 * The first millisecond at which the organization's history is known (of any
 * organization's, for reads not within one): its first version, or its retention's
 * start when that is later; null when there is none.
 */
export async function historyHorizon(organizationId: string | null): Promise<Date | null> {
  // Versions are written to the microsecond, moments are asked for to the millisecond.
  const [o, v] = [ORGANIZATION(), ORGANIZATION_VERSION()];
  // The horizon of all history kept is the server's fact, not a tenant's rows: read
  // within the request's scope, a viewer of no organization (a user who left them all,
  // reading themself) found no history and was refused every moment.
  const read = <T>(work: () => Promise<T>) => (organizationId ? work() : asSystem(work));
  const [row] = await read(() => prisma.$queryRaw<{ ms: number | null }[]>`
    SELECT ceil(extract(epoch FROM greatest(
      (SELECT min(${v.validFrom}) FROM ${v.$table} WHERE ${organizationId}::uuid IS NULL OR ${v.id} = ${organizationId}::uuid),
      now() - make_interval(days => (SELECT max(${o.historyRetentionDays}) FROM ${o.$table}
        WHERE ${organizationId}::uuid IS NULL OR ${o.id} = ${organizationId}::uuid))
    )) * 1000)::float8 AS ms`);
  return row?.ms == null ? null : new Date(row.ms);
}

/**
 * `asOf`, when it is neither in the future nor before the horizon of the organization
 * read (null: of the history kept at all); BAD_USER_INPUT otherwise.
 */
export async function checkedMoment(organizationId: string | null, asOf: Date, path = 'asOf'): Promise<Date> {
  const issues = new Issues();
  if (asOf.getTime() > Date.now()) issues.add(path, 'must not be in the future');
  else {
    const horizon = await historyHorizon(organizationId);
    if (!horizon || asOf < horizon) {
      const whose = organizationId ? 'of this organization' : 'of the history kept';
      issues.add(path, `is before the history horizon ${whose}, ${(horizon ?? new Date()).toISOString()}: ask for a moment at or after it`);
    }
  }
  issues.throwIfAnyInRead();
  return asOf;
}

import type { Access } from '../../context.ts';
import { ValidationError, type DomainError } from '../../errors.ts';
import { requireOrganizationOf } from './tenant.ts';
import { Issues } from './validate.ts';

// What every bulk write shares: checking the batch's organization and size, and
// refusing a batch whose items have problems as one error.

/** What an upsert did to one row. */
export type UpsertOutcome = 'CREATED' | 'UPDATED' | 'UNCHANGED';

/** The collected issues as an error, or null when there are none. */
export function issuesOf(issues: Issues): ValidationError | null {
  try {
    issues.throwIfAny();
    return null;
  } catch (err) {
    return err as ValidationError;
  }
}

/** What stopped one item of a batch: its index and the error naming its fields. */
export interface ItemProblem {
  index: number;
  error: DomainError;
}

/**
 * Refuses a batch with problems as one error: every validation issue when there are
 * any, else the first missing reference, else the first conflict.
 */
export function throwProblems(problems: ItemProblem[]): void {
  if (!problems.length) return;
  const issues = problems.flatMap((p) => (p.error instanceof ValidationError ? p.error.issues : []));
  if (issues.length) throw new ValidationError(issues);
  throw problems[0]!.error;
}

/**
 * The organization of a bulk write, with write access to it, and 1 to `max` items;
 * BAD_USER_INPUT otherwise.
 */
export async function bulkOrganization(
  access: Access,
  input: { organizationId?: string | null; items: readonly unknown[] },
  max: number,
): Promise<string> {
  const issues = new Issues();
  const organizationId = await requireOrganizationOf(access, issues, 'input.organizationId', input.organizationId);
  if (input.items.length === 0) issues.add('input.items', 'must not be empty');
  if (input.items.length > max) issues.add('input.items', `must have at most ${max} items`);
  issues.throwIfAny();
  return organizationId;
}

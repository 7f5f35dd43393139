import type { Access } from '../../context.ts';
import { ConflictError, ErrorCode, ValidationError, type DomainError } from '../../errors.ts';
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
 * Refuses a batch with problems as one error listing every problem in `issues`, each
 * with its path and code. The error's own code is BAD_USER_INPUT when any value is
 * invalid, else that of the first item's problem (NOT_FOUND or CONFLICT).
 */
export function throwProblems(problems: ItemProblem[]): void {
  if (!problems.length) return;
  const sorted = [...problems].sort((a, b) => a.index - b.index);
  const issues = sorted.flatMap((p) => p.error.issues);
  if (sorted.some((p) => p.error instanceof ValidationError)) throw new ValidationError(issues);
  // Each problem's error is made for it alone: the first one becomes the whole batch's.
  const lead = sorted[0]!.error;
  const more = issues.length - lead.issues.length;
  lead.issues = issues;
  if (lead instanceof ConflictError) lead.fields = issues.filter((i) => i.code === ErrorCode.CONFLICT).map((i) => i.path);
  if (more > 0) lead.message = `${lead.message} (and ${more} more problem${more > 1 ? 's' : ''}: see issues)`;
  throw lead;
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

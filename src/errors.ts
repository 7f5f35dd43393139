import { GraphQLError } from 'graphql';

/**
 * The stable error codes of the API. They appear as
 * `extensions.code` on GraphQL errors and as `code` on typed errors in mutation
 * results, so a client handles one vocabulary either way.
 */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  TENANT_MISMATCH: 'TENANT_MISMATCH',
  NOT_FOUND: 'NOT_FOUND',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  CONFLICT: 'CONFLICT',
  RATE_LIMITED: 'RATE_LIMITED',
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  UNAUTHENTICATED: 401,
  RATE_LIMITED: 429,
  SERVICE_UNAVAILABLE: 503,
};

// A refusal decided before execution (in the request's context) answers for the whole
// request, so it also carries the HTTP status GraphQL over HTTP gives it; the same code
// raised by one field stays a field error of a 200 answer.
const REQUEST_STATUS: Partial<Record<ErrorCode, number>> = {
  ...HTTP_STATUS,
  BAD_USER_INPUT: 400,
  FORBIDDEN: 403,
  TENANT_MISMATCH: 403,
};

/** `error` as the refusal of a whole request: with its HTTP status when it has a code. */
export function refusingRequest(error: unknown): unknown {
  if (!(error instanceof ApiError)) return error;
  const status = REQUEST_STATUS[error.extensions.code as ErrorCode];
  if (status) (error as { extensions: Record<string, unknown> }).extensions = { ...error.extensions, http: { status } };
  return error;
}

/** Errors that end an operation: authentication, authorization, limits, outages. */
export class ApiError extends GraphQLError {
  constructor(code: ErrorCode, message: string, extra: Record<string, unknown> = {}) {
    const status = HTTP_STATUS[code];
    super(message, {
      extensions: { code, ...extra, ...(status ? { http: { status } } : {}) },
    });
  }
}

export const unauthenticated = () =>
  new ApiError(ErrorCode.UNAUTHENTICATED, 'Authentication is required: send a valid bearer token or API key.');
export const forbidden = (message = 'You are not allowed to do this.') => new ApiError(ErrorCode.FORBIDDEN, message);
const TENANT_MISMATCH_MESSAGES = {
  credential: 'The credential belongs to a different organization than the one this request names.',
  header: 'The X-Organization-ID header names a different organization than the one this operation names.',
  headers: 'X-Organization-ID and X-Tenant-ID name different organizations; send one, or the same in both.',
};

/** Two parts of a request name different organizations: which two, in the message. */
export const tenantMismatch = (clash: keyof typeof TENANT_MISMATCH_MESSAGES = 'credential') =>
  new ApiError(ErrorCode.TENANT_MISMATCH, TENANT_MISMATCH_MESSAGES[clash]);

/** One offending input field: its path from the argument root, why, and what kind of problem (BAD_USER_INPUT when left out). */
export interface FieldIssue {
  path: string;
  message: string;
  code?: ErrorCode;
}

/**
 * Expected failures of a mutation. Services throw them; the schema returns them as
 * typed members of the mutation's result union (plugin-errors), each with the same
 * `code` a GraphQL error would carry, and `issues`: every problem of the input the
 * error stands for, each at the path the caller wrote (empty when none is one field's).
 */
export abstract class DomainError extends Error {
  abstract readonly code: ErrorCode;
  issues: FieldIssue[] = [];
}

export class ValidationError extends DomainError {
  readonly code = ErrorCode.BAD_USER_INPUT;
  constructor(issues: FieldIssue[]) {
    super(issues.map((i) => `${i.path}: ${i.message}`).join('; '));
    this.name = 'ValidationError';
    this.issues = issues;
  }
  static field(path: string, message: string) {
    return new ValidationError([{ path, message }]);
  }
}

export class ConflictError extends DomainError {
  readonly code = ErrorCode.CONFLICT;
  constructor(
    public fields: string[],
    message = `Another record already has this ${fields.join(', ')}.`,
  ) {
    super(message);
    this.name = 'ConflictError';
    this.issues = fields.map((path) => ({ path, message, code: ErrorCode.CONFLICT }));
  }
}

export class NotFoundError extends DomainError {
  readonly code = ErrorCode.NOT_FOUND;
  /** `path`: the input field that names the missing object, when one does. */
  constructor(readonly entity: string, message = `${entity} not found.`, path?: string) {
    super(message);
    this.name = 'NotFoundError';
    if (path) this.issues = [{ path, message: message.startsWith(`${path}: `) ? message.slice(path.length + 2) : message, code: ErrorCode.NOT_FOUND }];
  }
}

/**
 * A change would leave an organization without an active ORGANIZATION_ADMIN. CONFLICT,
 * like a taken unique value: the input is valid, the current state refuses it.
 */
export class LastOrganizationAdminError extends DomainError {
  readonly code = ErrorCode.CONFLICT;
  constructor(
    message = 'An organization must keep at least one active ORGANIZATION_ADMIN: make another member one first.',
  ) {
    super(message);
    this.name = 'LastOrganizationAdminError';
  }
}

/** How many objects of one kind refer to an object that was asked to be deleted. */
export interface ReferenceCount {
  entity: string;
  count: number;
}

/** An object cannot be deleted while other objects refer to it (code CONFLICT). */
export class InUseError extends DomainError {
  readonly code = ErrorCode.CONFLICT;
  constructor(
    readonly entity: string,
    readonly references: ReferenceCount[],
    message = `The ${entity} is still used by ${references.map((r) => `${r.count} ${r.entity}(s)`).join(' and ')}.`,
  ) {
    super(message);
    this.name = 'InUseError';
  }
}

/**
 * A deleted object cannot be restored: a live object now holds one of its unique keys
 * (`holderId`, its global id), or an object it belongs to is gone (`missing`). CONFLICT,
 * like a taken value: nothing was written.
 */
export class RestoreBlockedError extends DomainError {
  readonly code = ErrorCode.CONFLICT;
  constructor(
    readonly entity: string,
    readonly fields: string[],
    readonly holderId: string | null,
    readonly missing: string | null,
  ) {
    super(
      holderId
        ? `The ${entity} cannot be restored: ${holderId} now has the same ${fields.join(', ')}.`
        : `The ${entity} cannot be restored: the ${missing} its ${fields.join(', ')} names is gone.`,
    );
    this.name = 'RestoreBlockedError';
    this.issues = [{ path: 'input.id', message: this.message, code: ErrorCode.CONFLICT }];
  }
}

/** One row a merge changed that has changed again since, so an unmerge would overwrite it. */
export interface ChangedRow {
  entity: string;
  id: string;
}

/**
 * An unmerge refused because rows the merge changed have changed since (code CONFLICT):
 * restoring them would silently lose those later changes. Undo the later changes (or
 * the later merge) first.
 */
export class MergeChangedError extends DomainError {
  readonly code = ErrorCode.CONFLICT;
  constructor(
    readonly changed: ChangedRow[],
    message = `Rows the merge changed have changed since: ${changed.map((c) => `${c.entity} ${c.id}`).join(', ')}. Undo those changes (or later merges) first.`,
  ) {
    super(message);
    this.name = 'MergeChangedError';
  }
}

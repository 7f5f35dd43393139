import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ApiError, ConflictError, DomainError, ErrorCode, ValidationError } from '../errors.ts';
import { errorFields, logger } from '../observability/logger.ts';
import { currentRequest } from '../observability/request-context.ts';

// Error masking and stable codes. Unexpected errors answer INTERNAL_SERVER_ERROR with
// the request id (the log line under that id has the details); a database that cannot
// be reached answers SERVICE_UNAVAILABLE so clients know to retry; errors the GraphQL
// layer raises itself (syntax, validation, variable coercion, query limits) carry
// BAD_USER_INPUT, so every error a client sees has one of the documented codes.

// P2028: a transaction could not start in time (every connection busy) or outlived its timeout.
const UNAVAILABLE_PRISMA = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2028']);
const UNAVAILABLE_ADAPTER = new Set([
  'DatabaseNotReachable',
  'DatabaseDoesNotExist',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
  'TransactionAlreadyClosed',
]);
// 57014: the statement timeout ended a statement (overload or a lock held too long).
const UNAVAILABLE_PG = new Set(['57014', '57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08006']);
const UNAVAILABLE_NET = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND']);

/** Whether an error means "the database cannot serve right now" rather than a bug. */
export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 6) return false;
  const e = err as {
    code?: unknown;
    kind?: unknown;
    message?: unknown;
    cause?: unknown;
    meta?: { driverAdapterError?: unknown };
  };
  if (typeof e.code === 'string' && (UNAVAILABLE_PRISMA.has(e.code) || UNAVAILABLE_PG.has(e.code) || UNAVAILABLE_NET.has(e.code))) {
    return true;
  }
  if (typeof e.kind === 'string' && UNAVAILABLE_ADAPTER.has(e.kind)) return true;
  if (typeof e.message === 'string' && /Connection terminated|connection timeout|timeout exceeded when trying to connect|Can't reach database/i.test(e.message)) {
    return true;
  }
  return isDatabaseUnavailable(e.cause, depth + 1) || isDatabaseUnavailable(e.meta?.driverAdapterError, depth + 1);
}

export function maskError(error: unknown): Error {
  // A GraphQLError of its own (no original error) comes from the GraphQL layer, such
  // as a variable that does not coerce: it describes the request, not the server.
  if (error instanceof GraphQLError && !error.originalError) return error;
  const original = error instanceof GraphQLError && error.originalError ? error.originalError : error;
  // GraphQLErrors carry their code (ours), or come from the GraphQL layer itself (a
  // variable that fails to coerce wraps another such error): either way, not a bug.
  if (original instanceof GraphQLError) return error instanceof GraphQLError ? error : original;
  // An expected failure outside a mutation result (a query's bad argument, say): the
  // same code and details a typed error would carry.
  if (original instanceof DomainError) {
    const path = error instanceof GraphQLError ? error.path : undefined;
    const details =
      original instanceof ValidationError ? original.issues : original instanceof ConflictError ? original.fields.map((f) => ({ path: f, message: 'taken' })) : undefined;
    return new GraphQLError(original.message, {
      ...(path ? { path } : {}),
      extensions: { code: original.code, ...(details ? { details } : {}) },
    });
  }
  const scope = currentRequest();
  const path = error instanceof GraphQLError ? error.path : undefined;
  if (isDatabaseUnavailable(original)) {
    logger.warn({ requestId: scope?.requestId, ...errorFields(original) }, 'database unavailable');
    return new ApiError(ErrorCode.SERVICE_UNAVAILABLE, 'The database is unavailable; retry shortly.', {
      requestId: scope?.requestId,
      retryAfter: RETRY_AFTER_SECONDS,
    });
  }
  logger.error({ requestId: scope?.requestId, path, ...errorFields(original) }, 'unexpected error');
  return new GraphQLError('Unexpected error.', {
    ...(path ? { path } : {}),
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR, requestId: scope?.requestId },
  });
}

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

/** What a SERVICE_UNAVAILABLE answer asks clients to wait: a busy pool frees within moments. */
export const RETRY_AFTER_SECONDS = 1;

/**
 * Tells clients when to retry an answer with SERVICE_UNAVAILABLE (a saturated pool, a
 * database restarting): `Retry-After`, unless another plugin set one.
 */
export function useRetryAfter(): Plugin {
  const unavailable = new WeakSet<Request>();
  const isUnavailable = (error: unknown) => error instanceof GraphQLError && error.extensions?.code === ErrorCode.SERVICE_UNAVAILABLE;
  return {
    onResultProcess: ({ request, result }) => {
      for (const r of Array.isArray(result) ? result : [result]) {
        if (r && typeof r === 'object' && 'errors' in r && Array.isArray(r.errors) && r.errors.some(isUnavailable)) unavailable.add(request);
      }
    },
    onResponse: ({ request, response }) => {
      if (unavailable.has(request) && !response.headers.has('retry-after')) response.headers.set('retry-after', String(RETRY_AFTER_SECONDS));
    },
  };
}

/** Gives a documented code to the errors the GraphQL layer produces without one. */
export function useStableErrorCodes(): Plugin {
  const tag = (errors: readonly unknown[]) => {
    for (const error of errors) {
      const code = error instanceof GraphQLError ? error.extensions?.code : undefined;
      // Yoga's own codes (GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED, BAD_REQUEST)
      // all mean the request itself is wrong.
      if (error instanceof GraphQLError && !(typeof code === 'string' && KNOWN_CODES.has(code))) {
        (error as { extensions: Record<string, unknown> }).extensions = {
          ...error.extensions,
          code: ErrorCode.BAD_USER_INPUT,
        };
      }
    }
  };
  return {
    onValidate: () => ({ result }) => tag(result),
    onResultProcess: ({ result }) => {
      const results = Array.isArray(result) ? result : [result];
      for (const r of results) {
        if (r && typeof r === 'object' && 'errors' in r && Array.isArray(r.errors)) tag(r.errors);
      }
    },
  };
}

import { builder } from '../../builder.ts';
import {
  ConflictError,
  DomainError,
  ErrorCode,
  InUseError,
  LastOrganizationAdminError,
  NotFoundError,
  ValidationError,
  type FieldIssue,
  type ReferenceCount,
} from '../../errors.ts';

// The typed errors of mutation results. Every mutation's result is a union of its
// success object and these; each carries the same `code` a GraphQL error would.

export const ErrorCodeEnum = builder.enumType('ErrorCode', {
  description: 'Stable error codes: `extensions.code` of GraphQL errors and `code` of typed errors.',
  values: {
    UNAUTHENTICATED: { description: 'No valid credential was sent.' },
    FORBIDDEN: { description: 'The credential may not do this.' },
    TENANT_MISMATCH: { description: 'The credential belongs to another organization than the request names.' },
    NOT_FOUND: { description: 'The object does not exist or is not visible to you.' },
    BAD_USER_INPUT: { description: 'An input value is invalid; `issues` says which and why.' },
    CONFLICT: { description: 'A unique value is already taken; `fields` says which.' },
    RATE_LIMITED: { description: 'Too many requests; retry after the time in Retry-After.' },
    SERVICE_UNAVAILABLE: { description: 'A dependency (the database) is unavailable; retry later.' },
    INTERNAL_SERVER_ERROR: { description: 'An unexpected error; its details are in the server log under the request id.' },
  } satisfies Record<ErrorCode, unknown>,
});

const FieldIssueRef = builder.objectRef<FieldIssue>('FieldIssue').implement({
  description: 'One problem with an input value.',
  fields: (t) => ({
    path: t.exposeString('path', { description: 'Path of the field as the caller wrote it, from the `input` argument, e.g. `input.email` or `input.items[3].sourceKey`.' }),
    message: t.exposeString('message', { description: 'What is wrong with the value.' }),
    code: t.field({
      type: ErrorCodeEnum,
      description: 'The kind of problem: BAD_USER_INPUT (invalid), NOT_FOUND (names nothing visible) or CONFLICT (taken).',
      resolve: (i) => i.code ?? ErrorCode.BAD_USER_INPUT,
    }),
  }),
});

export const ErrorInterface = builder.interfaceRef<DomainError>('Error').implement({
  description: 'An expected failure of a mutation. Nothing was written.',
  fields: (t) => ({
    code: t.field({ type: ErrorCodeEnum, description: 'Stable code.', resolve: (e) => e.code }),
    message: t.exposeString('message', { description: 'Human-readable explanation.' }),
    issues: t.field({
      type: [FieldIssueRef],
      description: 'Every problem of the input found, each at the path the caller wrote with its own code; empty when the error is about no one field.',
      resolve: (e) => e.issues,
    }),
  }),
});

builder.objectType(ValidationError, {
  name: 'ValidationError',
  description: 'Some input values are invalid (code BAD_USER_INPUT).',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof ValidationError,
  fields: () => ({}),
});

builder.objectType(ConflictError, {
  name: 'ConflictError',
  description: 'A value that must be unique is already taken (code CONFLICT).',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof ConflictError,
  fields: (t) => ({
    fields: t.exposeStringList('fields', { description: 'The input fields whose values clash.' }),
  }),
});

builder.objectType(NotFoundError, {
  name: 'NotFoundError',
  description: 'An object the input names does not exist or is not visible to you (code NOT_FOUND).',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof NotFoundError,
  fields: (t) => ({
    entity: t.exposeString('entity', { description: 'The kind of object that was not found.' }),
  }),
});

builder.objectType(LastOrganizationAdminError, {
  name: 'LastOrganizationAdminError',
  description:
    'The change would leave the organization without an active ORGANIZATION_ADMIN (code CONFLICT); make another member one first.',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof LastOrganizationAdminError,
  fields: () => ({}),
});

const ReferenceCountRef = builder.objectRef<ReferenceCount>('ReferenceCount').implement({
  description: 'How many objects of one kind refer to the object.',
  fields: (t) => ({
    entity: t.exposeString('entity', { description: 'The kind of the referring objects, e.g. `Identifier`.' }),
    count: t.exposeInt('count', { description: 'How many there are.' }),
  }),
});

builder.objectType(InUseError, {
  name: 'InUseError',
  description: 'The object cannot be deleted while other objects refer to it (code CONFLICT).',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof InUseError,
  fields: (t) => ({
    entity: t.exposeString('entity', { description: 'The kind of object that is in use.' }),
    references: t.field({
      type: [ReferenceCountRef],
      description: 'What refers to it.',
      resolve: (e) => e.references,
    }),
  }),
});

/**
 * The `errors` option of a mutation field: its result is the union
 * `<Name>Result = <Name>Success | ValidationError | ConflictError | NotFoundError`
 * (plus `extra` typed errors the mutation can also return), and the success object
 * carries the written object under `dataField` (a name, or a name and description
 * when the field is not the written object, e.g. the id of a deleted one).
 */
export function mutationResult(
  name: string,
  dataField: string | { name: string; description: string },
  description: string,
  extra: (new (...args: never[]) => DomainError)[] = [],
) {
  return {
    types: [ValidationError, ConflictError, NotFoundError, ...extra],
    union: { name: `${name}Result`, description: `The outcome of ${description}.` },
    result: { name: `${name}Success`, description: `${description[0]!.toUpperCase()}${description.slice(1)} succeeded.` },
    dataField: typeof dataField === 'string' ? { name: dataField, description: 'What was written.' } : dataField,
  };
}

import { decodeGlobalID } from '@pothos/plugin-relay';
import { ApiError, ErrorCode, ValidationError, type FieldIssue } from '../../errors.ts';
import { foldEmail, isEmail } from '../matching/normalise.ts';
import { UUID_RE } from './visibility.ts';

// Input checks shared by every service. A service collects every issue of an input
// and throws one ValidationError naming each field, before writing anything.

export class Issues {
  private readonly list: FieldIssue[] = [];

  add(path: string, message: string): void {
    this.list.push({ path, message });
  }

  /** Throws the collected issues, if any. */
  throwIfAny(): void {
    if (this.list.length) throw new ValidationError(this.list);
  }

  /** For reads, which have no result union: the collected issues as one BAD_USER_INPUT GraphQL error. */
  throwIfAnyInRead(): void {
    if (this.list.length) {
      throw new ApiError(ErrorCode.BAD_USER_INPUT, new ValidationError(this.list).message, { details: this.list });
    }
  }

  /** A trimmed string of 1..max characters (or null/undefined passed through when optional). */
  text(path: string, value: string | null | undefined, max: number, opts: { required?: boolean } = {}) {
    if (value === undefined || value === null) {
      if (opts.required) this.add(path, 'is required');
      return value;
    }
    const trimmed = value.trim();
    if (trimmed.length === 0) this.add(path, 'must not be blank');
    else if (trimmed.length > max) this.add(path, `must be at most ${max} characters`);
    return trimmed;
  }

  /** Lower-case letters, digits and single hyphens or underscores, 1..63 characters. */
  key(path: string, value: string | undefined, what = 'key') {
    if (value === undefined) return value;
    if (!/^[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?$/.test(value)) {
      this.add(path, `must be a ${what} of 1 to 63 lower-case letters, digits, '-' or '_', starting and ending with a letter or digit`);
    }
    return value;
  }

  /** An email address, lower-cased. */
  email(path: string, value: string | null | undefined) {
    if (value === undefined || value === null) return value;
    const email = normaliseEmail(value);
    if (email === null) this.add(path, `must be an email address of at most ${MAX_EMAIL_LENGTH} characters`);
    return email ?? foldEmail(value);
  }

  /**
   * The id of an object of `typename`: its global id (as any `id` field returns it) or
   * the bare UUID. Returns the UUID lower-cased, or undefined when invalid.
   */
  id(path: string, value: string | null | undefined, typename: string) {
    if (value === undefined || value === null) return value;
    const uuid = parseId(value, typename);
    if (!uuid) this.add(path, `must be the id of a ${typename}`);
    return uuid ?? undefined;
  }

  /** For partial updates: a field that may be left out, but not cleared with null. */
  notNull(path: string, value: unknown): void {
    if (value === null) this.add(path, 'cannot be cleared');
  }

  uuid(path: string, value: string | null | undefined) {
    if (value === undefined || value === null) return value;
    if (!UUID_RE.test(value)) this.add(path, 'must be a UUID');
    return value.toLowerCase();
  }

  /** An absolute http(s) URL. */
  url(path: string, value: string | null | undefined, max = 2048) {
    if (value === undefined || value === null) return value;
    let ok = value.length <= max;
    try {
      ok &&= ['http:', 'https:'].includes(new URL(value).protocol);
    } catch {
      ok = false;
    }
    if (!ok) this.add(path, `must be an http(s) URL of at most ${max} characters`);
    return value;
  }
}

/** The longest address a mail path can carry (RFC 5321, 4.5.3.1.3), so the longest stored. */
export const MAX_EMAIL_LENGTH = 254;

/** The address trimmed and lower-cased, or null when it is not one or is too long to deliver. */
export function normaliseEmail(value: string): string | null {
  const email = foldEmail(value);
  return email.length <= MAX_EMAIL_LENGTH && isEmail(email) ? email : null;
}

/**
 * Whether `value` may be a global id with a UUID inside: decoded leniently, where
 * decodeGlobalID would throw (and build two errors) for most other strings, such as a
 * source's key given where a source's id or key is allowed. A string decodeGlobalID
 * accepts decodes the same both ways.
 */
function mayBeGlobalId(value: string): boolean {
  const decoded = Buffer.from(value, 'base64').toString();
  return UUID_RE.test(decoded.slice(decoded.indexOf(':') + 1));
}

/** The UUID behind a global id of `typename` (a bare UUID is not one); null otherwise. */
export function parseGlobalId(value: string, typename: string): string | null {
  if (!mayBeGlobalId(value)) return null;
  try {
    const decoded = decodeGlobalID(value);
    return decoded.typename === typename && UUID_RE.test(decoded.id) ? decoded.id.toLowerCase() : null;
  } catch {
    return null;
  }
}

/** The type and UUID of a global id; null when it is not one. */
export function globalIdParts(value: string): { typename: string; id: string } | null {
  if (!mayBeGlobalId(value)) return null;
  try {
    const decoded = decodeGlobalID(value);
    return UUID_RE.test(decoded.id) ? { typename: decoded.typename, id: decoded.id.toLowerCase() } : null;
  } catch {
    return null;
  }
}

/** The UUID behind a global id of `typename`, or a bare UUID; null when it is neither. */
export function parseId(value: string, typename: string): string | null {
  return UUID_RE.test(value) ? value.toLowerCase() : parseGlobalId(value, typename);
}

/** The Prisma error code of a failed query (P2003 foreign key, P2025 record not found...), if any. */
export function prismaErrorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && code.startsWith('P') ? code : undefined;
}

/**
 * Prisma's unique-constraint violation, for mapping to ConflictError: the columns of
 * the constraint, or its index name where the driver reports only that (node-postgres
 * does; PGlite reports the columns). Raw queries (P2010) report it the same way.
 */
export function uniqueViolation(err: unknown): string[] | null {
  const e = err as {
    code?: string;
    meta?: {
      target?: unknown;
      driverAdapterError?: { cause?: { kind?: string; constraint?: { fields?: string[]; index?: string } } };
    };
  };
  const raw = e?.code === 'P2010' && e.meta?.driverAdapterError?.cause?.kind === 'UniqueConstraintViolation';
  if (e?.code !== 'P2002' && !raw) return null;
  const constraint = e.meta?.driverAdapterError?.cause?.constraint;
  const fields = constraint?.fields ?? (constraint?.index ? [constraint.index] : e.meta?.target);
  return Array.isArray(fields) ? fields.map(String) : [];
}

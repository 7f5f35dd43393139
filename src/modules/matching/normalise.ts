import { isSupportedCountry, parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';

// How values are compared: every identifier has a value kind and a normalised value
// beside the raw one, and identities' and users' emails and phone numbers are stored
// normalised by the same rules. Two values match when their normalised forms are equal.
//
// The rules (README, "Matching"):
// - Kind, when not given: an email address is EMAIL; an http(s) URL is URL; digits and
//   phone separators are PHONE when written with a `+` country code (8 to 15 digits) or
//   held under a key that names a phone (`phone`, `mobile`, `tel`, `fax`, …); else OTHER.
// - EMAIL: trimmed and lower-cased. Plus-addressing and dots are kept as written:
//   `a.b+x@corp.test` and `ab@corp.test` may be different mailboxes at some providers.
// - PHONE: E.164 by libphonenumber-js, national formats read with the default region
//   of the source or the organization; a number it cannot read keeps its digits (and
//   its leading `+`), so it still matches the same digits written otherwise.
// - URL: trimmed, lower-cased, without trailing slashes.
// - OTHER: trimmed, case kept (ids such as Slack's `U024BE7LH` are case-sensitive).
//
// The migration that added the columns renders the same rules in SQL
// (`identifier_value_kind`, `normalised_identifier_value`) for rows already stored;
// test/normalise.test.ts checks the two agree.

export const VALUE_KINDS = ['EMAIL', 'PHONE', 'URL', 'OTHER'] as const;
export type ValueKind = (typeof VALUE_KINDS)[number];

const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const URL_RE = /^https?:\/\//i;
/** Digits and what people write between them; the SQL rendering uses the same class. */
const PHONE_CHARS_RE = /^\+?[0-9 ().\/-]{6,40}$/;
const PHONE_KEY_RE = /phone|mobile|msisdn|whatsapp|(^|[_. -])(tel|cell|fax|sms)([_. -]|$)/i;
const SPACE = /^[ \t\r\n]+|[ \t\r\n]+$/g;

const trim = (value: string) => value.replace(SPACE, '');
const digits = (value: string) => value.replace(/\D/g, '');

/** The kind of a value held under `key`, by the rule above. */
export function inferValueKind(key: string, value: string): ValueKind {
  const v = trim(value);
  if (EMAIL_RE.test(v)) return 'EMAIL';
  if (URL_RE.test(v)) return 'URL';
  if (PHONE_CHARS_RE.test(v)) {
    const n = digits(v).length;
    if (v.startsWith('+') && n >= 8 && n <= 15) return 'PHONE';
    if (PHONE_KEY_RE.test(key)) return 'PHONE';
  }
  return 'OTHER';
}

/** An email address as it is stored and compared: trimmed and lower-cased. */
export const foldEmail = (value: string) => trim(value).toLowerCase();

/** Whether `value` (trimmed) is written like an email address. */
export const isEmail = (value: string) => EMAIL_RE.test(trim(value));

/** Whether `value` is a region code libphonenumber-js knows (ISO 3166-1 alpha-2, upper case). */
export const isPhoneRegion = (value: string) => /^[A-Z]{2}$/.test(value) && isSupportedCountry(value);

/** A phone number in E.164 form, or null when it cannot be read as one (national formats need `region`). */
export function e164(value: string, region?: string | null): string | null {
  const parsed = parsePhoneNumberFromString(trim(value), region ? { defaultCountry: region as CountryCode } : undefined);
  return parsed?.isPossible() ? parsed.number : null;
}

/** A phone number as identifiers store it: E.164 when readable, else its digits (with a leading `+` kept). */
export function normalisePhone(value: string, region?: string | null): string {
  const v = trim(value);
  // Only digits and separators are worth parsing; anything else is compared by its digits.
  const parsed = PHONE_CHARS_RE.test(v) ? e164(v, region) : null;
  if (parsed) return parsed;
  const d = digits(v.startsWith('+') ? v.replace(/\(0\)/g, '') : v);
  return d ? `${v.startsWith('+') ? '+' : ''}${d}` : v;
}

/** The normalised form of a value of `kind` (see the rules above). */
export function normaliseValue(kind: ValueKind, value: string, region?: string | null): string {
  switch (kind) {
    case 'EMAIL':
      return foldEmail(value);
    case 'PHONE':
      return normalisePhone(value, region);
    case 'URL':
      return trim(value).toLowerCase().replace(/\/+$/, '');
    default:
      return trim(value);
  }
}

/** An identifier value's kind (the given one, or inferred) and its normalised form. */
export function classify(key: string, value: string, region?: string | null, given?: ValueKind | null) {
  const valueKind = given ?? inferValueKind(key, value);
  return { valueKind, normalizedValue: normaliseValue(valueKind, value, region) };
}

/** Whether classifying `key = value` could depend on a default region (a national phone number). */
export const needsRegion = (key: string, value: string, given?: ValueKind | null) =>
  (given ?? inferValueKind(key, value)) === 'PHONE' && !trim(value).startsWith('+');

/** Why `value` cannot be of the given `kind`, or null when it can. */
export function kindMismatch(kind: ValueKind, value: string): string | null {
  const v = trim(value);
  if (kind === 'EMAIL' && !EMAIL_RE.test(v)) return 'must be an email address when valueKind is EMAIL';
  if (kind === 'URL' && !URL_RE.test(v)) return 'must be an http(s) URL when valueKind is URL';
  if (kind === 'PHONE' && !digits(v)) return 'must hold digits when valueKind is PHONE';
  return null;
}

/** Whether `value` is written like a phone number: digits and the separators people use. */
export const looksLikePhone = (value: string) => PHONE_CHARS_RE.test(trim(value)) && /\d/.test(value);

/**
 * Whether a looked-up value may also be a phone number whose kind its writer gave: written
 * like one, with the separators people put in phone numbers, under a key that does not
 * name a phone (a `contact` field holding `(415) 555-0100`). Lookups then try both
 * normalised forms (lookupValues). Bare digits are left out: they are far more often ids
 * (`005000000000064`), whose lookups would pay a statement more for the region.
 */
export const mayBeGivenPhone = (key: string, value: string) =>
  looksLikePhone(value) && /\d[ ().\/-]+\d/.test(value) && inferValueKind(key, value) !== 'PHONE';

/** Whether looking up `key = value` needs a default region (lookupValues). */
export const lookupNeedsRegion = (key: string, value: string) =>
  needsRegion(key, value) || (mayBeGivenPhone(key, value) && needsRegion(key, value, 'PHONE'));

/** The normalised forms to look `key = value` up by: as its kind is inferred, and as a phone number when it may be one. */
export function lookupValues(key: string, value: string, region?: string | null): string[] {
  const inferred = classify(key, value, region).normalizedValue;
  if (!mayBeGivenPhone(key, value)) return [inferred];
  const phone = normalisePhone(value, region);
  return phone === inferred ? [inferred] : [inferred, phone];
}

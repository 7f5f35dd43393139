import pino, { type Logger } from 'pino';

// Structured JSON logs. Log lines never carry credentials or personal data: request
// bodies and variables are not logged at all, headers only by allow-list, and error
// messages pass through `scrub`, which masks quoted values, emails, phone numbers and
// tokens (Prisma error messages quote the arguments of the failed call).

const EMAIL = /[^\s@"'<>()]+@[^\s@"'<>()]+\.[a-z]{2,}/gi;
const PHONE = /\+?\d[\d\s().-]{6,}\d/g;
const JWT = /eyJ[\w-]+\.[\w-]+\.[\w-]+/g;
const API_KEY = /\bigk_[A-Za-z0-9_-]+/g;
const QUOTED = /("|')(?:\\.|(?!\1).){1,}\1/g;

export function scrub(text: string): string {
  return text
    .replace(JWT, '[token]')
    .replace(API_KEY, '[api-key]')
    .replace(QUOTED, '$1…$1')
    .replace(EMAIL, '[email]')
    .replace(PHONE, '[number]');
}

export function createLogger(level = process.env.LOG_LEVEL ?? (process.env.NODE_ENV === 'test' ? 'silent' : 'info')): Logger {
  return pino({
    level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'authorization',
        'headers.authorization',
        'headers["x-api-key"]',
        'headers.cookie',
        'variables',
        'token',
        'apiKey',
        'secret',
        'email',
        'phoneNumber',
        'identifierValue',
      ],
      censor: '[redacted]',
    },
  });
}

export let logger: Logger = createLogger();

/** Replaces the process logger (tests point it at a buffer to scan what would be written). */
export function setLogger(next: Logger): void {
  logger = next;
}

export function errorFields(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { error: scrub(String(err)) };
  const code = (err as { code?: unknown }).code;
  return {
    error: {
      name: err.name,
      ...(typeof code === 'string' ? { code } : {}),
      message: scrub(err.message),
      stack: err.stack ? scrub(err.stack.split('\n').slice(1, 12).join('\n')) : undefined,
    },
  };
}

/** Yoga's own log calls, into the same structured log, scrubbed (only when the level is on). */
export const yogaLogger = {
  debug: (...args: unknown[]) => logger.isLevelEnabled('debug') && logger.debug(scrub(args.map(String).join(' '))),
  info: (...args: unknown[]) => logger.isLevelEnabled('info') && logger.info(scrub(args.map(String).join(' '))),
  warn: (...args: unknown[]) => logger.isLevelEnabled('warn') && logger.warn(scrub(args.map(String).join(' '))),
  // Unexpected errors are logged once, with their request id, by the error masking.
  error: (...args: unknown[]) => logger.isLevelEnabled('debug') && logger.debug(scrub(args.map(String).join(' '))),
};

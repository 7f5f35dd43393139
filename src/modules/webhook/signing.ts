import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

// Standard Webhooks signatures (https://www.standardwebhooks.com): the standardwebhooks
// package signs; this file only chooses the secrets and builds the headers.

/** A new signing secret in the format receivers' libraries read: `whsec_` and 32 random bytes in base64. */
export function newSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** Whether `secret` is one the signing library accepts (`whsec_` and base64). */
export function isSecret(secret: string): boolean {
  try {
    new Webhook(secret);
    return /^whsec_[A-Za-z0-9+/]+={0,2}$/.test(secret) && Buffer.from(secret.slice(6), 'base64').length >= 24;
  } catch {
    return false;
  }
}

export interface SigningKeys {
  secret: string;
  previousSecret: string | null;
  previousSecretExpiresAt: Date | null;
}

/** The secrets that sign now: the current one, and the previous one during its grace period. */
export function signingSecrets(keys: SigningKeys, now = new Date()): string[] {
  const previous = keys.previousSecret && keys.previousSecretExpiresAt && keys.previousSecretExpiresAt > now ? [keys.previousSecret] : [];
  return [keys.secret, ...previous];
}

/**
 * The three Standard Webhooks headers of a message: its id (the same on every retry, so
 * receivers can drop duplicates), the time it is sent, and one signature per secret,
 * space-separated, any of which a receiver may verify.
 */
export function signedHeaders(messageId: string, payload: string, secrets: string[], sentAt = new Date()): Record<string, string> {
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
    'webhook-signature': secrets.map((s) => new Webhook(s).sign(messageId, sentAt, payload)).join(' '),
  };
}

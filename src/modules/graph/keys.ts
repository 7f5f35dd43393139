import { sourceNamed } from '../shared/inputs.ts';
import { Issues } from '../shared/validate.ts';
import { looksLikePhone } from '../matching/normalise.ts';
import type { ResolveKey } from './resolve.ts';

// The lookups of `resolve` and `resolveMany`, checked and normalised into the keys
// resolveKeys looks up.

type SourceNaming = { sourceId?: string | null; sourceKey?: string | null; source?: string | null };

/** One lookup: exactly one of its fields is given (the GraphQL input is a oneOf). */
export interface ResolveInputShape {
  identifier?: ({ identifierKey: string; identifierValue: string } & SourceNaming) | null;
  email?: string | null;
  phoneNumber?: string | null;
  externalAccount?: ({ externalId: string } & SourceNaming) | null;
  identityKey?: string | null;
}

/** Checks and normalises inputs; every problem is reported at once, by path. */
export function toKeys(inputs: ResolveInputShape[], base: string): ResolveKey[] {
  const issues = new Issues();
  const keys = inputs.map((input, i): ResolveKey => {
    const at = base === 'input' ? 'input' : `${base}[${i}]`;
    if (input.identifier) {
      const { identifierKey, identifierValue } = input.identifier;
      const source = sourceNamed(issues, `${at}.identifier.`, input.identifier) ?? '';
      issues.text(`${at}.identifier.identifierKey`, identifierKey, 255, { required: true });
      if (identifierValue.length > 1024) issues.add(`${at}.identifier.identifierValue`, 'must be at most 1024 characters');
      return { kind: 'identifier', source, identifierKey: identifierKey.trim(), identifierValue };
    }
    if (input.email != null) return { kind: 'email', email: issues.email(`${at}.email`, input.email) ?? '' };
    if (input.phoneNumber != null) {
      // Read in the organization's default region, if any, when it is looked up (resolveKeys).
      if (!looksLikePhone(input.phoneNumber)) issues.add(`${at}.phoneNumber`, 'must be a phone number: digits, with or without a country code');
      return { kind: 'phone', phoneNumber: input.phoneNumber.trim() };
    }
    if (input.externalAccount) {
      const { externalId } = input.externalAccount;
      const source = sourceNamed(issues, `${at}.externalAccount.`, input.externalAccount) ?? '';
      issues.text(`${at}.externalAccount.externalId`, externalId, 255, { required: true });
      return { kind: 'external', source, externalId: externalId.trim() };
    }
    issues.text(`${at}.identityKey`, input.identityKey, 255, { required: true });
    return { kind: 'identityKey', identityKey: (input.identityKey ?? '').trim() };
  });
  issues.throwIfAny();
  return keys;
}


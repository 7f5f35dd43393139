import { decodeGlobalID, encodeGlobalID } from '@pothos/plugin-relay';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { globalIdParts, parseGlobalId } from '../src/modules/shared/validate.ts';
import { UUID_RE } from '../src/modules/shared/visibility.ts';

// parseGlobalId and globalIdParts skip decodeGlobalID for strings that cannot hold a
// UUID; they must answer exactly what decoding every string would.
function decoded(value: string): { typename: string; id: string } | null {
  try {
    const d = decodeGlobalID(value);
    return UUID_RE.test(d.id) ? { typename: d.typename, id: d.id.toLowerCase() } : null;
  } catch {
    return null;
  }
}

const typename = fc.constantFrom('User', 'IntegrationSource', 'Identifier', 'Bad Type', '', 'A:B');
const idPart = fc.oneof(fc.uuid(), fc.string(), fc.uuid().map((u) => u.toUpperCase()), fc.uuid().map((u) => `${u}:extra`));
const candidates = fc.oneof(
  fc.string(),
  fc.base64String(),
  fc.tuple(typename, idPart).map(([t, id]) => encodeGlobalID(t, id)),
  // Encoded ids changed by a character, or cut short.
  fc.tuple(typename, fc.uuid(), fc.nat(60), fc.string({ minLength: 1, maxLength: 1 })).map(([t, id, at, c]) => {
    const g = encodeGlobalID(t, id);
    return g.slice(0, at % g.length) + c + g.slice((at % g.length) + 1);
  }),
  fc.tuple(typename, fc.uuid(), fc.nat(60)).map(([t, id, n]) => encodeGlobalID(t, id).slice(0, n)),
);

describe('global ids', () => {
  it('parse as decodeGlobalID decodes them, for any string', () => {
    fc.assert(
      fc.property(candidates, typename, (value, type) => {
        const expected = decoded(value);
        expect(globalIdParts(value)).toEqual(expected);
        expect(parseGlobalId(value, type)).toBe(expected && expected.typename === type ? expected.id : null);
      }),
      { numRuns: 5000 },
    );
  });
});

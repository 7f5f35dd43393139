import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { gql } from './helpers/app.ts';
import { aUser } from './helpers/factories.ts';

// Property-based checks over mutation inputs: whatever a client sends, the mutation
// either succeeds and what was written reads back as sent (normalised), or it fails
// with BAD_USER_INPUT (or CONFLICT for a taken unique value) and writes nothing.

const text = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.string({ unit: 'grapheme', maxLength: 80 }),
  fc.constantFrom('', ' ', '\u0000', 'a'.repeat(201), '<script>', "'; DROP TABLE users; --", '  padded  '),
);
const slugish = fc.oneof(
  fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,61}[a-z0-9]$/),
  fc.string({ maxLength: 70 }),
  fc.constantFrom('a', 'A', '-a', 'a-', 'a'.repeat(64), 'ok_slug-1'),
);

describe('createOrganization over generated inputs', () => {
  it('succeeds and round-trips, or answers BAD_USER_INPUT/CONFLICT and writes nothing', async () => {
    const user = await aUser();
    await fc.assert(
      fc.asyncProperty(slugish, text, async (slug, name) => {
        const before = await prisma.organization.count();
        const result = await gql(
          `mutation ($input: CreateOrganizationInput!) { createOrganization(input: $input) {
            __typename
            ... on CreateOrganizationSuccess { organization { slug name } }
            ... on Error { code }
          } }`,
          { variables: { input: { slug, name } }, asUser: user },
        );
        const after = await prisma.organization.count();
        const payload = result.data?.createOrganization;
        if (payload?.__typename === 'CreateOrganizationSuccess') {
          expect(after).toBe(before + 1);
          expect(payload.organization).toEqual({ slug, name: name.trim() });
          const stored = await prisma.organization.findUniqueOrThrow({ where: { slug } });
          expect(stored.name).toBe(name.trim());
        } else {
          const code = payload?.code ?? result.errors?.[0]?.extensions?.code;
          expect(['BAD_USER_INPUT', 'CONFLICT'], JSON.stringify(result)).toContain(code);
          expect(after).toBe(before);
        }
      }),
      { numRuns: 60 },
    );
  }, 120_000);
});

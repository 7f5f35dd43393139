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

describe('upsertIdentifier over generated inputs', () => {
  it('succeeds and reads back as sent, or answers BAD_USER_INPUT and writes nothing', async () => {
    const { aMember, aSource, aTenantWithMember } = await import('./helpers/factories.ts');
    const { organization, user } = await aTenantWithMember();
    await aSource(organization.id, { key: 'crm' });
    const subject = await aUser();
    await aMember(organization.id, subject.id);
    const score = fc.oneof(fc.constant(null), fc.double({ min: -1, max: 2, noNaN: true }), fc.constantFrom(0, 1, 0.5));
    const metadata = fc.oneof(fc.constant(null), fc.dictionary(fc.string({ maxLength: 10 }), fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.boolean()), { maxKeys: 5 }));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constantFrom('owner_id', 'employee_id'), fc.string({ maxLength: 300 })),
        fc.oneof(fc.string({ minLength: 1, maxLength: 40 }), fc.constantFrom('', ' ', 'x'.repeat(1100))),
        fc.constantFrom('MCP_TOOL', 'LLM_DISCOVERY', 'MANUAL'),
        score,
        metadata,
        async (identifierKey, identifierValue, discoveryMethod, confidenceScore, discoveryMetadata) => {
          const before = await prisma.identifier.count();
          const result = await gql(
            `mutation ($input: UpsertIdentifierInput!) { upsertIdentifier(input: $input) {
              __typename
              ... on UpsertIdentifierSuccess { identifier { identifierKey identifierValue confidenceScore discoveryMethod discoveryMetadata } }
              ... on Error { code }
            } }`,
            {
              asUser: user,
              organizationId: organization.id,
              variables: { input: { userEmail: subject.email, sourceKey: 'crm', identifierKey, identifierValue, discoveryMethod, confidenceScore, discoveryMetadata } },
            },
          );
          const payload = result.data?.upsertIdentifier;
          if (payload?.__typename === 'UpsertIdentifierSuccess') {
            expect(payload.identifier.discoveryMethod).toBe(discoveryMethod);
            expect(payload.identifier.confidenceScore).toBe(confidenceScore);
            expect(payload.identifier.discoveryMetadata ?? null).toEqual(discoveryMetadata);
            const stored = await prisma.identifier.findFirstOrThrow({ where: { organizationId: organization.id, identifierKey: payload.identifier.identifierKey } });
            expect(stored.identifierValue).toBe(payload.identifier.identifierValue);
            expect(stored.confidenceScore).toBe(confidenceScore);
          } else {
            const code = payload?.code ?? result.errors?.[0]?.extensions?.code;
            expect(['BAD_USER_INPUT'], JSON.stringify(result)).toContain(code);
            expect(await prisma.identifier.count()).toBe(before);
          }
        },
      ),
      { numRuns: 60 },
    );
  }, 180_000);
});

import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { score } from '../src/modules/shared/inputs.ts';
import { Issues } from '../src/modules/shared/validate.ts';
import { gql } from './helpers/app.ts';
import { aMember, aSource, aTenantWithMember, aUser } from './helpers/factories.ts';
import { fc } from './helpers/property-runs.ts';

// Property-based checks over mutation inputs against a small model of the rules: what
// the model calls valid must succeed and read back as sent (normalised); what it calls
// invalid must answer BAD_USER_INPUT and write nothing. A server that refused
// everything, or accepted everything, fails.

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

/** The model's reading of a text field: trimmed, 1..max characters, no U+0000. */
const validText = (value: string, max: number) => !value.includes('\u0000') && value.trim().length >= 1 && value.trim().length <= max;
const validSlug = (slug: string) => /^[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?$/.test(slug);

describe('createOrganization over generated inputs', () => {
  it('succeeds and round-trips exactly when the model says valid, else BAD_USER_INPUT/CONFLICT and nothing written', async () => {
    const user = await aUser();
    const taken = new Set<string>();
    let created = 0;
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
        const valid = validSlug(slug) && validText(name, 200);
        const expected = !valid ? 'BAD_USER_INPUT' : taken.has(slug) ? 'CONFLICT' : 'CreateOrganizationSuccess';
        const got = payload?.__typename === 'CreateOrganizationSuccess' ? payload.__typename : (payload?.code ?? result.errors?.[0]?.extensions?.code);
        expect(got, JSON.stringify({ slug, name, result })).toBe(expected);
        if (got === 'CreateOrganizationSuccess') {
          taken.add(slug);
          created++;
          expect(after).toBe(before + 1);
          expect(payload.organization).toEqual({ slug, name: name.trim() });
          const stored = await prisma.organization.findUniqueOrThrow({ where: { slug } });
          expect(stored.name).toBe(name.trim());
        } else {
          expect(after).toBe(before);
        }
      }),
      { numRuns: 60 },
    );
    // The generators reach both sides of the model.
    expect(created).toBeGreaterThan(0);
  }, 120_000);
});

describe('upsertIdentifier over generated inputs', () => {
  it('succeeds and reads back as sent exactly when the model says valid, else BAD_USER_INPUT and nothing written', async () => {
    const { organization, user } = await aTenantWithMember();
    await aSource(organization.id, { key: 'crm' });
    const subject = await aUser();
    await aMember(organization.id, subject.id);
    const scores = fc.oneof(fc.constant(null), fc.double({ min: -1, max: 2, noNaN: true }), fc.constantFrom(0, -0, 1, 0.5));
    const metadata = fc.oneof(
      fc.constant(null),
      fc.dictionary(fc.string({ maxLength: 10 }), fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.boolean()), { maxKeys: 5 }),
    );
    let written = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constantFrom('owner_id', 'employee_id'), fc.string({ maxLength: 300 })),
        fc.oneof(fc.string({ minLength: 1, maxLength: 40 }), fc.constantFrom('', ' ', 'x'.repeat(1100))),
        fc.constantFrom('MCP_TOOL', 'LLM_DISCOVERY', 'MANUAL'),
        scores,
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
          const metadataNul = JSON.stringify(discoveryMetadata ?? {}).includes('\\u0000');
          const valid =
            validText(identifierKey, 255) &&
            validText(identifierValue, 1024) &&
            (confidenceScore === null || (confidenceScore >= 0 && confidenceScore <= 1)) &&
            !metadataNul;
          const got = payload?.__typename === 'UpsertIdentifierSuccess' ? payload.__typename : (payload?.code ?? result.errors?.[0]?.extensions?.code);
          expect(got, JSON.stringify({ identifierKey, identifierValue, confidenceScore, discoveryMetadata, result })).toBe(
            valid ? 'UpsertIdentifierSuccess' : 'BAD_USER_INPUT',
          );
          if (valid) {
            written++;
            // -0 is the score 0 (normalised at input), so both read back as 0.
            const expectedScore = confidenceScore === null ? null : confidenceScore + 0;
            expect(payload.identifier).toEqual({
              identifierKey: identifierKey.trim(),
              identifierValue: identifierValue.trim(),
              discoveryMethod,
              confidenceScore: expectedScore,
              discoveryMetadata,
            });
            const stored = await prisma.identifier.findFirstOrThrow({ where: { organizationId: organization.id, identifierKey: identifierKey.trim() } });
            expect(stored.identifierValue).toBe(identifierValue.trim());
            expect(Object.is(stored.confidenceScore, expectedScore), `stored ${stored.confidenceScore}`).toBe(true);
          } else {
            expect(await prisma.identifier.count()).toBe(before);
          }
        },
      ),
      { numRuns: 60 },
    );
    expect(written).toBeGreaterThan(0);
  }, 180_000);
});

describe('a score of -0', () => {
  it('is normalised to 0 where inputs are checked, for every path that takes a score', () => {
    expect(Object.is(score(new Issues(), 'input.confidenceScore', -0), 0)).toBe(true);
  });

  it('is the score 0, inline or in a variable, on either database', async () => {
    const { organization, user } = await aTenantWithMember();
    await aSource(organization.id, { key: 'crm' });
    const subject = await aUser();
    await aMember(organization.id, subject.id);
    const { app, tokenFor } = await import('./helpers/app.ts');
    const mutation = (key: string, score: string) =>
      `mutation ${score === '$s' ? '($s: Float)' : ''} { upsertIdentifier(input: { userEmail: "${subject.email}", sourceKey: "crm", identifierKey: "${key}", identifierValue: "v", discoveryMethod: MANUAL, confidenceScore: ${score} }) { __typename } }`;
    // JSON.stringify writes -0 as 0, so the bodies are written by hand to carry -0.
    const bodies = [
      { key: 'inline', body: JSON.stringify({ query: mutation('inline', '-0.0') }) },
      { key: 'variable', body: `{"query":${JSON.stringify(mutation('variable', '$s'))},"variables":{"s":-0.0}}` },
    ];
    for (const { key, body } of bodies) {
      const response = await app.fetch('http://localhost/graphql', {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await tokenFor(user.authSubject!)}`, 'x-organization-id': organization.id },
      });
      expect(await response.json()).toEqual({ data: { upsertIdentifier: { __typename: 'UpsertIdentifierSuccess' } } });
      const stored = await prisma.identifier.findFirstOrThrow({ where: { organizationId: organization.id, identifierKey: key } });
      expect(Object.is(stored.confidenceScore, 0), `${key}: stored ${Object.is(stored.confidenceScore, -0) ? '-0' : stored.confidenceScore}`).toBe(true);
    }
  });
});

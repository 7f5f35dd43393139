import { describe, expect, it } from 'vitest';
import { appWith, expectNoErrors, gql } from './helpers/app.ts';
import { aTenantWithMember } from './helpers/factories.ts';

// The cost limit counts page sizes however they are given: written in the operation,
// passed as variables, or left to the variables' defaults.

const selection = (members: string, identifiers: string) => `
  organization(id: $org) {
    members(first: ${members}) {
      edges { node { role user { email identifiers(first: ${identifiers}) { edges { node { identifierKey identifierValue } } } } } }
    }
  }`;

const LITERAL = (members: number, identifiers: number) => `query ($org: ID!) { ${selection(String(members), String(identifiers))} }`;
const VARIABLES = `query ($org: ID!, $members: Int, $identifiers: Int) { ${selection('$members', '$identifiers')} }`;
const DEFAULTS = `query ($org: ID!, $members: Int = 50, $identifiers: Int = 20) { ${selection('$members', '$identifiers')} }`;
const FRAGMENT = `query ($org: ID!, $members: Int!, $identifiers: Int!) { ...Page }
  fragment Page on Query { ${selection('$members', '$identifiers')} }`;

const messages = (result: { errors?: { message: string; extensions?: Record<string, unknown> }[] }) =>
  (result.errors ?? []).map((e) => [e.extensions?.code, e.message]);

describe('the cost limit', () => {
  it('refuses the same operation whether its page sizes are literals, variables, variable defaults or inside a fragment', async () => {
    const { organization, user } = await aTenantWithMember('ANALYST');
    const options = { asUser: user, organizationId: organization.id };
    const literal = await gql(LITERAL(50, 20), { ...options, variables: { org: organization.id } });
    expect(literal.data ?? null).toBeNull();
    const [[code, message]] = messages(literal) as [[string, string]];
    expect(code).toBe('BAD_USER_INPUT');
    expect(message).toMatch(/^Query Cost limit of 50000 exceeded, found \d+\.$/);
    for (const [name, query, variables] of [
      ['variables', VARIABLES, { org: organization.id, members: 50, identifiers: 20 }],
      ['defaults', DEFAULTS, { org: organization.id }],
    ] as const) {
      const result = await gql(query, { ...options, variables });
      expect(result.data ?? null, name).toBeNull();
      // The same cost, counted the same way.
      expect(messages(result), name).toEqual([[code, message]]);
    }
    // A fragment adds its own little cost to the same selection.
    const fragment = await gql(FRAGMENT, { ...options, variables: { org: organization.id, members: 50, identifiers: 20 } });
    expect(fragment.data ?? null).toBeNull();
    expect(messages(fragment)).toEqual([[code, expect.stringMatching(/^Query Cost limit of 50000 exceeded, found \d+\.$/)]]);
  });

  it('runs the operation when the values keep it under the limit, and a default overridden by a smaller value', async () => {
    const { organization, user } = await aTenantWithMember('ANALYST');
    const options = { asUser: user, organizationId: organization.id };
    expectNoErrors(await gql(LITERAL(5, 5), { ...options, variables: { org: organization.id } }));
    expectNoErrors(await gql(VARIABLES, { ...options, variables: { org: organization.id, members: 5, identifiers: 5 } }));
    const small = await gql(DEFAULTS, { ...options, variables: { org: organization.id, members: 5 } });
    expectNoErrors(small);
    expect(small.data?.organization.members.edges).toHaveLength(1);
  });

  it('names the limit without numbers in production, for variables too', async () => {
    const { organization } = await aTenantWithMember('ANALYST');
    const production = appWith({ NODE_ENV: 'production' });
    const result = await gql(DEFAULTS, { app: production, variables: { org: organization.id } });
    expect(messages(result)).toEqual([['BAD_USER_INPUT', 'Query cost limit exceeded.']]);
  });
});

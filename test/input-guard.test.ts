import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { MAX_INPUT_DEPTH } from '../src/plugins/input-guard.ts';
import { app, expectErrorCode, gql, tokenFor } from './helpers/app.ts';
import { aMember, aSource, aTenantWithMember, aUser } from './helpers/factories.ts';

// Whatever a string or JSON argument carries, a write either stores it or answers
// BAD_USER_INPUT naming where, and writes nothing: never a server error.

const UPSERT = `mutation ($input: UpsertIdentifierInput!) {
  upsertIdentifier(input: $input) { __typename ... on Error { code } }
}`;
const UPSERT_MANY = `mutation ($input: UpsertIdentifiersInput!) {
  upsertIdentifiers(input: $input) { __typename ... on Error { code } }
}`;

async function tenant() {
  const { organization, user } = await aTenantWithMember();
  await aSource(organization.id, { key: 'crm' });
  const subject = await aUser();
  await aMember(organization.id, subject.id);
  const item = { userEmail: subject.email, sourceKey: 'crm', identifierKey: 'k', identifierValue: 'v', discoveryMethod: 'MANUAL' };
  return { organization, user, item, as: { asUser: user, organizationId: organization.id } };
}

/** `levels` objects nested inside each other, around 1, as JSON text (no recursion, so any depth). */
const nestedJson = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
const nested = (levels: number) => JSON.parse(nestedJson(levels)) as Record<string, unknown>;

/** Details of a refusal: the GraphQL error's, as the guard answers before any resolver. */
function refusal(result: { errors?: { extensions?: Record<string, any> }[] }) {
  expectErrorCode(result as never, 'BAD_USER_INPUT');
  return result.errors![0]!.extensions!.details as { path: string; message: string }[];
}

describe('NUL characters', () => {
  it('are refused in a JSON object key, with its path, and nothing is written', async () => {
    const { item, as } = await tenant();
    const result = await gql(UPSERT, { ...as, variables: { input: { ...item, discoveryMetadata: { ok: { 'a\u0000b': 1 } } } } });
    expect(refusal(result)).toEqual([{ path: 'input.discoveryMetadata.ok', message: 'has a key that contains U+0000' }]);
    expect(await prisma.identifier.count()).toBe(0);
  });

  it('are refused in a nested JSON string of one item of a bulk write, and no item is written', async () => {
    const { item, as } = await tenant();
    const items = [item, { ...item, identifierKey: 'k2', discoveryMetadata: { list: ['x', { s: 'a\u0000' }] } }];
    const result = await gql(UPSERT_MANY, { ...as, variables: { input: { items } } });
    expect(refusal(result)).toEqual([{ path: 'input.items[1].discoveryMetadata.list[1].s', message: 'contains U+0000' }]);
    expect(await prisma.identifier.count()).toBe(0);
  });

  it('are refused in inline arguments, with the path from the argument', async () => {
    const { user } = await tenant();
    const result = await gql('mutation { createOrganization(input: { slug: "nul", name: "a\\u0000b" }) { __typename } }', { asUser: user });
    expect(refusal(result)).toEqual([{ path: 'input.name', message: 'contains U+0000' }]);
    expect(await prisma.organization.count({ where: { slug: 'nul' } })).toBe(0);
  });
});

describe('nesting', () => {
  const post = async (body: string, token: string, organizationId: string) => {
    const response = await app.fetch('http://localhost/graphql', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-organization-id': organizationId },
    });
    return { status: response.status, ...((await response.json()) as { errors?: { extensions?: Record<string, any> }[] }) };
  };

  it('5,000 levels of JSON in a variable are refused with a path, not a stack overflow', async () => {
    const { organization, user, item } = await tenant();
    const input = `${JSON.stringify(item).slice(0, -1)},"discoveryMetadata":${nestedJson(5000)}}`;
    const result = await post(`{"query":${JSON.stringify(UPSERT)},"variables":{"input":${input}}}`, await tokenFor(user.authSubject!), organization.id);
    const [detail] = refusal(result);
    expect(detail!.path).toMatch(/^input\.discoveryMetadata(\.a)+$/);
    expect(detail!.message).toBe(`nests deeper than ${MAX_INPUT_DEPTH} levels`);
    expect(await prisma.identifier.count()).toBe(0);
  });

  it('5,000 levels of an inline literal are refused before parsing', async () => {
    const { organization, user, item } = await tenant();
    const literal = `${'{a: '.repeat(5000)}1${'}'.repeat(5000)}`;
    const query = `mutation { upsertIdentifier(input: {userEmail: "${item.userEmail}", sourceKey: "crm", identifierKey: "k", identifierValue: "v", discoveryMethod: MANUAL, discoveryMetadata: ${literal}}) { __typename } }`;
    const result = await post(JSON.stringify({ query }), await tokenFor(user.authSubject!), organization.id);
    expect(result.status).toBe(400);
    expectErrorCode(result as never, 'BAD_USER_INPUT');
    expect(await prisma.identifier.count()).toBe(0);
  });

  it(`stores JSON up to ${MAX_INPUT_DEPTH} levels from the argument, and refuses one level more`, async () => {
    const { item, as } = await tenant();
    // input is level 1, discoveryMetadata level 2: MAX_INPUT_DEPTH - 1 levels of JSON fit.
    const fits = await gql(UPSERT, { ...as, variables: { input: { ...item, discoveryMetadata: nested(MAX_INPUT_DEPTH - 1) } } });
    expect(fits.data?.upsertIdentifier.__typename, JSON.stringify(fits)).toBe('UpsertIdentifierSuccess');
    const deeper = await gql(UPSERT, { ...as, variables: { input: { ...item, identifierKey: 'k2', discoveryMetadata: nested(MAX_INPUT_DEPTH) } } });
    expect(refusal(deeper)[0]!.message).toBe(`nests deeper than ${MAX_INPUT_DEPTH} levels`);
    expect(await prisma.identifier.count()).toBe(1);
  });
});

describe('emails', () => {
  const CREATE = `mutation ($input: CreateUserInput!) { createUser(input: $input) {
    __typename ... on ValidationError { code issues { path message } } } }`;

  it('are at most 254 characters', async () => {
    const admin = await aUser({ isSystemAdmin: true });
    const address = (length: number) => `${'a'.repeat(length - '@example.com'.length)}@example.com`;
    const long = await gql(CREATE, { asUser: admin, variables: { input: { email: address(255) } } });
    expect(long.data?.createUser).toEqual({
      __typename: 'ValidationError',
      code: 'BAD_USER_INPUT',
      issues: [{ path: 'input.email', message: 'must be an email address of at most 254 characters' }],
    });
    expect(await prisma.user.count({ where: { email: address(255) } })).toBe(0);
    const longest = await gql(CREATE, { asUser: admin, variables: { input: { email: address(254) } } });
    expect(longest.data?.createUser.__typename).toBe('CreateUserSuccess');
  });
});

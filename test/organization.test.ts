import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { expectErrorCode, expectNoErrors, gql } from './helpers/app.ts';
import { anOrganization, aUser } from './helpers/factories.ts';

const CREATE = `mutation ($input: CreateOrganizationInput!) {
  createOrganization(input: $input) {
    __typename
    ... on CreateOrganizationSuccess { organization { id slug name } }
    ... on Error { code message }
    ... on ValidationError { issues { path message } }
    ... on ConflictError { fields }
  }
}`;

describe('createOrganization', () => {
  it('creates the organization and makes the creator its active ORGANIZATION_ADMIN', async () => {
    const user = await aUser();
    const result = await gql(CREATE, { variables: { input: { slug: 'acme', name: ' Acme ' } }, asUser: user });
    expectNoErrors(result);
    expect(result.data?.createOrganization).toMatchObject({
      __typename: 'CreateOrganizationSuccess',
      organization: { slug: 'acme', name: 'Acme' },
    });
    const member = await prisma.member.findFirstOrThrow({ where: { userId: user.id } });
    expect(member).toMatchObject({ role: 'ORGANIZATION_ADMIN', state: 'ACTIVE' });
  });

  it('answers BAD_USER_INPUT naming each invalid field and writes nothing', async () => {
    const user = await aUser();
    const result = await gql(CREATE, { variables: { input: { slug: 'Not A Slug', name: '' } }, asUser: user });
    expectErrorCode(result, 'BAD_USER_INPUT');
    expect(result.data?.createOrganization.issues.map((i: { path: string }) => i.path)).toEqual(['input.slug', 'input.name']);
    expect(await prisma.organization.count()).toBe(0);
  });

  it('answers CONFLICT on a taken slug, also when two requests race for it', async () => {
    const user = await aUser();
    await anOrganization({ slug: 'taken' });
    const taken = await gql(CREATE, { variables: { input: { slug: 'taken', name: 'X' } }, asUser: user });
    expectErrorCode(taken, 'CONFLICT');
    expect(taken.data?.createOrganization.fields).toEqual(['input.slug']);

    const racers = await Promise.all(
      Array.from({ length: 8 }, () => gql(CREATE, { variables: { input: { slug: 'raced', name: 'R' } }, asUser: user })),
    );
    const outcomes = racers.map((r) => r.data?.createOrganization.__typename).sort();
    expect(outcomes).toEqual([...Array(7).fill('ConflictError'), 'CreateOrganizationSuccess']);
    expect(await prisma.organization.count({ where: { slug: 'raced' } })).toBe(1);
  });

  it('answers UNAUTHENTICATED without a credential and writes nothing', async () => {
    const result = await gql(CREATE, { variables: { input: { slug: 'anon', name: 'Anon' } } });
    expectErrorCode(result, 'UNAUTHENTICATED');
    expect(await prisma.organization.count()).toBe(0);
  });
});

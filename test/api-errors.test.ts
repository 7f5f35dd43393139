import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { expectNoErrors, globalId, gql, type GqlOptions } from './helpers/app.ts';
import { aMember, anIdentity, aSource, aTenantWithMember, aUser } from './helpers/factories.ts';

// Errors point at what the caller sent: a clash is reported on the fields written (a
// provider account is its source and externalId), every clashing field is named, and
// a bulk write reports every problem of every item at once, each at its path with its
// own code, writing nothing.

const outcome = (field: string) => `${field}(input: $input) {
  __typename
  ... on Error { code message issues { path message code } }
  ... on ConflictError { fields }
}`;
const CREATE_USER_IDENTITY = `mutation ($input: CreateUserIdentityInput!) { ${outcome('createUserIdentity')} }`;
const CREATE_IDENTITY = `mutation ($input: CreateIdentityInput!) { ${outcome('createIdentity')} }`;
const UPSERT_IDENTITIES = `mutation ($input: UpsertIdentitiesInput!) { ${outcome('upsertIdentities')} }`;
const UPSERT_IDENTIFIERS = `mutation ($input: UpsertIdentifiersInput!) { ${outcome('upsertIdentifiers')} }`;

async function world() {
  const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
  const okta = await aSource(organization.id, { key: 'okta', kind: 'IDENTITY_PROVIDER' });
  const crm = await aSource(organization.id, { key: 'crm' });
  const person = await aUser();
  await aMember(organization.id, person.id);
  const as: GqlOptions = { asUser: admin, organizationId: organization.id };
  return { organization, admin, okta, crm, person, as };
}

/** Rows of every table a refused write could have touched. */
const counts = async () => ({
  identities: await prisma.identity.count(),
  identifiers: await prisma.identifier.count(),
  properties: await prisma.identityProperty.count(),
  events: await prisma.auditEvent.count(),
});

const conflict = (path: string, message: string | RegExp = /./) => ({ path, message: expect.stringMatching(message), code: 'CONFLICT' });
const notFound = (path: string) => ({ path, message: expect.stringMatching(/no (member|source) of the organization matches/), code: 'NOT_FOUND' });
const invalid = (path: string) => ({ path, message: expect.any(String), code: 'BAD_USER_INPUT' });

describe('errors that point at what was sent', () => {
  it('reports a provider account taken on the source and externalId the caller wrote, never on a key it did not send', async () => {
    const { okta, person, as } = await world();
    const account = { userId: globalId('User', person.id), sourceKey: 'okta', externalId: '00u-1' };
    expectNoErrors(await gql(CREATE_USER_IDENTITY, { ...as, variables: { input: account } }));
    const before = await counts();

    const again = await gql(CREATE_USER_IDENTITY, { ...as, variables: { input: account } });
    expect(again.data!.createUserIdentity).toMatchObject({ __typename: 'ConflictError', code: 'CONFLICT', fields: ['input.sourceKey', 'input.externalId'] });
    expect(again.data!.createUserIdentity.message).toMatch(/account at this identity provider/);
    expect(again.data!.createUserIdentity.message).not.toMatch(/identifierKey/);
    expect(again.data!.createUserIdentity.issues).toEqual([conflict('input.sourceKey', /account/), conflict('input.externalId', /account/)]);

    // By source id, under a key of its own: the clash is on sourceId and externalId.
    const byId = await gql(CREATE_IDENTITY, {
      ...as,
      variables: { input: { identifierKey: 'other', identityType: 'USER', name: 'Other', sourceId: globalId('IntegrationSource', okta.id), externalId: '00u-1' } },
    });
    expect(byId.data!.createIdentity).toMatchObject({ code: 'CONFLICT', fields: ['input.sourceId', 'input.externalId'] });
    expect(await counts()).toEqual(before);
  });

  it('names every field that clashes, each held by another identity', async () => {
    const { organization, as } = await world();
    await anIdentity(organization.id, { identifierKey: 'mail', email: 'shared@example.com', phoneNumber: null });
    await anIdentity(organization.id, { identifierKey: 'phone', email: null, phoneNumber: '+15555550100' });
    const before = await counts();
    const result = await gql(CREATE_IDENTITY, {
      ...as,
      variables: { input: { identifierKey: 'mail', identityType: 'USER', name: 'New', email: 'shared@example.com', phoneNumber: '+1 555 555 0100' } },
    });
    const error = result.data!.createIdentity;
    expect(error).toMatchObject({ __typename: 'ConflictError', code: 'CONFLICT', fields: ['input.identifierKey', 'input.email', 'input.phoneNumber'] });
    expect(error.message).toBe('Another identity of the organization has this identifierKey, this email and this phoneNumber.');
    expect(error.issues.map((i: { path: string; code: string }) => [i.path, i.code])).toEqual([
      ['input.identifierKey', 'CONFLICT'],
      ['input.email', 'CONFLICT'],
      ['input.phoneNumber', 'CONFLICT'],
    ]);
    expect(await counts()).toEqual(before);
  });

  it('a bulk identifier write reports every unknown user and source and every invalid field at once, writing nothing', async () => {
    const { person, as } = await world();
    const item = (over: Record<string, unknown>) => ({ userId: person.id, sourceKey: 'crm', identifierKey: 'owner_id', identifierValue: 'v', discoveryMethod: 'MANUAL', ...over });
    const before = await counts();
    const result = await gql(UPSERT_IDENTIFIERS, {
      ...as,
      variables: {
        input: {
          items: [
            item({ identifierValue: 'fine' }),
            item({ userId: undefined, userEmail: 'nobody@example.com' }),
            item({ sourceKey: 'nope', identifierKey: 'k1' }),
            // An invalid field and an unknown source on one item: both.
            item({ sourceKey: 'missing', identifierKey: ' ', confidenceScore: 2 }),
            item({ identifierKey: 'k4', sourceKey: undefined, sourceId: globalId('IntegrationSource', '00000000-0000-4000-8000-000000000000') }),
          ],
        },
      },
    });
    const error = result.data!.upsertIdentifiers;
    expect(error).toMatchObject({ __typename: 'ValidationError', code: 'BAD_USER_INPUT' });
    expect(error.issues).toEqual([
      notFound('input.items[1].userEmail'),
      notFound('input.items[2].sourceKey'),
      invalid('input.items[3].identifierKey'),
      invalid('input.items[3].confidenceScore'),
      notFound('input.items[3].sourceKey'),
      notFound('input.items[4].sourceId'),
    ]);
    expect(await counts()).toEqual(before);
  });

  it('a bulk write with only unknown references keeps NOT_FOUND and lists each', async () => {
    const { person, as } = await world();
    const before = await counts();
    const result = await gql(UPSERT_IDENTIFIERS, {
      ...as,
      variables: {
        input: {
          items: ['a', 'b'].map((sourceKey) => ({ userId: person.id, sourceKey, identifierKey: 'k', identifierValue: 'v', discoveryMethod: 'MANUAL' })),
        },
      },
    });
    expect(result.data!.upsertIdentifiers).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    expect(result.data!.upsertIdentifiers.issues).toEqual([notFound('input.items[0].sourceKey'), notFound('input.items[1].sourceKey')]);
    expect(await counts()).toEqual(before);
  });

  it('a bulk identity write reports invalid fields, unknown providers and taken values of every item at once, writing nothing', async () => {
    const { organization, okta, as } = await world();
    await anIdentity(organization.id, { identifierKey: 'held', email: 'held@example.com', sourceId: okta.id, externalId: 'taken' });
    const item = (i: number, over: Record<string, unknown> = {}) => ({ identifierKey: `id_${i}`, identityType: 'USER', name: `N${i}`, ...over });
    const before = await counts();
    const result = await gql(UPSERT_IDENTITIES, {
      ...as,
      variables: {
        input: {
          items: [
            item(0),
            item(1, { sourceKey: 'okta', externalId: 'taken', properties: [{ key: 'p', type: 'NUMBER', value: 1 }] }),
            item(2, { name: '', sourceKey: 'nope', externalId: 'x' }),
            item(3, { sourceKey: 'crm', externalId: 'y' }),
            item(4, { email: 'held@example.com' }),
          ],
        },
      },
    });
    const error = result.data!.upsertIdentities;
    expect(error).toMatchObject({ __typename: 'ValidationError', code: 'BAD_USER_INPUT' });
    expect(error.issues).toEqual([
      conflict('input.items[1].sourceKey', /account/),
      conflict('input.items[1].externalId', /account/),
      invalid('input.items[2].name'),
      notFound('input.items[2].sourceKey'),
      { path: 'input.items[3].sourceKey', message: 'must be an IDENTITY_PROVIDER source', code: 'BAD_USER_INPUT' },
      conflict('input.items[4].email', /this email/),
    ]);
    expect(await counts()).toEqual(before);
  });
});

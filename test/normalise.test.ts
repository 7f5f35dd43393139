import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { classify, inferValueKind, normaliseValue, type ValueKind } from '../src/modules/matching/normalise.ts';
import { expectErrorCode, expectNoErrors, globalId, gql } from './helpers/app.ts';
import { aMember, anIdentifier, anIdentity, aSource, aTenantWithMember, aUser } from './helpers/factories.ts';

const BULK = `mutation ($input: UpsertIdentifiersInput!) {
  upsertIdentifiers(input: $input) {
    __typename
    ... on UpsertIdentifiersSuccess { results { outcome identifier { identifierKey identifierValue valueKind normalizedValue } } }
    ... on Error { code message }
    ... on ValidationError { issues { path message } }
  }
}`;

const RESOLVE_MANY = `query ($inputs: [ResolveInput!]!) {
  resolveMany(inputs: $inputs) { ambiguous user { email } candidates { email } identity { identifierKey } matchedIdentifiers { identifierValue } }
}`;

const UPDATE_ORGANIZATION = `mutation ($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) {
    __typename
    ... on UpdateOrganizationSuccess { organization { defaultPhoneRegion } }
    ... on Error { code message }
  }
}`;

const CREATE_IDENTITY = `mutation ($input: CreateIdentityInput!) {
  createIdentity(input: $input) {
    __typename
    ... on CreateIdentitySuccess { identity { phoneNumber email } }
    ... on Error { code message }
  }
}`;

/** Keys and values of every kind, written as integrations write them. */
const SAMPLES: [string, string][] = [
  ['email', 'Shared.Person@Corp.test'],
  ['user_email', '  alice+crm@Corp.Test '],
  ['owner_id', 'a.b@c.io'],
  ['phone', '+1 (555) 000-2222'],
  ['phone', '+15550002222'],
  ['mobile_phone', '+44 (0)20 7946 0000'],
  ['work_phone', '(415) 500-0042'],
  ['fax', '0014155000042'],
  ['contact', '+49 30 123456'],
  ['owner_id', '005XYZ'],
  ['employee_id', '12345'],
  ['hotel_id', '555-0100'],
  ['profile', 'https://LinkedIn.com/in/Ada/'],
  ['slack_id', 'U024BE7LH'],
  ['note', 'call +1 555'],
];

describe('value kinds and normalised values', () => {
  it('infer the kind from key and value and normalise each kind by its rule', () => {
    const table = SAMPLES.map(([k, v]) => [k, v, ...Object.values(classify(k, v))]);
    expect(table).toEqual([
      ['email', 'Shared.Person@Corp.test', 'EMAIL', 'shared.person@corp.test'],
      ['user_email', '  alice+crm@Corp.Test ', 'EMAIL', 'alice+crm@corp.test'],
      ['owner_id', 'a.b@c.io', 'EMAIL', 'a.b@c.io'],
      ['phone', '+1 (555) 000-2222', 'PHONE', '+15550002222'],
      ['phone', '+15550002222', 'PHONE', '+15550002222'],
      ['mobile_phone', '+44 (0)20 7946 0000', 'PHONE', '+442079460000'],
      ['work_phone', '(415) 500-0042', 'PHONE', '4155000042'],
      ['fax', '0014155000042', 'PHONE', '0014155000042'],
      ['contact', '+49 30 123456', 'PHONE', '+4930123456'],
      ['owner_id', '005XYZ', 'OTHER', '005XYZ'],
      ['employee_id', '12345', 'OTHER', '12345'],
      ['hotel_id', '555-0100', 'OTHER', '555-0100'],
      ['profile', 'https://LinkedIn.com/in/Ada/', 'URL', 'https://linkedin.com/in/ada'],
      ['slack_id', 'U024BE7LH', 'OTHER', 'U024BE7LH'],
      ['note', 'call +1 555', 'OTHER', 'call +1 555'],
    ]);
  });

  it('read national phone formats in a default region', () => {
    expect(normaliseValue('PHONE', '(415) 500-0042', 'US')).toBe('+14155000042');
    expect(normaliseValue('PHONE', '0014155000042', 'DE')).toBe('+14155000042');
    expect(normaliseValue('PHONE', '020 7946 0000', 'GB')).toBe('+442079460000');
    // A number with its country code is read the same in any region.
    expect(normaliseValue('PHONE', '+1 (555) 000-2222', 'GB')).toBe('+15550002222');
  });

  it('are rendered the same by the SQL functions of the migration, for every value without a region', async () => {
    const keys = ['email', 'phone', 'owner_id', 'fax', 'profile_url', 'telephone', 'sms_number', 'x'];
    const values = [
      ...SAMPLES.map(([, v]) => v),
      'Bob@Example.org', '+1-555-000-2222', '+1 555 000 2222 ', '555.000.2222', '(020) 7946 0000', '+33 1 23 45 67 89',
      'http://example.com//', 'HTTPS://EXAMPLE.COM/A', '+1234', '+123456789012345678', 'a@b', '@handle', '0', ' spaced ',
    ];
    const pairs = keys.flatMap((k) => values.map((v) => [k, v] as const));
    const rows = await prisma.$queryRaw<{ kind: ValueKind; normalised: string }[]>`
      SELECT identifier_value_kind(k, v)::text AS kind, normalised_identifier_value(identifier_value_kind(k, v), v) AS normalised
      FROM unnest(${pairs.map((p) => p[0])}::text[], ${pairs.map((p) => p[1])}::text[]) WITH ORDINALITY AS t(k, v, n) ORDER BY n`;
    expect(rows.map((r) => [r.kind, r.normalised])).toEqual(
      pairs.map(([k, v]) => {
        const kind = inferValueKind(k, v);
        return [kind, normaliseValue(kind, v)];
      }),
    );
  });
});

async function tenant() {
  const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
  const crm = await aSource(organization.id, { key: 'crm' });
  const okta = await aSource(organization.id, { key: 'okta', kind: 'IDENTITY_PROVIDER' });
  const alice = await aUser({ email: `alice-${organization.slug}@corp.test` });
  const bob = await aUser({ email: `bob-${organization.slug}@corp.test` });
  for (const u of [alice, bob]) await aMember(organization.id, u.id, { state: 'ACTIVE' });
  return { organization, admin, crm, okta, alice, bob };
}

describe('identifiers', () => {
  it('keep the value as written beside its kind and normalised value, and take a kind given', async () => {
    const { organization, admin, alice } = await tenant();
    const result = await gql(BULK, {
      asUser: admin,
      organizationId: organization.id,
      variables: {
        input: {
          items: [
            { userId: alice.id, sourceKey: 'crm', identifierKey: 'phone', identifierValue: '+1 (555) 000-2222', discoveryMethod: 'MANUAL' },
            { userId: alice.id, sourceKey: 'crm', identifierKey: 'email', identifierValue: 'Shared.Person@Corp.test', discoveryMethod: 'MANUAL' },
            { userId: alice.id, sourceKey: 'crm', identifierKey: 'login', identifierValue: 'Alice.Login', valueKind: 'OTHER', discoveryMethod: 'MANUAL' },
            { userId: alice.id, sourceKey: 'crm', identifierKey: 'desk', identifierValue: '555 0100', valueKind: 'PHONE', discoveryMethod: 'MANUAL' },
          ],
        },
      },
    });
    expectNoErrors(result);
    expect(result.data!.upsertIdentifiers.results.map((r: { identifier: object }) => r.identifier)).toEqual([
      { identifierKey: 'phone', identifierValue: '+1 (555) 000-2222', valueKind: 'PHONE', normalizedValue: '+15550002222' },
      { identifierKey: 'email', identifierValue: 'Shared.Person@Corp.test', valueKind: 'EMAIL', normalizedValue: 'shared.person@corp.test' },
      { identifierKey: 'login', identifierValue: 'Alice.Login', valueKind: 'OTHER', normalizedValue: 'Alice.Login' },
      { identifierKey: 'desk', identifierValue: '555 0100', valueKind: 'PHONE', normalizedValue: '5550100' },
    ]);
  });

  it('refuse a kind the value cannot be, writing nothing', async () => {
    const { organization, admin, alice } = await tenant();
    const result = await gql(BULK, {
      asUser: admin,
      organizationId: organization.id,
      variables: {
        input: {
          items: [
            { userId: alice.id, sourceKey: 'crm', identifierKey: 'phone', identifierValue: '+1 555 000 2222', discoveryMethod: 'MANUAL' },
            { userId: alice.id, sourceKey: 'crm', identifierKey: 'mail', identifierValue: 'not an address', valueKind: 'EMAIL', discoveryMethod: 'MANUAL' },
          ],
        },
      },
    });
    expectErrorCode(result, 'BAD_USER_INPUT');
    expect(result.data!.upsertIdentifiers.issues).toEqual([
      { path: 'input.items[1].identifierValue', message: 'must be an email address when valueKind is EMAIL' },
    ]);
    expect(await prisma.identifier.count({ where: { organizationId: organization.id } })).toBe(0);
  });

  it('are found by resolve from any way of writing the value, and by the source given by key, UUID or global id', async () => {
    const { organization, admin, crm, okta, alice } = await tenant();
    await anIdentifier(organization.id, alice.id, crm.id, { identifierKey: 'phone', identifierValue: '+1 (555) 000-2222' });
    await anIdentifier(organization.id, alice.id, crm.id, { identifierKey: 'email', identifierValue: 'Shared.Person@Corp.test' });
    await anIdentity(organization.id, { identifierKey: 'alice-okta', name: 'Alice', userId: alice.id, sourceId: okta.id, externalId: '00u-alice' });
    const identifier = (source: string, identifierKey: string, identifierValue: string) => ({ identifier: { source, identifierKey, identifierValue } });
    const inputs = [
      identifier('crm', 'phone', '+15550002222'),
      identifier('crm', 'phone', '+1 555-000-2222'),
      identifier(crm.id, 'email', 'shared.person@corp.test'),
      identifier(globalId('IntegrationSource', crm.id), 'email', ' SHARED.PERSON@CORP.TEST'),
      { externalAccount: { source: globalId('IntegrationSource', okta.id), externalId: '00u-alice' } },
      { externalAccount: { source: okta.id.toUpperCase(), externalId: '00u-alice' } },
      identifier(globalId('IntegrationSource', organization.id), 'email', 'shared.person@corp.test'),
    ];
    const result = await gql(RESOLVE_MANY, { asUser: admin, organizationId: organization.id, variables: { inputs } });
    expectNoErrors(result);
    const emails = result.data!.resolveMany.map((r: { user: { email: string } } | null) => r?.user.email ?? null);
    // The last names a source by the global id of something else: no source.
    expect(emails).toEqual([...Array(6).fill(alice.email), null]);
    // The fast path of one `resolve` selecting only the user agrees.
    for (const input of inputs.slice(0, 4)) {
      const one = await gql('query ($input: ResolveInput!) { resolve(input: $input) { user { email } } }', {
        asUser: admin,
        organizationId: organization.id,
        variables: { input },
      });
      expect(one.data?.resolve?.user.email).toBe(alice.email);
    }
  });

  it('with a default region, read national phone formats, and those already stored are normalised again', async () => {
    const { organization, admin, crm, alice, bob } = await tenant();
    await anIdentifier(organization.id, alice.id, crm.id, { identifierKey: 'phone', identifierValue: '(415) 500-0042' });
    const bad = await gql(UPDATE_ORGANIZATION, { asUser: admin, variables: { input: { id: organization.id, defaultPhoneRegion: 'XX' } } });
    expectErrorCode(bad, 'BAD_USER_INPUT');
    const set = await gql(UPDATE_ORGANIZATION, { asUser: admin, variables: { input: { id: organization.id, defaultPhoneRegion: 'us' } } });
    expect(set.data?.updateOrganization.organization).toEqual({ defaultPhoneRegion: 'US' });
    expect((await prisma.identifier.findFirstOrThrow({ where: { userId: alice.id } })).normalizedValue).toBe('+14155000042');
    await gql(BULK, {
      asUser: admin,
      organizationId: organization.id,
      variables: { input: { items: [{ userId: bob.id, sourceKey: 'crm', identifierKey: 'mobile', identifierValue: '415.500.0042', discoveryMethod: 'MANUAL' }] } },
    });
    const resolved = await gql(RESOLVE_MANY, {
      asUser: admin,
      organizationId: organization.id,
      variables: { inputs: [{ phoneNumber: '(415) 500-0042' }, { phoneNumber: '+1 415 500 0042' }, { identifier: { source: 'crm', identifierKey: 'phone', identifierValue: '415 500 0042' } }] },
    });
    expectNoErrors(resolved);
    const [byNational, byInternational, byIdentifier] = resolved.data!.resolveMany;
    expect(byNational.ambiguous).toBe(true);
    expect(byNational.candidates.map((c: { email: string }) => c.email).sort()).toEqual([alice.email, bob.email].sort());
    expect(byInternational).toEqual(byNational);
    expect(byIdentifier.user.email).toBe(alice.email);
  });

  it('give identities phone numbers in E.164: national formats only with a default region', async () => {
    const { organization, admin } = await tenant();
    const create = (identifierKey: string, phoneNumber: string) =>
      gql(CREATE_IDENTITY, { asUser: admin, organizationId: organization.id, variables: { input: { identifierKey, identityType: 'USER', name: identifierKey, phoneNumber, email: `${identifierKey}@Corp.test` } } });
    expectErrorCode(await create('a', '(415) 500-0042'), 'BAD_USER_INPUT');
    expect((await create('b', '+1 (415) 500-0043')).data?.createIdentity.identity).toEqual({ phoneNumber: '+14155000043', email: 'b@corp.test' });
    await prisma.organization.update({ where: { id: organization.id }, data: { defaultPhoneRegion: 'US' } });
    expect((await create('c', '(415) 500-0044')).data?.createIdentity.identity).toEqual({ phoneNumber: '+14155000044', email: 'c@corp.test' });
  });
});

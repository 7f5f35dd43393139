import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { expectErrorCode, expectNoErrors, globalId, gql } from './helpers/app.ts';
import { aMember, anIdentity, aSource, aTenantWithMember, aUser } from './helpers/factories.ts';
import { withSqlLog } from './helpers/sql-count.ts';

const IDENTITY_FIELDS = `id identifierKey identityType name email phoneNumber projectId updatedAt
  externalId externalEmail externalEmailVerified linkedBy linkedAt lastSyncedAt
  source { key } user { email } properties { key type value }`;

const result = (name: string, success: string, fields = `identity { ${IDENTITY_FIELDS} }`) => `
  ${name}(input: $input) {
    __typename
    ... on ${success} { ${fields} }
    ... on Error { code message }
    ... on ValidationError { issues { path message } }
    ... on ConflictError { fields }
    ... on NotFoundError { entity }
  }`;

const CREATE = `mutation ($input: CreateIdentityInput!) { ${result('createIdentity', 'CreateIdentitySuccess')} }`;
const UPSERT = `mutation ($input: UpsertIdentityInput!) {
  ${result('upsertIdentity', 'UpsertIdentitySuccess', `created outcome identity { ${IDENTITY_FIELDS} }`)}
}`;
const BULK = `mutation ($input: UpsertIdentitiesInput!) {
  ${result('upsertIdentities', 'UpsertIdentitiesSuccess', 'createdCount updatedCount unchangedCount results { outcome identity { identifierKey user { email } properties { key } } }')}
}`;
const UPDATE = `mutation ($input: UpdateIdentityInput!) { ${result('updateIdentity', 'UpdateIdentitySuccess')} }`;
const DELETE = `mutation ($input: DeleteIdentityInput!) { ${result('deleteIdentity', 'DeleteIdentitySuccess', 'deletedId')} }`;
const SET_PROPERTIES = `mutation ($input: UpsertIdentityPropertiesInput!) {
  ${result('upsertIdentityProperties', 'UpsertIdentityPropertiesSuccess')}
}`;
const DELETE_PROPERTIES = `mutation ($input: DeleteIdentityPropertiesInput!) {
  ${result('deleteIdentityProperties', 'DeleteIdentityPropertiesSuccess', `deletedKeys identity { ${IDENTITY_FIELDS} }`)}
}`;
const LINK = `mutation ($input: LinkIdentityInput!) { ${result('linkIdentity', 'LinkIdentitySuccess')} }`;
const UNLINK = `mutation ($input: UnlinkIdentityInput!) { ${result('unlinkIdentity', 'UnlinkIdentitySuccess')} }`;
const CREATE_USER_IDENTITY = `mutation ($input: CreateUserIdentityInput!) {
  ${result('createUserIdentity', 'CreateUserIdentitySuccess')}
}`;

/** A tenant with an ANALYST, an ORGANIZATION_ADMIN, an identity provider `okta` and a member `person`. */
async function aTenant() {
  const { organization, user: analyst } = await aTenantWithMember('ANALYST');
  const admin = await aUser();
  await aMember(organization.id, admin.id, { role: 'ORGANIZATION_ADMIN' });
  const okta = await aSource(organization.id, { key: 'okta', kind: 'IDENTITY_PROVIDER' });
  const crm = await aSource(organization.id, { key: 'crm', kind: 'INTEGRATION' });
  const person = await aUser();
  await aMember(organization.id, person.id);
  return { organization, analyst, admin, okta, crm, person };
}

const identity = (overrides: Record<string, unknown> = {}) => ({
  identifierKey: 'jean_doe',
  identityType: 'USER',
  name: 'Jean Doe',
  email: 'Jean@Example.com',
  phoneNumber: '+1 (555) 555-0110',
  ...overrides,
});

describe('createIdentity', () => {
  it('creates the identity with a lower-cased email, an E.164 phone number and typed properties', async () => {
    const { organization, analyst } = await aTenant();
    const input = identity({
      projectId: 'p-1',
      properties: [
        { key: 'tier', type: 'STRING', value: 'gold' },
        { key: 'seats', type: 'NUMBER', value: 12 },
        { key: 'vip', type: 'BOOLEAN', value: true },
        { key: 'tags', type: 'JSON', value: { a: [1, 2] } },
      ],
    });
    const created = await gql(CREATE, { variables: { input }, asUser: analyst, organizationId: organization.id });
    expectNoErrors(created);
    expect(created.data?.createIdentity).toMatchObject({
      __typename: 'CreateIdentitySuccess',
      identity: {
        identifierKey: 'jean_doe',
        identityType: 'USER',
        name: 'Jean Doe',
        email: 'jean@example.com',
        phoneNumber: '+15555550110',
        projectId: 'p-1',
        user: null,
        linkedBy: null,
        properties: [
          { key: 'seats', type: 'NUMBER', value: 12 },
          { key: 'tags', type: 'JSON', value: { a: [1, 2] } },
          { key: 'tier', type: 'STRING', value: 'gold' },
          { key: 'vip', type: 'BOOLEAN', value: true },
        ],
      },
    });
  });

  it('answers BAD_USER_INPUT naming every invalid field, property values of the wrong type included, and writes nothing', async () => {
    const { organization, analyst, crm } = await aTenant();
    const input = identity({
      organizationId: organization.id,
      email: 'not-an-email',
      phoneNumber: '555-0110',
      name: '',
      externalEmail: 'x@example.com',
      properties: [
        { key: 'seats', type: 'NUMBER', value: 'twelve' },
        { key: 'seats', type: 'STRING', value: 'x' },
        { key: 'on', type: 'BOOLEAN', value: 'yes' },
      ],
    });
    const result = await gql(CREATE, { variables: { input }, asUser: analyst });
    expectErrorCode(result, 'BAD_USER_INPUT');
    expect(result.data?.createIdentity.issues.map((i: { path: string }) => i.path)).toEqual([
      'input.name',
      'input.email',
      'input.phoneNumber',
      'input.properties[0].value',
      'input.properties[1].key',
      'input.properties[2].value',
      'input.sourceId',
    ]);
    const notAProvider = await gql(CREATE, {
      variables: { input: identity({ organizationId: organization.id, sourceId: crm.id, externalId: 'x' }) },
      asUser: analyst,
    });
    expectErrorCode(notAProvider, 'BAD_USER_INPUT');
    expect(notAProvider.data?.createIdentity.issues).toEqual([{ path: 'input.sourceId', message: 'must be an IDENTITY_PROVIDER source' }]);
    expect(await prisma.identity.count()).toBe(0);
    expect(await prisma.identityProperty.count()).toBe(0);
  });

  it('answers CONFLICT naming the field for a taken key, email (any case), phone (any notation) or account; another organization may have them', async () => {
    const { organization, analyst, okta } = await aTenant();
    await anIdentity(organization.id, { identifierKey: 'taken', email: 'taken@example.com', phoneNumber: '+15555550100' });
    await anIdentity(organization.id, { sourceId: okta.id, externalId: '00u1' });
    // A provider account is named by the two fields the caller wrote for it.
    const cases: [Record<string, unknown>, string[]][] = [
      [{ identifierKey: 'taken' }, ['input.identifierKey']],
      [{ email: 'TAKEN@example.com' }, ['input.email']],
      [{ phoneNumber: '+1 555 555 0100' }, ['input.phoneNumber']],
      [{ sourceKey: 'okta', externalId: '00u1' }, ['input.sourceKey', 'input.externalId']],
    ];
    for (const [overrides, fields] of cases) {
      const input = identity({ organizationId: organization.id, email: null, phoneNumber: null, ...overrides });
      const conflict = await gql(CREATE, { variables: { input }, asUser: analyst });
      expectErrorCode(conflict, 'CONFLICT');
      expect(conflict.data?.createIdentity.fields).toEqual(fields);
    }
    expect(await prisma.identity.count()).toBe(2);

    const other = await aTenant();
    const elsewhere = await gql(CREATE, {
      variables: { input: identity({ organizationId: other.organization.id, identifierKey: 'taken', email: 'taken@example.com', phoneNumber: '+15555550100' }) },
      asUser: other.analyst,
    });
    expect(elsewhere.data?.createIdentity.__typename).toBe('CreateIdentitySuccess');
  });

  it("links a provider account to the member whose email the provider verified (AUTO), and never on an unverified email", async () => {
    const { organization, analyst, person } = await aTenant();
    const stranger = await aUser();
    const account = (key: string, externalEmail: string, externalEmailVerified: boolean) =>
      gql(CREATE, {
        variables: {
          input: identity({
            organizationId: organization.id,
            identifierKey: key,
            email: null,
            phoneNumber: null,
            sourceKey: 'okta',
            externalId: key,
            externalEmail,
            externalEmailVerified,
          }),
        },
        asUser: analyst,
      });
    const verified = await account('a', person.email.toUpperCase(), true);
    expect(verified.data?.createIdentity.identity).toMatchObject({ user: { email: person.email }, linkedBy: 'AUTO', externalEmailVerified: true });
    const unverified = await account('b', person.email, false);
    expect(unverified.data?.createIdentity.identity).toMatchObject({ user: null, linkedBy: null });
    const notMember = await account('c', stranger.email, true);
    expect(notMember.data?.createIdentity.identity).toMatchObject({ user: null, linkedBy: null });
  });

  it('refuses SUSPENDED members, other tenants and anonymous callers, and writes nothing', async () => {
    const { organization } = await aTenant();
    const suspended = await aUser();
    await aMember(organization.id, suspended.id, { role: 'ORGANIZATION_ADMIN', state: 'SUSPENDED' });
    const { user: outsider } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const input = identity({ organizationId: globalId('Organization', organization.id) });
    for (const user of [suspended, outsider]) {
      expectErrorCode(await gql(CREATE, { variables: { input }, asUser: user }), 'FORBIDDEN');
    }
    expectErrorCode(await gql(CREATE, { variables: { input } }), 'UNAUTHENTICATED');
    expect(await prisma.identity.count()).toBe(0);
  });
});

describe('upsertIdentity', () => {
  it('creates, then changes nothing (updatedAt too) on the same call, then replaces the fields and merges properties', async () => {
    const { organization, analyst } = await aTenant();
    const call = (overrides: Record<string, unknown>) =>
      gql(UPSERT, { variables: { input: identity({ organizationId: organization.id, ...overrides }) }, asUser: analyst });
    const first = await call({ properties: [{ key: 'tier', type: 'STRING', value: 'gold' }] });
    expectNoErrors(first);
    expect(first.data?.upsertIdentity).toMatchObject({ created: true, outcome: 'CREATED' });
    const same = await call({ properties: [{ key: 'tier', type: 'STRING', value: 'gold' }] });
    expect(same.data?.upsertIdentity).toMatchObject({ created: false, outcome: 'UNCHANGED' });
    expect(same.data?.upsertIdentity.identity).toEqual(first.data?.upsertIdentity.identity);

    const replaced = await call({ name: 'Jean D.', email: undefined, properties: [{ key: 'seats', type: 'NUMBER', value: 3 }] });
    expect(replaced.data?.upsertIdentity).toMatchObject({
      created: false,
      outcome: 'UPDATED',
      identity: {
        id: first.data?.upsertIdentity.identity.id,
        name: 'Jean D.',
        email: null,
        phoneNumber: '+15555550110',
        properties: [
          { key: 'seats', type: 'NUMBER', value: 3 },
          { key: 'tier', type: 'STRING', value: 'gold' },
        ],
      },
    });
    const propertyOnly = await call({ name: 'Jean D.', email: undefined, properties: [{ key: 'seats', type: 'NUMBER', value: 4 }] });
    expect(propertyOnly.data?.upsertIdentity.outcome).toBe('UPDATED');
    expect(await prisma.identity.count()).toBe(1);
  });

  it('leaves one row and returns the same id to 50 concurrent upserts of one identifier key', async () => {
    const { organization, analyst } = await aTenant();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        gql(UPSERT, {
          variables: { input: identity({ organizationId: organization.id, name: `Jean ${i % 3}`, properties: [{ key: 'n', type: 'NUMBER', value: i % 2 }] }) },
          asUser: analyst,
        }),
      ),
    );
    for (const r of results) expectNoErrors(r);
    const payloads = results.map((r) => r.data?.upsertIdentity);
    expect(payloads.filter((p) => p.__typename !== 'UpsertIdentitySuccess')).toEqual([]);
    expect(new Set(payloads.map((p) => p.identity.id)).size).toBe(1);
    expect(payloads.filter((p) => p.created)).toHaveLength(1);
    expect(await prisma.identity.count()).toBe(1);
    expect(await prisma.identityProperty.count()).toBe(1);
  });

  it('keeps a MANUAL link, and drops an AUTO link when the provider no longer vouches for the email', async () => {
    const { organization, analyst, okta, person, admin } = await aTenant();
    await anIdentity(organization.id, { identifierKey: 'manual', userId: admin.id, linkedBy: 'MANUAL', sourceId: okta.id, externalId: 'm' });
    const account = (key: string, verified: boolean) =>
      gql(UPSERT, {
        variables: {
          input: identity({
            organizationId: organization.id,
            identifierKey: key,
            email: null,
            phoneNumber: null,
            sourceKey: 'okta',
            externalId: key,
            externalEmail: person.email,
            externalEmailVerified: verified,
          }),
        },
        asUser: analyst,
      });
    expect((await account('manual', false)).data?.upsertIdentity.identity).toMatchObject({ user: { email: admin.email }, linkedBy: 'MANUAL' });
    expect((await account('auto', true)).data?.upsertIdentity.identity).toMatchObject({ user: { email: person.email }, linkedBy: 'AUTO' });
    const unverified = await account('auto', false);
    expect(unverified.data?.upsertIdentity).toMatchObject({ outcome: 'UPDATED', identity: { user: null, linkedBy: null, linkedAt: null } });
  });
});

describe('upsertIdentities', () => {
  const items = (n: number) => Array.from({ length: n }, (_, i) => identity({ identifierKey: `id_${i}`, email: `p${i}@example.com`, phoneNumber: null }));

  it('creates 500 identities with properties in a fixed number of statements, and reports each', async () => {
    const { organization, analyst } = await aTenant();
    const list = items(500).map((item, i) => ({ ...item, properties: [{ key: 'n', type: 'NUMBER', value: i }] }));
    const { result, statements } = await withSqlLog(() =>
      gql(BULK, { variables: { input: { organizationId: organization.id, items: list } }, asUser: analyst }),
    );
    expectNoErrors(result);
    expect(result.data?.upsertIdentities).toMatchObject({ createdCount: 500, updatedCount: 0, unchangedCount: 0 });
    expect(result.data?.upsertIdentities.results[499]).toMatchObject({ outcome: 'CREATED', identity: { identifierKey: 'id_499', properties: [{ key: 'n' }] } });
    // The caller with its memberships; the values other identities hold (no source and no
    // provider account here, so no lookup of either); the identities and the properties,
    // in one transaction (the rows they replace, locked for the audit events; the
    // identities; the properties; the events; the link suggestions their emails and
    // phone numbers call for); the rows again, with their users and properties for the
    // selection in the same statement.
    expect(statements).toHaveLength(9);
    expect(await prisma.identityProperty.count()).toBe(500);
  });

  it('writes nothing when an item repeats another or takes a value another identity holds, naming the item', async () => {
    const { organization, analyst } = await aTenant();
    await anIdentity(organization.id, { identifierKey: 'existing', email: 'p7@example.com' });
    const list = items(10);
    list[4] = { ...list[4]!, identifierKey: 'id_1' };
    const repeated = await gql(BULK, { variables: { input: { organizationId: organization.id, items: list } }, asUser: analyst });
    expectErrorCode(repeated, 'BAD_USER_INPUT');
    // Every problem of the request at once: the repeat, and the email item 7 takes.
    expect(repeated.data?.upsertIdentities.issues).toEqual([
      { path: 'input.items[4].identifierKey', message: 'repeats input.items[1].identifierKey' },
      { path: 'input.items[7].email', message: 'Another identity of the organization has this email.' },
    ]);
    const taken = await gql(BULK, { variables: { input: { organizationId: organization.id, items: items(10) } }, asUser: analyst });
    expectErrorCode(taken, 'CONFLICT');
    expect(taken.data?.upsertIdentities.fields).toEqual(['input.items[7].email']);
    expect(await prisma.identity.count()).toBe(1);
  });
});

describe('identity lookups', () => {
  const LOOKUP = `query ($org: ID, $id: ID, $key: String, $email: String, $phone: String, $ext: String, $src: String) {
    identity(organizationId: $org, id: $id, identifierKey: $key, email: $email, phoneNumber: $phone, externalId: $ext, sourceKey: $src) { identifierKey }
  }`;

  it('finds an identity by id, identifier key, email, phone number or provider account', async () => {
    const { organization, analyst, okta } = await aTenant();
    const row = await anIdentity(organization.id, { identifierKey: 'k', email: 'k@example.com', phoneNumber: '+15555550100', sourceId: okta.id, externalId: '00u9' });
    for (const variables of [
      { id: globalId('Identity', row.id) },
      { id: row.id },
      { key: 'k' },
      { email: 'K@Example.com' },
      { phone: '+1 (555) 555-0100' },
      { ext: '00u9', src: 'okta' },
    ]) {
      const found = await gql(LOOKUP, { variables, asUser: analyst, organizationId: organization.id });
      expectNoErrors(found);
      expect(found.data?.identity, JSON.stringify(variables)).toEqual({ identifierKey: 'k' });
    }
    expect((await gql(LOOKUP, { variables: { key: 'nope' }, asUser: analyst, organizationId: organization.id })).data?.identity).toBeNull();
    expectErrorCode(await gql(LOOKUP, { variables: { key: 'k', email: 'k@example.com' }, asUser: analyst, organizationId: organization.id }), 'BAD_USER_INPUT');
  });

  it("answers another tenant's identity with null by id and FORBIDDEN by key in its organization", async () => {
    const { organization } = await aTenant();
    const row = await anIdentity(organization.id, { identifierKey: 'k' });
    const { user: outsider } = await aTenantWithMember();
    const byId = await gql(LOOKUP, { variables: { id: globalId('Identity', row.id) }, asUser: outsider });
    expect(byId).toMatchObject({ data: { identity: null } });
    expect(byId.errors).toBeUndefined();
    expectErrorCode(await gql(LOOKUP, { variables: { key: 'k', org: organization.id }, asUser: outsider }), 'FORBIDDEN');
  });
});

describe('updateIdentity and deleteIdentity', () => {
  it('changes only the given fields, clears with null, keeps updatedAt when nothing differs, and clears the account with its source', async () => {
    const { organization, analyst, okta } = await aTenant();
    const row = await anIdentity(organization.id, { email: 'a@example.com', phoneNumber: '+15555550100', sourceId: okta.id, externalId: 'x1' });
    const id = globalId('Identity', row.id);
    const same = await gql(UPDATE, { variables: { input: { id, name: row.name, email: 'A@example.com' } }, asUser: analyst });
    expectNoErrors(same);
    expect(new Date(same.data?.updateIdentity.identity.updatedAt)).toEqual(row.updatedAt);
    const changed = await gql(UPDATE, { variables: { input: { id, name: 'New', email: null, projectId: 'p' } }, asUser: analyst });
    expect(changed.data?.updateIdentity.identity).toMatchObject({ name: 'New', email: null, phoneNumber: '+15555550100', projectId: 'p', externalId: 'x1' });
    const detached = await gql(UPDATE, { variables: { input: { id, sourceId: null } }, asUser: analyst });
    expect(detached.data?.updateIdentity.identity).toMatchObject({ source: null, externalId: null });
  });

  it('answers CONFLICT for a taken email, BAD_USER_INPUT for a cleared name, and changes nothing', async () => {
    const { organization, analyst } = await aTenant();
    await anIdentity(organization.id, { email: 'taken@example.com' });
    const row = await anIdentity(organization.id, { email: 'mine@example.com' });
    const id = globalId('Identity', row.id);
    const conflict = await gql(UPDATE, { variables: { input: { id, email: 'Taken@example.com' } }, asUser: analyst });
    expectErrorCode(conflict, 'CONFLICT');
    expect(conflict.data?.updateIdentity.fields).toEqual(['input.email']);
    expectErrorCode(await gql(UPDATE, { variables: { input: { id, name: null } }, asUser: analyst }), 'BAD_USER_INPUT');
    expect(await prisma.identity.findUniqueOrThrow({ where: { id: row.id } })).toEqual(row);
  });

  it("answers NOT_FOUND for another tenant's identity and changes nothing; deletes an identity with its properties", async () => {
    const { organization, analyst } = await aTenant();
    const row = await anIdentity(organization.id);
    await prisma.identityProperty.create({ data: { organizationId: organization.id, identityId: row.id, key: 'k', type: 'STRING', value: 'v' } });
    const { user: outsider } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const id = globalId('Identity', row.id);
    expectErrorCode(await gql(UPDATE, { variables: { input: { id, name: 'x' } }, asUser: outsider }), 'NOT_FOUND');
    expectErrorCode(await gql(DELETE, { variables: { input: { id } }, asUser: outsider }), 'NOT_FOUND');
    expect(await prisma.identity.findUniqueOrThrow({ where: { id: row.id } })).toEqual(row);
    const deleted = await gql(DELETE, { variables: { input: { id } }, asUser: analyst });
    expect(deleted.data?.deleteIdentity).toEqual({ __typename: 'DeleteIdentitySuccess', deletedId: id });
    expect(await prisma.identity.count()).toBe(0);
    expect(await prisma.identityProperty.count()).toBe(0);
  });
});

describe('identity properties', () => {
  it('merges properties by key, checks values against their types, and removes by key', async () => {
    const { organization, analyst } = await aTenant();
    const row = await anIdentity(organization.id);
    const identityId = globalId('Identity', row.id);
    const set = (properties: unknown[]) => gql(SET_PROPERTIES, { variables: { input: { identityId, properties } }, asUser: analyst });
    await set([{ key: 'a', type: 'STRING', value: 'x' }, { key: 'b', type: 'NUMBER', value: 1 }]);
    const merged = await set([{ key: 'b', type: 'BOOLEAN', value: false }, { key: 'c', type: 'JSON', value: [1] }]);
    expectNoErrors(merged);
    expect(merged.data?.upsertIdentityProperties.identity.properties).toEqual([
      { key: 'a', type: 'STRING', value: 'x' },
      { key: 'b', type: 'BOOLEAN', value: false },
      { key: 'c', type: 'JSON', value: [1] },
    ]);
    const wrong = await set([{ key: 'a', type: 'NUMBER', value: '1' }]);
    expectErrorCode(wrong, 'BAD_USER_INPUT');
    expect(wrong.data?.upsertIdentityProperties.issues[0].path).toBe('input.properties[0].value');
    const removed = await gql(DELETE_PROPERTIES, { variables: { input: { identityId, keys: ['a', 'zzz'] } }, asUser: analyst });
    expect(removed.data?.deleteIdentityProperties).toMatchObject({ deletedKeys: ['a'], identity: { properties: [{ key: 'b' }, { key: 'c' }] } });
  });
});

describe('linking identities to users', () => {
  it('lets an ORGANIZATION_ADMIN link MANUAL or SCIM and unlink; refuses an ANALYST, a non-member, AUTO and a second user', async () => {
    const { organization, analyst, admin, person } = await aTenant();
    const row = await anIdentity(organization.id);
    const identityId = globalId('Identity', row.id);
    expectErrorCode(await gql(LINK, { variables: { input: { identityId, userId: person.id } }, asUser: analyst }), 'FORBIDDEN');
    expectErrorCode(await gql(LINK, { variables: { input: { identityId, userId: (await aUser()).id } }, asUser: admin }), 'NOT_FOUND');
    expectErrorCode(await gql(LINK, { variables: { input: { identityId, userId: person.id, linkedBy: 'AUTO' } }, asUser: admin }), 'BAD_USER_INPUT');
    expect(await prisma.identity.findUniqueOrThrow({ where: { id: row.id } })).toEqual(row);

    const linked = await gql(LINK, { variables: { input: { identityId, userId: globalId('User', person.id), linkedBy: 'SCIM' } }, asUser: admin });
    expect(linked.data?.linkIdentity.identity).toMatchObject({ user: { email: person.email }, linkedBy: 'SCIM' });
    expectErrorCode(await gql(LINK, { variables: { input: { identityId, userId: analyst.id } }, asUser: admin }), 'CONFLICT');
    const unlinked = await gql(UNLINK, { variables: { input: { identityId } }, asUser: admin });
    expect(unlinked.data?.unlinkIdentity.identity).toMatchObject({ user: null, linkedBy: null, linkedAt: null });
  });

  it('creates a user identity linked AUTO on a verified email of the user, MANUAL by an admin otherwise, and refuses an ANALYST that', async () => {
    const { organization, analyst, admin, person } = await aTenant();
    const input = (externalId: string, overrides: Record<string, unknown> = {}) => ({
      organizationId: organization.id,
      userId: person.id,
      sourceKey: 'okta',
      externalId,
      externalUsername: 'jdoe',
      externalEmail: person.email,
      ...overrides,
    });
    const auto = await gql(CREATE_USER_IDENTITY, {
      variables: { input: input('00u1', { externalEmailVerified: true, lastSyncedAt: '2026-01-02T03:04:05.000Z' }) },
      asUser: analyst,
    });
    expectNoErrors(auto);
    expect(auto.data?.createUserIdentity.identity).toMatchObject({
      identifierKey: 'okta:00u1',
      identityType: 'USER',
      name: 'jdoe',
      externalId: '00u1',
      source: { key: 'okta' },
      user: { email: person.email },
      linkedBy: 'AUTO',
      lastSyncedAt: '2026-01-02T03:04:05.000Z',
    });
    expectErrorCode(await gql(CREATE_USER_IDENTITY, { variables: { input: input('00u2') }, asUser: analyst }), 'FORBIDDEN');
    expect(await prisma.identity.count()).toBe(1);
    const manual = await gql(CREATE_USER_IDENTITY, { variables: { input: input('00u2') }, asUser: admin });
    expect(manual.data?.createUserIdentity.identity).toMatchObject({ user: { email: person.email }, linkedBy: 'MANUAL' });
    const taken = await gql(CREATE_USER_IDENTITY, { variables: { input: input('00u2', { identifierKey: 'other' }) }, asUser: admin });
    expectErrorCode(taken, 'CONFLICT');
    expect(taken.data?.createUserIdentity.fields).toEqual(['input.sourceKey', 'input.externalId']);

    const viaUser = await gql(`query ($id: ID!) { node(id: $id) { ... on User { identities(first: 10) { totalCount edges { node { externalId user { email } } } } } } }`, {
      variables: { id: globalId('User', person.id) },
      asUser: analyst,
    });
    expectNoErrors(viaUser);
    expect(viaUser.data?.node.identities.totalCount).toBe(2);
  });
});

describe('Organization.identities', () => {
  const LIST = `query ($id: ID!, $type: IdentityType, $search: String, $linked: Boolean, $email: String, $phone: String, $project: String) {
    node(id: $id) {
      ... on Organization {
        identities(first: 50, identityType: $type, search: $search, linked: $linked, email: $email, phoneNumber: $phone, projectId: $project) {
          totalCount
          edges { node { name user { email identities(first: 5) { totalCount } } properties { key value } } }
        }
      }
    }
  }`;

  async function seed(n: number) {
    const tenant = await aTenant();
    for (let i = 0; i < n; i++) {
      const row = await anIdentity(tenant.organization.id, {
        name: i % 2 ? `Acme ${i}` : `Person ${i}`,
        identityType: i % 2 ? 'ORG' : 'USER',
        userId: i % 3 === 0 ? tenant.person.id : null,
        email: `i${i}@example.com`,
        phoneNumber: `+1555555${String(1000 + i)}`,
        projectId: i < 2 ? 'p' : null,
      });
      await prisma.identityProperty.create({ data: { organizationId: tenant.organization.id, identityId: row.id, key: 'i', type: 'NUMBER', value: i } });
    }
    return tenant;
  }

  it('filters by type, name search, link, email, phone and project', async () => {
    const { organization, analyst } = await seed(6);
    const page = async (variables: Record<string, unknown>) => {
      const r = await gql(LIST, { variables: { id: globalId('Organization', organization.id), ...variables }, asUser: analyst });
      expectNoErrors(r);
      return r.data?.node.identities;
    };
    expect((await page({})).totalCount).toBe(6);
    expect((await page({ type: 'ORG' })).totalCount).toBe(3);
    expect((await page({ search: 'acme' })).edges.map((e: any) => e.node.name)).toEqual(['Acme 1', 'Acme 3', 'Acme 5']);
    expect((await page({ linked: true })).totalCount).toBe(2);
    expect((await page({ email: 'I4@example.com' })).edges[0].node.name).toBe('Person 4');
    expect((await page({ phone: '+1 555 555 1002' })).edges[0].node.name).toBe('Person 2');
    expect((await page({ project: 'p' })).totalCount).toBe(2);
  });

  it('loads a page with users, their identities and properties in the same number of statements for 3 or 30 identities', async () => {
    const counts: number[] = [];
    for (const n of [3, 30]) {
      const { organization, analyst } = await seed(n);
      const { result, statements } = await withSqlLog(() =>
        gql(LIST, { variables: { id: globalId('Organization', organization.id) }, asUser: analyst }),
      );
      expectNoErrors(result);
      expect(result.data?.node.identities.edges).toHaveLength(n);
      counts.push(statements.length);
    }
    // The caller with its memberships (read with it, they give the request's row-level
    // security scope), and the organization with everything selected under it in one
    // compiled statement, whatever the page's length.
    expect(counts).toEqual([2, 2]);
  });

  it("answers node(id) of another tenant's identity with null", async () => {
    const { organization, analyst } = await aTenant();
    const row = await anIdentity(organization.id, { name: 'Mine' });
    const { user: outsider } = await aTenantWithMember();
    const query = `query ($id: ID!) { node(id: $id) { ... on Identity { name } } }`;
    const id = globalId('Identity', row.id);
    expect((await gql(query, { variables: { id }, asUser: analyst })).data?.node).toEqual({ name: 'Mine' });
    expect((await gql(query, { variables: { id }, asUser: outsider })).data?.node).toBeNull();
  });
});

describe('identity races', () => {
  it('creates one of ten concurrent identities with the same key or email and answers the others CONFLICT', async () => {
    const { organization, analyst } = await aTenant();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        gql(CREATE, {
          variables: { input: identity({ organizationId: organization.id, identifierKey: i % 2 ? 'same' : `key_${i}`, phoneNumber: null }) },
          asUser: analyst,
        }),
      ),
    );
    for (const r of results) expect(r.errors).toBeUndefined();
    const outcomes = results.map((r) => r.data?.createIdentity.__typename).sort();
    expect(outcomes).toEqual([...Array(9).fill('ConflictError'), 'CreateIdentitySuccess']);
    expect(await prisma.identity.count()).toBe(1);
  });

  it('links an identity to one of two users linking it at once, and answers the other CONFLICT', async () => {
    const { organization, admin, person, analyst } = await aTenant();
    const row = await anIdentity(organization.id);
    const results = await Promise.all(
      [person, analyst].map((user) => gql(LINK, { variables: { input: { identityId: row.id, userId: user.id } }, asUser: admin })),
    );
    expect(results.map((r) => r.data?.linkIdentity.__typename).sort()).toEqual(['ConflictError', 'LinkIdentitySuccess']);
  });
});

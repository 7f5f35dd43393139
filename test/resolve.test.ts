import { describe, expect, it } from 'vitest';
import { expectErrorCode, expectNoErrors, globalId, gql, tokenFor } from './helpers/app.ts';
import { aMember, anIdentifier, anIdentity, aSource, aTenantWithMember, aUser } from './helpers/factories.ts';
import { withSqlLog } from './helpers/sql-count.ts';
import { isPlan } from './helpers/engine.ts';

const RESOLVE = `query Resolve($input: ResolveInput!, $org: ID) {
  resolve(organizationId: $org, input: $input) {
    ambiguous
    user { email memberships { organization { slug } role } identifiers(first: 20) { totalCount edges { node { identifierKey identifierValue } } } }
    candidates { email }
    identity { identifierKey name }
    matchedIdentifiers { identifierKey identifierValue confidenceScore discoveryMethod }
  }
}`;

async function world(email = 'ada@example.com') {
  const { organization, user: analyst } = await aTenantWithMember();
  const salesforce = await aSource(organization.id, { key: 'salesforce' });
  const okta = await aSource(organization.id, { key: 'okta', kind: 'IDENTITY_PROVIDER' });
  const person = await aUser({ email });
  await aMember(organization.id, person.id);
  await anIdentifier(organization.id, person.id, salesforce.id, { identifierKey: 'owner_id', identifierValue: '005XYZ', confidenceScore: 0.9, discoveryMethod: 'LLM_DISCOVERY' });
  await anIdentifier(organization.id, person.id, salesforce.id, { identifierKey: 'employee_id', identifierValue: 'E42' });
  const identity = await anIdentity(organization.id, {
    identifierKey: 'ada',
    name: 'Ada',
    email: 'ada.l@example.com',
    phoneNumber: '+15555550100',
    userId: person.id,
    sourceId: okta.id,
    externalId: '00u-ada',
  });
  return { organization, analyst, salesforce, okta, person, identity };
}

describe('resolve', () => {
  it('resolves an identifier of any source to the person, their memberships and every other identifier, with the evidence', async () => {
    const { organization, analyst } = await world();
    const result = await gql(RESOLVE, {
      asUser: analyst,
      organizationId: organization.id,
      variables: { input: { identifier: { sourceKey: 'salesforce', identifierKey: 'owner_id', identifierValue: '005XYZ' } } },
    });
    expectNoErrors(result);
    const r = result.data!.resolve;
    expect(r.user.email).toBe('ada@example.com');
    expect(r.user.memberships).toEqual([{ organization: { slug: organization.slug }, role: 'ANALYST' }]);
    expect(r.user.identifiers.totalCount).toBe(2);
    expect(r.matchedIdentifiers).toEqual([{ identifierKey: 'owner_id', identifierValue: '005XYZ', confidenceScore: 0.9, discoveryMethod: 'LLM_DISCOVERY' }]);
    expect(r.ambiguous).toBe(false);
    expect(r.identity).toBeNull();
  });

  it('resolves an email case-insensitively, a phone number in any common format, a provider account and an identity key', async () => {
    const { organization, analyst, okta } = await world();
    const ask = async (input: object) =>
      (await gql(RESOLVE, { asUser: analyst, organizationId: organization.id, variables: { input } })).data?.resolve;
    expect((await ask({ email: 'ADA@Example.com' })).user.email).toBe('ada@example.com');
    const byIdentityEmail = await ask({ email: 'Ada.L@example.com' });
    expect(byIdentityEmail.identity).toEqual({ identifierKey: 'ada', name: 'Ada' });
    expect(byIdentityEmail.user.email).toBe('ada@example.com');
    expect((await ask({ phoneNumber: '+1 (555) 555-0100' })).identity.identifierKey).toBe('ada');
    expect((await ask({ externalAccount: { sourceKey: 'okta', externalId: '00u-ada' } })).user.email).toBe('ada@example.com');
    expect((await ask({ externalAccount: { sourceId: okta.id, externalId: '00u-ada' } })).identity.identifierKey).toBe('ada');
    expect((await ask({ identityKey: 'ada' })).user.email).toBe('ada@example.com');
  });

  it('resolves an identifier by the id of its source as by its key, and aliased lookups together', async () => {
    const { organization, analyst, salesforce } = await world();
    const ALIASED = `query ($a: ResolveInput!, $b: ResolveInput!, $c: ResolveInput!) {
      a: resolve(input: $a) { user { email } matchedIdentifiers { identifierKey } }
      b: resolve(input: $b) { user { email } matchedIdentifiers { identifierKey } }
      c: resolve(input: $c) { user { email } }
    }`;
    const { result, statements } = await withSqlLog(() =>
      gql(ALIASED, {
        asUser: analyst,
        organizationId: organization.id,
        variables: {
          a: { identifier: { sourceId: salesforce.id.toUpperCase(), identifierKey: 'owner_id', identifierValue: '005XYZ' } },
          b: { identifier: { sourceKey: 'salesforce', identifierKey: 'employee_id', identifierValue: 'E42' } },
          c: { identifier: { sourceKey: 'salesforce', identifierKey: 'employee_id', identifierValue: '005XYZ' } },
        },
      }),
    );
    expectNoErrors(result);
    expect(result.data).toEqual({
      a: { user: { email: 'ada@example.com' }, matchedIdentifiers: [{ identifierKey: 'owner_id' }] },
      b: { user: { email: 'ada@example.com' }, matchedIdentifiers: [{ identifierKey: 'employee_id' }] },
      c: null,
    });
    // The caller with its membership, then the three lookups, compiled, as one statement.
    expect(statements).toHaveLength(2);
    expect(statements.filter(isPlan)).toHaveLength(1);
  });

  it('answers null for a miss, and never finds the same identifier of another tenant', async () => {
    const { organization, analyst } = await world();
    // The other tenant knows another person by the very same identifier.
    const other = await world('grace@example.com');
    const own = await gql(RESOLVE, {
      asUser: analyst,
      organizationId: organization.id,
      variables: { input: { identifier: { sourceKey: 'salesforce', identifierKey: 'owner_id', identifierValue: '005XYZ' } } },
    });
    expect(own.data?.resolve.candidates).toEqual([{ email: 'ada@example.com' }]);
    const theirs = await gql(RESOLVE, {
      asUser: other.analyst,
      organizationId: other.organization.id,
      variables: { input: { identifier: { sourceKey: 'salesforce', identifierKey: 'owner_id', identifierValue: '005XYZ' } } },
    });
    expect(theirs.data?.resolve.candidates).toEqual([{ email: 'grace@example.com' }]);
    const miss = await gql(RESOLVE, {
      asUser: analyst,
      organizationId: organization.id,
      variables: { input: { identifier: { sourceKey: 'salesforce', identifierKey: 'owner_id', identifierValue: 'nope' } } },
    });
    expect(miss.data?.resolve).toBeNull();
    const stranger = await gql(RESOLVE, {
      asUser: other.analyst,
      organizationId: organization.id,
      variables: { input: { email: 'ada@example.com' } },
    });
    expectErrorCode(stranger, 'FORBIDDEN');
    expect(stranger.data?.resolve ?? null).toBeNull();
  });

  it('reports every user a shared value matches, best first, as ambiguous, and names none of them', async () => {
    const { organization, analyst, salesforce } = await world();
    const twin = await aUser();
    await aMember(organization.id, twin.id);
    await anIdentifier(organization.id, twin.id, salesforce.id, { identifierKey: 'owner_id', identifierValue: '005XYZ', confidenceScore: 0.95 });
    const result = await gql(RESOLVE, {
      asUser: analyst,
      organizationId: organization.id,
      variables: { input: { identifier: { sourceKey: 'salesforce', identifierKey: 'owner_id', identifierValue: '005XYZ' } } },
    });
    const r = result.data!.resolve;
    expect(r.ambiguous).toBe(true);
    expect(r.candidates.map((c: { email: string }) => c.email)).toEqual([twin.email, 'ada@example.com']);
    expect(r.user).toBeNull();
  });

  it('answers BAD_USER_INPUT for a malformed key, two keys at once, or no organization', async () => {
    const { organization, analyst } = await world();
    expectErrorCode(await gql(RESOLVE, { asUser: analyst, organizationId: organization.id, variables: { input: { email: 'not-an-email' } } }), 'BAD_USER_INPUT');
    expectErrorCode(await gql(RESOLVE, { asUser: analyst, organizationId: organization.id, variables: { input: { phoneNumber: '12' } } }), 'BAD_USER_INPUT');
    expectErrorCode(
      await gql(RESOLVE, { asUser: analyst, organizationId: organization.id, variables: { input: { email: 'a@b.co', identityKey: 'x' } } }),
      'BAD_USER_INPUT',
    );
    expectErrorCode(await gql(RESOLVE, { asUser: analyst, variables: { input: { email: 'a@b.co' } } }), 'BAD_USER_INPUT');
    expect((await gql(RESOLVE, { asUser: analyst, variables: { org: globalId('Organization', organization.id), input: { identityKey: 'ada' } } })).data?.resolve.identity.name).toBe('Ada');
  });

  it('still takes the deprecated `source` (key or id), alone or naming the same source as sourceKey or sourceId, and refuses one naming another', async () => {
    const { organization, analyst, salesforce, okta } = await world();
    const ask = (input: object) => gql(RESOLVE, { asUser: analyst, organizationId: organization.id, variables: { input } });
    const owner = { identifierKey: 'owner_id', identifierValue: '005XYZ' };
    for (const identifier of [
      { source: 'salesforce', ...owner },
      { source: globalId('IntegrationSource', salesforce.id), ...owner },
      { source: 'salesforce', sourceKey: 'salesforce', ...owner },
      { source: salesforce.id, sourceId: globalId('IntegrationSource', salesforce.id), ...owner },
    ]) {
      const result = await ask({ identifier });
      expectNoErrors(result);
      expect(result.data!.resolve.user.email).toBe('ada@example.com');
    }
    expect((await ask({ externalAccount: { source: 'okta', externalId: '00u-ada' } })).data?.resolve.identity.identifierKey).toBe('ada');

    const clash = await ask({ identifier: { source: 'okta', sourceKey: 'salesforce', ...owner } });
    expectErrorCode(clash, 'BAD_USER_INPUT');
    expect(clash.errors![0]!.extensions!.details).toEqual([
      expect.objectContaining({ path: 'input.identifier.source', message: expect.stringMatching(/another source than sourceKey/) }),
    ]);
    const clashById = await ask({ externalAccount: { source: 'salesforce', sourceId: okta.id, externalId: '00u-ada' } });
    expectErrorCode(clashById, 'BAD_USER_INPUT');
    expect(clashById.errors![0]!.extensions!.details).toEqual([expect.objectContaining({ path: 'input.externalAccount.source' })]);
    const none = await ask({ identifier: owner });
    expectErrorCode(none, 'BAD_USER_INPUT');
    expect(none.errors![0]!.extensions!.details).toEqual([expect.objectContaining({ path: 'input.identifier.sourceId' })]);
  });

  it('marks `source` deprecated in the schema, pointing at sourceKey', async () => {
    const result = await gql(`{
      a: __type(name: "ResolveIdentifierInput") { inputFields(includeDeprecated: true) { name isDeprecated deprecationReason } }
      b: __type(name: "ResolveExternalAccountInput") { inputFields(includeDeprecated: true) { name isDeprecated deprecationReason } }
    }`);
    expectNoErrors(result);
    for (const type of [result.data!.a, result.data!.b]) {
      const fields = Object.fromEntries(type.inputFields.map((f: { name: string }) => [f.name, f]));
      expect(fields.source).toMatchObject({ isDeprecated: true, deprecationReason: expect.stringMatching(/sourceKey/) });
      expect(fields.sourceKey).toMatchObject({ isDeprecated: false });
      expect(fields.sourceId).toMatchObject({ isDeprecated: false });
    }
  });

  it('answers UNAUTHENTICATED without a credential', async () => {
    const { organization } = await world();
    expectErrorCode(await gql(RESOLVE, { organizationId: organization.id, variables: { input: { identityKey: 'ada' } } }), 'UNAUTHENTICATED');
  });
});

describe('resolveMany', () => {
  const MANY = `query ($inputs: [ResolveInput!]!) { resolveMany(inputs: $inputs) { user { email } identity { identifierKey } matchedIdentifiers { identifierValue } } }`;

  it('answers in input order with null for misses, with the same number of SQL statements for 100 keys as for 1,000', async () => {
    const { organization, analyst, salesforce } = await world();
    const people: { email: string }[] = [];
    for (let i = 0; i < 20; i++) {
      const u = await aUser();
      await aMember(organization.id, u.id);
      await anIdentifier(organization.id, u.id, salesforce.id, { identifierKey: 'owner_id', identifierValue: `OWN-${i}` });
      people.push(u);
    }
    const inputs = (n: number) =>
      Array.from({ length: n }, (_, i) =>
        i % 5 === 4
          ? { email: i % 2 ? 'ADA@example.com' : 'missing@example.com' }
          : { identifier: { sourceKey: 'salesforce', identifierKey: 'owner_id', identifierValue: `OWN-${i % 25}` } },
      );
    // One token, read once: every list after it costs the same number of statements.
    const token = await tokenFor(analyst.authSubject!);
    const run = (n: number) => withSqlLog(() => gql(MANY, { token, organizationId: organization.id, variables: { inputs: inputs(n) } }));
    await run(1);
    const hundred = await run(100);
    const thousand = await run(1000);
    expectNoErrors(thousand.result);
    const answers = thousand.result.data!.resolveMany;
    expect(answers).toHaveLength(1000);
    inputs(1000).forEach((input, i) => {
      if ('email' in input) expect(answers[i]?.user?.email ?? null).toBe(input.email === 'ADA@example.com' ? 'ada@example.com' : null);
      else if (i % 25 < 20) expect(answers[i].user.email).toBe(people[i % 25]!.email);
      else expect(answers[i]).toBeNull();
    });
    expect(thousand.statements.length).toBe(hundred.statements.length);
    console.info(`resolveMany: ${hundred.statements.length} SQL statements for 100 keys, ${thousand.statements.length} for 1,000`);
  });

  it('refuses more than 1,000 keys with BAD_USER_INPUT', async () => {
    const { organization, analyst } = await world();
    const inputs = Array.from({ length: 1001 }, () => ({ identityKey: 'x' }));
    expectErrorCode(await gql(MANY, { asUser: analyst, organizationId: organization.id, variables: { inputs } }), 'BAD_USER_INPUT');
  });
});

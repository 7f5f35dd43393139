import { describe, expect, it } from 'vitest';
import { expectNoErrors, gql } from './helpers/app.ts';
import { aMember, aSource, aTenantWithMember, aUser } from './helpers/factories.ts';
import { prisma } from '../src/db.ts';

// An identifier whose writer gave its kind (PHONE under a `contact` key, which names no
// phone) is found by its value as written, in any format: found by npm run
// eval:matching, where resolve inferred the kind OTHER from the key and missed it.

const UPSERT = `mutation ($input: UpsertIdentifierInput!) { upsertIdentifier(input: $input) { __typename ... on Error { message } } }`;
const RESOLVE = `query ($value: String!, $asOf: DateTime) {
  resolve(input: { identifier: { sourceKey: "zendesk", identifierKey: "contact", identifierValue: $value } }, asOf: $asOf) { user { email } }
}`;
const RESOLVE_MANY = `query { a: resolveMany(inputs: [
  { identifier: { sourceKey: "zendesk", identifierKey: "contact", identifierValue: "(415) 555-0142" } },
  { identifier: { sourceKey: "zendesk", identifierKey: "contact", identifierValue: "ticket-7" } }
]) { user { email } } b: resolveMany(inputs: [{ phoneNumber: "415.555.0142" }]) { user { email } } }`;

describe('resolve of an identifier whose kind was given', () => {
  it('finds a phone number held under a key that names no phone, written nationally or internationally, now and as of a past moment', async () => {
    const { organization: org, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    await prisma.organization.update({ where: { id: org.id }, data: { defaultPhoneRegion: 'US' } });
    await aSource(org.id, { key: 'zendesk' });
    const ada = await aUser({ email: 'ada@example.com' });
    const bob = await aUser({ email: 'bob@example.com' });
    await aMember(org.id, ada.id);
    await aMember(org.id, bob.id);
    const write = (userId: string, identifierValue: string, valueKind?: string) =>
      gql(UPSERT, {
        asUser: admin,
        organizationId: org.id,
        variables: { input: { userId, sourceKey: 'zendesk', identifierKey: 'contact', identifierValue, valueKind, discoveryMethod: 'MANUAL' } },
      });
    expect((await write(ada.id, '415-555-0142', 'PHONE')).data!.upsertIdentifier.__typename).toBe('UpsertIdentifierSuccess');
    // The same key holding something else, of the inferred kind, is still found as written.
    expect((await write(bob.id, 'ticket-7')).data!.upsertIdentifier.__typename).toBe('UpsertIdentifierSuccess');
    const written = new Date();

    for (const value of ['415-555-0142', '(415) 555-0142', '+1 415 555 0142', '+14155550142']) {
      const one = await gql(RESOLVE, { asUser: admin, organizationId: org.id, variables: { value } });
      expectNoErrors(one);
      expect(one.data!.resolve?.user, value).toEqual({ email: 'ada@example.com' });
    }
    const past = await gql(RESOLVE, { asUser: admin, organizationId: org.id, variables: { value: '(415) 555-0142', asOf: written.toISOString() } });
    expectNoErrors(past);
    expect(past.data!.resolve?.user).toEqual({ email: 'ada@example.com' });

    const many = await gql(RESOLVE_MANY, { asUser: admin, organizationId: org.id, });
    expectNoErrors(many);
    expect(many.data!.a.map((r: { user: unknown } | null) => r?.user)).toEqual([{ email: 'ada@example.com' }, { email: 'bob@example.com' }]);
    expect(many.data!.b[0]?.user).toEqual({ email: 'ada@example.com' });

    // Bare digits under a key that names no phone are read as an id (README, "Matching").
    const bare = await gql(RESOLVE, { asUser: admin, organizationId: org.id, variables: { value: '4155550142' } });
    expect(bare.data!.resolve).toBeNull();
    // A value that is not that number finds nobody.
    const other = await gql(RESOLVE, { asUser: admin, organizationId: org.id, variables: { value: '(415) 555-0143' } });
    expect(other.data!.resolve).toBeNull();
  });
});

import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { expectErrorCode, expectNoErrors, globalId, gql } from './helpers/app.ts';
import { aMember, anOrganization, aTenantWithMember, aUser } from './helpers/factories.ts';

const USER = `query ($id: ID, $email: String) {
  user(id: $id, email: $email) { id email memberships { role organization { slug } } }
}`;

describe('user(id | email)', () => {
  it('returns a member of an organization the viewer reads, by id or by email in any case', async () => {
    const { organization, user: viewer } = await aTenantWithMember('ANALYST');
    const colleague = await aUser({ email: 'colleague@example.com' });
    await aMember(organization.id, colleague.id);
    const byId = await gql(USER, { variables: { id: globalId('User', colleague.id) }, asUser: viewer });
    expectNoErrors(byId);
    expect(byId.data?.user.email).toBe('colleague@example.com');
    const byEmail = await gql(USER, { variables: { email: 'Colleague@Example.COM' }, asUser: viewer });
    expect(byEmail.data?.user.id).toBe(globalId('User', colleague.id));
  });

  it('shows only the memberships in organizations the viewer reads', async () => {
    const { organization, user: viewer } = await aTenantWithMember('ANALYST');
    const colleague = await aUser();
    await aMember(organization.id, colleague.id);
    const elsewhere = await anOrganization();
    await aMember(elsewhere.id, colleague.id, { role: 'ORGANIZATION_ADMIN' });
    const result = await gql(USER, { variables: { id: colleague.id }, asUser: viewer });
    expect(result.data?.user.memberships).toEqual([{ role: 'ANALYST', organization: { slug: organization.slug } }]);
  });

  it('answers null for a user of another organization, exactly as for one that does not exist', async () => {
    const { user: viewer } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const { user: stranger } = await aTenantWithMember();
    for (const variables of [{ id: stranger.id }, { email: stranger.email }, { id: randomUUID() }, { email: 'nobody@example.com' }]) {
      const result = await gql(USER, { variables, asUser: viewer });
      expectNoErrors(result);
      expect(result.data?.user).toBeNull();
    }
    const node = await gql(`query ($id: ID!) { node(id: $id) { id } }`, { variables: { id: globalId('User', stranger.id) }, asUser: viewer });
    expect(node.data?.node).toBeNull();
  });

  it('answers null, not an error, for node and nodes of a User global id whose inner id is not a UUID', async () => {
    const { user: viewer } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const bad = globalId('User', 'not-a-uuid');
    const node = await gql(`query ($id: ID!) { node(id: $id) { id } }`, { variables: { id: bad }, asUser: viewer });
    expectNoErrors(node);
    expect(node.data?.node).toBeNull();
    const nodes = await gql(`query ($ids: [ID!]!) { nodes(ids: $ids) { id } }`, {
      variables: { ids: [bad, globalId('User', viewer.id)] },
      asUser: viewer,
    });
    expectNoErrors(nodes);
    expect(nodes.data?.nodes).toEqual([null, { id: globalId('User', viewer.id) }]);
  });

  it('answers null for members of an organization where the viewer is only PENDING or SUSPENDED', async () => {
    const organization = await anOrganization();
    const colleague = await aUser();
    await aMember(organization.id, colleague.id);
    for (const state of ['PENDING', 'SUSPENDED'] as const) {
      const viewer = await aUser();
      await aMember(organization.id, viewer.id, { state });
      expect((await gql(USER, { variables: { id: colleague.id }, asUser: viewer })).data?.user).toBeNull();
    }
  });

  it('returns the viewer themself and, to a system admin, anyone', async () => {
    const loner = await aUser();
    expect((await gql(USER, { variables: { id: loner.id }, asUser: loner })).data?.user.email).toBe(loner.email);
    const admin = await aUser({ isSystemAdmin: true });
    expect((await gql(USER, { variables: { email: loner.email }, asUser: admin })).data?.user.email).toBe(loner.email);
  });

  it('answers BAD_USER_INPUT for neither or both of id and email, or a malformed one', async () => {
    const user = await aUser();
    for (const variables of [{}, { id: user.id, email: user.email }, { id: 'nope' }, { email: 'not-an-email' }]) {
      expectErrorCode(await gql(USER, { variables, asUser: user }), 'BAD_USER_INPUT');
    }
  });

  it('answers UNAUTHENTICATED without a credential', async () => {
    const user = await aUser();
    expectErrorCode(await gql(USER, { variables: { id: user.id } }), 'UNAUTHENTICATED');
  });
});

const CREATE = `mutation ($input: CreateUserInput!) {
  createUser(input: $input) {
    __typename
    ... on CreateUserSuccess { user { id email givenName familyName nickname name picture } }
    ... on Error { code message }
    ... on ValidationError { issues { path message } }
    ... on ConflictError { fields }
  }
}`;

describe('createUser', () => {
  it('creates the user with a lower-cased email (system admin)', async () => {
    const admin = await aUser({ isSystemAdmin: true });
    const input = { email: ' Ada@Example.com ', givenName: 'Ada', familyName: 'Lovelace', picture: 'https://example.com/a.png' };
    const result = await gql(CREATE, { variables: { input }, asUser: admin });
    expectNoErrors(result);
    expect(result.data?.createUser.user).toMatchObject({ email: 'ada@example.com', givenName: 'Ada', familyName: 'Lovelace', nickname: null });
    expect(await prisma.user.count({ where: { email: 'ada@example.com' } })).toBe(1);
  });

  it('answers BAD_USER_INPUT naming each invalid field and writes nothing', async () => {
    const admin = await aUser({ isSystemAdmin: true });
    const input = {
      email: 'not-an-email',
      givenName: ' ',
      familyName: 'x'.repeat(201),
      nickname: 'x'.repeat(201),
      name: 'x'.repeat(201),
      picture: 'ftp://example.com/a.png',
      authSubject: 'x'.repeat(256),
    };
    const result = await gql(CREATE, { variables: { input }, asUser: admin });
    expectErrorCode(result, 'BAD_USER_INPUT');
    expect(result.data?.createUser.issues.map((i: { path: string }) => i.path).sort()).toEqual(
      ['input.email', 'input.authSubject', 'input.givenName', 'input.familyName', 'input.nickname', 'input.name', 'input.picture'].sort(),
    );
    expect(await prisma.user.count()).toBe(1);
  });

  it('answers CONFLICT on a taken email in any case or a taken authSubject, also when two requests race', async () => {
    const admin = await aUser({ isSystemAdmin: true });
    await aUser({ email: 'taken@example.com', authSubject: 'auth|taken' });
    const email = await gql(CREATE, { variables: { input: { email: 'TAKEN@example.com' } }, asUser: admin });
    expectErrorCode(email, 'CONFLICT');
    expect(email.data?.createUser.fields).toEqual(['input.email']);
    const subject = await gql(CREATE, { variables: { input: { email: 'fresh@example.com', authSubject: 'auth|taken' } }, asUser: admin });
    expect(subject.data?.createUser.fields).toEqual(['input.authSubject']);

    const racers = await Promise.all(
      Array.from({ length: 5 }, (_, i) => gql(CREATE, { variables: { input: { email: i % 2 ? 'raced@example.com' : 'RACED@example.com' } }, asUser: admin })),
    );
    expect(racers.map((r) => r.data?.createUser.__typename).sort()).toEqual([...Array(4).fill('ConflictError'), 'CreateUserSuccess']);
    expect(await prisma.user.count({ where: { email: 'raced@example.com' } })).toBe(1);
  });

  it('answers FORBIDDEN to an ORGANIZATION_ADMIN and writes nothing', async () => {
    const { user } = await aTenantWithMember('ORGANIZATION_ADMIN');
    expectErrorCode(await gql(CREATE, { variables: { input: { email: 'new@example.com' } }, asUser: user }), 'FORBIDDEN');
    expect(await prisma.user.count({ where: { email: 'new@example.com' } })).toBe(0);
  });

  it('answers UNAUTHENTICATED without a credential', async () => {
    expectErrorCode(await gql(CREATE, { variables: { input: { email: 'new@example.com' } } }), 'UNAUTHENTICATED');
  });
});

const UPDATE = `mutation ($input: UpdateUserInput!) {
  updateUser(input: $input) {
    __typename
    ... on UpdateUserSuccess { user { id email givenName familyName nickname name picture } }
    ... on Error { code message }
    ... on ValidationError { issues { path message } }
    ... on ConflictError { fields }
  }
}`;

describe('updateUser', () => {
  it('lets the viewer change their own profile: absent fields stay, null clears', async () => {
    const user = await aUser({ givenName: 'Ada', familyName: 'Byron', name: 'Ada Byron' });
    const result = await gql(UPDATE, {
      variables: { input: { id: globalId('User', user.id), familyName: 'Lovelace', name: null, nickname: 'Countess', picture: 'https://example.com/p.png' } },
      asUser: user,
    });
    expectNoErrors(result);
    expect(result.data?.updateUser.user).toMatchObject({
      email: user.email,
      givenName: 'Ada',
      familyName: 'Lovelace',
      nickname: 'Countess',
      name: null,
      picture: 'https://example.com/p.png',
    });
  });

  it('changes the email, lower-cased', async () => {
    const user = await aUser();
    const result = await gql(UPDATE, { variables: { input: { id: user.id, email: 'New.Address@Example.com' } }, asUser: user });
    expect(result.data?.updateUser.user.email).toBe('new.address@example.com');
  });

  it('lets a system admin change anyone, and answers NOT_FOUND for a user that does not exist', async () => {
    const admin = await aUser({ isSystemAdmin: true });
    const user = await aUser();
    const result = await gql(UPDATE, { variables: { input: { id: user.id, givenName: 'Grace' } }, asUser: admin });
    expect(result.data?.updateUser.user.givenName).toBe('Grace');
    expectErrorCode(await gql(UPDATE, { variables: { input: { id: randomUUID(), givenName: 'X' } }, asUser: admin }), 'NOT_FOUND');
  });

  it('answers BAD_USER_INPUT naming each invalid field and writes nothing', async () => {
    const user = await aUser();
    const cases: [Record<string, unknown>, string[]][] = [
      [{ email: null }, ['input.email']],
      [{ email: 'nope', givenName: '' }, ['input.email', 'input.givenName']],
      [{ picture: 'javascript:alert(1)', name: 'x'.repeat(201) }, ['input.name', 'input.picture']],
    ];
    for (const [fields, paths] of cases) {
      const result = await gql(UPDATE, { variables: { input: { id: user.id, ...fields } }, asUser: user });
      expectErrorCode(result, 'BAD_USER_INPUT');
      expect(result.data?.updateUser.issues.map((i: { path: string }) => i.path)).toEqual(paths);
    }
    const badId = await gql(UPDATE, { variables: { input: { id: 'nope' } }, asUser: user });
    expect(badId.data?.updateUser.issues.map((i: { path: string }) => i.path)).toEqual(['input.id']);
    expect(await prisma.user.findUniqueOrThrow({ where: { id: user.id } })).toEqual(user);
  });

  it('answers CONFLICT on an email another user has, in any case, also when two requests race for it', async () => {
    const user = await aUser();
    const other = await aUser({ email: 'taken@example.com' });
    const taken = await gql(UPDATE, { variables: { input: { id: user.id, email: 'Taken@Example.com' } }, asUser: user });
    expectErrorCode(taken, 'CONFLICT');
    expect(taken.data?.updateUser.fields).toEqual(['input.email']);

    const second = await aUser();
    const racers = await Promise.all(
      [user, second].map((u) => gql(UPDATE, { variables: { input: { id: u.id, email: 'raced@example.com' } }, asUser: u })),
    );
    expect(racers.map((r) => r.data?.updateUser.__typename).sort()).toEqual(['ConflictError', 'UpdateUserSuccess']);
    expect(await prisma.user.count({ where: { email: 'raced@example.com' } })).toBe(1);
    expect((await prisma.user.findUniqueOrThrow({ where: { id: other.id } })).email).toBe('taken@example.com');
  });

  it('answers FORBIDDEN for another user, even to their ORGANIZATION_ADMIN, whether or not the user exists', async () => {
    const { organization, user: orgAdmin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const member = await aUser();
    await aMember(organization.id, member.id);
    for (const id of [member.id, randomUUID()]) {
      expectErrorCode(await gql(UPDATE, { variables: { input: { id, givenName: 'Hacked' } }, asUser: orgAdmin }), 'FORBIDDEN');
    }
    expect((await prisma.user.findUniqueOrThrow({ where: { id: member.id } })).givenName).toBeNull();
  });

  it('answers UNAUTHENTICATED without a credential', async () => {
    const user = await aUser();
    expectErrorCode(await gql(UPDATE, { variables: { input: { id: user.id, givenName: 'X' } } }), 'UNAUTHENTICATED');
  });
});

describe('User.authSubject', () => {
  const SUBJECT = `query ($id: ID!) { node(id: $id) { ... on User { authSubject } } viewer { authSubject } }`;

  it('shows the subject to the user and to admins of their organizations, and null to analysts there', async () => {
    const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const analyst = await aUser();
    await aMember(organization.id, analyst.id, { role: 'ANALYST' });
    const invited = await aUser();
    await aMember(organization.id, invited.id, { state: 'PENDING' });
    const id = (u: { id: string }) => ({ id: globalId('User', u.id) });

    const own = await gql(SUBJECT, { variables: id(analyst), asUser: analyst });
    expectNoErrors(own);
    expect(own.data).toEqual({ node: { authSubject: analyst.authSubject }, viewer: { authSubject: analyst.authSubject } });
    for (const organizationId of [undefined, organization.id]) {
      const byAdmin = await gql(SUBJECT, { variables: id(analyst), asUser: admin, organizationId });
      expect(byAdmin.data?.node).toEqual({ authSubject: analyst.authSubject });
      const pending = await gql(SUBJECT, { variables: id(invited), asUser: admin, organizationId });
      expect(pending.data?.node).toEqual({ authSubject: invited.authSubject });
      const byAnalyst = await gql(SUBJECT, { variables: id(admin), asUser: analyst, organizationId });
      expectNoErrors(byAnalyst);
      expect(byAnalyst.data?.node).toEqual({ authSubject: null });
    }
  });

  it('is hidden from an admin acting in another organization, and shown to a system admin', async () => {
    const { organization, user: member } = await aTenantWithMember('ANALYST');
    const { organization: other, user: otherAdmin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    // An admin of the other organization who is only an analyst where the member is.
    await aMember(organization.id, otherAdmin.id, { role: 'ANALYST' });
    const viaOther = await gql(SUBJECT, { variables: { id: globalId('User', member.id) }, asUser: otherAdmin });
    expect(viaOther.data?.node).toEqual({ authSubject: null });
    const scoped = await gql(SUBJECT, { variables: { id: globalId('User', member.id) }, asUser: otherAdmin, organizationId: other.id });
    expect(scoped.data?.node).toBeNull();
    const root = await aUser({ isSystemAdmin: true });
    const bySystemAdmin = await gql(SUBJECT, { variables: { id: globalId('User', member.id) }, asUser: root });
    expect(bySystemAdmin.data?.node).toEqual({ authSubject: member.authSubject });
  });
});

import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { activatePendingMemberships } from '../src/modules/member/service.ts';
import { expectErrorCode, expectNoErrors, globalId, gql, tokenFor } from './helpers/app.ts';
import { aMember, anOrganization, aTenantWithMember, aUser } from './helpers/factories.ts';
import { withSqlLog } from './helpers/sql-count.ts';

const MEMBERS = `query ($id: ID!, $role: MemberRole, $state: MembershipState, $search: String, $first: Int, $after: String) {
  organization(id: $id) {
    members(role: $role, state: $state, search: $search, first: $first, after: $after) {
      totalCount
      edges { cursor node { id role state user { email } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;

const emails = (result: { data?: any }) => result.data?.organization.members.edges.map((e: any) => e.node.user.email);

/** An organization with an active admin (the viewer) and members created in a known order. */
async function anOrganizationWithMembers(
  members: { email: string; givenName?: string; familyName?: string; role?: 'ANALYST' | 'ORGANIZATION_ADMIN'; state?: 'ACTIVE' | 'PENDING' | 'SUSPENDED' }[],
) {
  const { organization, user: admin, member } = await aTenantWithMember('ORGANIZATION_ADMIN');
  await prisma.member.update({ where: { id: member.id }, data: { createdAt: new Date(Date.UTC(2030, 0, 1)) } });
  for (const [i, m] of members.entries()) {
    const user = await aUser({ email: m.email, givenName: m.givenName, familyName: m.familyName });
    const created = await aMember(organization.id, user.id, { role: m.role, state: m.state });
    // Several members share a creation time, so the order falls back on the id.
    await prisma.member.update({ where: { id: created.id }, data: { createdAt: new Date(Date.UTC(2030, 0, 2 + Math.floor(i / 2))) } });
  }
  return { organization, admin };
}

describe('Organization.members', () => {
  it('pages through members oldest first, ties broken by id, with totalCount', async () => {
    const { organization, admin } = await anOrganizationWithMembers(
      Array.from({ length: 5 }, (_, i) => ({ email: `m${i}@example.com` })),
    );
    const all = await prisma.member.findMany({
      where: { organizationId: organization.id },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      include: { user: true },
    });
    const expected = all.map((m) => m.user.email);
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await gql(MEMBERS, { variables: { id: organization.id, first: 2, after }, asUser: admin });
      expectNoErrors(page);
      expect(page.data?.organization.members.totalCount).toBe(6);
      seen.push(...emails(page));
      if (!page.data?.organization.members.pageInfo.hasNextPage) break;
      after = page.data?.organization.members.pageInfo.endCursor;
    }
    expect(seen).toEqual(expected);
  });

  it('filters by role, state and a case-insensitive search over email and names, and counts only the matches', async () => {
    const { organization, admin } = await anOrganizationWithMembers([
      { email: 'ada@example.com', givenName: 'Ada', familyName: 'Lovelace' },
      { email: 'grace@example.com', givenName: 'Grace', familyName: 'Hopper', role: 'ORGANIZATION_ADMIN' },
      { email: 'invited@example.com', state: 'PENDING' },
      { email: 'gone@other.org', familyName: 'Lovelace', state: 'SUSPENDED' },
    ]);
    const query = async (variables: Record<string, unknown>) => {
      const result = await gql(MEMBERS, { variables: { id: organization.id, ...variables }, asUser: admin });
      expectNoErrors(result);
      return { emails: emails(result), totalCount: result.data?.organization.members.totalCount };
    };
    expect(await query({ role: 'ORGANIZATION_ADMIN', state: 'ACTIVE' })).toEqual({ emails: [admin.email, 'grace@example.com'], totalCount: 2 });
    expect(await query({ state: 'PENDING' })).toEqual({ emails: ['invited@example.com'], totalCount: 1 });
    expect(await query({ search: 'LOVELACE' })).toEqual({ emails: ['ada@example.com', 'gone@other.org'], totalCount: 2 });
    expect(await query({ search: 'other.ORG' })).toEqual({ emails: ['gone@other.org'], totalCount: 1 });
    expect(await query({ search: 'grac', role: 'ANALYST' })).toEqual({ emails: [], totalCount: 0 });
    expect(await query({ search: '%' })).toEqual({ emails: [], totalCount: 0 });
    expect(await query({ search: '_' })).toEqual({ emails: [], totalCount: 0 });
  });

  it('answers BAD_USER_INPUT for a search longer than 200 characters', async () => {
    const { organization, admin } = await anOrganizationWithMembers([]);
    const result = await gql(MEMBERS, { variables: { id: organization.id, search: 'x'.repeat(201) }, asUser: admin });
    expectErrorCode(result, 'BAD_USER_INPUT');
    expect(result.errors?.[0]?.extensions?.details).toEqual([{ path: 'search', message: 'must be at most 200 characters' }]);
  });

  it('answers FORBIDDEN to an outsider, the same whether or not the organization exists', async () => {
    const { organization } = await anOrganizationWithMembers([]);
    const outsider = await aUser();
    for (const id of [organization.id, randomUUID()]) {
      const result = await gql(MEMBERS, { variables: { id }, asUser: outsider });
      expectErrorCode(result, 'FORBIDDEN');
      expect(result.data?.organization).toBeNull();
    }
  });

  it('loads a page of 100 members with their users and memberships in a constant number of SQL statements', async () => {
    const query = `query ($id: ID!) {
      organization(id: $id) {
        members(first: 100) { totalCount edges { node { role state user { email name memberships { role organization { slug } } } } } }
      }
    }`;
    const statementsFor = async (size: number) => {
      const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
      const tag = randomUUID().slice(0, 8);
      await prisma.user.createMany({
        data: Array.from({ length: size - 1 }, (_, i) => ({ email: `bulk-${tag}-${i}@example.com`, name: `Bulk ${i}` })),
      });
      const users = await prisma.user.findMany({ where: { email: { startsWith: `bulk-${tag}-` } }, select: { id: true } });
      await prisma.member.createMany({ data: users.map((u) => ({ organizationId: organization.id, userId: u.id, state: 'ACTIVE' as const })) });
      // The token seen once: its user and memberships are remembered, and checked inside the query's statement.
      const token = await tokenFor(admin.authSubject!);
      await gql('{ __typename }', { token });
      const { result, statements } = await withSqlLog(() => gql(query, { variables: { id: organization.id }, token }));
      expectNoErrors(result);
      expect(result.data?.organization.members.edges).toHaveLength(size);
      expect(result.data?.organization.members.totalCount).toBe(size);
      return statements.length;
    };
    const small = await statementsFor(10);
    const large = await statementsFor(100);
    expect(large).toBe(small);
    // The organization with the member count, the page of members, their users, the
    // users' memberships and those memberships' organizations, all in one statement
    // (relations load in their parent's), with the credential checked in it: the
    // viewer's memberships (no X-Organization-ID here), which decide the role and the
    // readable organizations, are those remembered from the token's first request.
    expect(large).toBe(1);
  });
});

describe('node(id) for a Member', () => {
  it('resolves for readers of its organization and for the member themself, and is null for anyone else', async () => {
    const { organization, user: reader } = await aTenantWithMember('ANALYST');
    const invited = await aUser();
    const member = await aMember(organization.id, invited.id, { state: 'PENDING' });
    const query = `query ($id: ID!) { node(id: $id) { ... on Member { state user { email } } } }`;
    const variables = { id: globalId('Member', member.id) };
    expect((await gql(query, { variables, asUser: reader })).data?.node).toEqual({ state: 'PENDING', user: { email: invited.email } });
    expect((await gql(query, { variables, asUser: invited })).data?.node).toEqual({ state: 'PENDING', user: { email: invited.email } });
    const outsider = await aUser();
    const hidden = await gql(query, { variables, asUser: outsider });
    expectNoErrors(hidden);
    expect(hidden.data?.node).toBeNull();
  });
});

const ADD = `mutation ($input: AddMemberInput!) {
  addMember(input: $input) {
    __typename
    ... on AddMemberSuccess { member { id role state organization { id } user { id email } } }
    ... on Error { code message }
    ... on ValidationError { issues { path message } }
    ... on ConflictError { fields }
    ... on NotFoundError { entity }
  }
}`;

describe('addMember', () => {
  it('adds an existing user the admin can see directly, ACTIVE', async () => {
    const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const colleague = await aUser();
    const elsewhere = await anOrganization();
    await aMember(elsewhere.id, colleague.id);
    await aMember(elsewhere.id, admin.id);
    const result = await gql(ADD, {
      variables: { input: { organizationId: globalId('Organization', organization.id), userId: globalId('User', colleague.id), role: 'ORGANIZATION_ADMIN' } },
      asUser: admin,
    });
    expectNoErrors(result);
    expect(result.data?.addMember.member).toMatchObject({ role: 'ORGANIZATION_ADMIN', state: 'ACTIVE', user: { email: colleague.email } });
  });

  it('acts in the organization X-Organization-ID names when the input names none, and asks for one when neither does', async () => {
    const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const byHeader = await gql(ADD, {
      variables: { input: { email: 'invited-by-header@example.com' } },
      asUser: admin,
      organizationId: organization.id,
    });
    expectNoErrors(byHeader);
    expect(byHeader.data?.addMember.member).toMatchObject({ state: 'PENDING', organization: { id: globalId('Organization', organization.id) } });
    const neither = await gql(ADD, { variables: { input: { email: 'nobody-yet@example.com' } }, asUser: admin });
    expect(neither.data?.addMember).toMatchObject({ code: 'BAD_USER_INPUT', issues: [expect.objectContaining({ path: 'input.organizationId' })] });
    expect(await prisma.user.count({ where: { email: 'nobody-yet@example.com' } })).toBe(0);
  });

  it('invites by email: creates the user when missing, lower-cased, as a PENDING ANALYST', async () => {
    const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const result = await gql(ADD, { variables: { input: { organizationId: organization.id, email: ' New.Person@Example.com ' } }, asUser: admin });
    expectNoErrors(result);
    expect(result.data?.addMember.member).toMatchObject({ role: 'ANALYST', state: 'PENDING', user: { email: 'new.person@example.com' } });
    expect(await prisma.user.findUniqueOrThrow({ where: { email: 'new.person@example.com' } })).toMatchObject({ authSubject: null });
  });

  it('invites an existing user by email, in any case, without creating another: ACTIVE once they have signed in, else PENDING', async () => {
    const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const signedIn = await aUser({ email: 'known@example.com' });
    const neverSignedIn = await aUser({ email: 'invited-elsewhere@example.com', authSubject: null });
    const known = await gql(ADD, { variables: { input: { organizationId: organization.id, email: 'KNOWN@example.com' } }, asUser: admin });
    expect(known.data?.addMember.member).toMatchObject({ state: 'ACTIVE', user: { id: globalId('User', signedIn.id) } });
    const invited = await gql(ADD, { variables: { input: { organizationId: organization.id, email: neverSignedIn.email } }, asUser: admin });
    expect(invited.data?.addMember.member).toMatchObject({ state: 'PENDING', user: { id: globalId('User', neverSignedIn.id) } });
    expect(await prisma.user.count()).toBe(3);
  });

  it('answers BAD_USER_INPUT naming each invalid field and writes nothing', async () => {
    const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const other = await aUser();
    const cases: [Record<string, unknown>, string[]][] = [
      [{ organizationId: organization.id }, ['input.userId']],
      [{ organizationId: organization.id, userId: other.id, email: other.email }, ['input.userId']],
      [{ organizationId: organization.id, email: 'not-an-email' }, ['input.email']],
      [{ organizationId: organization.id, email: `${'x'.repeat(310)}@example.com` }, ['input.email']],
      [{ organizationId: organization.id, userId: 'nope' }, ['input.userId']],
      [{ organizationId: organization.id, email: 'ok@example.com', role: null }, ['input.role']],
      [{ organizationId: 'nope', email: 'bad' }, ['input.email', 'input.organizationId']],
    ];
    for (const [input, paths] of cases) {
      const result = await gql(ADD, { variables: { input }, asUser: admin });
      expectErrorCode(result, 'BAD_USER_INPUT');
      expect(result.data?.addMember.issues.map((i: { path: string }) => i.path)).toEqual(paths);
    }
    expect(await prisma.member.count()).toBe(1);
    expect(await prisma.user.count()).toBe(2);
  });

  it('answers CONFLICT for a user who is already a member, by id or email, also when invitations race', async () => {
    const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const byId = await gql(ADD, { variables: { input: { organizationId: organization.id, userId: admin.id } }, asUser: admin });
    expectErrorCode(byId, 'CONFLICT');
    expect(byId.data?.addMember.fields).toEqual(['input.userId']);
    const byEmail = await gql(ADD, { variables: { input: { organizationId: organization.id, email: admin.email.toUpperCase() } }, asUser: admin });
    expect(byEmail.data?.addMember.fields).toEqual(['input.email']);

    const racers = await Promise.all(
      Array.from({ length: 6 }, () => gql(ADD, { variables: { input: { organizationId: organization.id, email: 'raced@example.com' } }, asUser: admin })),
    );
    expect(racers.map((r) => r.data?.addMember.__typename).sort()).toEqual(['AddMemberSuccess', ...Array(5).fill('ConflictError')]);
    expect(await prisma.user.count({ where: { email: 'raced@example.com' } })).toBe(1);
    expect(await prisma.member.count({ where: { organizationId: organization.id } })).toBe(2);
  });

  it('answers NOT_FOUND for a user id the admin cannot see, as for one that does not exist', async () => {
    const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const { user: stranger } = await aTenantWithMember();
    for (const userId of [stranger.id, randomUUID()]) {
      const result = await gql(ADD, { variables: { input: { organizationId: organization.id, userId } }, asUser: admin });
      expectErrorCode(result, 'NOT_FOUND');
      expect(result.data?.addMember.entity).toBe('User');
    }
    expect(await prisma.member.count({ where: { organizationId: organization.id } })).toBe(1);
  });

  it('lets only a system admin grant SYSTEM_ADMIN', async () => {
    const { organization, user: orgAdmin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const input = { organizationId: organization.id, email: 'root@example.com', role: 'SYSTEM_ADMIN' };
    expectErrorCode(await gql(ADD, { variables: { input }, asUser: orgAdmin }), 'FORBIDDEN');
    expect(await prisma.user.count({ where: { email: 'root@example.com' } })).toBe(0);
    const systemAdmin = await aUser({ isSystemAdmin: true });
    const granted = await gql(ADD, { variables: { input }, asUser: systemAdmin });
    expect(granted.data?.addMember.member.role).toBe('SYSTEM_ADMIN');
  });

  it('answers FORBIDDEN to an ANALYST, a PENDING admin and a non-member, whether or not the organization exists', async () => {
    const { organization, user: analyst } = await aTenantWithMember('ANALYST');
    const pendingAdmin = await aUser();
    await aMember(organization.id, pendingAdmin.id, { role: 'ORGANIZATION_ADMIN', state: 'PENDING' });
    const outsider = await aUser();
    for (const [user, organizationId] of [
      [analyst, organization.id],
      [pendingAdmin, organization.id],
      [outsider, organization.id],
      [outsider, randomUUID()],
    ] as const) {
      const result = await gql(ADD, { variables: { input: { organizationId, email: 'x@example.com' } }, asUser: user });
      expectErrorCode(result, 'FORBIDDEN');
    }
    expect(await prisma.user.count({ where: { email: 'x@example.com' } })).toBe(0);
  });

  it('answers NOT_FOUND to a system admin for an organization that does not exist', async () => {
    const admin = await aUser({ isSystemAdmin: true });
    const result = await gql(ADD, { variables: { input: { organizationId: randomUUID(), email: 'x@example.com' } }, asUser: admin });
    expectErrorCode(result, 'NOT_FOUND');
    expect(await prisma.user.count({ where: { email: 'x@example.com' } })).toBe(0);
  });

  it('answers TENANT_MISMATCH when the request is narrowed to another organization', async () => {
    const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const other = await anOrganization();
    await aMember(other.id, admin.id, { role: 'ORGANIZATION_ADMIN' });
    const result = await gql(ADD, { variables: { input: { organizationId: organization.id, email: 'x@example.com' } }, asUser: admin, organizationId: other.id });
    expectErrorCode(result, 'TENANT_MISMATCH');
    expect(await prisma.user.count({ where: { email: 'x@example.com' } })).toBe(0);
  });

  it('answers UNAUTHENTICATED without a credential', async () => {
    const organization = await anOrganization();
    expectErrorCode(await gql(ADD, { variables: { input: { organizationId: organization.id, email: 'x@example.com' } } }), 'UNAUTHENTICATED');
  });
});

describe('activatePendingMemberships (on sign-in)', () => {
  it('makes every PENDING membership of the user ACTIVE and leaves SUSPENDED ones alone', async () => {
    const user = await aUser();
    const [a, b, c] = [await anOrganization(), await anOrganization(), await anOrganization()];
    await aMember(a.id, user.id, { state: 'PENDING' });
    await aMember(b.id, user.id, { state: 'PENDING' });
    await aMember(c.id, user.id, { state: 'SUSPENDED' });
    expect(await activatePendingMemberships(user.id)).toBe(2);
    const states = await prisma.member.findMany({ where: { userId: user.id }, select: { organizationId: true, state: true } });
    expect(Object.fromEntries(states.map((s) => [s.organizationId, s.state]))).toEqual({ [a.id]: 'ACTIVE', [b.id]: 'ACTIVE', [c.id]: 'SUSPENDED' });
  });
});

const UPDATE = `mutation ($input: UpdateMemberInput!) {
  updateMember(input: $input) {
    __typename
    ... on UpdateMemberSuccess { member { id role state } }
    ... on Error { code message }
    ... on ValidationError { issues { path message } }
  }
}`;

/** An organization with two active ORGANIZATION_ADMINs. */
async function twoAdmins() {
  const { organization, user: first, member: firstMember } = await aTenantWithMember('ORGANIZATION_ADMIN');
  const second = await aUser();
  const secondMember = await aMember(organization.id, second.id, { role: 'ORGANIZATION_ADMIN' });
  return { organization, first, firstMember, second, secondMember };
}

const activeAdmins = (organizationId: string) =>
  prisma.member.count({ where: { organizationId, role: 'ORGANIZATION_ADMIN', state: 'ACTIVE' } });

describe('updateMember', () => {
  it('changes the role and the state; fields left out stay', async () => {
    const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const member = await aMember(organization.id, (await aUser()).id, { state: 'PENDING' });
    const id = globalId('Member', member.id);
    const promoted = await gql(UPDATE, { variables: { input: { id, role: 'ORGANIZATION_ADMIN' } }, asUser: admin });
    expectNoErrors(promoted);
    expect(promoted.data?.updateMember.member).toEqual({ id, role: 'ORGANIZATION_ADMIN', state: 'PENDING' });
    const activated = await gql(UPDATE, { variables: { input: { id, state: 'ACTIVE' } }, asUser: admin });
    expect(activated.data?.updateMember.member).toEqual({ id, role: 'ORGANIZATION_ADMIN', state: 'ACTIVE' });
  });

  it('lets an admin step down while another active admin remains', async () => {
    const { organization, first, firstMember } = await twoAdmins();
    const result = await gql(UPDATE, { variables: { input: { id: firstMember.id, role: 'ANALYST' } }, asUser: first });
    expect(result.data?.updateMember.member.role).toBe('ANALYST');
    expect(await activeAdmins(organization.id)).toBe(1);
  });

  it('refuses to demote or suspend the last active ORGANIZATION_ADMIN, with CONFLICT, and writes nothing', async () => {
    const { organization, user: admin, member } = await aTenantWithMember('ORGANIZATION_ADMIN');
    // A suspended admin and a pending one do not count.
    await aMember(organization.id, (await aUser()).id, { role: 'ORGANIZATION_ADMIN', state: 'SUSPENDED' });
    await aMember(organization.id, (await aUser()).id, { role: 'ORGANIZATION_ADMIN', state: 'PENDING' });
    for (const change of [{ role: 'ANALYST' }, { state: 'SUSPENDED' }, { state: 'PENDING' }]) {
      const result = await gql(UPDATE, { variables: { input: { id: member.id, ...change } }, asUser: admin });
      expectErrorCode(result, 'CONFLICT');
      expect(result.data?.updateMember.__typename).toBe('LastOrganizationAdminError');
    }
    expect(await prisma.member.findUniqueOrThrow({ where: { id: member.id } })).toMatchObject({ role: 'ORGANIZATION_ADMIN', state: 'ACTIVE' });
  });

  it('keeps one active admin when two admins demote each other at the same moment', async () => {
    for (let round = 0; round < 4; round++) {
      const { organization, first, firstMember, second, secondMember } = await twoAdmins();
      const [a, b] = await Promise.all([
        gql(UPDATE, { variables: { input: { id: secondMember.id, role: 'ANALYST' } }, asUser: first }),
        gql(UPDATE, { variables: { input: { id: firstMember.id, state: 'SUSPENDED' } }, asUser: second }),
      ]);
      const outcomes = [a, b].map((r) => r.data?.updateMember.__typename);
      expect(outcomes.filter((o) => o === 'UpdateMemberSuccess')).toHaveLength(1);
      expect(await activeAdmins(organization.id)).toBe(1);
    }
  });

  it('lets only a system admin grant SYSTEM_ADMIN or change a member who holds it', async () => {
    const { organization, user: orgAdmin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const member = await aMember(organization.id, (await aUser()).id);
    const root = await aMember(organization.id, (await aUser()).id, { role: 'SYSTEM_ADMIN' });
    expectErrorCode(await gql(UPDATE, { variables: { input: { id: member.id, role: 'SYSTEM_ADMIN' } }, asUser: orgAdmin }), 'FORBIDDEN');
    expectErrorCode(await gql(UPDATE, { variables: { input: { id: root.id, state: 'SUSPENDED' } }, asUser: orgAdmin }), 'FORBIDDEN');
    expect((await prisma.member.findUniqueOrThrow({ where: { id: member.id } })).role).toBe('ANALYST');
    expect((await prisma.member.findUniqueOrThrow({ where: { id: root.id } })).state).toBe('ACTIVE');
    const systemAdmin = await aUser({ isSystemAdmin: true });
    const granted = await gql(UPDATE, { variables: { input: { id: member.id, role: 'SYSTEM_ADMIN' } }, asUser: systemAdmin });
    expect(granted.data?.updateMember.member.role).toBe('SYSTEM_ADMIN');
  });

  it('answers BAD_USER_INPUT naming each invalid field and writes nothing', async () => {
    const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const member = await aMember(organization.id, (await aUser()).id);
    const nulls = await gql(UPDATE, { variables: { input: { id: member.id, role: null, state: null } }, asUser: admin });
    expectErrorCode(nulls, 'BAD_USER_INPUT');
    expect(nulls.data?.updateMember.issues.map((i: { path: string }) => i.path)).toEqual(['input.role', 'input.state']);
    const badId = await gql(UPDATE, { variables: { input: { id: globalId('User', member.id), role: 'ANALYST' } }, asUser: admin });
    expect(badId.data?.updateMember.issues.map((i: { path: string }) => i.path)).toEqual(['input.id']);
    expect(await prisma.member.findUniqueOrThrow({ where: { id: member.id } })).toEqual(member);
  });

  it('answers FORBIDDEN to an ANALYST of the organization, and NOT_FOUND to another organization\'s admin exactly as for a member that does not exist', async () => {
    const { organization, user: analyst } = await aTenantWithMember('ANALYST');
    const member = await aMember(organization.id, (await aUser()).id);
    const { user: otherAdmin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    for (const [user, id, code] of [
      [analyst, member.id, 'FORBIDDEN'],
      [otherAdmin, member.id, 'NOT_FOUND'],
      [otherAdmin, randomUUID(), 'NOT_FOUND'],
    ] as const) {
      expectErrorCode(await gql(UPDATE, { variables: { input: { id, role: 'ORGANIZATION_ADMIN' } }, asUser: user }), code);
    }
    expect((await prisma.member.findUniqueOrThrow({ where: { id: member.id } })).role).toBe('ANALYST');
  });

  it('answers NOT_FOUND to a system admin for a member that does not exist', async () => {
    const admin = await aUser({ isSystemAdmin: true });
    expectErrorCode(await gql(UPDATE, { variables: { input: { id: randomUUID(), role: 'ANALYST' } }, asUser: admin }), 'NOT_FOUND');
  });

  it('answers UNAUTHENTICATED without a credential', async () => {
    const { member } = await aTenantWithMember();
    expectErrorCode(await gql(UPDATE, { variables: { input: { id: member.id, role: 'ANALYST' } } }), 'UNAUTHENTICATED');
  });
});

const REMOVE = `mutation ($input: RemoveMemberInput!) {
  removeMember(input: $input) {
    __typename
    ... on RemoveMemberSuccess { removedId }
    ... on Error { code message }
    ... on ValidationError { issues { path message } }
  }
}`;

describe('removeMember', () => {
  it('removes the membership and keeps the user', async () => {
    const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const user = await aUser();
    const member = await aMember(organization.id, user.id);
    const result = await gql(REMOVE, { variables: { input: { id: globalId('Member', member.id) } }, asUser: admin });
    expectNoErrors(result);
    expect(result.data?.removeMember).toEqual({ __typename: 'RemoveMemberSuccess', removedId: globalId('Member', member.id) });
    expect(await prisma.member.count({ where: { id: member.id } })).toBe(0);
    expect(await prisma.user.count({ where: { id: user.id } })).toBe(1);
  });

  it('refuses to remove the last active ORGANIZATION_ADMIN, with CONFLICT', async () => {
    const { user: admin, member } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const result = await gql(REMOVE, { variables: { input: { id: member.id } }, asUser: admin });
    expectErrorCode(result, 'CONFLICT');
    expect(result.data?.removeMember.__typename).toBe('LastOrganizationAdminError');
    expect(await prisma.member.count({ where: { id: member.id } })).toBe(1);
  });

  it('keeps one active admin when two admins remove each other at the same moment', async () => {
    for (let round = 0; round < 4; round++) {
      const { organization, first, firstMember, second, secondMember } = await twoAdmins();
      const results = await Promise.all([
        gql(REMOVE, { variables: { input: { id: secondMember.id } }, asUser: first }),
        gql(REMOVE, { variables: { input: { id: firstMember.id } }, asUser: second }),
      ]);
      // The loser may also be refused because it is no longer an admin by the time it runs.
      expect(results.filter((r) => r.data?.removeMember.__typename === 'RemoveMemberSuccess')).toHaveLength(1);
      expect(await activeAdmins(organization.id)).toBe(1);
    }
  });

  it('lets only a system admin remove a SYSTEM_ADMIN member', async () => {
    const { organization, user: orgAdmin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const root = await aMember(organization.id, (await aUser()).id, { role: 'SYSTEM_ADMIN' });
    expectErrorCode(await gql(REMOVE, { variables: { input: { id: root.id } }, asUser: orgAdmin }), 'FORBIDDEN');
    expect(await prisma.member.count({ where: { id: root.id } })).toBe(1);
  });

  it('answers FORBIDDEN to an ANALYST of the organization, and NOT_FOUND to another organization\'s admin exactly as for a member that does not exist', async () => {
    const { organization, user: analyst } = await aTenantWithMember('ANALYST');
    const member = await aMember(organization.id, (await aUser()).id);
    const { user: otherAdmin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    for (const [user, id, code] of [
      [analyst, member.id, 'FORBIDDEN'],
      [otherAdmin, member.id, 'NOT_FOUND'],
      [otherAdmin, randomUUID(), 'NOT_FOUND'],
    ] as const) {
      expectErrorCode(await gql(REMOVE, { variables: { input: { id } }, asUser: user }), code);
    }
    expect(await prisma.member.count({ where: { id: member.id } })).toBe(1);
  });

  it('answers NOT_FOUND to a system admin and BAD_USER_INPUT for a malformed id', async () => {
    const admin = await aUser({ isSystemAdmin: true });
    expectErrorCode(await gql(REMOVE, { variables: { input: { id: randomUUID() } }, asUser: admin }), 'NOT_FOUND');
    const bad = await gql(REMOVE, { variables: { input: { id: 'nope' } }, asUser: admin });
    expectErrorCode(bad, 'BAD_USER_INPUT');
    expect(bad.data?.removeMember.issues[0].path).toBe('input.id');
  });

  it('answers UNAUTHENTICATED without a credential', async () => {
    const { member } = await aTenantWithMember();
    expectErrorCode(await gql(REMOVE, { variables: { input: { id: member.id } } }), 'UNAUTHENTICATED');
    expect(await prisma.member.count()).toBe(1);
  });
});

import { createHash, randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { eventsDuring } from './helpers/audit.ts';
import { closeChangeBus } from '../src/modules/audit/bus.ts';
import { expectErrorCode, expectNoErrors, type GqlResult, globalId, gql, tokenFor } from './helpers/app.ts';
import { nextResults, sseEvents, subscribeToGraphChanges } from './helpers/sse.ts';
import {
  aMember,
  anApiKey,
  anIdentifier,
  anIdentity,
  anOrganization,
  aSource,
  aTenantWithMember,
  aUser,
} from './helpers/factories.ts';

// History: every successful mutation of organizations, users, members and sources
// records one audit event per changed object (actor, organization, entity, action,
// each changed field before and after) in the transaction of the change; a failed
// mutation records none. Read back through Organization.auditEvents, `history` and
// the identityGraphChanged subscription.

afterAll(async () => {
  await closeChangeBus();
});

const userActor = (userId: string) => ({ actorType: 'USER', actorUserId: userId, actorApiKeyId: null });

const CREATE_ORGANIZATION = `mutation ($input: CreateOrganizationInput!) {
  createOrganization(input: $input) {
    __typename
    ... on CreateOrganizationSuccess { organization { id slug name } }
    ... on Error { code }
  }
}`;
const UPDATE_ORGANIZATION = `mutation ($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) {
    __typename
    ... on UpdateOrganizationSuccess { organization { id slug name } }
    ... on Error { code }
  }
}`;
const DELETE_ORGANIZATION = `mutation ($input: DeleteOrganizationInput!) {
  deleteOrganization(input: $input) { __typename ... on DeleteOrganizationSuccess { deletedId } ... on Error { code } }
}`;
const CREATE_USER = `mutation ($input: CreateUserInput!) {
  createUser(input: $input) { __typename ... on CreateUserSuccess { user { id email } } ... on Error { code } }
}`;
const UPDATE_USER = `mutation ($input: UpdateUserInput!) {
  updateUser(input: $input) { __typename ... on UpdateUserSuccess { user { id email name } } ... on Error { code } }
}`;
const ADD_MEMBER = `mutation ($input: AddMemberInput!) {
  addMember(input: $input) { __typename ... on AddMemberSuccess { member { id role state user { id } } } ... on Error { code } }
}`;
const UPDATE_MEMBER = `mutation ($input: UpdateMemberInput!) {
  updateMember(input: $input) { __typename ... on UpdateMemberSuccess { member { id role state } } ... on Error { code } }
}`;
const REMOVE_MEMBER = `mutation ($input: RemoveMemberInput!) {
  removeMember(input: $input) { __typename ... on RemoveMemberSuccess { removedId } ... on Error { code } }
}`;
const CREATE_SOURCE = `mutation ($input: CreateIntegrationSourceInput!) {
  createIntegrationSource(input: $input) {
    __typename
    ... on CreateIntegrationSourceSuccess { source { id kind key name } }
    ... on Error { code }
  }
}`;
const UPDATE_SOURCE = `mutation ($input: UpdateIntegrationSourceInput!) {
  updateIntegrationSource(input: $input) {
    __typename
    ... on UpdateIntegrationSourceSuccess { source { id key name } }
    ... on Error { code }
  }
}`;
const DELETE_SOURCE = `mutation ($input: DeleteIntegrationSourceInput!) {
  deleteIntegrationSource(input: $input) { __typename ... on DeleteIntegrationSourceSuccess { deletedId } ... on Error { code } }
}`;

const EVENT_FIELDS = `id action entityType entityId actorType actor { id } actorApiKeyId changes createdAt`;

describe('organizations', () => {
  it('createOrganization records the organization and its first admin membership, by the creating user', async () => {
    const user = await aUser();
    const { result, events } = await eventsDuring(() =>
      gql(CREATE_ORGANIZATION, { asUser: user, variables: { input: { slug: 'acme', name: 'Acme' } } }),
    );
    expectNoErrors(result);
    const organization = await prisma.organization.findUniqueOrThrow({ where: { slug: 'acme' } });
    const member = await prisma.member.findFirstOrThrow({ where: { organizationId: organization.id } });
    expect(events).toHaveLength(2);
    expect(events.find((e) => e.entityType === 'Organization')).toMatchObject({
      ...userActor(user.id),
      organizationId: organization.id,
      entityId: organization.id,
      action: 'CREATE',
      changes: { slug: { before: null, after: 'acme' }, name: { before: null, after: 'Acme' } },
    });
    expect(events.find((e) => e.entityType === 'Member')).toMatchObject({
      ...userActor(user.id),
      organizationId: organization.id,
      entityId: member.id,
      action: 'CREATE',
      changes: {
        userId: { before: null, after: user.id },
        role: { before: null, after: 'ORGANIZATION_ADMIN' },
        state: { before: null, after: 'ACTIVE' },
      },
    });
  });

  it('updateOrganization records one UPDATE with only the changed fields, and nothing when nothing changes', async () => {
    const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const id = globalId('Organization', organization.id);
    const { result, events } = await eventsDuring(() =>
      gql(UPDATE_ORGANIZATION, { asUser: user, variables: { input: { id, name: 'Renamed', slug: organization.slug } } }),
    );
    expectNoErrors(result);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      ...userActor(user.id),
      organizationId: organization.id,
      entityType: 'Organization',
      entityId: organization.id,
      action: 'UPDATE',
      changes: { name: { before: organization.name, after: 'Renamed' } },
    });
    const unchanged = await eventsDuring(() =>
      gql(UPDATE_ORGANIZATION, { asUser: user, variables: { input: { id, name: 'Renamed' } } }),
    );
    expect(unchanged.result.data?.updateOrganization.__typename).toBe('UpdateOrganizationSuccess');
    expect(unchanged.events).toEqual([]);
  });

  it('deleteOrganization removes its trail and records its DELETE without an organization, so it survives', async () => {
    const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
    await gql(UPDATE_ORGANIZATION, {
      asUser: user,
      variables: { input: { id: globalId('Organization', organization.id), name: 'Before deletion' } },
    });
    expect(await prisma.auditEvent.count({ where: { organizationId: organization.id } })).toBe(1);
    const admin = await aUser({ isSystemAdmin: true });
    const { result, events } = await eventsDuring(() =>
      gql(DELETE_ORGANIZATION, { asUser: admin, variables: { input: { id: globalId('Organization', organization.id) } } }),
    );
    expect(result.data?.deleteOrganization.__typename).toBe('DeleteOrganizationSuccess');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      ...userActor(admin.id),
      organizationId: null,
      entityType: 'Organization',
      entityId: organization.id,
      action: 'DELETE',
      changes: { slug: { before: organization.slug, after: null }, name: { before: 'Before deletion', after: null } },
    });
    // The organization's own trail went with it; only the DELETE is left.
    expect(await prisma.auditEvent.findMany({ select: { id: true } })).toEqual([{ id: events[0]!.id }]);
  });

  it("deleting organizations by any statement takes their trails with them, and leaves other organizations' and none's", async () => {
    const tenants = await Promise.all([1, 2, 3].map(() => aTenantWithMember('ORGANIZATION_ADMIN')));
    for (const { organization, user } of tenants) {
      await gql(UPDATE_ORGANIZATION, {
        asUser: user,
        variables: { input: { id: globalId('Organization', organization.id), name: `Renamed ${organization.slug}` } },
      });
    }
    const orgless = await prisma.auditEvent.create({
      data: { organizationId: null, actorType: 'SYSTEM', entityType: 'User', entityId: tenants[0]!.user.id, action: 'CREATE', changes: {} },
    });
    const [gone1, gone2, kept] = tenants.map((t) => t.organization.id);
    expect(await prisma.auditEvent.count({ where: { organizationId: { in: [gone1!, gone2!] } } })).toBe(2);
    // Two organizations in one statement, outside the server's own deletion.
    await prisma.$executeRaw`DELETE FROM organizations WHERE id IN (${gone1}::uuid, ${gone2}::uuid)`;
    const left = await prisma.auditEvent.findMany({ select: { id: true, organizationId: true } });
    expect(left.filter((e) => e.organizationId === gone1 || e.organizationId === gone2)).toEqual([]);
    expect(left.filter((e) => e.organizationId === kept)).toHaveLength(1);
    expect(left.some((e) => e.id === orgless.id)).toBe(true);
  });
});

describe('users', () => {
  it('createUser records one CREATE without an organization', async () => {
    const admin = await aUser({ isSystemAdmin: true });
    const { result, events } = await eventsDuring(() =>
      gql(CREATE_USER, {
        asUser: admin,
        variables: { input: { email: 'New@Example.com', givenName: 'Ada', authSubject: 'auth|ada' } },
      }),
    );
    expectNoErrors(result);
    const created = await prisma.user.findUniqueOrThrow({ where: { email: 'new@example.com' } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      ...userActor(admin.id),
      organizationId: null,
      entityType: 'User',
      entityId: created.id,
      action: 'CREATE',
    });
    expect(events[0]!.changes).toEqual({
      email: { before: null, after: 'new@example.com' },
      authSubject: { before: null, after: 'auth|ada' },
      givenName: { before: null, after: 'Ada' },
      isSystemAdmin: { before: null, after: false },
    });
  });

  it('updateUser records one UPDATE with before and after, by the user themself', async () => {
    const user = await aUser({ name: 'Old Name' });
    const { result, events } = await eventsDuring(() =>
      gql(UPDATE_USER, {
        asUser: user,
        variables: { input: { id: globalId('User', user.id), name: 'New Name', nickname: 'nn', givenName: null } },
      }),
    );
    expectNoErrors(result);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ ...userActor(user.id), organizationId: null, entityType: 'User', entityId: user.id, action: 'UPDATE' });
    // givenName was already null: clearing it changes nothing and is not recorded.
    expect(events[0]!.changes).toEqual({
      name: { before: 'Old Name', after: 'New Name' },
      nickname: { before: null, after: 'nn' },
    });
  });
});

describe('members', () => {
  it('addMember of an existing user records the membership CREATE', async () => {
    const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const colleague = await aUser();
    const { result, events } = await eventsDuring(() =>
      gql(ADD_MEMBER, {
        asUser: admin,
        variables: { input: { organizationId: globalId('Organization', organization.id), email: colleague.email, role: 'ANALYST' } },
      }),
    );
    expectNoErrors(result);
    const member = await prisma.member.findFirstOrThrow({ where: { organizationId: organization.id, userId: colleague.id } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      ...userActor(admin.id),
      organizationId: organization.id,
      entityType: 'Member',
      entityId: member.id,
      action: 'CREATE',
      changes: {
        userId: { before: null, after: colleague.id },
        role: { before: null, after: 'ANALYST' },
        state: { before: null, after: 'ACTIVE' },
      },
    });
  });

  it('addMember by a new email also records the invited user CREATE, without an organization', async () => {
    const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const { result, events } = await eventsDuring(() =>
      gql(ADD_MEMBER, {
        asUser: admin,
        variables: { input: { organizationId: globalId('Organization', organization.id), email: 'invitee@example.com' } },
      }),
    );
    expectNoErrors(result);
    const invitee = await prisma.user.findUniqueOrThrow({ where: { email: 'invitee@example.com' } });
    const member = await prisma.member.findFirstOrThrow({ where: { userId: invitee.id } });
    expect(events).toHaveLength(2);
    expect(events.find((e) => e.entityType === 'User')).toMatchObject({
      ...userActor(admin.id),
      organizationId: null,
      entityId: invitee.id,
      action: 'CREATE',
      changes: { email: { before: null, after: 'invitee@example.com' }, isSystemAdmin: { before: null, after: false } },
    });
    expect(events.find((e) => e.entityType === 'Member')).toMatchObject({
      organizationId: organization.id,
      entityId: member.id,
      action: 'CREATE',
      changes: { userId: { before: null, after: invitee.id }, state: { before: null, after: 'PENDING' } },
    });
  });

  it('updateMember and removeMember record one UPDATE and one DELETE', async () => {
    const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const analyst = await aUser();
    const member = await aMember(organization.id, analyst.id, { role: 'ANALYST' });
    const id = globalId('Member', member.id);
    const updated = await eventsDuring(() =>
      gql(UPDATE_MEMBER, { asUser: admin, variables: { input: { id, role: 'ORGANIZATION_ADMIN', state: 'ACTIVE' } } }),
    );
    expectNoErrors(updated.result);
    expect(updated.events).toHaveLength(1);
    expect(updated.events[0]).toMatchObject({
      ...userActor(admin.id),
      organizationId: organization.id,
      entityType: 'Member',
      entityId: member.id,
      action: 'UPDATE',
    });
    expect(updated.events[0]!.changes).toEqual({ role: { before: 'ANALYST', after: 'ORGANIZATION_ADMIN' } });

    const removed = await eventsDuring(() => gql(REMOVE_MEMBER, { asUser: admin, variables: { input: { id } } }));
    expect(removed.result.data?.removeMember.__typename).toBe('RemoveMemberSuccess');
    expect(removed.events).toHaveLength(1);
    expect(removed.events[0]).toMatchObject({
      ...userActor(admin.id),
      organizationId: organization.id,
      entityType: 'Member',
      entityId: member.id,
      action: 'DELETE',
      changes: {
        userId: { before: analyst.id, after: null },
        role: { before: 'ORGANIZATION_ADMIN', after: null },
        state: { before: 'ACTIVE', after: null },
      },
    });
  });
});

describe('integration sources', () => {
  it('createIntegrationSource, updateIntegrationSource and deleteIntegrationSource record one event each', async () => {
    const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const created = await eventsDuring(() =>
      gql(CREATE_SOURCE, {
        asUser: admin,
        variables: { input: { organizationId: globalId('Organization', organization.id), kind: 'INTEGRATION', key: 'crm', name: 'CRM' } },
      }),
    );
    expectNoErrors(created.result);
    const source = await prisma.integrationSource.findFirstOrThrow({ where: { organizationId: organization.id } });
    expect(created.events).toHaveLength(1);
    expect(created.events[0]).toMatchObject({
      ...userActor(admin.id),
      organizationId: organization.id,
      entityType: 'IntegrationSource',
      entityId: source.id,
      action: 'CREATE',
      changes: { kind: { before: null, after: 'INTEGRATION' }, key: { before: null, after: 'crm' }, name: { before: null, after: 'CRM' } },
    });

    const id = globalId('IntegrationSource', source.id);
    const updated = await eventsDuring(() =>
      gql(UPDATE_SOURCE, { asUser: admin, variables: { input: { id, key: 'salesforce', name: 'CRM' } } }),
    );
    expectNoErrors(updated.result);
    expect(updated.events).toHaveLength(1);
    expect(updated.events[0]).toMatchObject({ action: 'UPDATE', entityId: source.id, organizationId: organization.id });
    expect(updated.events[0]!.changes).toEqual({ key: { before: 'crm', after: 'salesforce' } });

    const deleted = await eventsDuring(() => gql(DELETE_SOURCE, { asUser: admin, variables: { input: { id } } }));
    expect(deleted.result.data?.deleteIntegrationSource.__typename).toBe('DeleteIntegrationSourceSuccess');
    expect(deleted.events).toHaveLength(1);
    expect(deleted.events[0]).toMatchObject({
      ...userActor(admin.id),
      organizationId: organization.id,
      entityType: 'IntegrationSource',
      entityId: source.id,
      action: 'DELETE',
      changes: { kind: { before: 'INTEGRATION', after: null }, key: { before: 'salesforce', after: null }, name: { before: 'CRM', after: null } },
    });
  });

  it('a cascading deleteIntegrationSource also records a DELETE for every identifier and identity it removes', async () => {
    const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const source = await aSource(organization.id, { kind: 'IDENTITY_PROVIDER' });
    const other = await aSource(organization.id);
    const identifier = await anIdentifier(organization.id, admin.id, source.id, {
      identifierKey: 'owner_id',
      identifierValue: '005xx',
      discoveryMethod: 'MCP_TOOL',
      confidenceScore: 0.9,
    });
    const kept = await anIdentifier(organization.id, admin.id, other.id);
    const identity = await anIdentity(organization.id, { sourceId: source.id, externalId: 'ext-1', name: 'Ada', userId: admin.id });
    const { result, events } = await eventsDuring(() =>
      gql(DELETE_SOURCE, { asUser: admin, variables: { input: { id: globalId('IntegrationSource', source.id), cascade: true } } }),
    );
    expect(result.data?.deleteIntegrationSource.__typename).toBe('DeleteIntegrationSourceSuccess');
    expect(events).toHaveLength(3);
    expect(events.every((e) => e.organizationId === organization.id && e.action === 'DELETE' && e.actorUserId === admin.id)).toBe(true);
    // The identifier is recorded with every field deleteIdentifier records, its value's kind too.
    const removed = events.find((e) => e.entityType === 'Identifier')!;
    expect(removed).toMatchObject({ entityId: identifier.id, discoveryMethod: 'MCP_TOOL' });
    expect(removed.changes).toEqual({
      userId: { before: admin.id, after: null },
      sourceId: { before: source.id, after: null },
      identifierKey: { before: 'owner_id', after: null },
      identifierValue: { before: '005xx', after: null },
      valueKind: { before: identifier.valueKind, after: null },
      discoveryMethod: { before: 'MCP_TOOL', after: null },
      confidenceScore: { before: 0.9, after: null },
    });
    expect(events.find((e) => e.entityType === 'Identity')).toMatchObject({
      entityId: identity.id,
      changes: {
        identifierKey: { before: identity.identifierKey, after: null },
        identityType: { before: 'USER', after: null },
        name: { before: 'Ada', after: null },
        sourceId: { before: source.id, after: null },
        externalId: { before: 'ext-1', after: null },
        userId: { before: admin.id, after: null },
        linkedBy: { before: 'MANUAL', after: null },
        linkedAt: { before: identity.linkedAt!.toISOString(), after: null },
      },
    });
    expect(events.find((e) => e.entityType === 'IntegrationSource')).toMatchObject({ entityId: source.id });
    expect(await prisma.identifier.findMany({ select: { id: true } })).toEqual([{ id: kept.id }]);
  });
});

describe('failed mutations record nothing', () => {
  it('validation errors, conflicts, missing rows, refusals and guarded changes leave no event', async () => {
    const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const analyst = await aUser();
    await aMember(organization.id, analyst.id, { role: 'ANALYST' });
    const adminMember = await prisma.member.findFirstOrThrow({ where: { userId: admin.id } });
    const taken = await anOrganization();
    const source = await aSource(organization.id, { key: 'crm' });
    await aSource(organization.id, { key: 'chat' });
    await anIdentifier(organization.id, admin.id, source.id);
    const system = await aUser({ isSystemAdmin: true });
    const orgId = globalId('Organization', organization.id);

    const attempt = async (label: string, code: string, run: () => Promise<GqlResult>) => {
      const { result, events } = await eventsDuring(run);
      expectErrorCode(result, code);
      expect(events, label).toEqual([]);
    };
    await attempt('invalid slug', 'BAD_USER_INPUT', () =>
      gql(CREATE_ORGANIZATION, { asUser: admin, variables: { input: { slug: 'Not A Slug!', name: 'x' } } }),
    );
    await attempt('taken slug', 'CONFLICT', () =>
      gql(CREATE_ORGANIZATION, { asUser: admin, variables: { input: { slug: taken.slug, name: 'x' } } }),
    );
    await attempt('taken slug on update', 'CONFLICT', () =>
      gql(UPDATE_ORGANIZATION, { asUser: admin, variables: { input: { id: orgId, slug: taken.slug } } }),
    );
    await attempt('analyst updates the organization', 'FORBIDDEN', () =>
      gql(UPDATE_ORGANIZATION, { asUser: analyst, variables: { input: { id: orgId, name: 'Mine now' } } }),
    );
    await attempt('admin deletes the organization', 'FORBIDDEN', () =>
      gql(DELETE_ORGANIZATION, { asUser: admin, variables: { input: { id: orgId } } }),
    );
    await attempt('missing organization', 'NOT_FOUND', () =>
      gql(DELETE_ORGANIZATION, {
        asUser: system,
        variables: { input: { id: globalId('Organization', '00000000-0000-4000-8000-000000000000') } },
      }),
    );
    await attempt('non-admin creates a user', 'FORBIDDEN', () =>
      gql(CREATE_USER, { asUser: admin, variables: { input: { email: 'someone@example.com' } } }),
    );
    await attempt('taken email', 'CONFLICT', () =>
      gql(CREATE_USER, { asUser: system, variables: { input: { email: analyst.email } } }),
    );
    await attempt('taken email on update', 'CONFLICT', () =>
      gql(UPDATE_USER, { asUser: admin, variables: { input: { id: globalId('User', admin.id), email: analyst.email } } }),
    );
    await attempt("another user's profile", 'FORBIDDEN', () =>
      gql(UPDATE_USER, { asUser: analyst, variables: { input: { id: globalId('User', admin.id), name: 'x' } } }),
    );
    await attempt('already a member', 'CONFLICT', () =>
      gql(ADD_MEMBER, { asUser: admin, variables: { input: { organizationId: orgId, email: analyst.email } } }),
    );
    await attempt('analyst invites', 'FORBIDDEN', () =>
      gql(ADD_MEMBER, { asUser: analyst, variables: { input: { organizationId: orgId, email: 'new@example.com' } } }),
    );
    await attempt('last admin demoted', 'CONFLICT', () =>
      gql(UPDATE_MEMBER, { asUser: admin, variables: { input: { id: globalId('Member', adminMember.id), role: 'ANALYST' } } }),
    );
    await attempt('last admin removed', 'CONFLICT', () =>
      gql(REMOVE_MEMBER, { asUser: admin, variables: { input: { id: globalId('Member', adminMember.id) } } }),
    );
    await attempt('taken source key', 'CONFLICT', () =>
      gql(CREATE_SOURCE, { asUser: admin, variables: { input: { organizationId: orgId, kind: 'INTEGRATION', key: 'crm', name: 'x' } } }),
    );
    await attempt('taken source key on update', 'CONFLICT', () =>
      gql(UPDATE_SOURCE, { asUser: admin, variables: { input: { id: globalId('IntegrationSource', source.id), key: 'chat' } } }),
    );
    await attempt('source in use', 'CONFLICT', () =>
      gql(DELETE_SOURCE, { asUser: admin, variables: { input: { id: globalId('IntegrationSource', source.id) } } }),
    );
    await attempt('analyst deletes a source', 'FORBIDDEN', () =>
      gql(DELETE_SOURCE, { asUser: analyst, variables: { input: { id: globalId('IntegrationSource', source.id), cascade: true } } }),
    );
    expect(await prisma.auditEvent.count()).toBe(0);
  });
});

describe('API keys as actors', () => {
  it('records an API key as an API_KEY actor, and never the key itself', async () => {
    const organization = await anOrganization();
    const secret = `igk_${randomBytes(32).toString('base64url')}`;
    const key = await anApiKey(organization.id, createHash('sha256').update(secret).digest('hex'), { role: 'ORGANIZATION_ADMIN' });
    const { result, events } = await eventsDuring(() =>
      gql(CREATE_SOURCE, {
        headers: { 'x-api-key': secret },
        variables: { input: { organizationId: globalId('Organization', organization.id), kind: 'INTEGRATION', key: 'slack', name: 'Slack' } },
      }),
    );
    expectNoErrors(result);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      actorType: 'API_KEY',
      actorUserId: null,
      actorApiKeyId: key.id,
      organizationId: organization.id,
      entityType: 'IntegrationSource',
      action: 'CREATE',
    });
    const read = await gql(
      `query ($id: ID!) { node(id: $id) { ... on Organization { auditEvents { edges { node { actorType actor { id } actorApiKeyId } } } } } }`,
      { headers: { 'x-api-key': secret }, variables: { id: globalId('Organization', organization.id) } },
    );
    expectNoErrors(read);
    expect(read.data?.node.auditEvents.edges).toEqual([
      { node: { actorType: 'API_KEY', actor: null, actorApiKeyId: globalId('ApiKey', key.id) } },
    ]);
    const stored = JSON.stringify(await prisma.auditEvent.findMany());
    expect(stored).not.toContain(secret);
    expect(stored).not.toContain(key.secretHash);
  });

  it('never records the bearer token of a user', async () => {
    const user = await aUser();
    const token = await tokenFor(user.authSubject!);
    await gql(CREATE_ORGANIZATION, { token, variables: { input: { slug: 'tokens', name: 'Tokens' } } });
    const stored = JSON.stringify(await prisma.auditEvent.findMany());
    expect(await prisma.auditEvent.count()).toBe(2);
    expect(stored).not.toContain(token);
    expect(stored).not.toContain(token.split('.')[2]!);
  });
});

describe('reading the trail', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  /** An organization with three admins' changes, in a known order, some ms apart. */
  async function aTrail() {
    const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const other = await aUser();
    await aMember(organization.id, other.id, { role: 'ORGANIZATION_ADMIN' });
    const orgId = globalId('Organization', organization.id);
    const rename = async (as: typeof admin, name: string) => {
      expectNoErrors(await gql(UPDATE_ORGANIZATION, { asUser: as, variables: { input: { id: orgId, name } } }));
      await sleep(15);
    };
    await rename(admin, 'One');
    await rename(other, 'Two');
    const created = await gql(CREATE_SOURCE, {
      asUser: admin,
      variables: { input: { organizationId: orgId, kind: 'INTEGRATION', key: 'crm', name: 'CRM' } },
    });
    expectNoErrors(created);
    await sleep(15);
    await rename(admin, 'Three');
    const rows = await prisma.auditEvent.findMany({ orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] });
    expect(rows).toHaveLength(4);
    return { organization, orgId, admin, other, rows, sourceId: created.data!.createIntegrationSource.source.id as string };
  }

  it('Organization.auditEvents lists every change of the organization newest first, with filters', async () => {
    const { orgId, admin, other, rows } = await aTrail();
    const query = `query ($id: ID!, $filter: AuditEventFilter, $first: Int) {
      node(id: $id) { ... on Organization { auditEvents(filter: $filter, first: $first) { totalCount edges { node { ${EVENT_FIELDS} } } } } }
    }`;
    const list = async (filter?: Record<string, unknown>, first?: number) => {
      const r = await gql(query, { asUser: admin, variables: { id: orgId, filter, first } });
      expectNoErrors(r);
      return r.data!.node.auditEvents as { totalCount: number; edges: { node: any }[] };
    };
    const all = await list();
    expect(all.totalCount).toBe(4);
    expect(all.edges.map((e) => e.node.id)).toEqual(rows.map((r) => globalId('AuditEvent', r.id)));
    expect(all.edges.map((e) => [e.node.entityType, e.node.action, e.node.changes.name?.after])).toEqual([
      ['Organization', 'UPDATE', 'Three'],
      ['IntegrationSource', 'CREATE', 'CRM'],
      ['Organization', 'UPDATE', 'Two'],
      ['Organization', 'UPDATE', 'One'],
    ]);
    expect(all.edges[0]!.node).toMatchObject({
      actorType: 'USER',
      actor: { id: globalId('User', admin.id) },
      actorApiKeyId: null,
      entityId: orgId,
      changes: { name: { before: 'Two', after: 'Three' } },
    });

    const byOther = await list({ actorUserId: globalId('User', other.id) });
    expect(byOther.edges.map((e) => e.node.changes.name.after)).toEqual(['Two']);
    expect(byOther.totalCount).toBe(1);
    expect((await list({ action: 'CREATE' })).edges.map((e) => e.node.entityType)).toEqual(['IntegrationSource']);
    expect((await list({ entityType: 'Organization' }, 2)).edges.map((e) => e.node.changes.name.after)).toEqual(['Three', 'Two']);
    const [, second, third] = rows;
    const since = await list({ since: third!.createdAt.toISOString() });
    expect(since.edges.map((e) => e.node.id)).toEqual(rows.slice(0, 3).map((r) => globalId('AuditEvent', r.id)));
    const window = await list({ since: third!.createdAt.toISOString(), until: second!.createdAt.toISOString() });
    expect(window.edges.map((e) => e.node.changes.name?.after)).toEqual(['Two']);
  });

  it('history lists the changes of one object newest first, with filters', async () => {
    const { orgId, admin, other, rows, sourceId } = await aTrail();
    const query = `query ($id: ID!, $filter: AuditEventFilter) {
      node(id: $id) {
        ... on Organization { history(filter: $filter) { totalCount edges { node { action changes } } } }
        ... on IntegrationSource { history(filter: $filter) { totalCount edges { node { action changes } } } }
        ... on User { history(filter: $filter) { totalCount edges { node { action changes } } } }
      }
    }`;
    const history = async (id: string, filter?: Record<string, unknown>) => {
      const r = await gql(query, { asUser: admin, variables: { id, filter } });
      expectNoErrors(r);
      return r.data!.node.history as { totalCount: number; edges: { node: any }[] };
    };
    const org = await history(orgId);
    expect(org.totalCount).toBe(3);
    expect(org.edges.map((e) => e.node.changes.name.after)).toEqual(['Three', 'Two', 'One']);
    const source = await history(sourceId);
    expect(source.edges.map((e) => e.node.action)).toEqual(['CREATE']);

    const mine = await history(orgId, { actorUserId: globalId('User', admin.id) });
    expect(mine.edges.map((e) => e.node.changes.name.after)).toEqual(['Three', 'One']);
    expect(mine.totalCount).toBe(2);
    expect((await history(orgId, { actorUserId: globalId('User', other.id) })).edges).toHaveLength(1);
    expect((await history(orgId, { action: 'DELETE' })).totalCount).toBe(0);
    const newest = rows[0]!;
    const before = await history(orgId, { until: newest.createdAt.toISOString() });
    expect(before.edges.map((e) => e.node.changes.name.after)).toEqual(['Two', 'One']);
    expect((await history(orgId, { since: newest.createdAt.toISOString() })).edges.map((e) => e.node.changes.name.after)).toEqual([
      'Three',
    ]);

    // A user's own history: their profile changes, not their memberships.
    expectNoErrors(await gql(UPDATE_USER, { asUser: admin, variables: { input: { id: globalId('User', admin.id), nickname: 'a' } } }));
    const user = await history(globalId('User', admin.id));
    expect(user.edges).toEqual([{ node: { action: 'UPDATE', changes: { nickname: { before: null, after: 'a' } } } }]);
  });

  it('shows another organization nothing of the trail', async () => {
    const { orgId } = await aTrail();
    const outsider = await aTenantWithMember('ORGANIZATION_ADMIN');
    const r = await gql(`query ($id: ID!) { node(id: $id) { ... on Organization { auditEvents { totalCount } } } }`, {
      asUser: outsider.user,
      variables: { id: orgId },
    });
    expect(r.data?.node ?? null).toBeNull();
  });
});

describe('identityGraphChanged', () => {
  const subscribe = subscribeToGraphChanges;

  it('delivers, from the moment its response opens, every audit event of the organization and no other', async () => {
    const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const bystander = await aTenantWithMember('ORGANIZATION_ADMIN');
    const orgId = globalId('Organization', organization.id);
    const abort = new AbortController();
    const deadline = setTimeout(() => abort.abort(), 15_000);
    try {
      const response = await subscribe(orgId, admin.authSubject!, abort.signal);
      const stream = sseEvents(response.body!);
      // Changed right after the response opened, with another organization's change
      // first: the subscriber gets exactly its organization's two events, in order.
      await gql(UPDATE_ORGANIZATION, {
        asUser: bystander.user,
        variables: { input: { id: globalId('Organization', bystander.organization.id), name: 'Elsewhere' } },
      });
      expectNoErrors(await gql(UPDATE_ORGANIZATION, { asUser: admin, variables: { input: { id: orgId, name: 'First' } } }));
      expectNoErrors(await gql(UPDATE_ORGANIZATION, { asUser: admin, variables: { input: { id: orgId, name: 'Second' } } }));
      const [first, second] = (await nextResults(stream, 2)).map((r) => r.data.identityGraphChanged);
      expect(first).toMatchObject({
        action: 'UPDATE',
        entityType: 'Organization',
        entityId: orgId,
        actorType: 'USER',
        actor: { id: globalId('User', admin.id) },
        changes: { name: { before: organization.name, after: 'First' } },
      });
      expect(second.changes).toEqual({ name: { before: 'First', after: 'Second' } });
      await stream.return(undefined);
    } finally {
      clearTimeout(deadline);
      abort.abort();
    }
  });

  it('refuses a subscriber who may not read the organization', async () => {
    const { organization } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const outsider = await aUser();
    const abort = new AbortController();
    const deadline = setTimeout(() => abort.abort(), 10_000);
    try {
      const response = await subscribe(globalId('Organization', organization.id), outsider.authSubject!, abort.signal);
      const stream = sseEvents(response.body!);
      const first = await stream.next();
      expect(first.done).toBe(false);
      expect(first.value!.event).toBe('next');
      expect(first.value!.data.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      await stream.return(undefined);
    } finally {
      clearTimeout(deadline);
      abort.abort();
    }
  });
});

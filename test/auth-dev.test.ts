import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { prisma } from '../src/db.ts';
import { DEV_GRANT_PATH, devGrantHandler, devGrantToken, ensureDevMembership, mintDevToken } from '../src/modules/auth/dev.ts';
import { expectNoErrors, globalId, gql, TEST_JWT_SECRET } from './helpers/app.ts';
import { aToken, rowCounts } from './helpers/auth.ts';
import { anOrganization, aUser } from './helpers/factories.ts';

// What `npm run token` does: create the user, organization and membership a
// development token needs, and mint it; and the development server's route for it.

const settings = loadConfig({ NODE_ENV: 'test', JWT_SECRET: TEST_JWT_SECRET }).auth;
const mint = (user: Parameters<typeof mintDevToken>[0], bindOrganizationId?: string) =>
  mintDevToken(user, { secret: TEST_JWT_SECRET, settings, ttlSeconds: 600, bindOrganizationId });

const PROBE = `query ($org: ID!) {
  viewer { email isSystemAdmin }
  node(id: $org) { ... on Organization { slug } }
}`;

describe('development tokens', () => {
  it('creates the user, the organization and an ORGANIZATION_ADMIN membership, and mints a token that works', async () => {
    const made = await ensureDevMembership(prisma, { email: 'Ada@Example.com', organization: 'acme' });
    expect(made).toMatchObject({
      user: { email: 'ada@example.com', authSubject: 'dev|ada@example.com', isSystemAdmin: false },
      organization: { slug: 'acme' },
      member: { role: 'ORGANIZATION_ADMIN', state: 'ACTIVE' },
    });
    const token = await mint(made.user);
    const result = await gql(PROBE, { token, organizationId: made.organization.id, variables: { org: globalId('Organization', made.organization.id) } });
    expectNoErrors(result);
    expect(result.data).toEqual({ viewer: { email: 'ada@example.com', isSystemAdmin: false }, node: { slug: 'acme' } });
    const key = await gql(`mutation { createApiKey(input: { name: "from GraphiQL" }) { __typename } }`, { token, organizationId: made.organization.id });
    expect(key.data?.createApiKey.__typename).toBe('CreateApiKeySuccess');
  });

  it('reuses what exists, changes a role only when asked, and can make a system admin', async () => {
    const organization = await anOrganization({ slug: 'existing' });
    const user = await aUser({ email: 'grace@example.com' });
    const first = await ensureDevMembership(prisma, { email: 'grace@example.com', organization: organization.id, role: 'ANALYST' });
    expect(first).toMatchObject({ user: { id: user.id, authSubject: user.authSubject }, organization: { id: organization.id }, member: { role: 'ANALYST' } });
    const again = await ensureDevMembership(prisma, { email: 'grace@example.com', organization: 'existing' });
    expect(again.member?.role).toBe('ANALYST');
    const admin = await ensureDevMembership(prisma, { email: 'grace@example.com', organization: 'existing', role: 'ORGANIZATION_ADMIN', systemAdmin: true });
    expect(admin).toMatchObject({ user: { isSystemAdmin: true }, member: { role: 'ORGANIZATION_ADMIN' } });
    expect(await rowCounts()).toMatchObject({ users: 1, organizations: 1, members: 1 });
  });

  it('makes a system admin without making them a member of the organization, unless a role is asked for', async () => {
    const organization = await anOrganization({ slug: 'governed' });
    const root = await ensureDevMembership(prisma, { email: 'root@example.com', organization: 'governed', systemAdmin: true });
    expect(root).toMatchObject({ user: { isSystemAdmin: true }, organization: { id: organization.id }, member: null });
    expect(await prisma.member.count({ where: { organizationId: organization.id } })).toBe(0);
    const token = await mint(root.user);
    const result = await gql(PROBE, { token, organizationId: organization.id, variables: { org: globalId('Organization', organization.id) } });
    expectNoErrors(result);
    const analyst = await ensureDevMembership(prisma, { email: 'root@example.com', organization: 'governed', systemAdmin: true, role: 'ANALYST' });
    expect(analyst.member).toEqual({ role: 'ANALYST', state: 'ACTIVE' });
  });

  it('records what it creates and changes in the audit trail, as the system, and nothing when it changes nothing', async () => {
    const trail = async () =>
      (await prisma.auditEvent.findMany({ orderBy: [{ createdAt: 'asc' }, { entityType: 'asc' }] })).map((e) => ({
        organizationId: e.organizationId,
        actorType: e.actorType,
        entityType: e.entityType,
        entityId: e.entityId,
        action: e.action,
        changes: e.changes,
      }));
    const made = await ensureDevMembership(prisma, { email: 'ada@example.com', organization: 'acme' });
    const member = await prisma.member.findFirstOrThrow({ where: { userId: made.user.id } });
    expect(await trail()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ organizationId: null, actorType: 'SYSTEM', entityType: 'User', entityId: made.user.id, action: 'CREATE' }),
        expect.objectContaining({ organizationId: made.organization.id, actorType: 'SYSTEM', entityType: 'Organization', action: 'CREATE' }),
        expect.objectContaining({
          organizationId: made.organization.id,
          entityType: 'Member',
          entityId: member.id,
          action: 'CREATE',
          changes: { userId: { before: null, after: made.user.id }, role: { before: null, after: 'ORGANIZATION_ADMIN' }, state: { before: null, after: 'ACTIVE' } },
        }),
      ]),
    );
    expect(await trail()).toHaveLength(3);
    await ensureDevMembership(prisma, { email: 'ada@example.com', organization: 'acme' });
    expect(await trail()).toHaveLength(3);
    await ensureDevMembership(prisma, { email: 'ada@example.com', organization: 'acme', role: 'ANALYST', systemAdmin: true });
    const after = await trail();
    expect(after).toHaveLength(5);
    expect(after.slice(3)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ entityType: 'User', action: 'UPDATE', changes: { isSystemAdmin: { before: false, after: true } } }),
        expect.objectContaining({ entityType: 'Member', action: 'UPDATE', changes: { role: { before: 'ORGANIZATION_ADMIN', after: 'ANALYST' } } }),
      ]),
    );
  });

  it('binds the token to the organization on request', async () => {
    const made = await ensureDevMembership(prisma, { email: 'bound@example.com', organization: 'bound' });
    const other = await ensureDevMembership(prisma, { email: 'bound@example.com', organization: 'other' });
    const token = await mint(made.user, made.organization.id);
    const result = await gql(PROBE, { token, organizationId: other.organization.id, variables: { org: globalId('Organization', other.organization.id) } });
    expect(result.errors?.[0]?.extensions?.code).toBe('TENANT_MISMATCH');
  });

  it('refuses bad input without writing', async () => {
    await expect(ensureDevMembership(prisma, { email: 'nope', organization: 'acme' })).rejects.toThrow(/--email/);
    await expect(ensureDevMembership(prisma, { email: 'a@example.com', organization: 'Not A Slug' })).rejects.toThrow(/--org/);
    await expect(ensureDevMembership(prisma, { email: 'a@example.com', organization: '00000000-0000-4000-8000-000000000000' })).rejects.toThrow(
      /no organization/,
    );
    expect(await rowCounts()).toMatchObject({ users: 0, organizations: 0, members: 0 });
  });
});

describe('the development server route for npm run token', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  async function route() {
    const handler = devGrantHandler(() => prisma, TEST_JWT_SECRET);
    server = createServer((req, res) => (req.url === DEV_GRANT_PATH ? handler(req, res) : res.writeHead(404).end()));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}${DEV_GRANT_PATH}`;
  }

  const post = (url: string, authorization: string | null, body: unknown) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      body: JSON.stringify(body),
    });

  it('creates the membership for a grant token signed with the development secret', async () => {
    const url = await route();
    const response = await post(url, `Bearer ${await devGrantToken(TEST_JWT_SECRET)}`, { email: 'ada@example.com', organization: 'acme' });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ user: { email: 'ada@example.com' }, member: { role: 'ORGANIZATION_ADMIN' } });
  });

  it('refuses user tokens, tokens signed otherwise and no token, writing nothing', async () => {
    const url = await route();
    const user = await aUser();
    const before = await rowCounts();
    for (const authorization of [
      null,
      `Bearer ${await aToken({ alg: 'HS256', secret: TEST_JWT_SECRET }, {}, { subject: user.authSubject! })}`,
      `Bearer ${await devGrantToken('another-secret-of-at-least-32-bytes!!')}`,
    ]) {
      const response = await post(url, authorization, { email: 'x@example.com', organization: 'acme', systemAdmin: true });
      expect(response.status).toBe(401);
    }
    expect((await fetch(url)).status).toBe(404);
    expect(await rowCounts()).toEqual(before);
  });
});

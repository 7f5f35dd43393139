import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { engineCounts } from '../src/modules/shared/engine/index.ts';
import type { MemberRole, MembershipState } from '../src/generated/prisma/client.ts';
import { app, appWith, globalId, gql, tokenFor, type GqlOptions, type GqlResult } from './helpers/app.ts';
import { anApiKey, anOrganization, aTenantWithMember, aUser, aMember } from './helpers/factories.ts';
import { USER_HOLE } from './helpers/engine.ts';
import { fc } from './helpers/property-runs.ts';
import { withSqlLog } from './helpers/sql-count.ts';

// A server remembers the viewer a credential was last found to be, and a compiled read
// checks it inside its own statement instead of reading it first. Whatever changed in
// between (a role, a state, a membership, a system admin flag, a merge, a revoked or
// re-roled key), the next request must answer exactly as a server that never saw the
// credential: drawn here as sequences of changes, each followed by every kind of
// operation (compiled, compiled behind an admin check, the general path, a mutation).

const OPERATIONS = {
  // First after each change: built for the remembered viewer before it is read again.
  // Compiled but for a field with no SQL form, and an admin-only connection (a hole for an analyst).
  holes: `query ($org: ID!) { organization(id: $org) { id apiKeys(first: 5) { totalCount } members(first: 5) { edges { node { user { authSubject ${USER_HOLE} } } } } } }`,
  compiled: 'query ($org: ID!) { organization(id: $org) { id members(first: 5) { totalCount edges { node { role state } } } } }',
  admin: 'query ($org: ID!) { organization(id: $org) { id apiKeys(first: 5) { totalCount } } }',
  general: 'query ($org: ID!) { organization(id: $org) { id name } viewer { id email } }',
  mutation: 'mutation ($org: ID!) { updateOrganization(input: { id: $org, autoApproveLinkConfidence: null }) { __typename } }',
  // Compiled whole for a token acting in no one organization too: what it may read comes from every membership.
  viewer: '{ viewer { id authSubject memberships { role state organization { id members(first: 5) { totalCount } } } } }',
  organizations: '{ organizations(first: 5) { totalCount edges { node { id name apiKeys(first: 5) { totalCount } } } } }',
} as const;

const seen = (r: GqlResult) => ({
  status: r.status,
  data: r.data ?? null,
  codes: (r.errors ?? []).map((e) => e.extensions?.code).sort(),
});

/** The warm server's answer and a server's that never saw the credential, for every operation. */
async function expectAnswersAsNew(options: GqlOptions, org: string, first: number) {
  // The operation drawn first is the one that meets the change: a compiled one checks it in its statement.
  const operations = Object.entries(OPERATIONS);
  for (const [name, query] of [...operations.slice(first), ...operations.slice(0, first)]) {
    const warm = await gql(query, { ...options, variables: { org } });
    const fresh = await gql(query, { ...options, variables: { org }, app: appWith({}) });
    expect(seen(warm), `${name}: ${JSON.stringify(warm.errors)}`).toEqual(seen(fresh));
  }
}

type Change =
  | { kind: 'role'; role: MemberRole }
  | { kind: 'state'; state: MembershipState }
  | { kind: 'remove' }
  | { kind: 'join' }
  | { kind: 'systemAdmin'; on: boolean }
  | { kind: 'merge' }
  | { kind: 'keyRole'; role: MemberRole }
  | { kind: 'revoke' }
  | { kind: 'elsewhere'; state: MembershipState | null };

const changes = fc.oneof(
  fc.constantFrom<MemberRole>('ORGANIZATION_ADMIN', 'ANALYST').map((role): Change => ({ kind: 'role', role })),
  fc.constantFrom<MembershipState>('ACTIVE', 'SUSPENDED', 'PENDING').map((state): Change => ({ kind: 'state', state })),
  fc.constant<Change>({ kind: 'remove' }),
  fc.constant<Change>({ kind: 'join' }),
  fc.boolean().map((on): Change => ({ kind: 'systemAdmin', on })),
  fc.constant<Change>({ kind: 'merge' }),
  fc.constantFrom<MemberRole>('ORGANIZATION_ADMIN', 'ANALYST').map((role): Change => ({ kind: 'keyRole', role })),
  fc.constant<Change>({ kind: 'revoke' }),
  // A membership of an organization the remembered viewer of no one organization does not name.
  fc.constantFrom<MembershipState | null>('ACTIVE', 'PENDING', null).map((state): Change => ({ kind: 'elsewhere', state })),
);

/** A person and a key of one organization, and how to change what each is. */
async function world() {
  const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
  const survivor = await aUser();
  await aMember(organization.id, survivor.id, { role: 'ANALYST' });
  const secret = `igk_${randomBytes(32).toString('base64url')}`;
  const key = await anApiKey(organization.id, createHash('sha256').update(secret).digest('hex'), { role: 'ORGANIZATION_ADMIN' });
  const member = { organizationId_userId: { organizationId: organization.id, userId: user.id } };
  const elsewhere = await anOrganization();
  const there = { organizationId: elsewhere.id, userId: user.id };
  const apply = async (change: Change) => {
    switch (change.kind) {
      case 'role':
      case 'state':
        await prisma.member.updateMany({ where: member.organizationId_userId, data: change.kind === 'role' ? { role: change.role } : { state: change.state } });
        return;
      case 'remove':
        await prisma.member.deleteMany({ where: member.organizationId_userId });
        return;
      case 'join':
        await prisma.member.upsert({ where: member, create: { ...member.organizationId_userId, role: 'ANALYST', state: 'ACTIVE' }, update: {} });
        return;
      case 'systemAdmin':
        await prisma.user.update({ where: { id: user.id }, data: { isSystemAdmin: change.on } });
        return;
      case 'merge':
        await prisma.user.update({ where: { id: user.id }, data: { mergedIntoId: survivor.id } });
        return;
      case 'keyRole':
        await prisma.apiKey.update({ where: { id: key.id }, data: { role: change.role } });
        return;
      case 'revoke':
        await prisma.apiKey.update({ where: { id: key.id }, data: { revokedAt: new Date() } });
        return;
      case 'elsewhere':
        if (change.state === null) await prisma.member.deleteMany({ where: there });
        else await prisma.member.upsert({ where: { organizationId_userId: there }, create: { ...there, role: 'ORGANIZATION_ADMIN', state: change.state }, update: { state: change.state } });
    }
  };
  return { organization, user, secret, apply };
}

describe('a remembered credential answers as a new one', () => {
  it('after any sequence of changes to the user, its membership or the key', async () => {
    // Each change, and which operation meets it first.
    const step = fc.tuple(changes, fc.nat({ max: Object.keys(OPERATIONS).length - 1 }));
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 4 }), async (steps) => {
        const { organization, user, secret, apply } = await world();
        const credentials: GqlOptions[] = [
          { token: await tokenFor(user.authSubject!), organizationId: organization.id },
          // Acting in no one organization: remembered with every membership of the user.
          { token: await tokenFor(user.authSubject!) },
          { headers: { 'x-api-key': secret }, organizationId: organization.id },
        ];
        // Remembered by the default server before anything changes.
        for (const options of credentials) await gql(OPERATIONS.viewer, { ...options, variables: { org: organization.id } });
        for (const [change, first] of steps) {
          await apply(change);
          for (const options of credentials) await expectAnswersAsNew(options, organization.id, first);
        }
      }),
      { numRuns: 12 },
    );
  }, 180_000);

  it('checks the credential inside the compiled read: one statement, and a change is seen at once', async () => {
    const { organization, user, apply } = await world();
    const options = { token: await tokenFor(user.authSubject!), organizationId: organization.id, variables: { org: organization.id } };
    await gql(OPERATIONS.admin, options);
    const remembered = await withSqlLog(() => gql(OPERATIONS.admin, options));
    expect(remembered.statements).toHaveLength(1);
    expect(remembered.result.data?.organization.apiKeys.totalCount).toBe(1);
    await apply({ kind: 'role', role: 'ANALYST' });
    const after = await gql(OPERATIONS.admin, options);
    expect(after.data?.organization.apiKeys).toBeNull();
    expect(after.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
  });

  it('checks the credential of a request acting in no one organization inside the compiled read: one statement, and a change is seen at once', async () => {
    const { organization, user, apply } = await world();
    const options = { token: await tokenFor(user.authSubject!) };
    const listed = '{ organizations(first: 5) { edges { node { id } } } }';
    const read = async (query = listed) => {
      const { result, statements } = await withSqlLog(() => gql(query, options));
      const nodes = ((result.data?.organizations.edges ?? []) as { node: { id: string; apiKeys?: { totalCount: number } | null } }[]).map((e) => e.node);
      return { statements: statements.length, nodes, errors: (result.errors ?? []).map((e) => e.extensions?.code) };
    };
    const here = globalId('Organization', organization.id);
    const admin = '{ organizations(first: 5) { edges { node { id apiKeys(first: 5) { totalCount } } } } }';
    await read(admin);
    expect(await read(admin)).toEqual({ statements: 1, nodes: [{ id: here, apiKeys: { totalCount: 1 } }], errors: [] });
    // A role changed: the admin-only list is refused at once.
    await apply({ kind: 'role', role: 'ANALYST' });
    expect((await read(admin)).errors).toEqual(['FORBIDDEN']);
    expect(await read()).toEqual({ statements: 1, nodes: [{ id: here }], errors: [] });
    // A membership of an organization the remembered viewer has none of: listed at once.
    await apply({ kind: 'elsewhere', state: 'ACTIVE' });
    expect((await read()).nodes).toHaveLength(2);
    expect((await read()).statements).toBe(1);
    // The membership removed: the organization is gone from the list at once.
    await apply({ kind: 'remove' });
    expect((await read()).nodes.map((n) => n.id)).not.toContain(here);
    expect((await read()).statements).toBe(1);
    // Pending elsewhere: nothing left to list.
    await apply({ kind: 'elsewhere', state: 'PENDING' });
    expect((await read()).nodes).toEqual([]);
  });

  it('counts a compiled read whose credential changed under its own name, not as compiled, in /metrics', async () => {
    const { organization, user, apply } = await world();
    const options = { token: await tokenFor(user.authSubject!), organizationId: organization.id, variables: { org: organization.id } };
    await gql(OPERATIONS.admin, options);
    const counts = () => ({ compiled: engineCounts.compiled.get('organization') ?? 0, changed: engineCounts.credentialChanged.get('organization') ?? 0 });
    const before = counts();
    await apply({ kind: 'role', role: 'ANALYST' });
    const after = await gql(OPERATIONS.admin, options);
    expect(after.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    // The remembered admin's statement found the credential changed; the read answered
    // after reading it again (apiKeys left to its resolver) is the one compiled read.
    expect(counts()).toEqual({ compiled: before.compiled + 1, changed: before.changed + 1 });
    const text = await (await app.fetch('http://localhost/metrics')).text();
    expect(text).toMatch(/graphql_compiled_reads_total\{field="organization",outcome="credentialChanged"\} [1-9]/);
  });
});

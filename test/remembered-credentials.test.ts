import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { engineCounts } from '../src/modules/shared/engine/index.ts';
import type { MemberRole, MembershipState } from '../src/generated/prisma/client.ts';
import { app, appWith, gql, tokenFor, type GqlOptions, type GqlResult } from './helpers/app.ts';
import { anApiKey, aTenantWithMember, aUser, aMember } from './helpers/factories.ts';
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
} as const;

const seen = (r: GqlResult) => ({
  status: r.status,
  data: r.data ?? null,
  codes: (r.errors ?? []).map((e) => e.extensions?.code).sort(),
});

/** The warm server's answer and a server's that never saw the credential, for every operation. */
async function expectAnswersAsNew(options: GqlOptions, org: string) {
  for (const [name, query] of Object.entries(OPERATIONS)) {
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
  | { kind: 'revoke' };

const changes = fc.oneof(
  fc.constantFrom<MemberRole>('ORGANIZATION_ADMIN', 'ANALYST').map((role): Change => ({ kind: 'role', role })),
  fc.constantFrom<MembershipState>('ACTIVE', 'SUSPENDED', 'PENDING').map((state): Change => ({ kind: 'state', state })),
  fc.constant<Change>({ kind: 'remove' }),
  fc.constant<Change>({ kind: 'join' }),
  fc.boolean().map((on): Change => ({ kind: 'systemAdmin', on })),
  fc.constant<Change>({ kind: 'merge' }),
  fc.constantFrom<MemberRole>('ORGANIZATION_ADMIN', 'ANALYST').map((role): Change => ({ kind: 'keyRole', role })),
  fc.constant<Change>({ kind: 'revoke' }),
);

/** A person and a key of one organization, and how to change what each is. */
async function world() {
  const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
  const survivor = await aUser();
  await aMember(organization.id, survivor.id, { role: 'ANALYST' });
  const secret = `igk_${randomBytes(32).toString('base64url')}`;
  const key = await anApiKey(organization.id, createHash('sha256').update(secret).digest('hex'), { role: 'ORGANIZATION_ADMIN' });
  const member = { organizationId_userId: { organizationId: organization.id, userId: user.id } };
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
    }
  };
  return { organization, user, secret, apply };
}

describe('a remembered credential answers as a new one', () => {
  it('after any sequence of changes to the user, its membership or the key', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(changes, { minLength: 1, maxLength: 4 }), async (steps) => {
        const { organization, user, secret, apply } = await world();
        const credentials: GqlOptions[] = [
          { token: await tokenFor(user.authSubject!), organizationId: organization.id },
          { headers: { 'x-api-key': secret }, organizationId: organization.id },
        ];
        // Remembered by the default server before anything changes.
        for (const options of credentials) await gql(OPERATIONS.compiled, { ...options, variables: { org: organization.id } });
        for (const step of steps) {
          await apply(step);
          for (const options of credentials) await expectAnswersAsNew(options, organization.id);
        }
      }),
      { numRuns: 12 },
    );
  });

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

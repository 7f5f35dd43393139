import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { setPlannedReads } from '../src/modules/shared/engine/index.ts';
import { gql, tokenFor, type GqlOptions } from './helpers/app.ts';
import { bothWays, isPlan } from './helpers/engine.ts';
import { aMember, anApiKey, anIdentifier, aSource, aUser } from './helpers/factories.ts';
import { fc } from './helpers/property-runs.ts';
import { withSqlLog } from './helpers/sql-count.ts';

// `organizations`, compiled: for generated pages (both ways, with cursors of any
// organization) and selections (nested lists, an admin-only list) and viewers of every
// role, state and scope, the compiled answer equals the general path's; a whole
// operation is one statement for a credential the server has seen, and inside a
// larger operation the list is compiled but for what the general path must answer.

afterEach(() => setPlannedReads(true));

const PAGE = `totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { __typename id slug name } }`;
const NESTED = `totalCount edges { node { id name
  members(first: 3) { totalCount edges { node { role state user { email } } } pageInfo { hasNextPage endCursor } }
  identifiers(first: 2) { totalCount edges { node { identifierKey identifierValue } } } } }
  pageInfo { endCursor }`;
// apiKeys is for an organization's admins: FORBIDDEN (null) on the rows of any other.
const ADMIN = `edges { cursor node { slug apiKeys(first: 5) { totalCount edges { node { name role } } } members { totalCount } } } pageInfo { hasNextPage }`;
const SELECTIONS = { PAGE, NESTED, ADMIN };

const ARGS = '($first: Int, $last: Int, $after: String, $before: String)';
const PAGING = 'first: $first, last: $last, after: $after, before: $before';
const whole = (selection: string) => `query ${ARGS} { organizations(${PAGING}) { ${selection} } }`;
// With another root field, the list is answered by its resolver, compiled with holes.
const inLarger = (selection: string) => `query ${ARGS} { viewer { email } organizations(${PAGING}) { ${selection} } }`;

interface Viewer {
  name: string;
  options: GqlOptions;
  /** Whether the viewer administers every organization it may list (the admin-only list is compiled). */
  administersAll: boolean;
  /** Refused before anything is read (acting in an organization it is not active in). */
  refused?: boolean;
}

// Each test starts from an empty database.
async function makeWorld() {
  // Five organizations, two created at the same moment (ordered by id).
  const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute));
  const orgs = [];
  for (const [i, minute] of [1, 2, 2, 3, 4].entries()) {
    orgs.push(await prisma.organization.create({ data: { slug: `org-${i}-${randomBytes(3).toString('hex')}`, name: `Org ${i}`, createdAt: at(minute) } }));
  }
  const [o1, o2, o3, o4, o5] = orgs as [typeof orgs[0], typeof orgs[0], typeof orgs[0], typeof orgs[0], typeof orgs[0]];
  const user = async (memberships: [string, 'ORGANIZATION_ADMIN' | 'ANALYST', ('ACTIVE' | 'PENDING' | 'SUSPENDED')?][], isSystemAdmin = false) => {
    const u = await aUser({ isSystemAdmin });
    for (const [org, role, state] of memberships) await aMember(org, u.id, { role, state: state ?? 'ACTIVE' });
    return u;
  };
  const mixed = await user([[o1.id, 'ORGANIZATION_ADMIN'], [o2.id, 'ANALYST'], [o3.id, 'ANALYST', 'PENDING'], [o4.id, 'ORGANIZATION_ADMIN', 'SUSPENDED']]);
  const adminOfAll = await user([[o1.id, 'ORGANIZATION_ADMIN'], [o2.id, 'ORGANIZATION_ADMIN'], [o5.id, 'ORGANIZATION_ADMIN', 'PENDING']]);
  const analyst = await user([[o2.id, 'ANALYST'], [o5.id, 'ANALYST'], [o1.id, 'ANALYST', 'SUSPENDED']]);
  const pending = await user([[o1.id, 'ANALYST', 'PENDING']]);
  const nobody = await user([]);
  const system = await user([], true);
  // Every organization but the last has a source, identifiers and keys (one revoked).
  for (const [i, org] of orgs.slice(0, 4).entries()) {
    const source = await aSource(org.id);
    await anIdentifier(org.id, mixed.id, source.id, { identifierValue: `m-${i}` });
    await anIdentifier(org.id, analyst.id, source.id, { identifierValue: `a-${i}` });
    const hash = createHash('sha256').update(randomBytes(16)).digest('hex');
    await anApiKey(org.id, hash, { name: `key ${i}`, role: i % 2 ? 'ANALYST' : 'ORGANIZATION_ADMIN' });
    const revoked = await anApiKey(org.id, createHash('sha256').update(randomBytes(16)).digest('hex'), { name: `revoked ${i}` });
    await prisma.apiKey.update({ where: { id: revoked.id }, data: { revokedAt: new Date() } });
  }
  const key = async (org: string, role: 'ORGANIZATION_ADMIN' | 'ANALYST') => {
    const secret = `igk_${randomBytes(32).toString('base64url')}`;
    await anApiKey(org, createHash('sha256').update(secret).digest('hex'), { name: `viewer ${role}`, role });
    return { headers: { 'x-api-key': secret } };
  };
  const token = async (u: { authSubject: string | null }) => tokenFor(u.authSubject!);
  const viewers: Viewer[] = [
    { name: 'an admin of one, analyst of another, pending and suspended elsewhere', options: { token: await token(mixed) }, administersAll: false },
    { name: 'the same, acting in the organization it administers', options: { token: await token(mixed), organizationId: o1.id }, administersAll: true },
    { name: 'the same, acting where it is an analyst', options: { token: await token(mixed), organizationId: o2.id }, administersAll: false },
    { name: 'the same, acting where it is pending', options: { token: await token(mixed), organizationId: o3.id }, administersAll: true, refused: true },
    { name: 'an admin of every organization it is active in', options: { token: await token(adminOfAll) }, administersAll: true },
    { name: 'an analyst of two, suspended in a third', options: { token: await token(analyst) }, administersAll: false },
    { name: 'a pending member', options: { token: await token(pending) }, administersAll: true },
    { name: 'a user of no organization', options: { token: await token(nobody) }, administersAll: true },
    { name: 'a system admin, not narrowed', options: { token: await token(system) }, administersAll: true },
    { name: 'a system admin acting in one organization', options: { token: await token(system), organizationId: o4.id }, administersAll: true },
    { name: 'an admin API key', options: await key(o1.id, 'ORGANIZATION_ADMIN'), administersAll: true },
    { name: 'an analyst API key', options: await key(o2.id, 'ANALYST'), administersAll: false },
  ];
  // Cursors of every organization, and of one that does not exist.
  const all = await gql('{ organizations(first: 100) { edges { cursor } } }', { token: await token(system) });
  const cursors = (all.data!.organizations.edges as { cursor: string }[]).map((e) => e.cursor);
  expect(cursors).toHaveLength(orgs.length);
  return { orgs, viewers, cursors };
}

const pages = (cursors: string[]) =>
  fc.oneof(
    fc.record({ first: fc.option(fc.constantFrom(0, 1, 2, 3, 10), { nil: undefined }), after: fc.option(fc.constantFrom(...cursors), { nil: undefined }) }),
    fc.record({ last: fc.option(fc.constantFrom(0, 1, 2, 3, 10), { nil: undefined }), before: fc.option(fc.constantFrom(...cursors), { nil: undefined }) }),
  );

describe('organizations, compiled', () => {
  it('answers generated pages and selections as the general path does, in one statement when whole, for viewers of every role', async () => {
    const { viewers, cursors } = await makeWorld();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...viewers), pages(cursors), fc.constantFrom(...(Object.keys(SELECTIONS) as (keyof typeof SELECTIONS)[])), async (viewer, page, selection) => {
        const options = { ...viewer.options, variables: page };
        const label = `${viewer.name}: ${selection} ${JSON.stringify(page)}`;
        const both = await bothWays(whole(SELECTIONS[selection]), options);
        expect(both.planned, label).toEqual(both.general);
        const compiled = !viewer.refused && (selection !== 'ADMIN' || viewer.administersAll);
        expect(both.usedPlan, label).toBe(compiled);
        if (compiled) expect(both.general.errors, label).toBeUndefined();
        // Otherwise each organization the viewer does not administer answers its keys FORBIDDEN.
        else if (!viewer.refused) for (const e of both.general.errors ?? []) expect([e.extensions?.code, e.path?.at(-1)], label).toEqual(['FORBIDDEN', 'apiKeys']);
        if (viewer.refused) expect(both.general.errors?.[0]?.extensions?.code, label).toBe('FORBIDDEN');
        if (!compiled) return;
        expect(both.plans, label).toBe(1);
        // bothWays sent the credential already; a token acting in no organization is read again each time.
        if (viewer.options.organizationId || viewer.options.headers) {
          const { statements } = await withSqlLog(() => gql(whole(SELECTIONS[selection]), options));
          expect(statements.length, `${label}\n${statements.join('\n')}`).toBe(1);
          expect(isPlan(statements[0]!), label).toBe(true);
        }
      }),
      { numRuns: 100 },
    );
  }, 300_000);

  it('answers the list inside a larger operation alike, its admin-only list per row where the viewer may not administer them all', async () => {
    const { viewers, cursors } = await makeWorld();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...viewers), pages(cursors), fc.constantFrom(...(Object.keys(SELECTIONS) as (keyof typeof SELECTIONS)[])), async (viewer, page, selection) => {
        const label = `${viewer.name}: ${selection} ${JSON.stringify(page)}`;
        const both = await bothWays(inLarger(SELECTIONS[selection]), { ...viewer.options, variables: page });
        expect(both.planned, label).toEqual(both.general);
        // The list is compiled (holes or not) whenever the general path answers any row.
        if ((both.general.data?.organizations?.edges ?? []).length) expect(both.plans, label).toBeGreaterThanOrEqual(1);
      }),
      { numRuns: 40 },
    );
  }, 300_000);

  it('refuses anonymous callers alike', async () => {
    await makeWorld();
    for (const query of [whole(PAGE), inLarger(PAGE)]) {
      const both = await bothWays(query, {});
      expect(both.planned).toEqual(both.general);
      expect(both.planned.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(both.plans).toBe(0);
    }
  });
});

import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { database, prisma, sql, statement } from '../src/db.ts';
import { asSystem, inRequestScope, scopeRequestTo } from '../src/db/scope.ts';
import { expectNoErrors, gql } from './helpers/app.ts';
import { aSource, aTenantWithMember, anIdentifier } from './helpers/factories.ts';

// Row-level security on PostgreSQL, as the server's own role (the whole suite runs as
// it): a statement that forgets its organization filter still sees only the
// organizations of its request. The embedded database is private to one process and
// has no roles, so this holds for PostgreSQL deployments only.

async function twoTenants() {
  const a = await aTenantWithMember('ORGANIZATION_ADMIN');
  const b = await aTenantWithMember('ORGANIZATION_ADMIN');
  const sa = await aSource(a.organization.id);
  const sb = await aSource(b.organization.id);
  await anIdentifier(a.organization.id, a.user.id, sa.id);
  await anIdentifier(b.organization.id, b.user.id, sb.id);
  return { a, b, sb };
}

/** Runs `work` as a request scoped to `organizations` would (awaited inside: Prisma's queries start when awaited). */
const asRequestOf = <T>(organizations: string[], work: () => Promise<T>) =>
  inRequestScope(async () => {
    scopeRequestTo(organizations);
    return await work();
  });

const FORGETFUL = statement('test_forgetful_read', 'SELECT organization_id FROM identifiers');

describe('row-level security', () => {
  it('runs the server as a role that owns nothing and cannot bypass the policies', async () => {
    const [me] = await database!.query('SELECT current_user AS name, r.rolsuper, r.rolbypassrls FROM pg_roles r WHERE r.rolname = current_user');
    expect(me).toMatchObject({ rolsuper: false, rolbypassrls: false });
    const owned = await database!.query(
      `SELECT count(*)::int AS n FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
       WHERE pg_has_role(current_user, r.oid, 'MEMBER') AND c.relnamespace = 'public'::regnamespace`,
    );
    expect(owned[0]).toEqual({ n: 0 });
  });

  it('has a policy on every table that holds an organization id, whatever migration made it', async () => {
    const unguarded = await database!.query(
      `SELECT c.relname AS name FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
       WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND a.attname = 'organization_id' AND NOT a.attisdropped
         AND NOT (c.relrowsecurity AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid))
       ORDER BY 1`,
    );
    expect(unguarded).toEqual([]);
  });

  it('gives a read that forgets its organization filter only the request organization rows, on both paths', async () => {
    const { a, b } = await twoTenants();
    const viaPrisma = await asRequestOf([a.organization.id], () => prisma.identifier.findMany({ select: { organizationId: true } }));
    expect(viaPrisma.map((r) => r.organizationId)).toEqual([a.organization.id]);
    const viaStatement = await asRequestOf([a.organization.id], () => sql<{ organization_id: string }>(FORGETFUL, []));
    expect(viaStatement.map((r) => r.organization_id)).toEqual([a.organization.id]);
    const viaRaw = await asRequestOf([b.organization.id], () => database!.query('SELECT organization_id FROM identifiers'));
    expect(viaRaw).toEqual([{ organization_id: b.organization.id }]);
    // Organizations themselves, members and the history follow the same rule.
    const orgs = await asRequestOf([a.organization.id], () => prisma.organization.findMany({ select: { id: true } }));
    expect(orgs).toEqual([{ id: a.organization.id }]);
    const members = await asRequestOf([a.organization.id], () => prisma.member.count());
    expect(members).toBe(1);
    const history = await asRequestOf([a.organization.id], () => prisma.identifierVersion.findMany({ select: { organizationId: true } }));
    expect(new Set(history.map((r) => r.organizationId))).toEqual(new Set([a.organization.id]));
    // A request that may read nothing sees nothing; the server's own work sees all.
    expect(await asRequestOf([], () => prisma.identifier.count())).toBe(0);
    expect(await asRequestOf([a.organization.id], () => asSystem(async () => await prisma.identifier.count()))).toBe(2);
  });

  it('refuses to write a row into an organization outside the request scope, and writes nothing', async () => {
    const { a, b, sb } = await twoTenants();
    const write = asRequestOf([a.organization.id], () =>
      prisma.identifier.create({
        data: { organizationId: b.organization.id, userId: a.user.id, sourceId: sb.id, identifierKey: 'k', identifierValue: 'v', normalizedValue: 'v', valueKind: 'OTHER', discoveryMethod: 'MANUAL' },
      }),
    );
    await expect(write).rejects.toThrow(/row-level security/);
    const moved = await asRequestOf([a.organization.id], () => prisma.identifier.updateMany({ where: { organizationId: b.organization.id }, data: { confidenceScore: 0.1 } }));
    expect(moved.count).toBe(0);
    expect(await prisma.identifier.count({ where: { organizationId: b.organization.id, confidenceScore: 0.1 } })).toBe(0);
  });

  it('keeps lookups of two requests made in the same tick apart', async () => {
    const { a, b } = await twoTenants();
    // Prisma gathers findUnique calls of one tick into one statement; each request's
    // lookup must still run under its own scope and find its own row.
    const [ra, rb] = await Promise.all([
      asRequestOf([a.organization.id], () => prisma.organization.findUnique({ where: { id: a.organization.id } })),
      asRequestOf([b.organization.id], () => prisma.organization.findUnique({ where: { id: b.organization.id } })),
    ]);
    expect(ra?.id).toBe(a.organization.id);
    expect(rb?.id).toBe(b.organization.id);
  });

  it('shows a connection that never set a scope nothing', async () => {
    await twoTenants();
    const url = new URL(database!.describe);
    const [row] = await database!.query('SELECT current_user AS name, current_database() AS db');
    url.username = String(row!.name);
    url.password = '';
    url.pathname = `/${String(row!.db)}`;
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    try {
      expect((await client.query('SELECT count(*)::int AS n FROM identifiers')).rows[0]).toEqual({ n: 0 });
    } finally {
      await client.end();
    }
  });

  it('answers through the API as before for a viewer of one organization', async () => {
    const { a } = await twoTenants();
    const result = await gql<{ organization: { identifiers: { totalCount: number } } }>(
      'query ($id: ID!) { organization(id: $id) { identifiers { totalCount } } }',
      { variables: { id: a.organization.id }, asUser: a.user, organizationId: a.organization.id },
    );
    expectNoErrors(result);
    expect(result.data?.organization.identifiers.totalCount).toBe(1);
  });
});

import { createHash, randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { prisma } from '../../src/db.ts';
import { engineCounts, isCompiledStatement, setPlannedReads } from '../../src/modules/shared/engine/index.ts';
import { gql, tokenFor, type GqlOptions } from './app.ts';
import { aMember, aUser } from './factories.ts';
import { withSqlLog } from './sql-count.ts';

// Both paths of a read: compiled reads on, then off (the general path alone).

/**
 * A field of User with no SQL form, for tests of what the general path answers alone:
 * the rows a forced unmerge found changed, which only that mutation's answer carries.
 */
export const USER_HOLE = 'merges { changedSinceMerge { id } }';

/** Whether a statement is a compiled read's. */
export const isPlan = isCompiledStatement;

const fallbacks = () => [...engineCounts.fallback.values()].reduce((a, b) => a + b, 0);

/**
 * The answers to one request with compiled reads on and off. `usedPlan`: compiled
 * statements answered it whole (nothing left to the general path); `plans`: how many
 * compiled statements ran (holes or not).
 */
export async function bothWays(query: string, options: GqlOptions) {
  setPlannedReads(true);
  const before = fallbacks();
  const { result: planned, statements } = await withSqlLog(() => gql(query, options));
  const usedPlan = statements.some(isPlan) && fallbacks() === before;
  setPlannedReads(false);
  const { result: general, statements: generalStatements } = await withSqlLog(() => gql(query, options));
  setPlannedReads(true);
  expect(generalStatements.some(isPlan)).toBe(false);
  return { planned, general, usedPlan, plans: statements.filter(isPlan).length, statements };
}

/** The viewers the engine tests read a world as: each role and scope a request can have. */
export async function viewersOf(
  people: Record<'analyst' | 'admin' | 'person' | 'auditor', { authSubject: string | null }>,
  organizationId: string,
  apiKeySecret: string,
): Promise<[string, GqlOptions][]> {
  const token = (who: keyof typeof people) => tokenFor(people[who].authSubject!);
  return [
    ['an analyst acting in the organization', { token: await token('analyst'), organizationId }],
    ['an API key', { headers: { 'x-api-key': apiKeySecret } }],
    ['a system admin, not narrowed to an organization', { token: await token('admin') }],
    ['a system admin acting in the organization', { token: await token('admin'), organizationId }],
    ['the person themself, not narrowed', { token: await token('person') }],
    ['an analyst of both organizations, not narrowed', { token: await token('auditor') }],
  ];
}

/** The readers of a world: an analyst of the organization, one of both organizations, and a system admin. */
export async function readersOf(organizationId: string, otherId: string) {
  const analyst = await aUser();
  await aMember(organizationId, analyst.id, { role: 'ANALYST' });
  // Reads both organizations (a statement's list form, not the single one).
  const auditor = await aUser();
  await aMember(organizationId, auditor.id, { role: 'ANALYST' });
  await aMember(otherId, auditor.id, { role: 'ANALYST' });
  const admin = await aUser({ isSystemAdmin: true });
  return { analyst, auditor, admin };
}

/** A case of a read: its name, its query, and whether compiled statements answer it whole, for every viewer or given the viewer. */
export type EngineCase<V> = [name: string, query: string, whole: boolean | ((viewer: V) => boolean)];

/** Compares both paths for every viewer and case; the answers by `case, as viewer`. */
export async function expectCases<V extends [string, GqlOptions, ...unknown[]]>(cases: EngineCase<V>[], viewers: V[]) {
  const answers = new Map<string, Record<string, any>>();
  for (const viewer of viewers) {
    for (const [name, query, compiled] of cases) {
      const both = await bothWays(query, viewer[1]);
      const label = `${name}, as ${viewer[0]}`;
      expect(both.planned, label).toEqual(both.general);
      const whole = typeof compiled === 'function' ? compiled(viewer) : compiled;
      if (whole) expect(both.planned.errors, label).toBeUndefined();
      expect(both.usedPlan, label).toBe(whole);
      answers.set(label, both.planned);
    }
  }
  return answers;
}

/** A viewer refused before anything is read: FORBIDDEN alike on both paths. */
export async function expectRefused(cases: [string, string, unknown][], refused: GqlOptions) {
  for (const [name, query] of cases) {
    const both = await bothWays(query, refused);
    expect(both.planned, `${name}, as a pending member`).toEqual(both.general);
    expect(both.planned.errors?.[0]?.extensions?.code, name).toBe('FORBIDDEN');
  }
}

/**
 * The viewers of an organization's administered lists (keys, endpoints, deleted items),
 * each with whether it administers `organizationId`, and one refused before anything
 * runs (a pending member). `other` is an organization one of them administers instead.
 */
export async function administeringViewersOf(organizationId: string, otherId: string) {
  const user = async (memberships: [string, 'ORGANIZATION_ADMIN' | 'ANALYST', ('ACTIVE' | 'PENDING')?][], systemAdmin = false) => {
    const u = await aUser({ isSystemAdmin: systemAdmin });
    for (const [org, role, state] of memberships) await aMember(org, u.id, { role, state: state ?? 'ACTIVE' });
    return tokenFor(u.authSubject!);
  };
  const apiKeyViewer = async (role: 'ORGANIZATION_ADMIN' | 'ANALYST') => {
    const secret = `igk_${randomBytes(32).toString('base64url')}`;
    const secretHash = createHash('sha256').update(secret).digest('hex');
    // Older than the keys a world makes, so that a list of keys puts them first.
    await prisma.apiKey.create({ data: { organizationId, secretHash, prefix: secret.slice(0, 12), name: `viewer ${role}`, role, createdAt: new Date(Date.UTC(2025, 0, 1)) } });
    return { headers: { 'x-api-key': secret } };
  };
  const admin = await user([[organizationId, 'ORGANIZATION_ADMIN']]);
  const systemAdmin = await user([], true);
  const viewers: [string, GqlOptions, boolean][] = [
    ['an admin acting in the organization', { token: admin, organizationId }, true],
    ['an admin, not narrowed', { token: admin }, true],
    ['a system admin, not narrowed', { token: systemAdmin }, true],
    ['a system admin acting in the organization', { token: systemAdmin, organizationId }, true],
    ['an admin API key', await apiKeyViewer('ORGANIZATION_ADMIN'), true],
    ['an analyst API key', await apiKeyViewer('ANALYST'), false],
    ['an analyst acting in the organization', { token: await user([[organizationId, 'ANALYST']]), organizationId }, false],
    ['an analyst here and an admin of the other organization', { token: await user([[organizationId, 'ANALYST'], [otherId, 'ORGANIZATION_ADMIN']]) }, false],
  ];
  // A pending member of the organization may read none of it: refused before anything runs.
  const refused: GqlOptions = { token: await user([[organizationId, 'ANALYST', 'PENDING']]), organizationId };
  return { viewers, refused };
}

import { createHash, randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { prisma } from '../../src/db.ts';
import { gql, tokenFor, type GqlOptions } from './app.ts';
import { bothWays, isPlan } from './engine.ts';
import { aMember, anApiKey, aUser } from './factories.ts';
import { withSqlLog } from './sql-count.ts';
import { tenancyWorld } from './tenancy-world.ts';

// What lists of ids (`nodes`, federation's `_entities`) are read in: the tenancy world
// of organizations A and B, chains of merged users, and viewers of every role, acting
// in A or not narrowed; and how both paths of one such read are compared.

export type Viewer = [string, GqlOptions];

// Each test starts from an empty database.
export async function listsWorld() {
  const w = await tenancyWorld();
  const { a, b, people } = w;
  // Chains of merged users: of twelve steps to a person of both organizations (past the
  // ten an as-of read follows), of two to an analyst of A, to a user of B alone, and a cycle.
  const tombstones = async (n: number, into: string | null) => {
    const chain: string[] = [];
    for (let i = 0; i < n; i++) chain.unshift((await aUser()).id);
    for (const [i, id] of chain.entries()) {
      const next = chain[i + 1] ?? into;
      if (next) await prisma.user.update({ where: { id }, data: { mergedIntoId: next } });
    }
    return chain;
  };
  const long = await tombstones(12, people.shared.id);
  const short = await tombstones(2, people.analyst.id);
  const ofB = await tombstones(1, people.bActive.id);
  const cycle = await tombstones(2, null);
  await prisma.user.update({ where: { id: cycle[1]! }, data: { mergedIntoId: cycle[0]! } });
  /** Users merged away, each leading down its chain: the first to the last. */
  const chains: { tombstone: string; end: string | null }[] = [
    { tombstone: long[0]!, end: people.shared.id },
    { tombstone: long[7]!, end: people.shared.id },
    { tombstone: short[0]!, end: people.analyst.id },
    { tombstone: ofB[0]!, end: people.bActive.id },
    { tombstone: people.formerMerged.id, end: people.former.id },
    { tombstone: cycle[0]!, end: null },
  ];
  const keyOfB = `igk_${randomBytes(32).toString('base64url')}`;
  await anApiKey(b.id, createHash('sha256').update(keyOfB).digest('hex'), { role: 'ORGANIZATION_ADMIN' });
  const system = await aUser({ isSystemAdmin: true });
  const both = await aUser();
  await aMember(a.id, both.id);
  await aMember(b.id, both.id, { role: 'ORGANIZATION_ADMIN' });
  const viewers: Viewer[] = [
    ...w.viewers,
    ['a system admin, not narrowed', { token: await tokenFor(system.authSubject!) }],
    ['an analyst of A and admin of B, not narrowed', { token: await tokenFor(both.authSubject!) }],
    ['the admin of A, not narrowed', { token: await tokenFor(people.admin.authSubject!) }],
    ['an admin API key of B', { headers: { 'x-api-key': keyOfB } }],
    ['a person of both organizations, as themself', { token: await tokenFor(people.shared.authSubject!) }],
  ];
  return { w, chains, viewers };
}

// A credential acting in an organization (a key, a token with X-Organization-ID) is remembered: its next compiled read is one statement.
export const remembered = (viewer: Viewer) => Boolean(viewer[1].organizationId ?? viewer[1].headers?.['x-api-key']);

/**
 * Both paths of one request, which must answer alike. When the general path answers
 * without errors, compiled statements did (`whole`: one, answering it all; and for a
 * credential the server has seen, the operation's only statement but the `before`
 * statements the general path's reads need first too, such as a phone number's region).
 */
export async function expectSame(query: string, variables: Record<string, unknown>, viewer: Viewer, whole: boolean, before = 0) {
  const options = { ...viewer[1], variables };
  const both = await bothWays(query, options);
  const label = `${viewer[0]}: ${JSON.stringify(variables)}`;
  expect(both.planned, label).toEqual(both.general);
  if (both.general.errors) return both;
  expect(both.plans, label).toBeGreaterThanOrEqual(1);
  if (whole) {
    expect(both.usedPlan, label).toBe(true);
    expect(both.plans, label).toBe(1);
    if (remembered(viewer)) {
      // bothWays sent the credential already.
      const { statements } = await withSqlLog(() => gql(query, options));
      expect(statements.length, `${label}\n${statements.join('\n')}`).toBe(1 + before);
      expect(isPlan(statements.at(-1)!), label).toBe(true);
    }
  }
  return both;
}

import { expect } from 'vitest';
import { engineCounts, setPlannedReads } from '../../src/modules/shared/engine/index.ts';
import { gql, type GqlOptions } from './app.ts';
import { withSqlLog } from './sql-count.ts';

// Both paths of a read: compiled reads on, then off (the general path alone).

/** Every compiled statement starts so. */
export const isPlan = (statement: string) => statement.startsWith('SELECT true AS found, ');

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

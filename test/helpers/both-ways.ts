import { setPlannedReads } from '../../src/modules/shared/engine/index.ts';
import { gql, type GqlOptions } from './app.ts';
import { withSqlLog } from './sql-count.ts';

/**
 * An operation's answer with compiled reads on and off, and whether a statement the
 * compiled path sends (`isPlan` recognises it) ran: the two paths must agree.
 */
export async function bothWays(query: string, variables: Record<string, unknown>, as: GqlOptions, isPlan: (statement: string) => boolean) {
  setPlannedReads(true);
  const { result: planned, statements } = await withSqlLog(() => gql(query, { ...as, variables }));
  setPlannedReads(false);
  const general = await gql(query, { ...as, variables });
  setPlannedReads(true);
  return { planned, general, usedPlan: statements.some(isPlan) };
}

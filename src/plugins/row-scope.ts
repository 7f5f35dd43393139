import type { Plugin } from 'graphql-yoga';
import type { Context } from '../context.ts';
import { scopeRequestTo } from '../db/scope.ts';

/**
 * Row-level security (src/db/scope.ts): once an operation is valid and about to run,
 * its statements are scoped to the organizations its viewer may see. Until then
 * (authentication, the request's organization check) they act for the server; a
 * refused operation runs no statement for it.
 */
export function useRowScope(): Plugin {
  const scope = async (ctx: Context) => {
    const rows = await ctx.access.rowScope();
    scopeRequestTo(rows === 'all' ? '*' : rows);
  };
  return {
    onExecute: ({ args }) => scope(args.contextValue as unknown as Context),
    onSubscribe: ({ args }) => scope(args.contextValue as unknown as Context),
  };
}

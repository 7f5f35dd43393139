import type { Plugin } from 'graphql-yoga';
import { scopeRequest, type Context } from '../context.ts';

/**
 * Row-level security (src/db/scope.ts): once an operation is valid and about to run,
 * its statements are scoped to the organizations its viewer may see. Until then
 * (authentication, the request's organization check) they act for the server; a
 * refused operation runs no statement for it.
 */
export function useRowScope(): Plugin {
  return {
    onExecute: ({ args }) => scopeRequest(args.contextValue as unknown as Context),
    onSubscribe: ({ args }) => scopeRequest(args.contextValue as unknown as Context),
  };
}

// Shared pieces of Relay connections.

export { OLDEST_FIRST } from './rules.ts';

/**
 * The `totalCount` field of a prisma connection, described. Pass as the connection
 * options' `fields` of a `t.prismaConnection` / `t.relatedConnection` with
 * `totalCount` set: it replaces the plugin's undocumented field of the same name and
 * keeps the marker the plugin uses to answer a count-only selection without loading rows.
 */
export function totalCountField<T extends { int: (options: never) => unknown }>(t: T) {
  return {
    totalCount: (t.int as (options: object) => ReturnType<T['int']>)({
      description: 'How many items match, across all pages.',
      nullable: false,
      extensions: { pothosPrismaTotalCount: true },
      resolve: (parent: { totalCount?: number | (() => number | Promise<number>) }) =>
        typeof parent.totalCount === 'function' ? parent.totalCount() : parent.totalCount,
    }),
  };
}

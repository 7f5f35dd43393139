import { queryFromInfo } from '@pothos/plugin-prisma';
import type { GraphQLResolveInfo } from 'graphql';
import { builder } from '../../builder.ts';
import type { UpsertOutcome } from './bulk.ts';
import { mutationResult } from './errors.ts';
import type { Types } from './fields.ts';

// What the upsert mutations of every module answer: the outcome of each row, and
// for a bulk upsert the counts of each outcome.

export const UpsertOutcomeEnum = builder.enumType('UpsertOutcome', {
  description: 'What an upsert did to one row.',
  values: {
    CREATED: { description: 'Inserted a new row.' },
    UPDATED: { description: 'Changed an existing row.' },
    UNCHANGED: { description: 'Found an existing row with the same values and left it as it was (updatedAt too).' },
  },
});

/** What an upsert did, carried on the row it returns so its success object can show both. */
export type Upserted<Row> = Row & { created: boolean; outcome: UpsertOutcome };

/**
 * The `errors` option of a single upsert: mutationResult's union, whose success object
 * has `created` and `outcome` beside the row.
 */
export function withOutcome<T extends ReturnType<typeof mutationResult>>(options: T) {
  return {
    ...options,
    result: {
      ...options.result,
      fields: (r: PothosSchemaTypes.ObjectFieldBuilder<Types, object>) => ({
        created: r.boolean({ description: 'Whether this call created the row.', resolve: (row) => (row as Upserted<object>).created }),
        outcome: r.field({
          type: UpsertOutcomeEnum,
          description: 'Created, updated or found unchanged.',
          resolve: (row) => (row as Upserted<object>).outcome,
        }),
      }),
    },
  };
}

/**
 * Rows a mutation wrote with raw SQL, read again in one query with the relations the
 * operation selects beneath `path` of its result (user, source...), so a bulk result
 * does not load them row by row. Without such a selection the rows are returned as
 * they are.
 */
export async function withRelations<Row extends { id: string }>(
  rows: Row[],
  context: object,
  info: GraphQLResolveInfo,
  typeName: 'Identifier' | 'Identity',
  path: Parameters<typeof queryFromInfo>[0]['path'],
  load: (query: object, ids: string[]) => Promise<Row[]>,
): Promise<Row[]> {
  const query = queryFromInfo({ context, info, typeName, path });
  if (!Object.keys(query.include ?? query.select ?? {}).length) return rows;
  const byId = new Map((await load(query, rows.map((r) => r.id))).map((row) => [row.id, row]));
  return rows.map((row) => byId.get(row.id) ?? row);
}

/**
 * The `errors` option of a bulk upsert: mutationResult's union, whose success object
 * has a result per item under `results` and how many were created, updated and unchanged.
 */
export function bulkUpsertResult(name: string, what: string) {
  type Results = readonly { outcome: UpsertOutcome }[];
  const count = (results: Results, outcome: UpsertOutcome) => results.filter((r) => r.outcome === outcome).length;
  const options = mutationResult(
    name,
    { name: 'results', description: 'One result per item, in the order of the items.' },
    `upserting ${what}`,
  );
  return {
    ...options,
    result: {
      ...options.result,
      fields: (r: PothosSchemaTypes.ObjectFieldBuilder<Types, Results>) => ({
        createdCount: r.int({ description: 'How many were created.', resolve: (results) => count(results, 'CREATED') }),
        updatedCount: r.int({ description: 'How many were changed.', resolve: (results) => count(results, 'UPDATED') }),
        unchangedCount: r.int({ description: 'How many were already as given.', resolve: (results) => count(results, 'UNCHANGED') }),
      }),
    },
  };
}

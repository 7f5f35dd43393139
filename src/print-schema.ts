import { printSubgraphSchema } from '@apollo/subgraph';
import { printSchema } from 'graphql';
import { schema, sortedSchema } from './schema.ts';

/** The SDL committed as schema.graphql: sorted, so diffs show only real changes. */
export const printedSchema = () => `${printSchema(sortedSchema())}\n`;

/** The subgraph SDL with federation directives (@key, @link), for schema registries and composition. */
export const printedSubgraphSchema = () => `${printSubgraphSchema(schema)}\n`;

import { printSchema } from 'graphql';
import { sortedSchema } from './schema.ts';

/** The SDL committed as schema.graphql: sorted, so diffs show only real changes. */
export const printedSchema = () => `${printSchema(sortedSchema())}\n`;

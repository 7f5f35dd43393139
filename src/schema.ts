import { lexicographicSortSchema } from 'graphql';
import { builder } from './builder.ts';
import './modules/shared/errors.ts';
import './modules/organization/schema.ts';
import './modules/user/schema.ts';

// Importing a module registers its types, queries and mutations on the builder.
export const schema = builder.toSchema();
export const sortedSchema = () => lexicographicSortSchema(schema);

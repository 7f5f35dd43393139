import { lexicographicSortSchema } from 'graphql';
import { answerCompiledObjects } from './modules/shared/engine/index.ts';
import './modules/shared/errors.ts';
import './modules/shared/node.ts';
import './modules/organization/schema.ts';
import './modules/user/schema.ts';
import './modules/auth/schema.ts';
import './modules/member/schema.ts';
import './modules/source/schema.ts';
import './modules/identifier/schema.ts';
import './modules/identifier/mutations.ts';
import './modules/identity/schema.ts';
import './modules/identity/mutations.ts';
import './modules/graph/schema.ts';
import './modules/audit/schema.ts';
import './modules/merge/schema.ts';
import './modules/deletion/schema.ts';
import './modules/suggestion/schema.ts';
import './modules/webhook/schema.ts';
import './modules/federation/entities.ts';
import { subGraphSchema } from './modules/federation/subgraph.ts';

// Importing a module registers its types, queries and mutations on the builder.
// The schema is an Apollo Federation v2 subgraph; standalone clients see an ordinary
// schema plus `_service` and `_entities`.
export const schema = subGraphSchema({
  linkUrl: 'https://specs.apollo.dev/federation/v2.6',
  federationDirectives: ['@key', '@shareable'],
});
// Root fields may answer with compiled objects (modules/shared/engine/compiled.ts).
answerCompiledObjects(schema);
export const sortedSchema = () => lexicographicSortSchema(schema);

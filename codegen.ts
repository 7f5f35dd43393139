import type { CodegenConfig } from '@graphql-codegen/cli';

// Typed documents (GraphQL Code Generator's client preset) for the operations in
// examples/ (which frontends can start from, and the tests run), generated from the
// committed schema.graphql. `npm run codegen` regenerates; `npm run codegen:check`
// fails when the committed output is stale.
const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['examples/**/*.graphql'],
  generates: {
    'src/client/': {
      preset: 'client',
      config: { useTypeImports: true, enumsAsTypes: true, importExtension: '.ts', scalars: { DateTime: 'string', JSON: 'unknown', JSONObject: 'Record<string, unknown>' } },
      presetConfig: { fragmentMasking: false },
    },
  },
  hooks: {},
};

export default config;

import { builder } from '../../builder.ts';

// Pieces of the GraphQL schema that several modules' definitions share.

export type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;
export type InputFieldBuilder = PothosSchemaTypes.InputFieldBuilder<Types, 'InputObject'>;

export const organizationIdField = (t: InputFieldBuilder) =>
  t.id({
    required: false,
    description: 'The organization: its global id (or UUID). Left out, the organization X-Organization-ID names.',
  });

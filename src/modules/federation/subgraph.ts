import { printSubgraphSchema } from '@apollo/subgraph';
import { EntityType, entitiesField, serviceField } from '@apollo/subgraph/dist/types.js';
import { hasResolvableKey } from '@pothos/plugin-federation';
import {
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLSchema,
  GraphQLUnionType,
  isObjectType,
  lexicographicSortSchema,
  type GraphQLFieldConfigMap,
} from 'graphql';
import { builder } from '../../builder.ts';

/**
 * The schema as an Apollo Federation v2 subgraph, built as Pothos's `toSubGraphSchema`
 * builds it (`_entities` over the types with a resolvable @key, `_service`), except that
 * the SDL `_service` answers with is printed when first asked for: printing it builds
 * and validates the whole subgraph once more, a tenth of the server's start.
 */
export function subGraphSchema({ linkUrl, federationDirectives }: { linkUrl: string; federationDirectives: string[] }): GraphQLSchema {
  const schema = builder.toSchema({
    extensions: { directives: [{ name: 'link', args: { url: linkUrl, import: federationDirectives } }] },
  });
  const queryType = schema.getQueryType();
  const types = schema.getTypeMap();
  const entityTypes = Object.values(types).filter((type) => isObjectType(type) && hasResolvableKey(type)) as GraphQLObjectType[];
  let sdl: string | undefined;
  const newQuery: GraphQLObjectType = new GraphQLObjectType({
    name: queryType?.name ?? 'Query',
    description: queryType?.description,
    astNode: queryType?.astNode,
    extensions: queryType?.extensions,
    fields: (): GraphQLFieldConfigMap<unknown, unknown> => ({
      ...(entityTypes.length > 0 && {
        _entities: {
          ...entitiesField,
          type: new GraphQLNonNull(
            new GraphQLList(
              new GraphQLUnionType({ ...EntityType.toConfig(), types: entityTypes.map((type) => (type === queryType ? newQuery : type)) }),
            ),
          ),
        },
      }),
      _service: { ...serviceField, resolve: () => ({ sdl: (sdl ??= printSubgraphSchema(sorted)) }) },
      ...queryType?.toConfig().fields,
    }),
  });
  const sorted = lexicographicSortSchema(
    new GraphQLSchema({
      query: newQuery,
      mutation: schema.getMutationType(),
      subscription: schema.getSubscriptionType(),
      extensions: schema.extensions,
      directives: schema.getDirectives(),
      extensionASTNodes: schema.extensionASTNodes,
      types: [...Object.values(types).filter((type) => type.name !== 'Query'), newQuery],
    }),
  );
  return sorted;
}

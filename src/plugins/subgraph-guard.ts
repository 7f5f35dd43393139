import { timingSafeEqual } from 'node:crypto';
import { GraphQLError, Kind, type ASTVisitor, type DocumentNode, type SelectionSetNode, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ApiError, ErrorCode } from '../errors.ts';
import type { SubgraphGuard } from '../config.ts';

export const SUBGRAPH_SECRET_HEADER = 'x-subgraph-secret';

/**
 * `_service { sdl }` is the whole schema: where introspection is off and no gateway
 * secret is set, it is refused exactly as introspection is (a validation error), so
 * no caller outside a gateway reads the schema.
 */
function noServiceSdlRule(context: ValidationContext): ASTVisitor {
  return {
    Field(node) {
      if (node.name.value !== '_service' || context.getParentType() !== context.getSchema().getQueryType()) return;
      context.reportError(
        new GraphQLError('GraphQL introspection has been disabled, but the requested query contained the field "_service".', { nodes: node }),
      );
    },
  };
}

function selectsFederationFields(selectionSet: SelectionSetNode, document: DocumentNode, depth = 0): boolean {
  return selectionSet.selections.some((sel) => {
    if (sel.kind === Kind.FIELD) return sel.name.value === '_entities' || sel.name.value === '_service';
    if (depth > 5) return true;
    if (sel.kind === Kind.INLINE_FRAGMENT) return selectsFederationFields(sel.selectionSet, document, depth + 1);
    const frag = document.definitions.find((d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === sel.name.value);
    return !!frag && frag.kind === Kind.FRAGMENT_DEFINITION && selectsFederationFields(frag.selectionSet, document, depth + 1);
  });
}

/**
 * Keeps the subgraph's federation entry points (and, if asked, everything) for the
 * gateway: without the shared secret, `_entities` cannot be used to read objects by
 * id around the gateway's own checks.
 */
export function useSubgraphGuard({ secret, requireForAll }: SubgraphGuard, introspection: boolean): Plugin {
  if (!secret) return introspection ? {} : { onValidate: ({ addValidationRule }) => addValidationRule(noServiceSdlRule) };
  const expected = Buffer.from(secret);
  const matches = (given: string | null) => {
    if (given === null) return false;
    const buf = Buffer.from(given);
    return buf.length === expected.length && timingSafeEqual(buf, expected);
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const request = (args.contextValue as { request: Request }).request;
      if (matches(request.headers.get(SUBGRAPH_SECRET_HEADER))) return;
      const document = args.document as DocumentNode;
      const guarded =
        requireForAll ||
        document.definitions.some(
          (d) => d.kind === Kind.OPERATION_DEFINITION && selectsFederationFields(d.selectionSet, document),
        );
      if (guarded) {
        setResultAndStopExecution({
          errors: [new ApiError(ErrorCode.FORBIDDEN, 'This subgraph answers only its gateway.')],
        });
      }
    },
  };
}

import { GraphQLError, Kind, visit, type DocumentNode, type OperationDefinitionNode, type ValueNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ErrorCode } from '../errors.ts';

// A connection pages forward (first/after) or backward (last/before), never both ways
// at once: `first` and `last` together have no single meaning, so they are refused
// before anything runs, written inline or as variables.

interface Pair {
  field: string;
  first: ValueNode;
  last: ValueNode;
}

const pairsCache = new WeakMap<DocumentNode, Pair[]>();

/** The fields of a document given both a `first` and a `last` argument. */
function pairs(document: DocumentNode): Pair[] {
  let found = pairsCache.get(document);
  if (found) return found;
  const list: Pair[] = [];
  visit(document, {
    Field(node) {
      const first = node.arguments?.find((a) => a.name.value === 'first');
      const last = node.arguments?.find((a) => a.name.value === 'last');
      if (first && last) list.push({ field: node.alias?.value ?? node.name.value, first: first.value, last: last.value });
    },
  });
  pairsCache.set(document, (found = list));
  return found;
}

/** Whether an argument's value is given: a literal other than null, or a variable holding one. */
function given(value: ValueNode, variables: Record<string, unknown>, operation: OperationDefinitionNode | undefined): boolean {
  if (value.kind === Kind.NULL) return false;
  if (value.kind !== Kind.VARIABLE) return true;
  const name = value.name.value;
  if (name in variables) return variables[name] != null;
  const fallback = operation?.variableDefinitions?.find((d) => d.variable.name.value === name)?.defaultValue;
  return fallback !== undefined && fallback.kind !== Kind.NULL;
}

export function useConnectionArguments(): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const found = pairs(args.document as DocumentNode);
      if (found.length === 0) return;
      const variables = (args.variableValues ?? {}) as Record<string, unknown>;
      const operation = (args.document as DocumentNode).definitions.find(
        (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION && (!args.operationName || d.name?.value === args.operationName),
      );
      const both = found.filter((p) => given(p.first, variables, operation) && given(p.last, variables, operation));
      if (both.length === 0) return;
      setResultAndStopExecution({
        errors: [
          new GraphQLError('`first` and `last` cannot be used together: page forward with first/after, or backward with last/before.', {
            extensions: {
              code: ErrorCode.BAD_USER_INPUT,
              http: { spec: true, status: 400 },
              details: both.map((p) => ({ path: p.field, message: 'give first or last, not both' })),
            },
          }),
        ],
      });
    },
  };
}

import { getArgumentValues, getOperationAST, getVariableValues, Kind, type DocumentNode, type FieldNode, type FragmentDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Context } from '../context.ts';
import { rootPlanners } from '../modules/shared/prebuilt.ts';

// Operations answered by one statement, without executing resolvers: a query whose
// only field is a root field with a planner (modules/shared/prebuilt.ts) and whose
// selection the planner knows. The SQL builds the answer exactly as the resolvers
// would (the tests compare the two); anything else, including every error, takes the
// general path. Runs after the plugins that may refuse the operation (limits, input
// checks, rate limits), so they apply alike.

interface Root {
  field: FieldNode;
  fragments: Record<string, FragmentDefinitionNode>;
  variableDefinitions: NonNullable<ReturnType<typeof getOperationAST>>['variableDefinitions'];
}

// Documents come from the parse cache; each one is examined once per operation name.
const roots = new WeakMap<DocumentNode, Map<string, Root | null>>();

function rootOf(document: DocumentNode, operationName: string | null | undefined): Root | null {
  let byName = roots.get(document);
  if (!byName) roots.set(document, (byName = new Map()));
  const known = byName.get(operationName ?? '');
  if (known !== undefined) return known;
  const op = getOperationAST(document, operationName);
  const only = op?.selectionSet.selections.length === 1 ? op.selectionSet.selections[0] : undefined;
  let root: Root | null = null;
  if (op?.operation === 'query' && only?.kind === Kind.FIELD && !only.directives?.length && !op.directives?.length && rootPlanners.has(only.name.value)) {
    const fragments: Record<string, FragmentDefinitionNode> = {};
    for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;
    root = { field: only, fragments, variableDefinitions: op.variableDefinitions };
  }
  byName.set(operationName ?? '', root);
  return root;
}

export function usePlannedOperations(): Plugin {
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const root = rootOf(args.document, args.operationName);
      const ctx = args.contextValue as unknown as Context;
      if (!root || ctx.viewer.kind === 'anonymous') return;
      const variables = getVariableValues(args.schema, root.variableDefinitions ?? [], (args.variableValues ?? {}) as Record<string, unknown>);
      if (variables.errors) return;
      const field = root.field;
      const definition = args.schema.getQueryType()!.getFields()[field.name.value]!;
      const info = { schema: args.schema, fragments: root.fragments, variableValues: variables.coerced, fieldNodes: [field] };
      let answer: unknown;
      try {
        answer = await rootPlanners.get(field.name.value)!(ctx, info, getArgumentValues(definition, field, variables.coerced));
      } catch {
        return; // The general path answers, with its errors.
      }
      if (answer !== undefined) setResultAndStopExecution({ data: { [field.alias?.value ?? field.name.value]: answer } });
    },
  };
}

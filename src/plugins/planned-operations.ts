import {
  getArgumentValues,
  getOperationAST,
  getVariableValues,
  Kind,
  type DocumentNode,
  type ExecutionResult,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { confirmViewer, type Context } from '../context.ts';
import { database } from '../db.ts';
import { JsonText, rootPlanners, type PlanInfo } from '../modules/shared/engine/index.ts';

// Operations answered by one statement, without executing resolvers: a query whose
// only field is a root field with a planner (modules/shared/engine) and whose
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

/** The root field's answer from its planner: undefined when it cannot be planned or anything fails. */
async function plan(schema: GraphQLSchema, root: Root, ctx: Context, variableValues: Record<string, unknown> | undefined): Promise<unknown> {
  const variables = getVariableValues(schema, root.variableDefinitions ?? [], variableValues ?? {});
  if (variables.errors) return undefined;
  const field = root.field;
  const definition = schema.getQueryType()!.getFields()[field.name.value]!;
  const info: PlanInfo = { schema, fragments: root.fragments, variableValues: variables.coerced, fieldNodes: [field] };
  try {
    return await rootPlanners.get(field.name.value)!(ctx, info, getArgumentValues(definition, field, variables.coerced));
  } catch {
    // The root field's own checks refused the arguments or the viewer: the general
    // path answers, with its errors. (The engine logs and counts its own fallbacks.)
    return undefined;
  }
}

// The JSON text of a planned answer goes into the response as it is: Yoga serializes a
// result with its `stringify` when it has one (JSON, server-sent events, multipart,
// each result of a batch), which spares a JSON.parse and a JSON.stringify of the
// answer (README, Performance). Any other serialization (say, of a
// result another plugin replaced) gets JsonText's value.
const PLACEHOLDER = '\u0000planned answer\u0000';
const MARK = JSON.stringify(PLACEHOLDER);

function stringify(result: ExecutionResult): string {
  const data = result.data;
  const keys = data ? Object.keys(data) : [];
  const answer = keys.length === 1 ? data![keys[0]!] : undefined;
  if (!(answer instanceof JsonText)) return JSON.stringify(result);
  const text = JSON.stringify({ ...result, data: { [keys[0]!]: PLACEHOLDER } });
  const at = text.indexOf(MARK);
  return text.slice(0, at) + answer.text + text.slice(at + MARK.length);
}

/**
 * Also where a viewer taken from memory is confirmed (context.ts confirmViewer): a
 * compiled answer checks the credential in its own statement; every other way of
 * answering reads it again first. With read replicas it is read again before the
 * compiled read too, as the replica may lag behind a change of role.
 */
export function usePlannedOperations(): Plugin {
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const root = rootOf(args.document, args.operationName);
      const ctx = args.contextValue as unknown as Context;
      if (database?.replicas) await confirmViewer(ctx);
      if (root && ctx.viewer.kind !== 'anonymous') {
        const answer = await plan(args.schema, root, ctx, args.variableValues as Record<string, unknown> | undefined);
        const field = root.field;
        if (answer !== undefined) {
          setResultAndStopExecution({ data: { [field.alias?.value ?? field.name.value]: answer }, stringify } as ExecutionResult);
          return;
        }
      }
      await confirmViewer(ctx);
    },
    onSubscribe: ({ args }) => confirmViewer(args.contextValue as unknown as Context),
  };
}

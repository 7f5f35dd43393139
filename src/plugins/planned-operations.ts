import {
  BREAK,
  getArgumentValues,
  getOperationAST,
  getVariableValues,
  GraphQLError,
  Kind,
  visit,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { confirmViewer, type Context } from '../context.ts';
import { database } from '../db.ts';
import { servingReplica } from '../db/replicas.ts';
import { isDatabaseUnavailable, maskError } from './errors.ts';
import { beforeExecution, JsonText, planTogether, rootPlanners } from '../modules/shared/engine/index.ts';

// Root fields of a query answered by one statement each, without executing resolvers:
// a root field with a planner (modules/shared/engine) whose selection the planner
// compiles whole. The SQL builds the answer exactly as the resolvers would (the tests
// compare the two). When every root field of the query is so answered, nothing else
// runs; otherwise graphql-js executes the others alone (a copy of the operation
// without the answered ones), and the answers are put together in the operation's
// order. Anything that fails or is refused, with its errors, takes the general path.
// A root whose selection has fields with no SQL form (holes) is built once: the plan
// waits for the root's resolver, which still makes its own checks (engine/run.ts).
// Runs after the plugins that may refuse the operation (limits, input checks, rate
// limits), so they apply alike.

interface Planned {
  operation: OperationDefinitionNode;
  /** Root fields that may be answered by their planner, in the operation's order. */
  roots: FieldNode[];
  /** The response names of the operation's root fields, in order; null when a root selection is a fragment. */
  names: string[] | null;
  fragments: Record<string, FragmentDefinitionNode>;
  /** The operation without some of its root fields, by the response names left out. */
  without: Map<string, DocumentNode>;
}

const responseName = (field: FieldNode) => field.alias?.value ?? field.name.value;

// Documents come from the parse cache; each one is examined once per operation name.
const operations = new WeakMap<DocumentNode, Map<string, Planned | null>>();

/** Whether the document asks for incremental delivery, whose results cannot be put together here. */
function incremental(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    Directive(node) {
      if (node.name.value === 'defer' || node.name.value === 'stream') {
        found = true;
        return BREAK;
      }
      return undefined;
    },
  });
  return found;
}

function plannedOf(document: DocumentNode, operationName: string | null | undefined): Planned | null {
  let byName = operations.get(document);
  if (!byName) operations.set(document, (byName = new Map()));
  const known = byName.get(operationName ?? '');
  if (known !== undefined) return known;
  const operation = getOperationAST(document, operationName);
  let planned: Planned | null = null;
  if (operation?.operation === 'query' && !operation.directives?.length && !incremental(document)) {
    const selections = operation.selectionSet.selections;
    const fields = selections.filter((s): s is FieldNode => s.kind === Kind.FIELD);
    // A response name given twice is one merged field, which graphql-js puts together.
    const named = (name: string) => fields.filter((s) => responseName(s) === name).length;
    const roots = fields.filter((f) => !f.directives?.length && rootPlanners.has(f.name.value) && named(responseName(f)) === 1);
    if (roots.length) {
      const fragments: Record<string, FragmentDefinitionNode> = {};
      for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;
      const names = fields.length === selections.length ? fields.map(responseName) : null;
      planned = { operation, roots, names, fragments, without: new Map() };
    }
  }
  byName.set(operationName ?? '', planned);
  return planned;
}

/** The document with only the operation's root fields not in `answered`. */
function documentWithout(document: DocumentNode, planned: Planned, answered: ReadonlySet<string>): DocumentNode {
  const key = [...answered].join('\u0000');
  let reduced = planned.without.get(key);
  if (!reduced) {
    const operation: OperationDefinitionNode = {
      ...planned.operation,
      selectionSet: {
        ...planned.operation.selectionSet,
        selections: planned.operation.selectionSet.selections.filter((s) => s.kind !== Kind.FIELD || !answered.has(responseName(s))),
      },
    };
    reduced = { ...document, definitions: document.definitions.map((d) => (d === planned.operation ? operation : d)) };
    planned.without.set(key, reduced);
  }
  return reduced;
}

/** A root field's answer from its planner: undefined when it cannot be planned or anything fails. */
async function plan(schema: GraphQLSchema, planned: Planned, field: FieldNode, ctx: Context, variables: Record<string, unknown>): Promise<unknown> {
  const definition = schema.getQueryType()!.getFields()[field.name.value]!;
  const info = beforeExecution({ schema, fragments: planned.fragments, variableValues: variables, fieldNodes: [field] });
  try {
    return await rootPlanners.get(field.name.value)!(ctx, info, getArgumentValues(definition, field, variables));
  } catch (err) {
    // A database that cannot serve now answers for the whole operation (SERVICE_UNAVAILABLE).
    if (isDatabaseUnavailable(err)) throw err;
    // The root field's own checks refused the arguments or the viewer, or the
    // credential changed: the general path answers, with its errors. (The engine logs
    // and counts its own fallbacks.)
    return undefined;
  }
}

// The JSON text of a planned answer goes into the response as it is: Yoga serializes a
// result with its `stringify` when it has one (JSON, server-sent events, multipart,
// each result of a batch), which spares a JSON.parse and a JSON.stringify of the
// answer (README, Performance). Any other serialization (say, of a
// result another plugin replaced) gets JsonText's value.
const PLACEHOLDER = '\u0000planned answer\u0000';

function stringify(result: ExecutionResult): string {
  const texts: string[] = [];
  const data: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(result.data ?? {})) {
    if (value instanceof JsonText) {
      data[name] = `${PLACEHOLDER}${texts.length}`;
      texts.push(value.text);
    } else {
      data[name] = value;
    }
  }
  if (!texts.length) return JSON.stringify(result);
  let text = JSON.stringify({ ...result, data });
  texts.forEach((answer, i) => {
    const mark = JSON.stringify(`${PLACEHOLDER}${i}`);
    const at = text.indexOf(mark);
    text = text.slice(0, at) + answer + text.slice(at + mark.length);
  });
  return text;
}

/** The executed root fields' result with the answered ones put back in the operation's order. */
function together(names: readonly string[], answered: ReadonlyMap<string, unknown>, result: ExecutionResult): ExecutionResult {
  // A non-null root field's error nulls the whole data, answered fields included.
  if (!result.data) return result;
  const data: Record<string, unknown> = {};
  for (const name of names) {
    if (answered.has(name)) data[name] = answered.get(name);
    else if (name in result.data) data[name] = result.data[name];
  }
  return { ...result, data, stringify } as ExecutionResult;
}

/**
 * Also where a viewer taken from memory is confirmed (context.ts confirmViewer): a
 * compiled answer checks the credential in its own statement; every other way of
 * answering reads it again first. With read replicas it is read again before the
 * compiled read too, as the replica may lag behind a change of role.
 */
export function usePlannedOperations(): Plugin {
  return {
    async onExecute({ args, executeFn, setExecuteFn, setResultAndStopExecution }) {
      const planned = plannedOf(args.document, args.operationName);
      const ctx = args.contextValue as unknown as Context;
      if (database?.replicas) await confirmViewer(ctx);
      const answered = new Map<string, unknown>();
      if (planned?.names && ctx.viewer.kind !== 'anonymous') {
        const variables = getVariableValues(args.schema, planned.operation.variableDefinitions ?? [], (args.variableValues ?? {}) as Record<string, unknown>);
        let answers: unknown[] = [];
        if (!variables.errors) {
          // Several root fields' compiled reads go to PostgreSQL as one statement.
          const batch = planned.roots.length > 1 ? planTogether(ctx, planned.roots) : undefined;
          const planOne = (field: FieldNode) => plan(args.schema, planned, field, ctx, variables.coerced).finally(() => batch?.settled(field));
          try {
            answers = await Promise.all(planned.roots.map(planOne)).finally(() => batch?.close());
          } catch (err) {
            // A read replica that cannot serve answers as the operation's result, not
            // thrown: read routing (read-routing.ts) sees it there, and runs the operation
            // again on the primary when the replica is down.
            if (!servingReplica()) throw err;
            const error = maskError(err);
            setResultAndStopExecution({ errors: [error instanceof GraphQLError ? error : new GraphQLError(error.message, { originalError: error })] });
            return;
          }
        }
        answers.forEach((answer, i) => answer !== undefined && answered.set(responseName(planned.roots[i]!), answer));
      }
      const names = planned?.names;
      if (answered.size && answered.size === names!.length) {
        setResultAndStopExecution({ data: Object.fromEntries(answered), stringify } as ExecutionResult);
        return;
      }
      await confirmViewer(ctx);
      if (!answered.size) return;
      const rest = documentWithout(args.document, planned!, new Set(answered.keys()));
      setExecuteFn(async (execution: ExecutionArgs) => together(names!, answered, (await executeFn({ ...execution, document: rest })) as ExecutionResult));
    },
    onSubscribe: ({ args }) => confirmViewer(args.contextValue as unknown as Context),
  };
}

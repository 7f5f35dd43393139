import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import {
  getOperationAST,
  getVariableValues,
  GraphQLError,
  Kind,
  type ASTVisitor,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type ValidationContext,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ErrorCode } from '../errors.ts';
import { costError, costRule, operationCost } from './cost.ts';
import type { QueryLimits } from '../config.ts';

// Every limit is checked while the operation is validated, so an operation over one
// is refused before any resolver (and so any SQL) runs. Page sizes given by variables
// are checked again at execution, before any resolver, with the variables' values
// (defaults included): the page-size maximum and the cost.

/** Refuses `first`/`last` arguments above the page-size maximum, literal or variable. */
function pageSizeRule(max: number) {
  return (context: ValidationContext): ASTVisitor => {
    return {
      Argument(node) {
        if (node.name.value !== 'first' && node.name.value !== 'last') return;
        const value = node.value;
        if (value.kind === Kind.INT && Number(value.value) > max) {
          context.reportError(
            new GraphQLError(`\`${node.name.value}\` may be at most ${max}.`, {
              nodes: [node],
              extensions: { code: ErrorCode.BAD_USER_INPUT, limit: max },
            }),
          );
        }
      },
    };
  };
}

/** Variables are only known at execution; the same maximum applies to them there (`variables` coerced, defaults applied). */
function checkPageSizeVariables(max: number, variables: Record<string, unknown> | undefined, names: Set<string>): GraphQLError | null {
  for (const name of names) {
    const v = variables?.[name];
    if (typeof v === 'number' && v > max) {
      return new GraphQLError(`\`$${name}\` is used as a page size and may be at most ${max}.`, {
        extensions: { code: ErrorCode.BAD_USER_INPUT, limit: max },
      });
    }
  }
  return null;
}

// Documents come from the parse cache, so each one is walked once.
const pageSizeVariableCache = new WeakMap<DocumentNode, Set<string>>();

/** The variables a document passes as `first` or `last`, in its operations and fragments. */
function pageSizeVariables(document: DocumentNode): Set<string> {
  let names = pageSizeVariableCache.get(document);
  if (names) return names;
  names = new Set<string>();
  const found = names;
  const visit = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    const n = node as { kind?: string; name?: { value: string }; value?: { kind: string; name?: { value: string } } };
    if (n.kind === Kind.ARGUMENT && (n.name?.value === 'first' || n.name?.value === 'last') && n.value?.kind === Kind.VARIABLE) {
      found.add(n.value.name!.value);
    }
    for (const child of Object.values(node)) {
      if (Array.isArray(child)) child.forEach(visit);
      else if (child && typeof child === 'object' && 'kind' in child) visit(child);
    }
  };
  // Fragments too: an operation's variables reach the fragments it spreads.
  for (const def of document.definitions) visit(def);
  pageSizeVariableCache.set(document, names);
  return names;
}

/** The operation with its variables as execution will see them (defaults applied), or null when they do not coerce. */
function coercedOperation(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, raw: unknown) {
  const operation = getOperationAST(document, operationName);
  if (!operation) return null;
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], (raw ?? {}) as Record<string, unknown>);
  if (coerced.errors) return null;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  return { definition: operation, variables: coerced.coerced, fragment: (name: string) => fragments.get(name) };
}

export function useQueryLimits(limits: QueryLimits): Plugin[] {
  const reject = (_ctx: unknown, error: GraphQLError) => {
    (error as { extensions: Record<string, unknown> }).extensions = { ...error.extensions, code: ErrorCode.BAD_USER_INPUT };
    // graphql-armor reports a broken limit as a syntax error, which it is not.
    error.message = error.message.replace(/^Syntax Error: /, '');
  };
  // The numbers tell an attacker how much room each limit leaves: production names the limit only.
  const common = (name: string) => ({
    onReject: [reject],
    propagateOnRejection: true,
    exposeLimits: limits.exposeLimits,
    errorMessage: `${name} limit exceeded.`,
  });
  return [
    EnvelopArmorPlugin({
      maxDepth: { n: limits.maxDepth, ignoreIntrospection: true, flattenFragments: true, ...common('Query depth') },
      maxAliases: { n: limits.maxAliases, allowList: [], ...common('Aliases') },
      maxDirectives: { n: limits.maxDirectives, ...common('Directives') },
      maxTokens: { n: limits.maxTokens, ...common('Token') },
      // Cost is ours (plugins/cost.ts): it must count the page sizes variables give.
      costLimit: { enabled: false },
      blockFieldSuggestion: { enabled: limits.blockFieldSuggestions },
    }) as Plugin,
    {
      onValidate: ({ addValidationRule }) => {
        addValidationRule(pageSizeRule(limits.maxPageSize));
        addValidationRule(costRule(limits.maxCost, limits.exposeLimits));
      },
      onExecute: ({ args, setResultAndStopExecution }) => {
        const names = pageSizeVariables(args.document);
        if (!names.size) return;
        const operation = coercedOperation(args.schema, args.document, args.operationName, args.variableValues);
        // Variables that do not coerce are refused by execution itself, with its own error.
        if (!operation) return;
        let error = checkPageSizeVariables(limits.maxPageSize, operation.variables, names);
        if (!error) {
          const cost = operationCost(operation.definition, operation.fragment, operation.variables);
          if (cost > limits.maxCost) error = costError(limits.maxCost, cost, limits.exposeLimits);
        }
        if (error) setResultAndStopExecution({ errors: [error] });
      },
    },
  ];
}

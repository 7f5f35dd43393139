import {
  GraphQLError,
  Kind,
  type ASTNode,
  type ASTVisitor,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type ValidationContext,
  type ValueNode,
} from 'graphql';
import { ErrorCode } from '../errors.ts';

// The estimated cost of an operation: a scalar field costs 1, an object 2, each level
// weighs 1.5 times the one below it, and a list's cost is multiplied by its page size
// (`first` or `last`). It is graphql-armor's cost formula, written here once so it can
// be computed twice: while the operation is validated, when a page size given by a
// variable is not known yet (it counts as 1, so that estimate is never above the real
// one), and again at execution with the variables' values and defaults.

const SCALAR_COST = 1;
const OBJECT_COST = 2;
const DEPTH_FACTOR = 1.5;

/** The page size a `first`/`last` argument asks for, given the variables known so far. */
function pageSize(value: ValueNode, variables: Record<string, unknown> | null): number {
  if (value.kind === Kind.INT) return Number.parseInt(value.value, 10);
  if (value.kind === Kind.VARIABLE) {
    const given = variables?.[value.name.value];
    return typeof given === 'number' ? given : 1;
  }
  return 1;
}

/**
 * The cost of an operation. `variables` are the operation's coerced variable values
 * (defaults applied), or null while validating, when they are not known.
 */
export function operationCost(
  operation: OperationDefinitionNode,
  fragments: (name: string) => FragmentDefinitionNode | undefined,
  variables: Record<string, unknown> | null,
): number {
  // A fragment spread many times is walked once; one spread inside itself (refused by
  // validation anyway) counts nothing.
  const fragmentCosts = new Map<string, number>();
  const cost = (node: ASTNode): number => {
    if (node.kind === Kind.FIELD && node.name.value === '__schema') return 0;
    if (node.kind === Kind.FRAGMENT_SPREAD) {
      const name = node.name.value;
      if (!fragmentCosts.has(name)) {
        fragmentCosts.set(name, 0);
        const fragment = fragments(name);
        fragmentCosts.set(name, fragment ? cost(fragment) : 0);
      }
      return SCALAR_COST + fragmentCosts.get(name)!;
    }
    if (!('selectionSet' in node) || !node.selectionSet) return SCALAR_COST;
    let multiplier = 1;
    for (const arg of (node.kind === Kind.FIELD ? node.arguments : undefined) ?? []) {
      if (arg.name.value === 'first' || arg.name.value === 'last') multiplier = Math.max(multiplier, pageSize(arg.value, variables));
    }
    let total = OBJECT_COST;
    for (const child of node.selectionSet.selections) {
      // Fragments are flattened into their parent: they add no level.
      total += child.kind === Kind.FIELD ? DEPTH_FACTOR * cost(child) : cost(child);
    }
    return total * multiplier;
  };
  return operation.selectionSet.selections.reduce((sum, child) => sum + cost(child), 0);
}

/** The error of an operation over the cost limit; `expose` says the limit and the cost found. */
export function costError(max: number, found: number, expose: boolean): GraphQLError {
  return new GraphQLError(expose ? `Query Cost limit of ${max} exceeded, found ${found}.` : 'Query cost limit exceeded.', {
    extensions: { code: ErrorCode.BAD_USER_INPUT },
  });
}

/** The validation rule: refuses an operation whose cost, page sizes of variables counted as 1, is over `max`. */
export function costRule(max: number, expose: boolean) {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(operation) {
      const found = operationCost(operation, (name) => context.getFragment(name) ?? undefined, null);
      if (found > max) context.reportError(costError(max, found, expose));
    },
  });
}

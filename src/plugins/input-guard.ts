import { GraphQLError, Kind, visit, type DocumentNode, type ValueNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ErrorCode } from '../errors.ts';

// The one check every argument of every operation passes before anything runs, in
// variables and inline alike: PostgreSQL cannot store U+0000 in text or jsonb (a
// string or JSON key carrying it would fail deep in a write as a server error), and a
// value nested thousands deep overflows the stack of whatever walks it. Each field's
// own rules (lengths, formats, JSON sizes) stay with its service.

/** Levels of objects and lists one argument or variable may nest, its JSON values included. */
export const MAX_INPUT_DEPTH = 32;
/**
 * Brackets a document may nest before it is parsed at all: the parser recurses per
 * level and would overflow long before any limit checked on the parsed document.
 */
export const MAX_DOCUMENT_NESTING = 128;

export interface InputProblem {
  path: string;
  message: string;
}

const NUL = '\u0000';

/**
 * The first problem of a value given as `path`: a string or object key holding U+0000,
 * or nesting deeper than MAX_INPUT_DEPTH. Walks without recursion, so any depth is safe.
 */
export function inputProblem(value: unknown, path: string): InputProblem | null {
  const stack: [unknown, string, number][] = [[value, path, 0]];
  while (stack.length) {
    const [v, p, depth] = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes(NUL)) return { path: p, message: 'contains U+0000' };
      continue;
    }
    if (!v || typeof v !== 'object') continue;
    if (depth >= MAX_INPUT_DEPTH) return { path: p, message: `nests deeper than ${MAX_INPUT_DEPTH} levels` };
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${p}[${i}]`, depth + 1]);
      continue;
    }
    const entries = Object.entries(v);
    for (const [key] of entries) if (key.includes(NUL)) return { path: p, message: 'has a key that contains U+0000' };
    for (let i = entries.length - 1; i >= 0; i--) stack.push([entries[i]![1], `${p}.${entries[i]![0]}`, depth + 1]);
  }
  return null;
}

/** An inline argument value as the plain value it stands for (variables left out). */
function literal(node: ValueNode): unknown {
  switch (node.kind) {
    case Kind.OBJECT:
      return Object.fromEntries(node.fields.map((f) => [f.name.value, literal(f.value)]));
    case Kind.LIST:
      return node.values.map(literal);
    case Kind.STRING:
      return node.value;
    default:
      return null;
  }
}

// Documents come from the parse cache, so each one is searched once.
const inlineCache = new WeakMap<DocumentNode, InputProblem | null>();

/** The first problem of the document's inline arguments, by argument name. */
function inlineProblem(document: DocumentNode): InputProblem | null {
  const known = inlineCache.get(document);
  if (known !== undefined) return known;
  let found: InputProblem | null = null;
  visit(document, {
    Argument(node) {
      found ??= inputProblem(literal(node.value), node.name.value);
      return false;
    },
  });
  inlineCache.set(document, found);
  return found;
}

/** How deep the document nests brackets, outside strings and comments. */
export function documentNesting(source: string): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '#') {
      while (i < source.length && source[i] !== '\n' && source[i] !== '\r') i++;
    } else if (c === '"') {
      if (source.startsWith('"""', i)) {
        const end = source.indexOf('"""', i + 3);
        i = end < 0 ? source.length : end + 2;
      } else {
        i++;
        while (i < source.length && source[i] !== '"' && source[i] !== '\n') i += source[i] === '\\' ? 2 : 1;
      }
    } else if (c === '{' || c === '[' || c === '(') {
      if (++depth > max) max = depth;
    } else if (c === '}' || c === ']' || c === ')') {
      depth--;
    }
  }
  return max;
}

function refusal(problem: InputProblem): GraphQLError {
  return new GraphQLError(`Invalid input: ${problem.path} ${problem.message}.`, {
    extensions: { code: ErrorCode.BAD_USER_INPUT, details: [problem] },
  });
}

export function useInputGuard(): Plugin {
  return {
    onParams({ params }) {
      if (typeof params.query === 'string' && documentNesting(params.query) > MAX_DOCUMENT_NESTING) {
        throw new GraphQLError(`The document nests brackets deeper than ${MAX_DOCUMENT_NESTING} levels.`, {
          extensions: { code: ErrorCode.BAD_USER_INPUT, http: { status: 400 } },
        });
      }
    },
    onExecute({ args, setResultAndStopExecution }) {
      const variables = (args.variableValues ?? {}) as Record<string, unknown>;
      let problem: InputProblem | null = null;
      for (const [name, value] of Object.entries(variables)) {
        problem = inputProblem(value, name);
        if (problem) break;
      }
      problem ??= inlineProblem(args.document as DocumentNode);
      if (problem) setResultAndStopExecution({ errors: [refusal(problem)] });
    },
  };
}

import { GraphQLError, Kind, visit, type DocumentNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ErrorCode } from '../errors.ts';

// PostgreSQL cannot store U+0000 in text or jsonb; a string carrying it would fail
// deep in a write as a server error. Every string the operation carries, in variables
// or inline, is checked once before execution instead: BAD_USER_INPUT naming where.

function findNul(value: unknown, path: string): string | null {
  if (typeof value === 'string') return value.includes('\u0000') ? path : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = findNul(value[i], `${path}[${i}]`);
      if (hit) return hit;
    }
    return null;
  }
  if (value && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      const hit = findNul(v, `${path}.${key}`);
      if (hit) return hit;
    }
  }
  return null;
}

// Documents come from the parse cache, so each one is searched once.
const inlineCache = new WeakMap<DocumentNode, string | null>();

/** Where an inline string of the document holds U+0000, or null. */
function inlineNul(document: DocumentNode): string | null {
  const known = inlineCache.get(document);
  if (known !== undefined) return known;
  let where: string | null = null;
  visit(document, {
    StringValue(node) {
      if (!where && node.value.includes('\u0000')) where = 'an inline string';
    },
    Argument(node) {
      if (!where && node.value.kind === Kind.STRING && node.value.value.includes('\u0000')) where = node.name.value;
    },
  });
  inlineCache.set(document, where);
  return where;
}

export function useInputGuard(): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const where = findNul(args.variableValues ?? {}, '$') ?? inlineNul(args.document as DocumentNode);
      if (where) {
        setResultAndStopExecution({
          errors: [
            new GraphQLError(`Strings may not contain the NUL character (U+0000): ${where}.`, {
              extensions: { code: ErrorCode.BAD_USER_INPUT, details: [{ path: where, message: 'contains U+0000' }] },
            }),
          ],
        });
      }
    },
  };
}

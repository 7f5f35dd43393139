import {
  defaultFieldResolver,
  defaultTypeResolver,
  isAbstractType,
  isListType,
  isNonNullType,
  isObjectType,
  type GraphQLOutputType,
  type GraphQLResolveInfo,
  type GraphQLSchema,
} from 'graphql';
import type { Context } from '../../../context.ts';
import { prisma } from '../../../db.ts';
import { modelOf } from './fields.ts';
import { ROW_KEY, TYPE_KEY, type JsonText } from './text.ts';

// A compiled answer executed by graphql-js, for operations the engine cannot answer
// whole (several root fields, or a field with no SQL form somewhere below a root).
// A root resolver returns its compiled object; every field below it reads its value
// from there by response name. A field the engine left out (a hole) is answered by its
// own resolver, given its parent's row as the general path would: only that subtree
// takes the general path.

/** An object of a compiled answer: its fields' values by response name. */
export class Compiled {
  constructor(
    readonly typename: string,
    readonly data: Record<string, unknown>,
  ) {}
}

/**
 * A root resolver's answer from the engine's JSON text, as a compiled object of type
 * `typename`. Typed as the row the resolver would otherwise return: graphql-js only
 * hands it to the resolvers `answerCompiledObjects` wraps. A prisma field passes its
 * `query`, which the compiled answer stands in for (the plugin warns of a query unread).
 */
export function compiledObject<T>(answer: JsonText | null, typename: string, query?: object): T | null {
  if (query) for (const key of Object.keys(query)) void (query as Record<string, unknown>)[key];
  const data = answer && (JSON.parse(answer.text) as Record<string, unknown> | null);
  return data ? (new Compiled(typename, data) as T) : null;
}

/** A root resolver's list of compiled objects of type `typename` (or each its own); null items stay null. */
export function compiledList<T>(answer: JsonText, typename: string | ((index: number) => string)): (T | null)[] {
  const list = JSON.parse(answer.text) as (Record<string, unknown> | null)[];
  return list.map((data, i) => (data ? (new Compiled(typeof typename === 'string' ? typename : typename(i), data) as T) : null));
}

/** A compiled value as its field's resolver returns it: objects (in lists too) as compiled objects. */
function lift(value: unknown, type: GraphQLOutputType): unknown {
  if (value == null) return value;
  if (isNonNullType(type)) return lift(value, type.ofType);
  if (isListType(type)) return (value as unknown[]).map((v) => lift(v, type.ofType));
  if (isAbstractType(type)) return new Compiled((value as Record<string, unknown>)[TYPE_KEY] as string, value as Record<string, unknown>);
  return isObjectType(type) ? new Compiled(type.name, value as Record<string, unknown>) : value;
}

type Delegate = { findMany(args: { where: { id: { in: string[] } } }): Promise<{ id: string }[]> };

/** The row a compiled object stands for, as Prisma reads it (batched per request and model). */
async function rowOf(parent: Compiled, ctx: Context, schema: GraphQLSchema): Promise<object> {
  const name = modelOf(schema.getType(parent.typename) as never)!.name;
  const delegate = (prisma as unknown as Record<string, Delegate>)[name[0]!.toLowerCase() + name.slice(1)]!;
  const loader = ctx.loader<string, object | null>(`compiled-row:${name}`, async (ids) => {
    const rows = await delegate.findMany({ where: { id: { in: [...ids] } } });
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id) ?? null);
  });
  const row = await loader.load(parent.data[ROW_KEY] as string);
  // Only a row removed between the two reads is missing.
  if (!row) throw new Error(`The ${parent.typename} read changed while it was answered; ask again.`);
  return row;
}

/** A root query field's compiled answer (with holes), or undefined to leave it to its resolver. */
export type RootAnswer = (ctx: Context, info: GraphQLResolveInfo, args: Record<string, unknown>) => Promise<JsonText | null | undefined>;
const rootAnswers = new Map<string, RootAnswer>();

/**
 * Declares a root query field answered by `answer` before its resolver runs: for a
 * field whose resolver cannot return a compiled object (a prisma connection's returns
 * rows, which the plugin pages). `answer` checks the field's auth scopes itself.
 */
export function compiledRootField(field: string, answer: RootAnswer): void {
  rootAnswers.set(field, answer);
}

/**
 * Makes every resolver of `schema` answer compiled objects: a field present in the
 * compiled object is its value, a hole its own resolver's answer for the row; anything
 * else goes to the resolver unchanged. Types are told from compiled objects alike.
 */
export function answerCompiledObjects(schema: GraphQLSchema): void {
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__')) continue;
    if (isAbstractType(type)) {
      const resolveType = type.resolveType ?? defaultTypeResolver;
      type.resolveType = (value, ctx, info, abstract) => (value instanceof Compiled ? value.typename : resolveType(value, ctx, info, abstract));
    }
    if (!isObjectType(type)) continue;
    if (type.isTypeOf) {
      const isTypeOf = type.isTypeOf;
      type.isTypeOf = (value, ctx, info) => (value instanceof Compiled ? value.typename === type.name : isTypeOf(value, ctx, info));
    }
    for (const field of Object.values(type.getFields())) {
      const resolve = field.resolve ?? defaultFieldResolver;
      const root = type === schema.getQueryType() ? rootAnswers.get(field.name) : undefined;
      if (root) {
        field.resolve = async (parent, args, ctx, info) => {
          const answer = await root(ctx as Context, info, args);
          return answer === undefined ? resolve(parent, args, ctx, info) : answer && lift(JSON.parse(answer.text), info.returnType);
        };
        continue;
      }
      field.resolve = (parent, args, ctx, info) => {
        if (!(parent instanceof Compiled)) return resolve(parent, args, ctx, info);
        const key = info.path.key as string;
        if (key in parent.data) return lift(parent.data[key], info.returnType);
        return rowOf(parent, ctx as Context, info.schema).then((row) => resolve(row, args, ctx, info));
      };
    }
  }
}

import { Prisma, prisma, statement, type Statement } from '../../db.ts';

// Table and column names for raw SQL, read from the Prisma datamodel (which honours
// @map and @@map), so raw statements name what the schema names: a renamed column
// changes them too, and a field that no longer exists fails the type check.

type ModelName = Prisma.ModelName;
/** The scalar fields of a model, as Prisma names them. */
export type FieldOf<M extends ModelName> = keyof Prisma.TypeMap['model'][M]['payload']['scalars'] & string;

export interface RuntimeModel {
  dbName: string | null;
  fields: readonly { name: string; kind: string; type: string; dbName?: string | null; relationName?: string }[];
}

/**
 * The generated client's datamodel (names in the database, `@map` and `@@map` applied):
 * the one place it is read; it is the same for every client instance.
 */
export const runtimeModels = (): Record<string, RuntimeModel> =>
  (prisma as unknown as { _runtimeDataModel: { models: Record<string, RuntimeModel> } })._runtimeDataModel.models;

function modelOf(name: ModelName): RuntimeModel {
  const model = runtimeModels()[name];
  if (!model) throw new Error(`The Prisma datamodel has no model ${name}.`);
  return model;
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** The table of a model, as it is written in SQL. */
export const tableName = (model: ModelName): string => quote(modelOf(model).dbName ?? model);

/** The column of a model's field, as it is written in SQL. */
export function columnName<M extends ModelName>(model: M, field: FieldOf<M>): string {
  const found = modelOf(model).fields.find((f) => f.name === field && f.kind !== 'object');
  if (!found) throw new Error(`The Prisma model ${model} has no scalar field ${field}.`);
  return quote(found.dbName ?? found.name);
}

/** The table of a model, for a raw statement. */
export const table = (model: ModelName): Prisma.Sql => Prisma.raw(tableName(model));

/** The column of a model's field, for a raw statement; `prefix` is a table alias. */
export const column = <M extends ModelName>(model: M, field: FieldOf<M>, prefix?: string): Prisma.Sql =>
  Prisma.raw(`${prefix ? `${prefix}.` : ''}${columnName(model, field)}`);

/**
 * A select list reading the fields under their Prisma names (`column AS "field"`), so
 * raw rows have the shape Prisma's own queries give; `prefix` is a table alias.
 */
export function selectList<M extends ModelName>(model: M, fields: readonly FieldOf<M>[], prefix?: string): Prisma.Sql {
  const p = prefix ? `${prefix}.` : '';
  return Prisma.raw(fields.map((f) => `${p}${columnName(model, f)} AS ${quote(f)}`).join(', '));
}

/** Every scalar field of a model, as Prisma names them. */
export function scalarFields<M extends ModelName>(model: M): FieldOf<M>[] {
  return modelOf(model).fields.filter((f) => f.kind !== 'object').map((f) => f.name as FieldOf<M>);
}

/**
 * A value built from the datamodel on its first use and kept: the datamodel is read from
 * the client, which exists only once the database is opened, and no request should
 * compute a name again.
 */
export function onFirstUse<T>(build: () => T): () => T {
  let built: { value: T } | undefined;
  return () => (built ??= { value: build() }).value;
}

/** A model's table (`$table`) and the columns of its scalar fields, as raw SQL. */
export type SqlNames<M extends ModelName> = Readonly<Record<FieldOf<M>, Prisma.Sql>> & { readonly $table: Prisma.Sql };

/**
 * The names of a model for raw statements, built on first use (onFirstUse): its table,
 * and its columns by field (`x.${names.id}` qualifies one with an alias).
 */
export function sqlNames<M extends ModelName>(model: M): () => SqlNames<M> {
  return onFirstUse(() => {
    const names: Record<string, Prisma.Sql> = { $table: table(model) };
    for (const f of scalarFields(model)) names[f] = column(model, f);
    return names as SqlNames<M>;
  });
}

/**
 * A model's columns by field, unquoted: the keys of its rows as to_jsonb gives them, and
 * of raw rows read without an alias. Built on first use (onFirstUse).
 */
export function rowKeys<M extends ModelName>(model: M): () => Readonly<Record<FieldOf<M>, string>> {
  return onFirstUse(() => {
    const keys: Record<string, string> = {};
    for (const f of modelOf(model).fields) if (f.kind !== 'object') keys[f.name] = f.dbName ?? f.name;
    return keys as Record<FieldOf<M>, string>;
  });
}

/**
 * A named statement (db.ts) whose text names tables and columns through the datamodel:
 * built on its first use, as the datamodel is read from the client, which exists only
 * once the database is opened.
 */
export function namedStatement(name: string, text: () => string): () => Statement {
  return onFirstUse(() => statement(name, text()));
}

import { runtimeModels } from '../sql-names.ts';
import { getDatamodel } from '../../../generated/pothos-types.ts';
import { type HistoryTable, versionsAt } from '../as-of.ts';
import { unplannable } from './text.ts';

// Table and column names, and how models point at each other, read from the Prisma
// datamodel: the generated client's runtime datamodel knows the names in the database
// (`@map`, `@@map`), the Pothos datamodel knows which fields hold each foreign key.
// Nothing in the engine names a table or a column by hand.

export interface Relation {
  /** The model it leads to. */
  model: string;
  list: boolean;
  /** For a to-one relation: the column of this model holding the other's id; for a list: the other's column holding this one's id. */
  column: string;
  /**
   * For a to-one relation whose key also holds the organization: this model's
   * organization column (the other's has the same field). Joining on it too lets
   * PostgreSQL use the other's (organization, …) indexes.
   */
  tenantColumn?: string;
}

export interface Model {
  name: string;
  table: string;
  /** Scalar and enum fields: the column and the Prisma type. */
  fields: Map<string, { column: string; type: string }>;
  relations: Map<string, Relation>;
  /** The model `<name>Version` holding every version of this model's rows (prisma/schema.prisma), if any. */
  history?: Model;
}

let models: Map<string, Model> | undefined;

// A composite foreign key (organizationId, sourceId) → (organizationId, id) has its
// tenant part implied by the row it points at: the engine joins on the id alone.
const pointer = (from: string[]) => from.find((f) => f !== 'organizationId') ?? from[0]!;

function load(): Map<string, Model> {
  const runtime = runtimeModels();
  const pothos = getDatamodel().datamodel.models as unknown as Record<string, { fields: { name: string; kind: string; type: string; isList: boolean; relationName?: string; relationFromFields?: string[] }[] }>;
  const out = new Map<string, Model>();
  const columnOf = (model: string, field: string) => {
    const f = runtime[model]!.fields.find((x) => x.name === field)!;
    return f.dbName ?? f.name;
  };
  for (const [name, rm] of Object.entries(runtime)) {
    const fields = new Map<string, { column: string; type: string }>();
    for (const f of rm.fields) if (f.kind !== 'object') fields.set(f.name, { column: f.dbName ?? f.name, type: f.type });
    const relations = new Map<string, Relation>();
    for (const f of pothos[name]?.fields ?? []) {
      if (f.kind !== 'object') continue;
      if (f.relationFromFields?.length) {
        const tenant = f.relationFromFields.length > 1 && f.relationFromFields.includes('organizationId');
        relations.set(f.name, {
          model: f.type,
          list: false,
          column: columnOf(name, pointer(f.relationFromFields)),
          ...(tenant && { tenantColumn: columnOf(name, 'organizationId') }),
        });
      } else {
        const other = pothos[f.type]!.fields.find((o) => o.relationName === f.relationName && o.relationFromFields?.length);
        if (other) relations.set(f.name, { model: f.type, list: f.isList, column: columnOf(f.type, pointer(other.relationFromFields!)) });
      }
    }
    out.set(name, { name, table: rm.dbName ?? name, fields, relations });
  }
  for (const m of out.values()) {
    const v = out.get(`${m.name}Version`);
    if (v) m.history = v;
  }
  return out;
}

/** The model of this name (a Prisma model name, which Pothos's prisma types carry). */
export function model(name: string): Model {
  models ??= load();
  const m = models.get(name);
  if (!m) throw new Error(`No model ${name}`);
  return m;
}

/**
 * A model standing for rows a statement derives (the items of an array column, the
 * elements of a JSON list), whose columns are named as its fields: a rule written as a
 * Prisma where over those fields renders over them as over a table's rows.
 */
export function derivedModel(name: string, fields: string[]): Model {
  return { name, table: name, fields: new Map(fields.map((f) => [f, { column: `"${f}"`, type: 'String' }])), relations: new Map() };
}

/** Every model whose rows have a history table. */
export function historyModels(): Model[] {
  models ??= load();
  return [...models.values()].filter((m) => m.history);
}

/** The history table of `m` and its columns; `m` has none: not compiled (a read as of a moment is refused). */
export function historyOf(m: Model): HistoryTable {
  const h = m.history ?? unplannable(m.name);
  const col = (f: string) => h.fields.get(f)!.column;
  return { table: h.table, id: col('id'), validFrom: col('validFrom'), deleted: col('deleted') };
}

/**
 * SQL of a model's rows: its table, or as of a moment its rows as they were then, as a
 * derived table with the same columns. For reads outside the engine that must also
 * answer as of a moment (the graph walk).
 */
export function rowsAt(name: string, asOf: Date | null): string {
  const m = model(name);
  return asOf ? versionsAt(historyOf(m), `'${asOf.toISOString()}'::timestamptz`) : m.table;
}

/** The column of a scalar field, or undefined when the model has no such field. */
export function columnOf(m: Model, field: string): string | undefined {
  return m.fields.get(field)?.column;
}

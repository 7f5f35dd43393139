import {
  getArgumentValues,
  getDirectiveValues,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  isAbstractType,
  isObjectType,
  Kind,
  print,
  type FieldNode,
  type GraphQLField,
  type GraphQLObjectType,
  type GraphQLResolveInfo,
  type SelectionNode,
  type SelectionSetNode,
} from 'graphql';
import type { Context } from '../../../context.ts';
import type { Model } from './datamodel.ts';
import { unplannable } from './text.ts';
import { historyOf } from './datamodel.ts';
import { versionsAt } from '../as-of.ts';

// The state of one compilation: the statement's parameters and row aliases, and the
// operation's selection as graphql-js executes it (fragments merged, @include and
// @skip applied, arguments with their defaults and variables).

/** What a plan reads of the operation: GraphQLResolveInfo's, or the same parts of a whole operation. */
export type PlanInfo = Pick<GraphQLResolveInfo, 'schema' | 'fragments' | 'variableValues' | 'fieldNodes'>;

/**
 * The `query` of a Pothos connection: its where and order from the field's arguments,
 * and for a connection over a model with no relation to its parent, from the parent's
 * id (the engine gives a ParentId, engine/where.ts, which stands for its column).
 */
export type ConnectionQuery = (args: Record<string, unknown>, ctx: Context, parentId: string, readable: string[] | 'all') => { where?: unknown; orderBy?: unknown };

/** The alias of the row at the root of every plan. */
export const ROOT = 'r0';

export class Builder {
  readonly params: unknown[] = [];
  private aliases = 0;
  private byValue = new Map<string, string>();

  constructor(
    readonly info: PlanInfo,
    readonly ctx: Context,
    /** The organizations the viewer may read ('all' for an unscoped system admin). */
    readonly readable: string[] | 'all',
    /** The organizations the viewer administers ('all' for an unscoped system admin). */
    readonly administered: string[] | 'all',
    /** The organization at the root of the plan, when the caller checked the viewer may read it (its connections with auth scopes can be planned). */
    readonly readableRoot: string | null = null,
    /** The moment the plan reads as of (each model's versions valid then); null: the present. */
    readonly asOf: Date | null = null,
    /** See `holes`. */
    private readonly holesAllowed = false,
  ) {}

  /**
   * Whether a field the engine does not compile leaves a hole in its object (the
   * general path fills it: compiled.ts) instead of refusing the whole plan.
   */
  get holes(): boolean {
    this.holesAsked ||= this.holesAllowed;
    return this.holesAllowed;
  }

  /**
   * Whether anything built so far depended on holes being allowed. When nothing did,
   * the plan is the one a builder without holes makes (run.ts answers a whole
   * operation with it).
   */
  holesAsked = false;

  /** Whether the viewer administers the organization `id`. */
  administers(id: string): boolean {
    return this.administered === 'all' || this.administered.includes(id);
  }

  /**
   * Aliases of rows of organizations the viewer may read: each checked by the row's own
   * filter (the rows of the `organizations` list), or reached from a row seen only inside
   * such an organization (fields.ts, `seenWithin`).
   */
  readonly readableRows = new Set<string>();

  /** Aliases of rows of organizations the viewer administers (reached from a row only their admins see). */
  readonly administeredRows = new Set<string>();

  /**
   * Whether the viewer holds `level` in a row's organization, given the organizations it
   * may be (undefined: any): true or false when they all decide alike, else the list
   * its organization must be in, to be tested row by row.
   */
  holds(level: 'read' | 'admin', candidates: string[] | 'all' | undefined): boolean | string[] {
    const list = level === 'admin' ? this.administered : this.readable;
    if (list === 'all') return true;
    if (candidates === undefined || candidates === 'all') return list.length ? list : false;
    const held = candidates.filter((id) => list.includes(id));
    return held.length === candidates.length ? true : held.length ? held : false;
  }

  /** The fields left as holes, as `Type.field: reason`. */
  readonly holesLeft: string[] = [];

  /** Where the parameters stand, to go back to when a field's SQL is dropped. */
  mark(): number {
    return this.params.length;
  }

  /** Drops the parameters added since `mark` (a statement must use every one it is given). */
  rewind(mark: number): void {
    this.params.length = mark;
    for (const [key, p] of this.byValue) if (Number(/^\$(\d+)/.exec(p)![1]) > mark) this.byValue.delete(key);
  }

  /**
   * What the plan reads rows of `m` from: its table, or as of a past moment the versions
   * of its rows valid then (a model without history cannot be read as of a moment).
   */
  from(m: Model): string {
    if (!this.asOf) return m.table;
    return versionsAt(historyOf(m), this.param(this.asOf.toISOString(), 'timestamptz'));
  }

  /**
   * A parameter holding `value`, typed by `cast` (one per distinct typed value), or by
   * what it is compared with when none is given (then one per use: PostgreSQL gives an
   * untyped parameter one type).
   */
  param(value: unknown, cast?: string): string {
    const key = `${cast}:${JSON.stringify(value)}`;
    const known = cast && this.byValue.get(key);
    if (known) return known;
    this.params.push(value);
    const p = `$${this.params.length}${cast ? `::${cast}` : ''}`;
    if (cast) this.byValue.set(key, p);
    return p;
  }

  alias(prefix: string): string {
    return `${prefix}${++this.aliases}`;
  }

  /** Whether a selection is included, by @include and @skip; any other directive is not compiled. */
  private included(s: SelectionNode): boolean {
    for (const d of s.directives ?? []) {
      if (d.name.value !== 'include' && d.name.value !== 'skip') unplannable(`@${d.name.value}`);
    }
    if (!s.directives?.length) return true;
    const vars = this.info.variableValues;
    if (getDirectiveValues(GraphQLSkipDirective, s, vars)?.if === true) return false;
    return getDirectiveValues(GraphQLIncludeDirective, s, vars)?.if !== false;
  }

  /** The fields selected on `type`, by response name, as graphql-js collects them. */
  collect(type: GraphQLObjectType, nodes: readonly FieldNode[]): Map<string, FieldNode[]> {
    const fields = new Map<string, FieldNode[]>();
    const schema = this.info.schema;
    const visit = (set: SelectionSetNode | undefined) => {
      for (const s of set?.selections ?? []) {
        if (!this.included(s)) continue;
        if (s.kind === Kind.FIELD) {
          const key = s.alias?.value ?? s.name.value;
          fields.set(key, [...(fields.get(key) ?? []), s]);
          continue;
        }
        const fragment = s.kind === Kind.INLINE_FRAGMENT ? s : this.info.fragments[s.name.value];
        if (!fragment) return unplannable('an unknown fragment');
        const condition = fragment.typeCondition?.name.value;
        if (condition && condition !== type.name) {
          const other = schema.getType(condition);
          if (!other || !isAbstractType(other) || !schema.isSubType(other, type)) continue;
        }
        visit(fragment.selectionSet);
      }
    };
    for (const node of nodes) visit(node.selectionSet);
    return fields;
  }

  /** The arguments of a field, with variables and defaults applied. */
  args(type: GraphQLObjectType, nodes: FieldNode[]): Record<string, unknown> {
    const node = nodes[0]!;
    const def = type.getFields()[node.name.value] as GraphQLField<unknown, unknown>;
    for (const n of nodes) {
      if (n !== node && (n.arguments ?? []).map(print).join() !== (node.arguments ?? []).map(print).join()) {
        unplannable('a field selected twice with different arguments');
      }
    }
    return getArgumentValues(def, node, this.info.variableValues);
  }

  /** The object type a field of `type` returns. */
  fieldType(type: GraphQLObjectType, name: string): GraphQLObjectType {
    let t = type.getFields()[name]!.type;
    while ('ofType' in t) t = t.ofType;
    return isObjectType(t) ? t : unplannable(`${type.name}.${name} is not an object`);
  }
}

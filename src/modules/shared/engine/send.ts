import type { FieldNode } from 'graphql';
import type { Context, CredentialCheck } from '../../../context.ts';
import { createHash } from 'node:crypto';
import { sql, statement, type Statement } from '../../../db.ts';
import type { PlanRow } from './text.ts';

// How a compiled read's statement is sent: alone, or together with the compiled reads of
// the other root fields its operation plans before execution, as one statement. Each
// read keeps its own text and parameters; the statement joins them side by side (each
// answers at most one row) and checks a remembered credential once for all of them.

/** A compiled read ready to send: its statement, parameters and the columns of its row. */
export interface Read {
  text: string;
  params: readonly unknown[];
  columns: readonly string[];
  /** The credential facts the read must find unchanged (a viewer taken from memory). */
  check?: CredentialCheck;
}

/** Prepared statements are kept for this many distinct texts; more run unprepared. */
const MAX_NAMED = 200;
const named = new Map<string, Statement>();

export function statementFor(text: string): Statement {
  let s = named.get(text);
  if (!s) {
    const name = `plan_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
    s = named.size < MAX_NAMED ? statement(name, text) : { name: '', text };
    if (s.name) named.set(text, s);
  }
  return s;
}

const CHECKED = 'igs_credential_holds';
const CHECKED_START = `SELECT igs_c.holds AS ${CHECKED}, `;
const TOGETHER_START = 'SELECT true AS found, ';

/** Whether a statement is a compiled read's: alone or together, with the credential checked in it or not (tests tell them apart by it). */
export const isCompiledStatement = (text: string): boolean => text.startsWith(TOGETHER_START) || text.startsWith(CHECKED_START);

/** Whether a compiled read's row says its remembered credential still holds. */
export const credentialHeld = (row: PlanRow | undefined): boolean => row?.[CHECKED] === true;

/**
 * The credential check over the reads `texts` (aliased q0, q1, …): a subquery run once
 * that tells whether the credential's facts read now are those its viewer was made of,
 * with each read's row joined only while they are. Without a check, a constant.
 */
function joined(texts: readonly string[], check: CredentialCheck | undefined, param: (value: unknown, cast: string) => string): string {
  // OFFSET 0 keeps the check one subquery, run once: pulled up, it would be planned
  // (and run) once for the column and once for each join's condition.
  const holds = check
    ? `SELECT EXISTS (SELECT 1 FROM (${check.facts(param)}) igs_f WHERE to_jsonb(igs_f) @> ${param(JSON.stringify(check.expected), 'jsonb')}) AS holds OFFSET 0`
    : 'SELECT true AS holds';
  const reads = texts.map((t, i) => `LEFT JOIN LATERAL (SELECT * FROM (${t}) igs_i WHERE igs_c.holds) q${i} ON true`);
  return `FROM (${holds}) igs_c ${reads.join(' ')}`;
}

/** Sends one read alone: its rows. */
async function alone(read: Read): Promise<PlanRow[]> {
  if (!read.check) return sql<PlanRow>(statementFor(read.text), read.params);
  const params = [...read.params];
  const param = (value: unknown, cast: string) => `$${params.push(value)}::${cast}`;
  const text = `${CHECKED_START}q0.* ${joined([read.text], read.check, param)}`;
  return sql<PlanRow>(statementFor(text), params);
}

/** Parameters `$n` of `text` moved up by `by` (statements name parameters only so: db.ts scopedStatement relies on it too). */
const shifted = (text: string, by: number) => (by ? text.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + by}`) : text);

/** Sends several reads as one statement: each read's rows (none or one). */
async function together(reads: readonly Read[]): Promise<PlanRow[][]> {
  const params: unknown[] = [];
  const texts = reads.map((r) => {
    const text = shifted(r.text, params.length);
    params.push(...r.params);
    return text;
  });
  const param = (value: unknown, cast: string) => `$${params.push(value)}::${cast}`;
  const check = reads[0]!.check;
  const from = joined(texts, check, param);
  const columns = reads.flatMap((r, i) => r.columns.map((c) => `q${i}.${c} AS q${i}_${c}`));
  const text = `${check ? CHECKED_START : TOGETHER_START}${columns.join(', ')} ${from}`;
  const [row] = await sql<PlanRow>(statementFor(text), params);
  return reads.map((r, i) => {
    const own: PlanRow = check ? { [CHECKED]: row?.[CHECKED] } : {};
    for (const c of r.columns) own[c] = row?.[`q${i}_${c}`];
    return own.found ? [own] : check ? [{ [CHECKED]: own[CHECKED] }] : [];
  });
}

/**
 * The root fields of one operation planned together before execution: each one's
 * read waits until every other field has sent its own or finished without one, then
 * all go as one statement. A field's later reads, and reads of fields not in the
 * batch, go alone.
 */
class Batch {
  private readonly pending: Set<FieldNode>;
  private readonly waiting: { read: Read; resolve: (rows: PlanRow[]) => void; reject: (err: unknown) => void }[] = [];

  constructor(fields: readonly FieldNode[]) {
    this.pending = new Set(fields);
  }

  send(field: FieldNode, read: Read): Promise<PlanRow[]> {
    if (!this.pending.delete(field)) return alone(read);
    const rows = new Promise<PlanRow[]>((resolve, reject) => this.waiting.push({ read, resolve, reject }));
    this.flushIfReady();
    return rows;
  }

  /** The field finished planning: sent its read, or has none to send. */
  settled(field: FieldNode): void {
    if (this.pending.delete(field)) this.flushIfReady();
  }

  private flushIfReady(): void {
    if (this.pending.size || !this.waiting.length) return;
    const waiting = this.waiting.splice(0);
    // Reads made for different viewers (a credential read again in between) are not put together.
    const check = waiting[0]!.read.check;
    if (waiting.length === 1 || waiting.some((w) => w.read.check !== check)) {
      for (const w of waiting) alone(w.read).then(w.resolve, w.reject);
      return;
    }
    together(waiting.map((w) => w.read)).then(
      (rows) => waiting.forEach((w, i) => w.resolve(rows[i]!)),
      (err: unknown) => waiting.forEach((w) => w.reject(err)),
    );
  }
}

const batches = new WeakMap<Context, Batch>();

/**
 * Plans the root fields `fields` of the request `ctx` together: their reads go as one
 * statement. Each field must be `settled` when its planning ends, and the batch closed
 * when all have: later reads go alone.
 */
export function planTogether(ctx: Context, fields: readonly FieldNode[]): { settled(field: FieldNode): void; close(): void } {
  const batch = new Batch(fields);
  batches.set(ctx, batch);
  return {
    settled: (field) => batch.settled(field),
    close: () => {
      if (batches.get(ctx) === batch) batches.delete(ctx);
    },
  };
}

/** Sends the read of the root field `field`: with its operation's other root fields when they are planned together. */
export function send(ctx: Context, field: FieldNode, read: Read): Promise<PlanRow[]> {
  const batch = batches.get(ctx);
  return batch ? batch.send(field, read) : alone(read);
}

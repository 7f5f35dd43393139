// Bulk import of identifiers and identities into one organization, from a file (run
// by `npm run import`, or by the server that holds the embedded database on its behalf).
//
// Each line (NDJSON) or row (CSV, with a header) is one identifier or identity; its
// `kind` column says which, and its other fields are those of upsertIdentifier /
// upsertIdentity (see README.md). Lines are loaded in batches through the services the
// bulk mutations use: each batch is checked as a whole (one query per reference kind),
// its good lines are written in one statement and its bad lines are reported, so a bad
// line never stops the good ones. Upserts make a second run of the same file change
// nothing.
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Access, ANONYMOUS, type Viewer } from '../../context.ts';
import { prisma } from '../../db.ts';
import { ConflictError, DomainError, NotFoundError, ValidationError } from '../../errors.ts';
import { MAX_BULK_ITEMS, prepareIdentifiers, type IdentifierRow } from '../identifier/prepare.ts';
import { writeIdentifiers } from '../identifier/write.ts';
import type { ItemProblem, UpsertOutcome } from '../shared/bulk.ts';
import { prepareIdentities, writeIdentities, type IdentityRow } from '../identity/service.ts';
import { requireOrganizationAccess } from '../shared/authorize.ts';
import { normaliseEmail } from '../shared/validate.ts';
import { requestScope } from '../../observability/request-context.ts';
import { csvRecords, ndjsonRecords } from './records.ts';

type Kind = 'identifier' | 'identity';

export interface ImportOptions {
  organizationSlug: string;
  file: string;
  batchSize?: number;
  /** Email of the user the run acts for (`--as`): its events name that user; without it, the system. */
  actorEmail?: string;
  /** Where the progress bar goes (stderr). */
  progress?: NodeJS.WritableStream & { isTTY?: boolean };
}

export interface Rejection {
  line: number;
  reason: string;
}

export interface ImportSummary {
  /** The run's id: the request id of every audit event it records. */
  runId: string;
  lines: number;
  counts: Record<Kind, Record<UpsertOutcome, number>>;
  rejected: Rejection[];
  ms: number;
}


/** The reason an item was refused, with the paths of its own line left out. */
function reasonOf(error: unknown, line: number): string {
  const own = `line ${line}: `;
  const strip = (s: string) => s.split(own).join('');
  if (error instanceof ValidationError) return error.issues.map((i) => `${strip(i.path)}: ${i.message}`).join('; ');
  if (error instanceof ConflictError) return `${error.fields.map(strip).join(', ')}: ${error.message}`;
  if (error instanceof NotFoundError) return strip(error.message);
  return error instanceof Error ? error.message : String(error);
}

/** A text progress bar on a terminal; a line every 10% elsewhere (logs, CI). */
function progressBar(out: ImportOptions['progress'], total: number) {
  let shown = -1;
  let last = 0;
  const started = performance.now();
  return {
    update(done: number, lines: number, final = false) {
      if (!out) return;
      const ratio = total ? Math.min(1, done / total) : 1;
      const now = performance.now();
      const rate = Math.round(lines / Math.max(0.001, (now - started) / 1000));
      if (out.isTTY) {
        if (!final && now - last < 100) return;
        last = now;
        const width = 30;
        const filled = Math.round(ratio * width);
        out.write(
          `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(ratio * 100)).padStart(3)}%  ${lines.toLocaleString('en')} lines  ${rate.toLocaleString('en')} lines/s`,
        );
        if (final) out.write('\n');
      } else {
        const step = Math.floor(ratio * 10);
        if (step > shown || final) {
          shown = step;
          out.write(`${String(Math.floor(ratio * 100)).padStart(3)}%  ${lines.toLocaleString('en')} lines  ${rate.toLocaleString('en')} lines/s\n`);
        }
      }
    },
  };
}

type Prepared<Row> = { rows: (Row | null)[]; problems: ItemProblem[] };

/**
 * Loads a file into an organization. The database must be open (useDatabase). Acts as
 * an ORGANIZATION_ADMIN credential bound to that one organization.
 */
export async function runImport(options: ImportOptions): Promise<ImportSummary> {
  const runId = randomUUID();
  return requestScope.run({ requestId: runId }, () => importFile(options, runId));
}

async function importFile(options: ImportOptions, runId: string): Promise<ImportSummary> {
  const started = performance.now();
  const batchSize = Math.min(options.batchSize ?? MAX_BULK_ITEMS, MAX_BULK_ITEMS);
  const organization = await prisma.organization.findUnique({ where: { slug: options.organizationSlug }, select: { id: true } });
  if (!organization) throw new UsageError(`No organization has the slug "${options.organizationSlug}".`);
  const organizationId = organization.id;
  const viewer: Viewer = {
    kind: 'apiKey',
    apiKeyId: 'import-command',
    organizationId,
    role: 'ORGANIZATION_ADMIN',
    boundOrganizationId: organizationId,
  };
  await requireOrganizationAccess(new Access(viewer, organizationId), organizationId, 'write');
  // Without --as the command runs with no credential of a user or an API key: its audit
  // events name the system as their actor (passed as the anonymous viewer).
  const actor = options.actorEmail ? await actingUser(options.actorEmail, organizationId) : ANONYMOUS;

  const extension = path.extname(options.file).toLowerCase();
  if (extension !== '.ndjson' && extension !== '.jsonl' && extension !== '.csv') {
    throw new UsageError('The file must be .ndjson (or .jsonl) or .csv.');
  }
  const total = (await stat(options.file)).size;
  let bytes = 0;
  const bar = progressBar(options.progress, total);
  const records = (extension === '.csv' ? csvRecords : ndjsonRecords)(options.file, (n) => (bytes += n));

  const summary: ImportSummary = {
    runId,
    lines: 0,
    counts: {
      identifier: { CREATED: 0, UPDATED: 0, UNCHANGED: 0 },
      identity: { CREATED: 0, UPDATED: 0, UNCHANGED: 0 },
    },
    rejected: [],
    ms: 0,
  };
  const reject = (line: number, reason: string) => summary.rejected.push({ line, reason });
  // A key seen on an earlier line of the file: a later line with the same key is refused
  // rather than silently replacing it, whichever batch each falls in.
  const firstLine = { identifier: new Map<string, number>(), identity: new Map<string, number>() };
  const batches: Record<Kind, { line: number; item: Record<string, unknown> }[]> = { identifier: [], identity: [] };

  const keyOf = (kind: Kind, row: IdentifierRow | IdentityRow) =>
    kind === 'identifier'
      ? `${(row as IdentifierRow).userId}|${(row as IdentifierRow).sourceId}|${row.identifierKey}`
      : row.identifierKey;

  // PostgreSQL caches the plan of each foreign-key check per connection. Planned while
  // a table was empty, the check of a property against its identity scans the whole
  // table, and a load into a new database slows down with every batch. Statistics
  // taken as the tables grow (after 10,000 rows, 20,000, 40,000...) replace those
  // plans with index lookups.
  let written = 0;
  let analyzeAt = 10_000;
  async function refreshStatistics(rows: number) {
    written += rows;
    if (written < analyzeAt) return;
    analyzeAt *= 2;
    await prisma.$executeRawUnsafe('ANALYZE identifiers, identities, identity_properties').catch((err: Error) => {
      options.progress?.write(`\nCould not refresh table statistics (${err.message}); the load goes on.\n`);
    });
  }

  async function flush(kind: Kind) {
    const batch = batches[kind];
    batches[kind] = [];
    if (!batch.length) return;
    const pathOf = (i: number) => `line ${batch[i]!.line}: `;
    const items = batch.map((b) => b.item);
    const { rows, problems }: Prepared<IdentifierRow | IdentityRow> =
      kind === 'identifier'
        ? await prepareIdentifiers(organizationId, items, pathOf)
        : await prepareIdentities(organizationId, items, pathOf);
    // One rejection per line, naming every problem of it.
    const reasons = new Map<number, string[]>();
    for (const p of problems) reasons.set(p.index, [...(reasons.get(p.index) ?? []), reasonOf(p.error, batch[p.index]!.line)]);
    for (const [index, list] of reasons) reject(batch[index]!.line, list.join('; '));
    const good: { line: number; row: IdentifierRow | IdentityRow }[] = [];
    rows.forEach((row, i) => {
      if (!row) return;
      const line = batch[i]!.line;
      const key = keyOf(kind, row);
      const first = firstLine[kind].get(key);
      if (first !== undefined) reject(line, `repeats line ${first} (the same ${kind === 'identifier' ? 'user, source and identifierKey' : 'identifierKey'})`);
      else {
        firstLine[kind].set(key, line);
        good.push({ line, row });
      }
    });
    const write = (list: typeof good) => {
      const at = (i: number) => `line ${list[i]!.line}: `;
      return kind === 'identifier'
        ? writeIdentifiers(organizationId, list.map((g) => g.row as IdentifierRow), actor)
        : writeIdentities(organizationId, list.map((g) => g.row as IdentityRow), at, actor);
    };
    const count = (outcomes: { outcome: UpsertOutcome }[]) => {
      for (const o of outcomes) summary.counts[kind][o.outcome]++;
    };
    if (!good.length) return;
    await refreshStatistics(good.length);
    try {
      count(await write(good));
    } catch (err) {
      // A value taken between the checks and the write (another writer): the batch was
      // rolled back as a whole, so its lines are written one by one to find the culprit.
      if (!(err instanceof DomainError)) throw err;
      for (const g of good) {
        try {
          count(await write([g]));
        } catch (one) {
          if (!(one instanceof DomainError)) throw one;
          reject(g.line, reasonOf(one, g.line));
        }
      }
    }
  }

  // Identifiers and identities touch different tables, so a batch of each may be under
  // way at once; batches of one kind go one after the other, in file order.
  const inFlight: Record<Kind, Promise<void>> = { identifier: Promise.resolve(), identity: Promise.resolve() };
  async function startFlush(kind: Kind) {
    await inFlight[kind];
    inFlight[kind] = flush(kind);
    // Reported when awaited: by the next batch of the kind, or at the end.
    inFlight[kind].catch(() => {});
  }

  for await (const record of records) {
    summary.lines++;
    if (record.error) reject(record.line, record.error);
    else {
      const { kind, ...item } = record.fields!;
      if (kind !== 'identifier' && kind !== 'identity') reject(record.line, 'kind: must be identifier or identity');
      else {
        batches[kind].push({ line: record.line, item });
        if (batches[kind].length >= batchSize) await startFlush(kind);
      }
    }
    bar.update(bytes, summary.lines);
  }
  await Promise.all([startFlush('identifier'), startFlush('identity')]);
  await Promise.all([inFlight.identifier, inFlight.identity]);
  bar.update(total, summary.lines, true);
  summary.rejected.sort((a, b) => a.line - b.line);
  summary.ms = performance.now() - started;
  return summary;
}

/** The user `--as` names, who must be able to write in the organization. */
async function actingUser(email: string, organizationId: string): Promise<Viewer> {
  const normalised = normaliseEmail(email);
  if (!normalised) throw new UsageError(`"${email}" is not an email.`);
  const user = await prisma.user.findUnique({ where: { email: normalised }, select: { id: true, isSystemAdmin: true, mergedIntoId: true } });
  if (!user || user.mergedIntoId) throw new UsageError(`No user has the email "${email}".`);
  const viewer: Viewer = { kind: 'user', userId: user.id, isSystemAdmin: user.isSystemAdmin, boundOrganizationId: null };
  try {
    await requireOrganizationAccess(new Access(viewer, organizationId), organizationId, 'write');
  } catch {
    throw new UsageError(`The user "${email}" may not write in this organization.`);
  }
  return viewer;
}

/** A problem with how the command was called, not with the file's lines (exit code 2). */
export class UsageError extends Error {}

export function formatSummary(file: string, slug: string, s: ImportSummary): string {
  const n = (v: number) => v.toLocaleString('en');
  const row = (kind: Kind) => {
    const c = s.counts[kind];
    return `${n(c.CREATED)} created, ${n(c.UPDATED)} updated, ${n(c.UNCHANGED)} unchanged`;
  };
  const seconds = s.ms / 1000;
  const out = [
    `Imported ${path.basename(file)} into ${slug} (run ${s.runId}) in ${seconds.toFixed(1)} s (${n(s.lines)} lines, ${n(Math.round(s.lines / Math.max(seconds, 0.001)))} lines/s)`,
    `  identifiers: ${row('identifier')}`,
    `  identities:  ${row('identity')}`,
    `  rejected:    ${n(s.rejected.length)}`,
    ...s.rejected.map((r) => `    line ${r.line}: ${r.reason}`),
  ];
  return `${out.join('\n')}\n`;
}


/**
 * An import asked of the server holding the embedded database (`npm run import` while
 * it runs): the same load, in the server's process, on its database.
 */
export async function importOnRequest(body: unknown): Promise<ImportSummary> {
  const { organizationSlug, file, batchSize, actorEmail } = (body ?? {}) as Record<string, unknown>;
  if (actorEmail !== undefined && typeof actorEmail !== 'string') throw new UsageError('actorEmail must be an email.');
  if (typeof organizationSlug !== 'string' || typeof file !== 'string' || !path.isAbsolute(file)) {
    throw new UsageError('An import names an organization slug and the absolute path of a file.');
  }
  if (batchSize !== undefined && (typeof batchSize !== 'number' || !Number.isInteger(batchSize) || batchSize < 1)) {
    throw new UsageError('batchSize must be a positive integer.');
  }
  return runImport({ organizationSlug, file, batchSize: batchSize as number | undefined, actorEmail });
}

// Reading an import file: NDJSON lines or CSV rows (with a header), each as one record
// of named fields with the line it starts on, or the reason it cannot be read.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

/** An input record: its line number (where it starts) and its fields, or why it cannot be read. */
export interface SourceRecord {
  line: number;
  fields?: Record<string, unknown>;
  error?: string;
}

export async function* ndjsonRecords(file: string, onBytes: (n: number) => void): AsyncGenerator<SourceRecord> {
  const stream = createReadStream(file, { encoding: 'utf8' });
  stream.on('data', (chunk) => onBytes(Buffer.byteLength(chunk as string)));
  let line = 0;
  for await (const text of createInterface({ input: stream, crlfDelay: Infinity })) {
    line++;
    if (!text.trim()) continue;
    try {
      const value = JSON.parse(text) as unknown;
      if (typeof value !== 'object' || value === null || Array.isArray(value)) yield { line, error: 'must be a JSON object' };
      else yield { line, fields: value as Record<string, unknown> };
    } catch {
      yield { line, error: 'is not valid JSON' };
    }
  }
}

/** CSV (RFC 4180: quoted fields may hold commas, quotes as "" and line breaks), as rows. */
async function* csvRows(file: string, onBytes: (n: number) => void): AsyncGenerator<{ line: number; cells: string[] }> {
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let afterQuote = false;
  let line = 1;
  let start = 1;
  let pendingCR = false;
  const stream = createReadStream(file, { encoding: 'utf8' });
  const endRow = function* () {
    cells.push(cell);
    const row = { line: start, cells };
    cells = [];
    cell = '';
    afterQuote = false;
    start = line;
    if (row.cells.length > 1 || row.cells[0] !== '') yield row;
  };
  for await (const chunk of stream as AsyncIterable<string>) {
    onBytes(Buffer.byteLength(chunk));
    for (const ch of chunk) {
      if (pendingCR) {
        pendingCR = false;
        if (ch === '\n') continue;
      }
      if (quoted) {
        if (ch === '"') {
          quoted = false;
          afterQuote = true;
        } else {
          if (ch === '\n') line++;
          cell += ch;
        }
        continue;
      }
      if (ch === '"') {
        // A quote right after a closing quote is an escaped quote.
        if (afterQuote) cell += '"';
        quoted = true;
        afterQuote = false;
      } else if (ch === ',') {
        cells.push(cell);
        cell = '';
        afterQuote = false;
      } else if (ch === '\n' || ch === '\r') {
        line++;
        pendingCR = ch === '\r';
        yield* endRow();
      } else {
        cell += ch;
        afterQuote = false;
      }
    }
  }
  if (cell !== '' || cells.length) yield* endRow();
}

const NUMBER_COLUMNS = new Set(['confidenceScore']);
const BOOLEAN_COLUMNS = new Set(['externalEmailVerified']);
const JSON_COLUMNS = new Set(['discoveryMetadata', 'properties']);

export async function* csvRecords(file: string, onBytes: (n: number) => void): AsyncGenerator<SourceRecord> {
  let header: string[] | null = null;
  for await (const { line, cells } of csvRows(file, onBytes)) {
    if (!header) {
      header = cells.map((c) => c.trim());
      continue;
    }
    if (cells.length !== header.length) {
      yield { line, error: `has ${cells.length} columns, the header ${header.length}` };
      continue;
    }
    const fields: Record<string, unknown> = {};
    let error: string | undefined;
    header.forEach((name, i) => {
      const raw = cells[i]!;
      if (raw === '') return;
      if (NUMBER_COLUMNS.has(name)) fields[name] = Number.isNaN(Number(raw)) ? raw : Number(raw);
      else if (BOOLEAN_COLUMNS.has(name)) fields[name] = raw === 'true' ? true : raw === 'false' ? false : raw;
      else if (JSON_COLUMNS.has(name)) {
        try {
          fields[name] = JSON.parse(raw);
        } catch {
          error ??= `${name}: is not valid JSON`;
        }
      } else fields[name] = raw;
    });
    yield error ? { line, error } : { line, fields };
  }
}

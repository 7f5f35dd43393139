// Bulk import of identifiers and identities into one organization:
//
//   npm run import -- --org <slug> <file.ndjson|file.csv> [--batch-size 1000] [--as <email>]
//
// The lines are loaded by src/modules/import/file.ts: in this process, or, while a
// development server holds the embedded database, by that server (one process at a
// time opens the folder). Progress goes to stderr, the summary to stdout; the exit
// code is 1 when a line was rejected, 2 when the command could not run at all.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../src/config.ts';
import { FolderInUseError } from '../src/db/folder-lock.ts';
import { openDatabase, useDatabase } from '../src/db.ts';
import { callDevServer, developmentSecret, DEV_IMPORT_PATH, runningDevServer } from '../src/modules/auth/dev.ts';
import { MAX_BULK_ITEMS } from '../src/modules/identifier/prepare.ts';
import { formatSummary, runImport, UsageError, type ImportSummary } from '../src/modules/import/file.ts';

export { formatSummary, runImport };

const USAGE = 'usage: npm run import -- --org <slug> <file.ndjson|file.csv> [--batch-size <1-1000>] [--as <email>]';

function parseArgs(argv: string[]) {
  let slug: string | undefined;
  let batchSize: number | undefined;
  let actorEmail: string | undefined;
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--org') slug = argv[++i];
    else if (arg.startsWith('--org=')) slug = arg.slice('--org='.length);
    else if (arg === '--batch-size') batchSize = Number(argv[++i]);
    else if (arg === '--as') actorEmail = argv[++i];
    else if (arg.startsWith('--')) throw new UsageError(`Unknown option ${arg}.`);
    else files.push(arg);
  }
  if (!slug || files.length !== 1) throw new UsageError('Give --org <slug> and one file.');
  if (batchSize !== undefined && !(Number.isInteger(batchSize) && batchSize >= 1 && batchSize <= MAX_BULK_ITEMS)) {
    throw new UsageError(`--batch-size must be an integer from 1 to ${MAX_BULK_ITEMS}.`);
  }
  return { slug, file: files[0]!, batchSize, actorEmail };
}

async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs(argv);
    await stat(args.file);
  } catch (err) {
    console.error(err instanceof UsageError ? `${err.message}\n${USAGE}` : `Cannot read the file: ${(err as Error).message}`);
    return 2;
  }
  const config = loadConfig();
  const request = { organizationSlug: args.slug, file: path.resolve(args.file), batchSize: args.batchSize, actorEmail: args.actorEmail };
  let summary: ImportSummary;
  try {
    // The embedded database opens in one process at a time: while a server holds it,
    // that server loads the file, so its rows are the server's rows.
    const server = config.databaseUrl ? null : runningDevServer(config);
    if (server) {
      console.error(`The server at ${server} holds the embedded database; it loads the file.`);
      const { secret } = await developmentSecret(config);
      summary = await callDevServer<ImportSummary>(server, DEV_IMPORT_PATH, secret, request);
    } else {
      const db = await openDatabase(config);
      useDatabase(db);
      try {
        summary = await runImport({ ...request, progress: process.stderr });
      } finally {
        await db.close();
      }
    }
  } catch (err) {
    // Refused: the organization is unknown, another process holds the embedded
    // database, or the server holding it could not load the file.
    if (!(err instanceof UsageError || err instanceof FolderInUseError || /^the server at /.test((err as Error).message))) throw err;
    console.error((err as Error).message);
    return 2;
  }
  process.stdout.write(formatSummary(args.file, args.slug, summary));
  return summary.rejected.length ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await main(process.argv.slice(2));
}

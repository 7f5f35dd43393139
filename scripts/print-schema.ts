// Writes schema.graphql (sorted SDL). `--check` exits 1 when the file is stale.
// `--subgraph` prints the subgraph SDL with federation directives to stdout instead,
// for a schema registry or composition (`npm run schema:subgraph > subgraph.graphql`).
import { readFile, writeFile } from 'node:fs/promises';
import { printedSchema, printedSubgraphSchema } from '../src/print-schema.ts';

if (process.argv.includes('--subgraph')) {
  process.stdout.write(printedSubgraphSchema());
  process.exit(0);
}

const file = new URL('../schema.graphql', import.meta.url);
const sdl = printedSchema();
if (process.argv.includes('--check')) {
  const current = await readFile(file, 'utf8').catch(() => '');
  if (current !== sdl) {
    console.error('schema.graphql is stale: run `npm run schema:print`.');
    process.exit(1);
  }
  console.log('schema.graphql is up to date.');
} else {
  await writeFile(file, sdl);
  console.log('Wrote schema.graphql.');
}

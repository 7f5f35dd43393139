// Runs a program built into dist/ by `npm run build` (which `npm install` runs):
// `node scripts/start.mjs` the server, `node scripts/start.mjs worker|db|import …` the
// others, each seeing the arguments after its name as a script of its own would.
// Nothing is compiled here, so every start runs the same code, whatever may be written;
// a build older than the sources is run all the same, with a warning.
import { existsSync } from 'node:fs';
import module from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DIST, ENTRIES, isFresh } from './build.mjs';

const name = Object.hasOwn(ENTRIES, process.argv[2] ?? '') ? process.argv.splice(2, 1)[0] : 'server';
const file = path.join(DIST, `${name}.mjs`);
if (!existsSync(file)) {
  console.error(`dist/${name}.mjs is missing: run \`npm run build\` (npm install runs it too).`);
  process.exit(1);
}
if (!isFresh()) {
  console.warn(`dist/ is older than the sources (${ENTRIES[name]} or what it imports): running the older build. \`npm run build\` brings it up to date.`);
}
// Node.js 22.1 and later keep the code V8 compiled for the modules loaded here in a
// cache (in the temporary folder, or NODE_COMPILE_CACHE), and the next start compiles
// only what changed. Node.js 20 has no such cache.
module.enableCompileCache?.();
// The program finds itself as the script being run (a "run as main" check).
process.argv[1] = file;
await import(pathToFileURL(file).href);

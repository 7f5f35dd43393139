// `npm start`: runs the server from a bundle of src/ (dist/server.mjs), compiled once
// and again whenever a source file is newer than it. Starting from plain JavaScript
// skips transpiling TypeScript on every start, the largest part of a cold start.
// Dependencies are bundled too: resolving and reading some thousand files of
// node_modules one by one took a quarter of a start. Those that find files or native
// code next to themselves (Prisma's engines, PGlite's WebAssembly, pg's optional
// native driver, pino's worker) and those loaded only when configured (Redis,
// OpenTelemetry) stay outside and load from node_modules as usual; modules the server
// imports only when needed (tracing) are chunks of their own. Source maps are written
// beside the bundle but not read at run time (reading them cost another 300 ms):
// NODE_OPTIONS=--enable-source-maps maps stack traces back to src/.
import { existsSync, mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');
const OUT = path.join(DIST, 'server.mjs');

/** The newest modification time of the files the bundle is made of. */
function newestSource() {
  let newest = statSync(path.join(ROOT, 'package-lock.json')).mtimeMs;
  for (const entry of readdirSync(path.join(ROOT, 'src'), { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(path.join(entry.parentPath ?? entry.path, entry.name)).mtimeMs);
  }
  return newest;
}

/** Packages loaded from node_modules rather than bundled (see above). */
const EXTERNAL = ['@prisma/*', 'prisma', '@electric-sql/*', 'pglite-prisma-adapter', 'pg', 'pg-*', 'pino', 'pino-*', 'thread-stream', 'ioredis', '@opentelemetry/*', 'esbuild', 'tsx'];

/** Compiles src/ and its dependencies into dist/. */
async function bundle() {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: { server: path.join(ROOT, 'src', 'server.ts') },
    outdir: DIST,
    outExtension: { '.js': '.mjs' },
    chunkNames: '[name]-[hash]',
    splitting: true,
    bundle: true,
    external: EXTERNAL,
    // Bundled CommonJS modules require Node's own modules.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    write: false,
    logLevel: 'warning',
  });
  // Written under temporary names, then renamed, the entry point last: two starts at
  // once never read half a file, and chunks (named by their content) come first.
  const renames = result.outputFiles.map((file) => {
    mkdirSync(path.dirname(file.path), { recursive: true });
    const temporary = `${file.path}.${process.pid}.tmp`;
    writeFileSync(temporary, file.contents);
    return [temporary, file.path];
  });
  const last = (file) => (file === OUT ? 2 : file === `${OUT}.map` ? 1 : 0);
  renames.sort(([, a], [, b]) => last(a) - last(b)).forEach(([from, to]) => renameSync(from, to));
}

let fresh = existsSync(OUT) && statSync(OUT).mtimeMs >= newestSource();
if (!fresh) {
  try {
    await bundle();
    fresh = true;
  } catch (err) {
    // A read-only install, say: run the sources through tsx instead (a slower start).
    console.warn(`Could not write the bundle in ${path.relative(ROOT, DIST)}/ (${err.message}); starting from the TypeScript sources.`);
  }
}

if (!fresh) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(path.join(ROOT, 'src', 'server.ts')).href);
} else {
  await import(pathToFileURL(OUT).href);
}

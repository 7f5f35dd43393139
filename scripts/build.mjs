// `npm run build` (and the last step of `npm install`): compiles the server, the
// webhook worker and the production scripts into dist/ with esbuild, so that
// `npm start`, `npm run worker`, `npm run db:migrate` and `npm run import` run plain
// JavaScript and need neither tsx nor a compiler at run time.
// Dependencies are bundled too: resolving and reading some thousand files of
// node_modules one by one took a quarter of a start. Those that find files or native
// code next to themselves (Prisma's engines, PGlite's WebAssembly, pg's optional
// native driver, pino's worker) and those loaded only when configured (Redis,
// OpenTelemetry) stay outside and load from node_modules as usual; modules loaded only
// when needed (tracing) are chunks of their own. Source maps (without the sources:
// stack traces need only lines) let `node --enable-source-maps` point at src/.
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DIST = path.join(ROOT, 'dist');

/** What is built: dist/<name>.mjs from each source. */
export const ENTRIES = {
  server: 'src/server.ts',
  worker: 'src/worker.ts',
  db: 'scripts/db.ts',
  import: 'scripts/import.ts',
};

/** Packages loaded from node_modules rather than bundled (see above). */
const EXTERNAL = ['@prisma/*', 'prisma', '@electric-sql/*', 'pglite-prisma-adapter', 'pg', 'pg-*', 'pino', 'pino-*', 'thread-stream', 'ioredis', '@opentelemetry/*'];

function newestIn(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(path.join(entry.parentPath ?? entry.path, entry.name)).mtimeMs);
  }
  return newest;
}

/** The newest modification time of the files the build is made of. */
function newestSource() {
  const sources = [path.join(ROOT, 'package-lock.json'), ...Object.values(ENTRIES).map((file) => path.join(ROOT, file))];
  return Math.max(newestIn(path.join(ROOT, 'src')), ...sources.map((file) => statSync(file).mtimeMs));
}

/** Whether dist/ holds every entry point, built after the last change to its sources. */
export function isFresh() {
  try {
    const built = Math.min(...Object.keys(ENTRIES).map((name) => statSync(path.join(DIST, `${name}.mjs`)).mtimeMs));
    return built >= newestSource();
  } catch {
    return false;
  }
}

/**
 * Compiles the entry points into dist/. With `prune`, files of earlier builds are
 * removed afterwards; without, they stay for processes still running from them.
 */
export async function build({ prune = false } = {}) {
  const { build: esbuild } = await import('esbuild');
  const result = await esbuild({
    entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([name, file]) => [name, path.join(ROOT, file)])),
    outdir: DIST,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    splitting: true,
    bundle: true,
    external: EXTERNAL,
    // Bundled CommonJS modules require Node's own modules.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    platform: 'node',
    format: 'esm',
    target: 'node22',
    sourcemap: 'linked',
    sourcesContent: false,
    write: false,
    logLevel: 'warning',
  });
  // Written under temporary names, then renamed, the entry points last: a process
  // starting meanwhile (or a second build at once) never reads half a file, and chunks
  // (named by their content) are in place before an entry point imports them.
  const rank = (file) => {
    const name = path.relative(DIST, file);
    if (!(path.basename(name, '.mjs') in ENTRIES) && !(path.basename(name, '.mjs.map') in ENTRIES)) return 0;
    return name.endsWith('.map') ? 1 : 2;
  };
  const written = result.outputFiles
    .map((file) => {
      mkdirSync(path.dirname(file.path), { recursive: true });
      const temporary = `${file.path}.${process.pid}.tmp`;
      writeFileSync(temporary, file.contents);
      return [temporary, file.path];
    })
    .sort(([, a], [, b]) => rank(a) - rank(b));
  for (const [from, to] of written) renameSync(from, to);
  if (prune) {
    const keep = new Set(written.map(([, to]) => to));
    for (const dirent of readdirSync(DIST, { recursive: true, withFileTypes: true })) {
      const file = path.join(dirent.parentPath ?? dirent.path, dirent.name);
      if (dirent.isFile() && !keep.has(file) && !file.endsWith('.tmp')) rmSync(file);
    }
  }
  return written.map(([, to]) => path.relative(ROOT, to));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = performance.now();
  const files = await build({ prune: true });
  const entries = files.filter((file) => file.endsWith('.mjs') && !file.includes('chunks'));
  console.log(`Built ${entries.join(', ')} in ${Math.round(performance.now() - started)} ms.`);
}

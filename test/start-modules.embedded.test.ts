import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DIST } from '../scripts/build.mjs';

// What `npm start` loads before it answers, read from the build (dist/, which the test
// run's global setup brings up to date): the server's entry point, the chunks it
// imports, and the two it imports while the database opens (the schema and the rate
// limits). Packages needed only on PostgreSQL, for webhook delivery or for GraphiQL's
// page are loaded when used; loaded at start they cost the embedded cold start.

/** Chunks the server imports with import() before it listens. */
const LOADED_AT_START = /^\.\/chunks\/(yoga|rate-limit)-[A-Z0-9]+\.mjs$/;

/** The files loaded from `entry` on, and the packages they import from node_modules. */
function startGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const code = readFileSync(file, 'utf8');
    const specifiers = [
      ...[...code.matchAll(/^(?:import|export)\s[^;]*?\sfrom\s*"([^"]+)"/gms)].map((m) => m[1]!),
      ...[...code.matchAll(/^import\s*"([^"]+)"/gm)].map((m) => m[1]!),
      ...[...code.matchAll(/\bimport\("([^"]+)"\)/g)].map((m) => m[1]!).filter((s) => LOADED_AT_START.test(s)),
    ];
    for (const specifier of specifiers) {
      if (specifier.startsWith('.')) visit(path.resolve(path.dirname(file), specifier));
      else if (!specifier.startsWith('node:')) packages.add(specifier);
    }
  };
  visit(path.join(DIST, 'server.mjs'));
  return { files, packages };
}

describe('npm start on the embedded database', () => {
  const { files, packages } = startGraph(path.join(DIST, 'server.mjs'));

  it('loads the schema and the embedded database before it answers', () => {
    expect([...files].some((f) => /yoga-/.test(path.basename(f)))).toBe(true);
    expect(packages).toContain('@electric-sql/pglite');
    expect(packages).toContain('pglite-prisma-adapter');
  });

  it('loads neither PostgreSQL\'s driver nor the webhook queue before it answers', () => {
    for (const name of ['pg', '@prisma/adapter-pg', 'pg-boss']) expect(packages, name).not.toContain(name);
  });

  it("leaves GraphiQL's inlined page out of what it loads before it answers", () => {
    // Bundled packages show in the build as a comment naming their source.
    const bundled = [...files].filter((f) => readFileSync(f, 'utf8').includes('// node_modules/@graphql-yoga/render-graphiql/'));
    expect(bundled).toEqual([]);
  });
});

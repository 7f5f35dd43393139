import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// The source's import graph, read with the TypeScript parser: layers point down
// (the core knows no domain module and no plugin) and no modules import each other
// in a circle. Generated code is left out; a type-only import is erased at run time,
// so it can close no circle, but it still counts for the layers.

const root = path.resolve(import.meta.dirname, '..');
const src = path.join(root, 'src');

interface Edge {
  to: string;
  typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'generated' ? [] : sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

function importsOf(file: string): Edge[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const edges: Edge[] = [];
  for (const statement of source.statements) {
    let specifier: ts.Expression | undefined;
    let typeOnly = false;
    if (ts.isImportDeclaration(statement)) {
      specifier = statement.moduleSpecifier;
      const clause = statement.importClause;
      const bindings = clause?.namedBindings;
      typeOnly =
        !!clause &&
        (clause.isTypeOnly ||
          (!clause.name && !!bindings && ts.isNamedImports(bindings) && bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly)));
    } else if (ts.isExportDeclaration(statement) && statement.moduleSpecifier) {
      specifier = statement.moduleSpecifier;
      typeOnly = statement.isTypeOnly;
    }
    if (!specifier || !ts.isStringLiteral(specifier) || !specifier.text.startsWith('.')) continue;
    edges.push({ to: path.resolve(path.dirname(file), specifier.text), typeOnly });
  }
  return edges;
}

const files = sourceFiles(src);
const graph = new Map(files.map((file) => [file, importsOf(file)]));
const name = (file: string) => path.relative(root, file);

/** Every circle of runtime imports, each as the files it passes through. */
function circles(): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, 'open');
    stack.push(file);
    for (const edge of graph.get(file) ?? []) {
      if (edge.typeOnly || !graph.has(edge.to)) continue;
      const seen = state.get(edge.to);
      if (seen === 'open') found.push([...stack.slice(stack.indexOf(edge.to)), edge.to].map(name));
      else if (!seen) visit(edge.to);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of files) if (!state.has(file)) visit(file);
  return found;
}

describe('the import graph', () => {
  it('reads the source (the check can fail)', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(graph.get(path.join(src, 'modules/federation/subgraph.ts'))!.map((e) => name(e.to))).toContain('src/builder.ts');
  });

  it('has no circle of runtime imports', () => {
    expect(circles()).toEqual([]);
  });

  // The core every module builds on: it names no domain module and no plugin, so it
  // can be read, tested and changed without them.
  const core = ['config.ts', 'context.ts', 'builder.ts', 'db.ts', 'errors.ts'];
  // Still to move: the type of a plan run inside the credential's statement, and the
  // page-size rule the builder's connections share with the planned reads.
  const pending = new Set(['src/context.ts -> src/modules/shared/prebuilt.ts', 'src/builder.ts -> src/modules/shared/rules.ts']);

  it.each(core)('keeps src/%s free of domain modules and plugins', (file) => {
    const reached = graph
      .get(path.join(src, file))!
      .map((e) => `src/${file} -> ${name(e.to)}`)
      .filter((edge) => /-> src\/(modules|plugins)\//.test(edge) && !pending.has(edge));
    expect(reached).toEqual([]);
  });
});

import { parse, type FieldNode, type FragmentDefinitionNode, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { selectsPath } from '../src/modules/shared/selection.ts';

/** The info of the operation's first root field, as a resolver of it sees it. */
function infoOf(source: string) {
  const document = parse(source);
  const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === 'OperationDefinition')!;
  const fragments = Object.fromEntries(
    document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === 'FragmentDefinition').map((f) => [f.name.value, f]),
  );
  return { fieldNodes: [operation.selectionSet.selections[0] as FieldNode], fragments };
}

describe('selectsPath', () => {
  const path = ['results', 'identifier'];

  it('finds a path through aliases, inline fragments and named fragments, and under skipped fields too', () => {
    expect(selectsPath(infoOf('{ m { results { identifier { id } } } }'), path)).toBe(true);
    expect(selectsPath(infoOf('{ m { r: results { i: identifier { id } } } }'), path)).toBe(true);
    expect(selectsPath(infoOf('{ m { ... on S { results { ... { identifier { id } } } } } }'), path)).toBe(true);
    expect(selectsPath(infoOf('{ m { ...A } } fragment A on S { results { ...B } } fragment B on R { identifier { id } }'), path)).toBe(true);
    expect(selectsPath(infoOf('{ m { results { identifier @skip(if: true) { id } } } }'), path)).toBe(true);
  });

  it('does not find it elsewhere, nor through fragments that spread themselves', () => {
    expect(selectsPath(infoOf('{ m { results { created outcome } createdCount } }'), path)).toBe(false);
    expect(selectsPath(infoOf('{ m { identifier { id } results { created } } }'), path)).toBe(false);
    expect(selectsPath(infoOf('{ m { results { other { identifier { id } } } } }'), path)).toBe(false);
    expect(selectsPath(infoOf('{ m { ...A } } fragment A on S { results { created } ...A }'), path)).toBe(false);
  });
});

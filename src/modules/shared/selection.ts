import { Kind, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

/**
 * Whether the selection of the field being resolved reaches `path`, a list of field
 * names below it (through fragments and inline fragments of any type). Directives are
 * not evaluated: a field under `@skip` counts as selected, so a caller that saves work
 * on an unselected field never leaves out one that is shown.
 */
export function selectsPath(info: Pick<GraphQLResolveInfo, 'fieldNodes' | 'fragments'>, path: readonly string[]): boolean {
  const reaches = (set: SelectionSetNode | undefined, depth: number, seen: ReadonlySet<string>): boolean => {
    if (!set) return false;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value !== path[depth]) continue;
        if (depth === path.length - 1 || reaches(selection.selectionSet, depth + 1, seen)) return true;
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        if (reaches(selection.selectionSet, depth, seen)) return true;
      } else {
        const name = selection.name.value;
        // A fragment that spreads itself is invalid and refused before execution; the
        // guard only keeps this walk finite whatever it is given.
        if (seen.has(name)) continue;
        if (reaches(info.fragments[name]?.selectionSet, depth, new Set([...seen, name]))) return true;
      }
    }
    return false;
  };
  return info.fieldNodes.some((node) => reaches(node.selectionSet, 0, new Set()));
}

import { ValidationError } from '../../errors.ts';
import { type ItemProblem } from '../shared/bulk.ts';
import { loadMembers, loadSources, sourceRef } from '../shared/inputs.ts';
import { Issues } from '../shared/validate.ts';
import { autoLinkEmail, checkIdentity, providerOf, type IdentityRow } from './check.ts';
import { clashPaths, conflictsWith, existingHolders, type ClashPaths } from './conflicts.ts';
import { regionForPhones } from '../matching/regions.ts';

/**
 * Checks a batch of identities for the organization: fields, sources (one query),
 * repeats within the batch, the members provider accounts link to (one query) and
 * values other identities already hold (one query). Returns a row for each good item
 * and a problem for each bad one; see prepareIdentifiers.
 */
export async function prepareIdentities(
  organizationId: string,
  items: readonly unknown[],
  pathOf: (index: number) => string,
  options: { create?: boolean; paths?: ClashPaths } = {},
): Promise<{ rows: (IdentityRow | null)[]; problems: ItemProblem[] }> {
  const problems: ItemProblem[] = [];
  const region = await regionForPhones(organizationId, items);
  // The source of every item is looked up, that of an item with invalid fields too.
  const checked = items.map((raw, index) => {
    const item = checkIdentity(pathOf(index), raw, region);
    if (!(item instanceof ValidationError)) return { item, source: item.source };
    problems.push({ index, error: item });
    const given = (typeof raw === 'object' && raw ? raw : {}) as Record<string, unknown>;
    return { item: undefined, source: sourceRef(new Issues(), pathOf(index), given.sourceId, given.sourceKey, false) ?? null };
  });
  const sources = await loadSources(
    organizationId,
    checked.flatMap((c) => (c.source ? [c.source] : [])),
  );
  const firsts = new Map<string, number>();
  let rows = checked.map(({ item, source: ref }, index): IdentityRow | null => {
    const base = pathOf(index);
    let sourceId: string | null = null;
    if (ref) {
      const source = providerOf(sources, ref, base);
      if (!('kind' in source)) {
        problems.push({ index, error: source });
        return null;
      }
      sourceId = source.id;
    }
    if (!item) return null;
    const keys: [string, string | null][] = [
      ['identifierKey', item.identifierKey],
      ['email', item.email],
      ['phoneNumber', item.phoneNumber],
      ['externalId', sourceId && item.externalId ? `${sourceId}|${item.externalId}` : null],
    ];
    const repeats = keys.flatMap(([field, value]) => {
      if (value === null) return [];
      const first = firsts.get(`${field}:${value}`);
      if (first === undefined) firsts.set(`${field}:${value}`, index);
      return first === undefined ? [] : [{ path: `${base}${field}`, message: `repeats ${pathOf(first)}${field}` }];
    });
    if (repeats.length) {
      problems.push({ index, error: new ValidationError(repeats) });
      return null;
    }
    const { source: _s, ...fields } = item;
    return { ...fields, sourceId, userId: null, linkedBy: null };
  });
  const linkable = rows.flatMap((r) => {
    const e = r && autoLinkEmail(r);
    return e ? [{ email: e }] : [];
  });
  const [members, existing] = await Promise.all([
    loadMembers(organizationId, linkable),
    rows.some(Boolean) ? existingHolders(organizationId, rows.filter((r): r is IdentityRow => r !== null)) : [],
  ]);
  rows = rows.map((r) => {
    const e = r && autoLinkEmail(r);
    const member = e ? members.get(`email:${e}`) : undefined;
    return r && member ? { ...r, userId: member.id, linkedBy: 'AUTO' } : r;
  });
  const conflicts = conflictsWith(existing, rows, options.paths ?? clashPaths(pathOf, items), options.create ?? false);
  for (const c of conflicts) rows[c.index] = null;
  problems.push(...conflicts);
  problems.sort((a, b) => a.index - b.index);
  return { rows, problems };
}

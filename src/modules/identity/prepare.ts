import { ValidationError } from '../../errors.ts';
import { type ItemProblem } from '../shared/bulk.ts';
import { loadMembers, loadSources } from '../shared/inputs.ts';
import { autoLinkEmail, checkIdentity, providerOf, type IdentityRow } from './check.ts';
import { conflictsWith, existingHolders } from './conflicts.ts';
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
  options: { create?: boolean } = {},
): Promise<{ rows: (IdentityRow | null)[]; problems: ItemProblem[] }> {
  const problems: ItemProblem[] = [];
  const region = await regionForPhones(organizationId, items);
  const checked = items.map((raw, index) => {
    const item = checkIdentity(pathOf(index), raw, region);
    if (!(item instanceof ValidationError)) return item;
    problems.push({ index, error: item });
    return undefined;
  });
  const sources = await loadSources(
    organizationId,
    checked.flatMap((c) => (c?.source ? [c.source] : [])),
  );
  const firsts = new Map<string, number>();
  let rows = checked.map((item, index): IdentityRow | null => {
    if (!item) return null;
    const base = pathOf(index);
    let sourceId: string | null = null;
    if (item.source) {
      const source = providerOf(sources, item.source, base);
      if (!('kind' in source)) {
        problems.push({ index, error: source });
        return null;
      }
      sourceId = source.id;
    }
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
  const conflicts = conflictsWith(existing, rows, pathOf, options.create ?? false);
  for (const c of conflicts) rows[c.index] = null;
  problems.push(...conflicts);
  problems.sort((a, b) => a.index - b.index);
  return { rows, problems };
}

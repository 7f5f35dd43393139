import { afterEach, describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { setPlannedReads } from '../src/modules/shared/engine/index.ts';
import { meetsMinimum } from '../src/modules/shared/rules.ts';
import { globalId, gql, tokenFor, type GqlOptions } from './helpers/app.ts';
import { bothWays } from './helpers/engine.ts';
import { aSource, anOrganization, aUser, withNormalised } from './helpers/factories.ts';
import { fc } from './helpers/property-runs.ts';

// Cursors read under another filter than the one that gave them, and cursors of rows
// deleted since: every page is read on both paths, which must answer alike, and pages
// walked from a cursor to the end of the list, forward (first/after) or backward
// (last/before), must hold the rows of the filtered list after (before) the cursor's
// row in the list's order, none skipped or repeated; a deleted row's cursor has no place
// in the order and gives an empty page. Two lists: an organization's identifiers (a
// relation's connection, loaded with its parent) and its deleted items (a connection
// read at its root, newest first).

afterEach(() => setPlannedReads(true));

type Filter = [args: string, keeps: (id: string) => boolean];
interface List {
  field: string;
  /** The live rows' ids in the list's order. */
  order: string[];
  filters: Filter[];
}

const idOf = (cursor: string) => Buffer.from(cursor, 'base64').toString('utf8').replace(/^GPC:S:/, '');

async function world() {
  const org = await anOrganization();
  const other = await anOrganization();
  const admin = await aUser({ isSystemAdmin: true });
  const token = await tokenFor(admin.authSubject!);
  const viewer: GqlOptions = { token, organizationId: org.id };
  const [crm, hr] = [await aSource(org.id), await aSource(org.id)];
  const owner = await aUser();
  // Few instants, so that rows tie on them and the id decides.
  const at = (i: number) => new Date(Date.UTC(2026, 2, 1 + (i % 4), 9, 0, 0, 125));
  const scores = [null, 0.2, 0.6, 0.9];
  const identifiers = [];
  for (let i = 0; i < 12; i++) {
    identifiers.push(await prisma.identifier.create({
      data: {
        organizationId: org.id, userId: owner.id, sourceId: (i * 7) % 3 ? crm.id : hr.id, ...withNormalised(`key_${i}`, `value-${i}`),
        discoveryMethod: 'MANUAL', confidenceScore: scores[(i * 5) % 4]!, createdAt: at(i),
      },
    }));
  }
  // The other organization's rows are in the same table: its cursors place a page too.
  await prisma.identifier.create({ data: { organizationId: other.id, userId: owner.id, sourceId: (await aSource(other.id)).id, ...withNormalised('key_other', 'v'), discoveryMethod: 'MANUAL', createdAt: at(1) } });
  const kinds = ['Identifier', 'Member', 'Identity'];
  const items = [];
  for (let i = 0; i < 12; i++) {
    items.push(await prisma.deletedItem.create({
      data: {
        organizationId: org.id, entityType: kinds[(i * 5) % 3]!, entityId: crypto.randomUUID(), rows: {},
        label: i % 3 ? `item ${i}` : `Zoe ${i}`, reason: i % 4 === 1 ? 'asked by zoe' : null, deletedAt: at(i),
      },
    }));
  }

  // Cursors as clients hold them: from an unfiltered page, read on both paths.
  const cursorsOf = async (field: string) => {
    const both = await bothWays(`{ organization(id: "${org.id}") { ${field}(first: 100) { edges { cursor } } } }`, viewer);
    expect(both.planned).toEqual(both.general);
    return (both.planned.data!.organization[field].edges as { cursor: string }[]).map((e) => e.cursor);
  };
  const identifierCursors = await cursorsOf('identifiers');
  const itemCursors = await cursorsOf('deletedItems');
  // Some rows go after their cursors were taken.
  const goneIdentifiers = [identifiers[0]!.id, identifiers[5]!.id, identifiers[11]!.id];
  const goneItems = [items[2]!.id, items[7]!.id];
  await prisma.identifier.deleteMany({ where: { id: { in: goneIdentifiers } } });
  await prisma.deletedItem.deleteMany({ where: { id: { in: goneItems } } });

  const liveIdentifiers = identifiers.filter((r) => !goneIdentifiers.includes(r.id));
  const liveItems = items.filter((r) => !goneItems.includes(r.id));
  const byId = <T extends { id: string }>(rows: T[]) => new Map(rows.map((r) => [r.id, r]));
  const identifier = byId(liveIdentifiers);
  const item = byId(liveItems);
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const lists: [List, string[]][] = [
    [{
      field: 'identifiers',
      // Oldest first, ties by id (uuids compare as their text does).
      order: liveIdentifiers.toSorted((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || cmp(a.id, b.id)).map((r) => r.id),
      filters: [
        ['', () => true],
        [`sourceKey: "${crm.key}"`, (id) => identifier.get(id)!.sourceId === crm.id],
        [`sourceKey: "${hr.key}"`, (id) => identifier.get(id)!.sourceId === hr.id],
        ['minConfidence: 0.5', (id) => meetsMinimum(identifier.get(id)!.confidenceScore, 0.5)],
        [`sourceKey: "${hr.key}", minConfidence: 0.5`, (id) => identifier.get(id)!.sourceId === hr.id && meetsMinimum(identifier.get(id)!.confidenceScore, 0.5)],
      ],
    }, identifierCursors],
    [{
      field: 'deletedItems',
      // Newest first, ties by id, newest first too.
      order: liveItems.toSorted((a, b) => b.deletedAt.getTime() - a.deletedAt.getTime() || cmp(b.id, a.id)).map((r) => r.id),
      filters: [
        ['', () => true],
        ['filter: { entityType: Identifier }', (id) => item.get(id)!.entityType === 'Identifier'],
        ['filter: { entityType: Member }', (id) => item.get(id)!.entityType === 'Member'],
        ['filter: { search: "ZOE" }', (id) => [item.get(id)!.label, item.get(id)!.reason ?? ''].some((s) => s.toLowerCase().includes('zoe'))],
      ],
    }, itemCursors],
  ];
  return { org, viewer, token, lists };
}

/** Pages walked from `cursor` to the end of the list, on both paths; the ids read, in the list's order. */
async function walk(org: string, viewer: GqlOptions, field: string, filter: string, cursor: string, size: number, backward: boolean, label: string) {
  const ids: string[] = [];
  for (let step = 0, at = cursor; step < 20; step++) {
    const args = [filter, backward ? `last: ${size}, before: "${at}"` : `first: ${size}, after: "${at}"`].filter(Boolean).join(', ');
    const both = await bothWays(`{ organization(id: "${org}") { ${field}(${args}) { edges { cursor } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }`, viewer);
    const where = `${label}, page ${step + 1}`;
    expect(both.planned, where).toEqual(both.general);
    expect(both.planned.errors, where).toBeUndefined();
    expect(both.usedPlan, where).toBe(true);
    const page = both.planned.data!.organization[field];
    const got = (page.edges as { cursor: string }[]).map((e) => idOf(e.cursor));
    ids.splice(backward ? 0 : ids.length, 0, ...got);
    // As the prisma plugin answers: the side of the cursor has more; the other side, whether the page was full.
    expect(backward ? page.pageInfo.hasNextPage : page.pageInfo.hasPreviousPage, where).toBe(true);
    const more = backward ? page.pageInfo.hasPreviousPage : page.pageInfo.hasNextPage;
    if (!more) break;
    expect(got.length, where).toBe(size);
    at = backward ? page.pageInfo.startCursor : page.pageInfo.endCursor;
  }
  return ids;
}

describe('cursors read under another filter, or of rows deleted since', () => {
  it('both paths page from any cursor alike, without skipping or repeating a row', async () => {
    const { org, viewer, token, lists } = await world();
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: lists.length - 1 }),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 1, max: 4 }),
        fc.boolean(),
        async (l, f, c, size, backward) => {
          const [list, cursors] = lists[l]!;
          const [filter, keeps] = list.filters[f % list.filters.length]!;
          const cursor = cursors[c % cursors.length]!;
          const label = `${list.field}(${filter}) ${backward ? 'before' : 'after'} ${idOf(cursor)}, ${size} a page`;
          const ids = await walk(org.id, viewer, list.field, filter, cursor, size, backward, label);
          const at = list.order.indexOf(idOf(cursor));
          const expected = at < 0 ? [] : (backward ? list.order.slice(0, at) : list.order.slice(at + 1)).filter(keeps);
          expect(ids, label).toEqual(expected);

          // Read for several organizations at once, the general path pages each the same.
          if (list.field !== 'identifiers') return;
          const args = [filter, backward ? `last: ${size}, before: "${cursor}"` : `first: ${size}, after: "${cursor}"`].filter(Boolean).join(', ');
          const page = `identifiers(${args}) { edges { cursor } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } }`;
          const one = await gql(`{ organization(id: "${org.id}") { ${page} } }`, viewer);
          setPlannedReads(false);
          const many = await gql(`{ organizations(first: 100) { edges { node { id ${page} } } } }`, { token });
          setPlannedReads(true);
          expect(many.errors, label).toBeUndefined();
          const mine = many.data!.organizations.edges.find((e: any) => e.node.id === globalId('Organization', org.id)).node;
          expect(mine.identifiers, `${label}, among organizations`).toEqual(one.data!.organization.identifiers);
        },
      ),
      { numRuns: 40 },
    );
  });
});

import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { setPlannedReads } from '../src/modules/shared/engine/index.ts';
import { globalId, type GqlOptions } from './helpers/app.ts';
import { anOrganization, aUser } from './helpers/factories.ts';
import { administeringViewersOf, type EngineCase, expectCases, expectRefused } from './helpers/engine.ts';

// An organization's deleted items, compiled by the read engine: a connection over
// DeletedItem (linked to the organization by the id in the query's where) whose auth
// scopes ask the viewer to administer the root organization. Every answer is compared
// with the general path's, for viewers of every role; a viewer who does not administer
// the organization gets what the general path gives (FORBIDDEN with a null list).

afterEach(() => setPlannedReads(true));

const hashOf = (secret: string) => createHash('sha256').update(secret).digest('hex');

async function world() {
  const org = await anOrganization();
  const other = await anOrganization();
  await prisma.organization.update({ where: { id: org.id }, data: { deletedRetentionDays: 45 } });
  const deleter = await aUser();
  const deleterKey = await prisma.apiKey.create({ data: { organizationId: org.id, secretHash: hashOf(randomBytes(8).toString('hex')), prefix: 'igk_deleter', name: 'deleter' } });
  // Items of every kind a day apart, deleted by a user, an API key or the server, with
  // and without a reason; labels and reasons to search (case, accents, LIKE's wildcards).
  const specs = [
    { entityType: 'Identifier', label: 'crm email = zoe@example.com', reason: 'Duplicate', deletedByUserId: deleter.id },
    { entityType: 'Identity', label: 'Zoë Ünal (okta)', reason: null, deletedByApiKeyId: deleterKey.id },
    { entityType: 'IntegrationSource', label: 'Legacy CRM', reason: 'Replaced: 100% migrated', deletedByUserId: deleter.id },
    { entityType: 'Member', label: 'ZOE@EXAMPLE.COM', reason: 'left_company', deletedByUserId: null },
    { entityType: 'ApiKey', label: 'nightly import', reason: 'rotated', deletedByApiKeyId: deleterKey.id },
    { entityType: 'Identifier', label: 'hr id = 42', reason: 'typo', deletedByUserId: deleter.id },
  ];
  const items = [];
  for (const [i, spec] of specs.entries()) {
    items.push(await prisma.deletedItem.create({
      data: { organizationId: org.id, entityId: crypto.randomUUID(), rows: {}, ...spec, deletedAt: new Date(Date.UTC(2026, 4, 1 + i, 12, 30, 15, 250)) },
    }));
  }
  await prisma.deletedItem.create({ data: { organizationId: other.id, entityType: 'Identifier', entityId: crypto.randomUUID(), rows: {}, label: 'crm email = zoe@example.com' } });

  const { viewers, refused } = await administeringViewersOf(org.id, other.id);
  return { org, items, deleter, deleterKey, viewers, refused };
}

const ITEM = '__typename entityType entityId label reason deletedAt deletedById purgeAfter';
const PAGE_INFO = 'pageInfo { hasNextPage hasPreviousPage startCursor endCursor }';

type Viewer = [string, GqlOptions, boolean];
const administers = ([, , yes]: Viewer) => yes;

describe('deleted items of an organization, compiled for its admins', () => {
  it('organization(id): deletedItems with every filter, pages both ways, pageInfo and totalCount; FORBIDDEN alike for anyone else', async () => {
    const { org, items, deleter, deleterKey, viewers, refused } = await world();
    const page = (selection: string) => `{ organization(id: "${org.id}") { name ${selection} } }`;
    const filter = (f: string) => page(`deletedItems(filter: { ${f} }) { totalCount edges { cursor node { label } } ${PAGE_INFO} }`);
    const day = (d: number) => new Date(Date.UTC(2026, 4, d)).toISOString();
    const cases: EngineCase<Viewer>[] = [
      ['every field of the items', page(`deletedItems { totalCount __typename edges { __typename cursor node { ${ITEM} } } ${PAGE_INFO} }`), administers],
      ['by kind', filter('entityType: Identifier'), administers],
      ['deleted at or after', filter(`deletedAfter: "${items[2]!.deletedAt.toISOString()}"`), administers],
      ['deleted before', filter(`deletedBefore: "${items[2]!.deletedAt.toISOString()}"`), administers],
      ['deleted between', filter(`deletedAfter: "${day(2)}", deletedBefore: "${day(5)}"`), administers],
      ['a search ignoring case, in labels', filter('search: "zoe@EXAMPLE"'), administers],
      ['a search with accents', filter('search: "zoë ü"'), administers],
      ['a search in reasons', filter('search: "ROTATED"'), administers],
      ['a search with LIKE wildcards', filter('search: "100%"'), administers],
      ['a search with an underscore', filter('search: "left_"'), administers],
      ['a search matching nothing', filter('search: "nobody"'), administers],
      ['every filter at once', filter(`entityType: Identifier, deletedAfter: "${day(1)}", deletedBefore: "${day(30)}", search: "="`), administers],
      ['a filter of nulls', filter('entityType: null, deletedAfter: null, deletedBefore: null, search: null'), administers],
      ['a first page', page(`deletedItems(first: 2) { totalCount edges { cursor node { label } } ${PAGE_INFO} }`), administers],
      ['a filtered first page', page(`deletedItems(first: 1, filter: { search: "zoe" }) { totalCount edges { cursor node { label } } ${PAGE_INFO} }`), administers],
      ['the last page', page(`deletedItems(last: 2) { totalCount edges { cursor node { label } } ${PAGE_INFO} }`), administers],
      ['beside the keys', page('apiKeys(first: 1) { totalCount } deletedItems(last: 1) { edges { node { entityType } } } d: deletedItems(filter: { entityType: Member }) { totalCount }'), administers],
      // A key is seen only by its organization's admins: the items of its organization compile for them.
      ['the items of the organization of a key', page('apiKeys { edges { node { organization { deletedItems { totalCount } } } } }'), administers],
    ];
    const answers = await expectCases(cases, viewers);
    const items$ = (name: string, viewer: string) => answers.get(`${name}, as ${viewer}`)!.data.organization.deletedItems;
    for (const [viewer, , admin] of viewers) {
      const all = answers.get(`every field of the items, as ${viewer}`)!;
      if (!admin) {
        expect(all.errors?.[0]?.extensions?.code, viewer).toBe('FORBIDDEN');
        expect(all.data.organization.name, viewer).toBe(org.name);
        expect(all.data.organization.deletedItems, viewer).toBeNull();
        continue;
      }
      const labels = (name: string) => items$(name, viewer).edges.map((e: any) => e.node.label);
      // Newest first; only this organization's.
      expect(all.data.organization.deletedItems.totalCount, viewer).toBe(6);
      expect(all.data.organization.deletedItems.edges.map((e: any) => e.node.label), viewer).toEqual(items.map((i) => i.label).reverse());
      expect(labels('by kind'), viewer).toEqual(['hr id = 42', 'crm email = zoe@example.com']);
      expect(items$('deleted at or after', viewer).totalCount, viewer).toBe(4);
      expect(items$('deleted before', viewer).totalCount, viewer).toBe(2);
      expect(items$('deleted between', viewer).totalCount, viewer).toBe(3);
      expect(labels('a search ignoring case, in labels'), viewer).toEqual(['ZOE@EXAMPLE.COM', 'crm email = zoe@example.com']);
      expect(labels('a search with accents'), viewer).toEqual(['Zoë Ünal (okta)']);
      expect(labels('a search in reasons'), viewer).toEqual(['nightly import']);
      expect(labels('a search with LIKE wildcards'), viewer).toEqual(['Legacy CRM']);
      expect(items$('every filter at once', viewer).totalCount, viewer).toBe(2);
      expect(items$('a filtered first page', viewer).totalCount, viewer).toBe(2);
    }
    const admin = viewers[0]![0];
    const newest = answers.get(`every field of the items, as ${admin}`)!.data.organization.deletedItems.edges.map((e: any) => e.node);
    const item = (i: number) => newest[items.length - 1 - i];
    expect(item(0)).toMatchObject({ entityType: 'Identifier', entityId: globalId('Identifier', items[0]!.entityId), deletedById: globalId('User', deleter.id), reason: 'Duplicate' });
    expect(item(1)).toMatchObject({ entityType: 'Identity', deletedById: globalId('ApiKey', deleterKey.id), reason: null });
    expect(item(2).entityId).toBe(globalId('IntegrationSource', items[2]!.entityId));
    expect(item(3).deletedById).toBeNull();
    expect(item(0).deletedAt).toBe('2026-05-01T12:30:15.250Z');
    expect(item(0).purgeAfter).toBe('2026-06-15T12:30:15.250Z');

    // The next page after a cursor and the one before it, both ways, filtered or not.
    for (const viewer of viewers.filter(administers)) {
      const end = answers.get(`a first page, as ${viewer[0]}`)!.data.organization.deletedItems.pageInfo.endCursor;
      const start = answers.get(`the last page, as ${viewer[0]}`)!.data.organization.deletedItems.pageInfo.startCursor;
      // Cursors of a filtered list, read under the same filter (cursors read under another
      // one, or of deleted rows: test/engine-cursors.test.ts).
      const identifier = answers.get(`by kind, as ${viewer[0]}`)!.data.organization.deletedItems.edges[0].cursor;
      const searched = answers.get(`a filtered first page, as ${viewer[0]}`)!.data.organization.deletedItems.pageInfo.endCursor;
      const next = await expectCases(
        [
          ['the items after a cursor', page(`deletedItems(first: 3, after: "${end}") { totalCount edges { cursor node { label } } ${PAGE_INFO} }`), true],
          ['the items before a cursor', page(`deletedItems(last: 1, before: "${end}") { totalCount edges { cursor node { label } } ${PAGE_INFO} }`), true],
          ['the items before the last page', page(`deletedItems(last: 2, before: "${start}") { totalCount edges { node { label } } ${PAGE_INFO} }`), true],
          ['identifiers after a cursor', page(`deletedItems(after: "${identifier}", filter: { entityType: Identifier }) { totalCount edges { node { label } } ${PAGE_INFO} }`), true],
          ['found items after a cursor', page(`deletedItems(first: 1, after: "${searched}", filter: { search: "zoe" }) { totalCount edges { node { label } } ${PAGE_INFO} }`), true],
          ['found items before a cursor', page(`deletedItems(last: 1, before: "${searched}", filter: { search: "zoe" }) { totalCount edges { node { label } } ${PAGE_INFO} }`), true],
          ['a cursor that is not one', page('deletedItems(first: 1, after: "nonsense") { edges { node { label } } }'), false],
        ],
        [viewer],
      );
      const after = next.get(`the items after a cursor, as ${viewer[0]}`)!.data.organization.deletedItems;
      expect(after.edges.map((e: any) => e.node.label), viewer[0]).toEqual(['ZOE@EXAMPLE.COM', 'Legacy CRM', 'Zoë Ünal (okta)']);
      expect(after.pageInfo, viewer[0]).toMatchObject({ hasNextPage: true, hasPreviousPage: true });
      expect(next.get(`identifiers after a cursor, as ${viewer[0]}`)!.data.organization.deletedItems.edges.map((e: any) => e.node.label), viewer[0]).toEqual(['crm email = zoe@example.com']);
      expect(next.get(`found items after a cursor, as ${viewer[0]}`)!.data.organization.deletedItems.edges.map((e: any) => e.node.label), viewer[0]).toEqual(['crm email = zoe@example.com']);
      expect(next.get(`the items before the last page, as ${viewer[0]}`)!.data.organization.deletedItems.edges.map((e: any) => e.node.label), viewer[0]).toEqual(['ZOE@EXAMPLE.COM', 'Legacy CRM']);
      expect(next.get(`the items before a cursor, as ${viewer[0]}`)!.data.organization.deletedItems.edges.map((e: any) => e.node.label), viewer[0]).toEqual(['hr id = 42']);
    }

    await expectRefused(cases, refused);
  });
});

import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Context } from '../src/context.ts';
import { prisma, sql } from '../src/db.ts';
import { model, setPlannedReads, type PlanInfo } from '../src/modules/shared/engine/index.ts';
import { Builder } from '../src/modules/shared/engine/builder.ts';
import { whereSql } from '../src/modules/shared/engine/where.ts';
import { globalId, tokenFor, type GqlOptions } from './helpers/app.ts';
import { aMember, anApiKey, anIdentifier, anIdentity, anOrganization, aSource, aUser } from './helpers/factories.ts';
import { bothWays, expectCases, expectRefused, readersOf, viewersOf } from './helpers/engine.ts';
import { normalisedPair } from '../src/modules/suggestion/pairs.ts';

// The organization's sources and link suggestions, node(id) of sources, suggestions and
// merges, and a user's merges, compiled by the read engine (declared next to their
// Pothos fields): every answer is compared with the general path's, for viewers of
// every role, and each case checks which path answered. The array filters of the
// merges' rule are compared with Prisma's answers directly.

afterEach(() => setPlannedReads(true));



async function world() {
  const org = await anOrganization();
  const other = await anOrganization();
  const crm = await aSource(org.id, { key: 'crm', name: "O'Brien CRM" });
  await aSource(org.id, { key: 'hr', kind: 'IDENTITY_PROVIDER' });
  for (const key of ['erp', 'chat', 'okta']) await aSource(org.id, { key, kind: key === 'okta' ? 'IDENTITY_PROVIDER' : 'INTEGRATION' });
  const otherCrm = await aSource(other.id, { key: 'crm' });
  const { analyst, auditor, admin } = await readersOf(org.id, other.id);
  const person = await aUser({ name: 'Zoë Ünal' });
  await aMember(org.id, person.id, { role: 'ORGANIZATION_ADMIN' });
  await aMember(other.id, person.id, { role: 'ANALYST', state: 'SUSPENDED' });
  const rival = await aUser();
  await aMember(org.id, rival.id, { state: 'PENDING' });
  await anIdentifier(org.id, person.id, crm.id, { identifierKey: 'k1', identifierValue: 'v1' });
  const identity = await anIdentity(org.id, { name: 'Zoe U.' });
  // Suggestions scored, unscored and decided, with and without metadata; one in the other organization.
  const pair = (a: { id: string }, b: { id: string }, bType: 'USER' | 'IDENTITY' = 'USER') => normalisedPair({ type: 'USER', id: a.id }, { type: bType, id: b.id });
  const suggestions = [
    { organizationId: org.id, ...pair(person, rival), confidence: 0.8, evidence: [{ kind: 'EMAIL', weight: 0.9 }], metadata: { job: 'nightly', hits: [1, 2.5] }, createdBy: 'LLM_DISCOVERY' },
    { organizationId: org.id, ...pair(person, analyst), confidence: null, createdBy: 'SERVER', state: 'APPROVED' as const, decidedAt: new Date() },
    { organizationId: org.id, ...pair(person, identity, 'IDENTITY'), confidence: 0.3, createdBy: 'MANUAL', state: 'REJECTED' as const, decidedAt: new Date() },
    { organizationId: org.id, ...pair(rival, analyst), confidence: 0.55, createdBy: 'MANUAL' },
    { organizationId: other.id, ...pair(person, auditor), confidence: 0.9, createdBy: 'MANUAL' },
  ];
  const rows = [];
  for (const data of suggestions) rows.push(await prisma.linkSuggestion.create({ data }));
  // Merges into the person touching the organization, the other one, both, or none.
  const merges = [];
  for (const [i, organizationIds] of [[org.id], [other.id], [], [org.id, other.id]].entries()) {
    const merged = await aUser();
    const createdAt = new Date(Date.UTC(2026, 0, 1 + i));
    merges.push(await prisma.merge.create({ data: { survivorId: person.id, mergedId: merged.id, organizationIds, before: {}, after: {}, createdAt, undoneAt: organizationIds.length === 2 ? new Date() : null } }));
  }
  const secret = `igk_${randomBytes(32).toString('base64url')}`;
  await anApiKey(org.id, createHash('sha256').update(secret).digest('hex'));
  const viewers = await viewersOf({ analyst, admin, person, auditor }, org.id, secret);
  // A pending member of the organization may read none of it: refused before anything runs.
  const refused: GqlOptions = { token: await tokenFor(rival.authSubject!), organizationId: org.id };
  // A reader of the other organization only: what it may not read is null, on both paths.
  const outsider = await aUser();
  await aMember(other.id, outsider.id);
  const outside: [string, GqlOptions] = ['a reader of the other organization only', { token: await tokenFor(outsider.authSubject!) }];
  return { org, other, crm, otherCrm, person, suggestions: rows, merges, viewers, refused, outside };
}

const SOURCE = 'id __typename kind key name createdAt updatedAt organization { slug }';
const SUGGESTION = 'id __typename state confidence evidence metadata createdBy decidedAt createdAt organization { slug }';
const PAGE_INFO = 'pageInfo { hasNextPage hasPreviousPage startCursor endCursor }';



describe('the organization’s sources and link suggestions, compiled', () => {
  it('organization(id): sources and suggestions with filters, pages, pageInfo and totalCount; the same answer as the general path', async () => {
    const { org, viewers, refused } = await world();
    const page = (selection: string) => `{ organization(id: "${org.id}") { ${selection} } }`;
    const cases: [string, string, boolean][] = [
      ['every field of the sources', page(`sources { totalCount __typename edges { __typename cursor node { ${SOURCE} } } ${PAGE_INFO} }`), true],
      ['sources of a kind', page('sources(kind: IDENTITY_PROVIDER) { totalCount edges { node { key kind } } }'), true],
      ['a first page of sources', page(`sources(first: 2) { totalCount edges { cursor node { key } } ${PAGE_INFO} }`), true],
      ['the last page of sources', page(`sources(last: 2) { edges { cursor node { key } } ${PAGE_INFO} }`), true],
      ['every field of the suggestions', page(`linkSuggestions { totalCount edges { cursor node { ${SUGGESTION} } } ${PAGE_INFO} }`), true],
      ['suggestions in a state, at least as sure as', page('linkSuggestions(state: SUGGESTED, minConfidence: 0.6) { totalCount edges { node { confidence state } } }'), true],
      ['a minimum of 0 keeps the unscored', page('linkSuggestions(first: 2, minConfidence: 0) { totalCount edges { node { confidence } } pageInfo { hasNextPage endCursor } }'), true],
      ['with members beside them', page('name members(first: 2) { totalCount } sources(first: 1) { edges { node { key } } } s: linkSuggestions(last: 1) { edges { node { state } } }'), true],
      // What is not compiled takes the general path, with its answer or its error.
      ['a minimum out of range', page('linkSuggestions(minConfidence: 2) { totalCount }'), false],
      ['the parties of a suggestion', page('linkSuggestions { edges { node { subject { __typename } candidate { __typename } } } }'), true],
      // A source is seen only in an organization the viewer reads: its lists compile below the root too.
      ['identifiers of a source below the organization', page('sources { edges { node { key identifiers(first: 1) { totalCount } } } }'), true],
    ];
    const answers = await expectCases(cases, viewers);
    // Every viewer here reads the organization: all of its sources and suggestions.
    const all = answers.get(`every field of the sources, as ${viewers[0]![0]}`)!.data.organization.sources;
    expect(all.totalCount).toBe(5);
    expect(answers.get(`suggestions in a state, at least as sure as, as ${viewers[0]![0]}`)!.data.organization.linkSuggestions.totalCount).toBe(1);
    expect(answers.get(`a minimum out of range, as ${viewers[0]![0]}`)!.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');

    // The next page after a cursor and the one before it, both ways.
    for (const [viewer, options] of viewers) {
      const first = answers.get(`a first page of sources, as ${viewer}`)!.data.organization.sources;
      const end = first.pageInfo.endCursor;
      const last = answers.get(`every field of the suggestions, as ${viewer}`)!.data.organization.linkSuggestions.pageInfo.endCursor;
      await expectCases(
        [
          ['the page after a cursor', page(`sources(first: 2, after: "${end}") { edges { cursor node { key } } ${PAGE_INFO} }`), true],
          ['the page before a cursor', page(`sources(last: 1, before: "${end}") { edges { node { key } } ${PAGE_INFO} }`), true],
          ['suggestions before the last', page(`linkSuggestions(last: 2, before: "${last}") { totalCount edges { node { createdBy } } ${PAGE_INFO} }`), true],
          ['a cursor that is not one', page('sources(first: 1, after: "nonsense") { edges { node { key } } }'), false],
        ],
        [[viewer, options]],
      );
    }

    await expectRefused(cases, refused);
  });

  it('node(id) of a source or a suggestion: found under the same rule as the general path, null where it may not be read', async () => {
    const { otherCrm, crm, suggestions, viewers, refused, outside } = await world();
    const node = (type: string, id: string, selection: string) => `{ node(id: "${globalId(type, id)}") { id ... on ${type} { ${selection} } } }`;
    const cases: [string, string, boolean][] = [
      ['a source', node('IntegrationSource', crm.id, SOURCE), true],
      ['a source of the other organization', node('IntegrationSource', otherCrm.id, 'key organization { slug }'), true],
      ['a suggestion', node('LinkSuggestion', suggestions[0]!.id, SUGGESTION), true],
      ['a suggestion of the other organization', node('LinkSuggestion', suggestions[4]!.id, 'state confidence'), true],
      ['identifiers of a source', node('IntegrationSource', crm.id, 'identifiers(first: 1) { totalCount }'), true],
      ['the merge of a suggestion', node('LinkSuggestion', suggestions[1]!.id, 'merge { id }'), true],
    ];
    const answers = await expectCases(cases, [...viewers, outside]);
    const sees = (name: string, viewer: string) => answers.get(`${name}, as ${viewer}`)!.data.node !== null;
    for (const [viewer] of viewers) {
      expect(sees('a source', viewer), viewer).toBe(true);
      expect(sees('a suggestion', viewer), viewer).toBe(true);
      const readsOther = viewer.startsWith('a system admin, not') || viewer.startsWith('an analyst of both');
      expect(sees('a source of the other organization', viewer), viewer).toBe(readsOther);
      expect(sees('a suggestion of the other organization', viewer), viewer).toBe(readsOther);
    }
    expect(sees('a source', outside[0])).toBe(false);
    expect(sees('a suggestion', outside[0])).toBe(false);
    expect(sees('a source of the other organization', outside[0])).toBe(true);
    await expectRefused(cases, refused);
  });
});

describe('merges, compiled', () => {
  it("a user's merges and node(id) of a merge: the same answer as the general path, only the merges the viewer may see", async () => {
    const { person, merges, viewers, refused, outside } = await world();
    const MERGE = 'id __typename createdAt undoneAt mergedUserId survivor { id email }';
    // Which merges a viewer sees is a filter on the organizations a merge touched (an
    // array column: hasSome, isEmpty), compiled for every viewer.
    const cases: [string, string, boolean][] = [
      ['the merges of a user', `{ node(id: "${globalId('User', person.id)}") { ... on User { email merges { ${MERGE} } } } }`, true],
      ...merges.map((m, i): [string, string, boolean] => [`merge ${i}`, `{ node(id: "${globalId('UserMerge', m.id)}") { ... on UserMerge { ${MERGE} } } }`, true]),
      ['the organizations of a merge', `{ node(id: "${globalId('UserMerge', merges[0]!.id)}") { ... on UserMerge { organizationIds } } }`, true],
      ['what changed since a merge', `{ node(id: "${globalId('UserMerge', merges[0]!.id)}") { ... on UserMerge { changedSinceMerge { id } } } }`, false],
    ];
    const answers = await expectCases(cases, [...viewers, outside]);
    await expectRefused(cases, refused);
    const seen = (viewer: string) => (answers.get(`the merges of a user, as ${viewer}`)!.data.node?.merges ?? []).map((m: { id: string }) => m.id);
    const id = (i: number) => globalId('UserMerge', merges[i]!.id);
    // Newest first; those touching an organization the viewer reads, or none (merge 2),
    // alike on both databases (row-level security on PostgreSQL agrees with the rule).
    const none = [id(2)];
    expect(seen('a system admin, not narrowed to an organization')).toEqual([id(3), id(2), id(1), id(0)]);
    expect(seen('an analyst acting in the organization')).toEqual([id(3), ...none, id(0)]);
    expect(seen('an analyst of both organizations, not narrowed')).toEqual([id(3), ...none, id(1), id(0)]);
    expect(answers.get(`merge 1, as an analyst acting in the organization`)!.data.node).toBeNull();
    expect(seen(outside[0])).toEqual([id(3), ...none, id(1)]);
    expect(answers.get(`merge 0, as ${outside[0]}`)!.data.node).toBeNull();
  });
});

describe('array filters, rendered in SQL', () => {
  it('has, hasSome, hasEvery and isEmpty on a list column find the rows Prisma finds', async () => {
    const { org, other, merges } = await world();
    const m = model('Merge');
    const ids = merges.map((x) => x.id);
    const filters = [
      { has: org.id },
      { has: other.id },
      { hasSome: [org.id] },
      { hasSome: [org.id, other.id] },
      { hasSome: [] },
      { hasEvery: [org.id, other.id] },
      { hasEvery: [other.id] },
      { hasEvery: [] },
      { isEmpty: true },
      { isEmpty: false },
    ];
    const found: number[] = [];
    for (const filter of filters) {
      const where = { id: { in: ids }, organizationIds: filter };
      const b = new Builder({} as PlanInfo, {} as Context, 'all', 'all');
      const text = `SELECT r.${m.fields.get('id')!.column} AS id FROM ${m.table} r WHERE ${whereSql(b, m, 'r', where)}`;
      const rows = await sql<{ id: string }>({ name: '', text }, b.params);
      const expected = await prisma.merge.findMany({ where, select: { id: true } });
      expect(rows.map((r) => r.id).sort(), JSON.stringify(filter)).toEqual(expected.map((r) => r.id).sort());
      found.push(rows.length);
    }
    // The merges touch [org], [other], [] and [org, other].
    expect(found).toEqual([2, 2, 2, 3, 0, 1, 2, 4, 1, 3]);
  });
});

describe('searches', () => {
  it("match LIKE's wildcards as themselves in members, identities and deleted items, on both paths", async () => {
    const org = await anOrganization();
    const admin = await aUser({ name: 'Ada Admin' });
    await aMember(org.id, admin.id, { role: 'ORGANIZATION_ADMIN' });
    const underscored = await aUser({ name: 'snake_case' });
    await aMember(org.id, underscored.id);
    await anIdentity(org.id, { name: 'Plain name' });
    await anIdentity(org.id, { name: '100% sure' });
    for (const label of ['ab_c', 'abxc']) {
      await prisma.deletedItem.create({ data: { organizationId: org.id, entityType: 'Identifier', entityId: crypto.randomUUID(), rows: {}, label, deletedByUserId: admin.id } });
    }
    const query = `{ organization(id: "${org.id}") {
      members(search: "e_c") { edges { node { user { name } } } }
      identities(search: "%") { totalCount edges { node { name } } }
      deletedItems(filter: { search: "b_c" }) { totalCount edges { node { label } } } } }`;
    const both = await bothWays(query, { token: await tokenFor(admin.authSubject!), organizationId: org.id });
    expect(both.planned).toEqual(both.general);
    expect(both.usedPlan).toBe(true);
    expect(both.planned.data).toEqual({
      organization: {
        members: { edges: [{ node: { user: { name: 'snake_case' } } }] },
        identities: { totalCount: 1, edges: [{ node: { name: '100% sure' } }] },
        deletedItems: { totalCount: 1, edges: [{ node: { label: 'ab_c' } }] },
      },
    });
  });
});

describe('filters given together', () => {
  it('identities linked: false with a userId are none, linked: true with it are that user’s, on both paths', async () => {
    const org = await anOrganization();
    const admin = await aUser();
    await aMember(org.id, admin.id, { role: 'ORGANIZATION_ADMIN' });
    await anIdentity(org.id, { name: 'Linked', userId: admin.id });
    await anIdentity(org.id, { name: 'Unlinked' });
    const user = globalId('User', admin.id);
    const query = `{ organization(id: "${org.id}") {
      none: identities(linked: false, userId: "${user}") { totalCount edges { node { name } } }
      own: identities(linked: true, userId: "${user}") { totalCount edges { node { name } } } } }`;
    const both = await bothWays(query, { token: await tokenFor(admin.authSubject!), organizationId: org.id });
    expect(both.planned).toEqual(both.general);
    expect(both.usedPlan).toBe(true);
    expect(both.planned.data).toEqual({
      organization: { none: { totalCount: 0, edges: [] }, own: { totalCount: 1, edges: [{ node: { name: 'Linked' } }] } },
    });
  });
});

import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { setPlannedReads } from '../src/modules/shared/engine/index.ts';
import { normalisedPair } from '../src/modules/suggestion/pairs.ts';
import { globalId, tokenFor, type GqlOptions } from './helpers/app.ts';
import { aMember, anApiKey, anIdentity, anOrganization, aUser } from './helpers/factories.ts';
import { bothWays, expectCases, expectRefused, isPlan, readersOf, USER_HOLE, viewersOf } from './helpers/engine.ts';

// A link suggestion's parties (`subject`, `candidate`: a union of a user and an
// identity) and its merge, and a merge's organizations and conflicts, compiled by the
// read engine: a party is the row its stored end names, a merge's organizations and
// conflicts are those the viewer may read. Every answer is compared with the general
// path's, for viewers of every role; `changedSinceMerge` (no column) and fields a party
// leaves to its resolver take the general path alone.

afterEach(() => setPlannedReads(true));

type Party = { type: 'USER' | 'IDENTITY'; id: string };
const user = (u: { id: string }): Party => ({ type: 'USER', id: u.id });
const identity = (i: { id: string }): Party => ({ type: 'IDENTITY', id: i.id });

async function world() {
  const org = await anOrganization();
  const other = await anOrganization();
  const { analyst, auditor, admin } = await readersOf(org.id, other.id);
  const person = await aUser({ name: 'Zoë Ünal' });
  await aMember(org.id, person.id, { role: 'ORGANIZATION_ADMIN' });
  const rival = await aUser();
  await aMember(org.id, rival.id);
  // A user merged into the person (a tombstone), an identity, and parties deleted since.
  const merged = await aUser({ name: 'Zoe U.' });
  const account = await anIdentity(org.id, { name: 'Zoe (okta)' });
  const [goneUser, goneIdentity] = [crypto.randomUUID(), crypto.randomUUID()];
  // A merge touching both organizations, with conflicts of none, of each; and one touching none.
  const decisions = [
    { key: 'profile:name', kind: 'PROFILE', organizationId: null, field: 'name', survivorValue: 'Zoë Ünal', mergedValue: 'Zoe U.', keep: 'SURVIVOR', chosen: false, rule: 'the survivor keeps its profile' },
    { key: `membership:${org.id}`, kind: 'MEMBERSHIP', organizationId: org.id, field: 'role', survivorValue: 'ORGANIZATION_ADMIN', mergedValue: 'ANALYST', keep: 'MERGED', chosen: true, rule: 'the higher role' },
    { key: `identifier:${other.id}:crm:k`, kind: 'IDENTIFIER', organizationId: other.id, field: 'k', survivorValue: { nested: [1, 2.5, null] }, mergedValue: null, keep: 'SURVIVOR', chosen: false, rule: "the survivor's value" },
  ];
  const merge = await prisma.merge.create({ data: { survivorId: person.id, mergedId: merged.id, organizationIds: [org.id, other.id], before: {}, after: {}, decisions, createdAt: new Date(Date.UTC(2026, 0, 1)) } });
  await prisma.user.update({ where: { id: merged.id }, data: { mergedIntoId: person.id } });
  const empty = await prisma.merge.create({ data: { survivorId: rival.id, mergedId: (await aUser()).id, organizationIds: [], before: {}, after: {}, undoneAt: new Date(Date.UTC(2026, 0, 3)) } });
  // Parties on either stored end (an identity's type sorts first), one gone on each side.
  const pairs: [Party, Party, object?][] = [
    [user(person), user(rival)],
    [identity(account), user(person)],
    [user(rival), identity(account), { state: 'REJECTED', decidedAt: new Date() }],
    [user(person), user(merged), { state: 'APPROVED', decidedAt: new Date(), mergeId: merge.id }],
    [user(rival), { type: 'USER', id: goneUser }],
    [{ type: 'IDENTITY', id: goneIdentity }, user(rival), { mergeId: empty.id }],
  ];
  const suggestions = [];
  for (const [i, [subject, candidate, extra]] of pairs.entries()) {
    suggestions.push(await prisma.linkSuggestion.create({
      data: { organizationId: org.id, ...normalisedPair(subject, candidate), confidence: 0.5, createdBy: 'MANUAL', createdAt: new Date(Date.UTC(2026, 1, 1 + i)), ...extra },
    }));
  }
  expect(new Set(suggestions.map((s) => s.subjectIsA))).toEqual(new Set([true, false]));
  const secret = `igk_${randomBytes(32).toString('base64url')}`;
  await anApiKey(org.id, createHash('sha256').update(secret).digest('hex'));
  const viewers = await viewersOf({ analyst, admin, person, auditor }, org.id, secret);
  // A pending member of the organization may read none of it: refused before anything runs.
  const pending = await aUser();
  await aMember(org.id, pending.id, { state: 'PENDING' });
  const refused: GqlOptions = { token: await tokenFor(pending.authSubject!), organizationId: org.id };
  // A reader of the other organization only: the suggestions are not theirs to read.
  const outsider = await aUser();
  await aMember(other.id, outsider.id);
  const outside: [string, GqlOptions] = ['a reader of the other organization only', { token: await tokenFor(outsider.authSubject!) }];
  return { org, other, person, merged, account, merge, empty, suggestions, viewers, refused, outside };
}

const PARTY = '__typename ... on Node { id } ... on User { email name isSystemAdmin createdAt } ... on Identity { identityName: name identityType user { email } }';
const CONFLICT = '__typename key kind organizationId field survivorValue mergedValue keep chosen rule';
const MERGE = `id createdAt undoneAt mergedUserId survivor { email } organizationIds conflicts { ${CONFLICT} }`;
const PAGE_INFO = 'pageInfo { hasNextPage hasPreviousPage startCursor endCursor }';

describe("a suggestion's parties and merge, and a merge's organizations and conflicts, compiled", () => {
  it('the same answer as the general path, in lists and node(id), for viewers of every role', async () => {
    const { org, merged, account, merge, empty, suggestions, viewers, refused, outside } = await world();
    const page = (selection: string) => `{ organization(id: "${org.id}") { ${selection} } }`;
    const node = (type: string, id: string, selection: string) => `{ node(id: "${globalId(type, id)}") { id ... on ${type} { ${selection} } } }`;
    const cases: [string, string, boolean][] = [
      ['the parties and merge of every suggestion', page(`linkSuggestions { totalCount edges { cursor node { id subject { ${PARTY} } candidate { ${PARTY} } merge { ${MERGE} } } } ${PAGE_INFO} }`), true],
      ['a page of parties', page(`linkSuggestions(first: 3, state: SUGGESTED) { totalCount edges { cursor node { subject { __typename } c: candidate { ... on User { email } } } } ${PAGE_INFO} }`), true],
      ['a party through a fragment on the union', page('linkSuggestions { edges { node { subject { ... on LinkParty { __typename } ... on Identity { identityName: name } } } } }'), true],
      ['a suggestion and its merge', node('LinkSuggestion', suggestions[3]!.id, `state subject { ${PARTY} } candidate { ${PARTY} } merge { ${MERGE} }`), true],
      ['a suggestion of parties gone', node('LinkSuggestion', suggestions[5]!.id, `subject { ${PARTY} } candidate { ${PARTY} } merge { ${MERGE} }`), true],
      ['a merge', node('UserMerge', merge.id, MERGE), true],
      ['a merge of no organization', node('UserMerge', empty.id, MERGE), true],
      ['the conflicts of a merge, some fields, aliased', node('UserMerge', merge.id, 'conflicts { k: key side: keep } organizationIds'), true],
      // No SQL form: the fields take the general path, the rest stays compiled.
      ['a field of a party left to its resolver', page(`linkSuggestions { edges { node { subject { __typename ... on User { email ${USER_HOLE} } ... on Identity { name } } } } }`), false],
      ["a user party's authSubject, compiled", page('linkSuggestions { edges { node { subject { __typename ... on User { email authSubject } ... on Identity { name } } } } }'), true],
      ['what changed since a merge', node('UserMerge', merge.id, 'organizationIds changedSinceMerge { id }'), false],
    ];
    const answers = await expectCases(cases, viewers);
    await expectRefused(cases, refused);
    const get = (name: string, viewer: string) => answers.get(`${name}, as ${viewer}`)!.data;

    for (const [viewer] of viewers) {
      const edges = get('the parties and merge of every suggestion', viewer).organization.linkSuggestions.edges.map((e: any) => e.node);
      // A merged party (a tombstone) shows only to viewers who may see that user (shared/pointed.ts); both paths agree (above).
      const tombstone = edges[3].candidate;
      expect(edges.map((s: any) => [s.subject?.__typename ?? null, s.candidate?.__typename ?? null]), viewer).toEqual([
        ['User', 'User'],
        ['Identity', 'User'],
        ['User', 'Identity'],
        ['User', tombstone ? 'User' : null],
        ['User', null],
        [null, 'User'],
      ]);
      // The tombstone itself, as the party names it; the merge by id, whoever may read the suggestion.
      if (tombstone) expect(edges[3].candidate, viewer).toMatchObject({ id: globalId('User', merged.id), name: 'Zoe U.' });
      else expect(edges[3].candidate, viewer).toBeNull();
      expect(edges[3].merge.id, viewer).toBe(globalId('UserMerge', merge.id));
      expect(edges[1].subject, viewer).toMatchObject({ id: globalId('Identity', account.id), identityName: 'Zoe (okta)' });
    }
    const mergeAs = (viewer: string) => get('a merge', viewer).node;
    // Organizations and conflicts the viewer may read (those of none always), in the order stored.
    const [org1, org2] = mergeAs('a system admin, not narrowed to an organization').organizationIds;
    expect(mergeAs('a system admin, not narrowed to an organization').conflicts.map((c: any) => c.kind)).toEqual(['PROFILE', 'MEMBERSHIP', 'IDENTIFIER']);
    expect(mergeAs('an analyst of both organizations, not narrowed').organizationIds).toEqual([org1, org2]);
    expect(mergeAs('an analyst acting in the organization').organizationIds).toEqual([globalId('Organization', org.id)]);
    expect(mergeAs('an analyst acting in the organization').conflicts.map((c: any) => c.kind)).toEqual(['PROFILE', 'MEMBERSHIP']);
    expect(mergeAs('an analyst acting in the organization').conflicts[1]).toMatchObject({ organizationId: globalId('Organization', org.id), chosen: true, keep: 'MERGED' });
    expect(mergeAs('an analyst of both organizations, not narrowed').conflicts[2].survivorValue).toEqual({ nested: [1, 2.5, null] });
    expect(get('a merge of no organization', 'an analyst acting in the organization').node).toMatchObject({ organizationIds: [], conflicts: [] });

    // The next page of parties after a cursor; and the outsider reads none of it.
    for (const [viewer, options] of viewers) {
      const end = get('a page of parties', viewer).organization.linkSuggestions.pageInfo.endCursor;
      await expectCases([['parties after a cursor', page(`linkSuggestions(first: 2, after: "${end}", state: SUGGESTED) { totalCount edges { node { subject { ${PARTY} } merge { ${MERGE} } } } ${PAGE_INFO} }`), true]], [[viewer, options]]);
    }
    const outsider = await expectCases(cases.filter(([name]) => name.startsWith('a suggestion')), [outside]);
    for (const answer of outsider.values()) expect(answer.data.node).toBeNull();
  });

  it('several root fields: compiled parties and merges executed by graphql-js, holes inside a union member included', async () => {
    const { org, merge, suggestions, viewers } = await world();
    const query = `{
      a: organization(id: "${org.id}") { linkSuggestions { edges { node { subject { __typename ... on User { email authSubject ${USER_HOLE} } ... on Identity { identityName: name } } merge { organizationIds conflicts { key } } } } } }
      b: node(id: "${globalId('LinkSuggestion', suggestions[1]!.id)}") { ... on LinkSuggestion { subject { ... on Identity { name user { email } } } candidate { ... on User { email authSubject ${USER_HOLE} } } } }
      c: node(id: "${globalId('UserMerge', merge.id)}") { ... on UserMerge { organizationIds conflicts { kind organizationId } changedSinceMerge { id } } }
    }`;
    for (const [viewer, options] of viewers) {
      const both = await bothWays(query, options);
      expect(both.planned, viewer).toEqual(both.general);
      expect(both.planned.errors, viewer).toBeUndefined();
      // The roots compiled before execution, holes and all, go as one statement.
      expect(both.statements.filter(isPlan)[0], viewer).toMatch(/q1_found/);
    }
  });
});

import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { setPlannedReads } from '../src/modules/shared/engine/index.ts';
import { normalisedPair } from '../src/modules/suggestion/pairs.ts';
import { globalId, tokenFor, type GqlOptions } from './helpers/app.ts';
import { aMember, anApiKey, anIdentifier, anIdentity, anOrganization, aSource, aUser } from './helpers/factories.ts';
import { bothWays, expectCases, readersOf, USER_HOLE, viewersOf } from './helpers/engine.ts';
import { fc } from './helpers/property-runs.ts';

// matchCandidates computes its candidates, scores and evidence in JS; the users,
// identities and suggestions they name, and everything selected under them, are read
// by one compiled statement for all candidates, each under the rule node(id) reads its
// type by. Every answer is compared with the general path's, for viewers of every
// role: users and identities sharing values, a user who left the organization (seen
// only by readers of another organization of theirs), a merged user, another
// organization's rows holding the same values.

afterEach(() => setPlannedReads(true));

type Party = { type: 'USER' | 'IDENTITY'; id: string };

async function world() {
  const org = await anOrganization();
  const other = await anOrganization();
  const { analyst, auditor, admin } = await readersOf(org.id, other.id);
  const crm = await aSource(org.id, { key: 'crm' });
  const chat = await aSource(org.id, { key: 'chat' });
  const person = await aUser();
  await aMember(org.id, person.id, { role: 'ORGANIZATION_ADMIN' });
  await anIdentifier(org.id, person.id, crm.id, { identifierKey: 'owner_id', identifierValue: '005A', confidenceScore: 0.8 });
  // Members sharing the value: under the same key, and under another.
  const twin = await aUser();
  const weak = await aUser();
  for (const u of [twin, weak]) await aMember(org.id, u.id);
  await anIdentifier(org.id, twin.id, chat.id, { identifierKey: 'owner_id', identifierValue: '005A', confidenceScore: 0.5 });
  await anIdentifier(org.id, weak.id, chat.id, { identifierKey: 'employee_id', identifierValue: '005A' });
  // A user who left the organization (a member of the other one) and still holds the value here.
  const left = await aUser();
  await aMember(other.id, left.id);
  await anIdentifier(org.id, left.id, crm.id, { identifierKey: 'owner_id', identifierValue: '005A' });
  // A user merged into the twin whose identifier stayed behind: node(id) of it finds nothing.
  const merged = await aUser();
  await anIdentifier(org.id, merged.id, chat.id, { identifierKey: 'legacy_id', identifierValue: '005A' });
  await prisma.user.update({ where: { id: merged.id }, data: { mergedIntoId: twin.id } });
  // Identities sharing the person's email: one unlinked, one linked to the user who left.
  const account = await anIdentity(org.id, { name: 'Account', email: person.email, phoneNumber: '+15555550100' });
  const linked = await anIdentity(org.id, { name: 'Linked', externalEmail: person.email, userId: left.id });
  // The other organization holds the same values.
  const stranger = await aUser({ email: `stranger-${person.email}` });
  await aMember(other.id, stranger.id);
  await anIdentifier(other.id, stranger.id, (await aSource(other.id, { key: 'crm' })).id, { identifierKey: 'owner_id', identifierValue: '005A' });
  await anIdentity(other.id, { email: person.email });
  // Suggestions already recorded, on either stored end, one of them rejected.
  const p = (u: { id: string }): Party => ({ type: 'USER', id: u.id });
  const suggested: [Party, Party, object][] = [
    [p(person), p(twin), { state: 'SUGGESTED' }],
    [p(person), { type: 'IDENTITY', id: account.id }, { state: 'REJECTED', decidedAt: new Date() }],
    [{ type: 'IDENTITY', id: linked.id }, p(person), { state: 'SUGGESTED', confidence: null }],
  ];
  for (const [subject, candidate, extra] of suggested) {
    await prisma.linkSuggestion.create({ data: { organizationId: org.id, ...normalisedPair(subject, candidate), confidence: 0.7, createdBy: 'MANUAL', ...extra } });
  }
  const secret = `igk_${randomBytes(32).toString('base64url')}`;
  await anApiKey(org.id, createHash('sha256').update(secret).digest('hex'));
  const viewers = await viewersOf({ analyst, admin, person, auditor }, org.id, secret);
  const refused: [string, GqlOptions][] = [];
  for (const state of ['PENDING', 'SUSPENDED'] as const) {
    const u = await aUser();
    await aMember(org.id, u.id, { state });
    refused.push([`a ${state} member`, { token: await tokenFor(u.authSubject!), organizationId: org.id }]);
  }
  const outsider = await aUser();
  await aMember(other.id, outsider.id);
  refused.push(['a reader of the other organization only', { token: await tokenFor(outsider.authSubject!) }]);
  return { org, crm, person, twin, weak, left, merged, account, linked, viewers, refused };
}

const USER = 'id email name isSystemAdmin createdAt';
const IDENTITY = 'id name email externalEmail identityType user { email }';
const SUGGESTION = 'id state confidence createdBy subject { __typename ... on User { email } ... on Identity { name } } candidate { __typename ... on User { email } ... on Identity { name } }';

describe('matchCandidates: the rows candidates name, compiled', () => {
  it('the same answer as the general path, for viewers of every role', async () => {
    const w = await world();
    const of = (selection: string, subject = `userId: "${globalId('User', w.person.id)}"`) =>
      `{ matchCandidates(organizationId: "${globalId('Organization', w.org.id)}", ${subject}) { ${selection} } }`;
    const cases: [string, string, boolean][] = [
      ['users, identities and suggestions', of(`score evidence { kind value weight } user { ${USER} } identity { ${IDENTITY} } suggestion { ${SUGGESTION} }`), true],
      ['connections and relations under the user and the identity', of(
        'user { email identifiers(first: 2) { totalCount edges { cursor node { identifierKey identifierValue source { key } } } pageInfo { hasNextPage endCursor } } identities { totalCount edges { node { name } } } } identity { name properties { key } source { key } organization { slug } }',
      ), true],
      ['aliases, fragments and __typename', of('__typename a: user { id } b: user { email } ... on MatchCandidate { identity { __typename id } } s: suggestion { state } score'), true],
      ["an identity's candidates", of(`user { ${USER} } identity { ${IDENTITY} } suggestion { ${SUGGESTION} }`, `identityId: "${globalId('Identity', w.linked.id)}"`), true],
      // No SQL form: the field takes the general path, the rest stays compiled.
      ['a field left to its resolver', of(`user { email ${USER_HOLE} } identity { name }`), false],
      ['authSubject, compiled under the rule of who may read it', of('user { email authSubject } identity { name }'), true],
      // Nothing named selected: no compiled statement.
      ['only what is computed', of('score evidence { kind candidateField }'), false],
    ];
    const answers = await expectCases(cases, w.viewers);
    for (const [viewer, options] of w.refused) {
      for (const [name, query] of cases) {
        const both = await bothWays(query, options);
        expect(both.planned, `${name}, as ${viewer}`).toEqual(both.general);
        expect(both.planned.errors?.length, `${name}, as ${viewer}`).toBeGreaterThan(0);
      }
    }

    // The user who left shows only to viewers who may see them (a reader of their other
    // organization, a system admin, no one acting in this one); the merged user to no one.
    const uid = (u: { id: string }) => globalId('User', u.id);
    for (const [viewer] of w.viewers) {
      const list = answers.get(`users, identities and suggestions, as ${viewer}`)!.data.matchCandidates;
      const users = list.filter((c: any) => c.evidence.some((e: any) => e.value === '005A')).map((c: any) => c.user?.id ?? null);
      const seesLeft = users.includes(uid(w.left));
      if (viewer === 'an analyst acting in the organization' || viewer === 'an API key') expect(seesLeft, viewer).toBe(false);
      if (viewer.startsWith('an analyst of both') || viewer.startsWith('a system admin, not narrowed')) expect(seesLeft, viewer).toBe(true);
      expect(users.filter(Boolean).sort(), viewer).toEqual([uid(w.twin), uid(w.weak), ...(seesLeft ? [uid(w.left)] : [])].sort());
      expect(users, viewer).toHaveLength(4);
      const byIdentity = new Map(list.filter((c: any) => c.identity).map((c: any) => [c.identity.name, c]));
      expect((byIdentity.get('Account') as any).suggestion.state, viewer).toBe('REJECTED');
      expect((byIdentity.get('Linked') as any).identity.user, viewer).toEqual(seesLeft ? { email: w.left.email } : null);
      expect((byIdentity.get('Linked') as any).suggestion.subject, viewer).toEqual({ __typename: 'Identity', name: 'Linked' });
      expect(list.find((c: any) => c.user?.id === uid(w.twin)).suggestion.state, viewer).toBe('SUGGESTED');
    }
  });

  it('one statement reads the rows of every candidate: the statements do not grow with the candidates', async () => {
    const w = await world();
    const [, analyst] = w.viewers[0]!;
    const query = `{ matchCandidates(userId: "${globalId('User', w.person.id)}") {
      score user { email identifiers(first: 3) { totalCount edges { node { identifierValue } } } } identity { name user { email } } suggestion { state }
    } }`;
    const run = () => bothWays(query, analyst);
    const few = await run();
    for (let i = 0; i < 12; i++) {
      const u = await aUser();
      await aMember(w.org.id, u.id);
      await anIdentifier(w.org.id, u.id, w.crm.id, { identifierKey: `key${i}`, identifierValue: '005A' });
      await anIdentity(w.org.id, { email: `x${i}-${w.person.email}`, externalEmail: w.person.email });
    }
    const many = await run();
    expect(many.planned).toEqual(many.general);
    expect(many.planned.data!.matchCandidates.length).toBeGreaterThan(few.planned.data!.matchCandidates.length + 20);
    expect(many.usedPlan).toBe(true);
    expect(many.plans).toBe(1);
    console.info(`matchCandidates, compiled: ${few.statements.length} SQL statements for ${few.planned.data!.matchCandidates.length} candidates, ${many.statements.length} for ${many.planned.data!.matchCandidates.length}`);
    expect(many.statements.length).toBe(few.statements.length);
  });
});

// Generated worlds: holders of the subject's values of every kind (members in every
// state, users who left, merged users, identities linked or not, another
// organization's), suggestions in every state, and generated selections.
const KINDS = ['member', 'member', 'left', 'merged', 'identity', 'elsewhere'] as const;
const holderShape = fc.record({
  kind: fc.constantFrom(...KINDS),
  state: fc.constantFrom('ACTIVE', 'PENDING', 'SUSPENDED'),
  values: fc.subarray([0, 1, 2], { minLength: 1 }),
  sameKey: fc.boolean(),
  score: fc.option(fc.integer({ min: 1, max: 10 }), { nil: null }),
  linkedTo: fc.constantFrom('none', 'subject', 'previous'),
  suggestion: fc.option(fc.constantFrom('SUGGESTED', 'APPROVED', 'REJECTED'), { nil: null }),
});
const pick = <T>(xs: readonly T[]) => fc.subarray([...xs], { minLength: 1 }).map((f) => f.join(' '));
const candidateSelection = fc
  .record({
    user: fc.option(pick(['id', 'email', 'name', '__typename', 'authSubject', 'memberships { role state organization { slug } }', 'identifiers(first: 2) { totalCount edges { node { identifierValue } } }', 'identities { totalCount }']), { nil: null }),
    identity: fc.option(pick(['id', 'name', 'externalEmail', 'user { email }', 'source { key }', 'organization { slug }', 'linkedBy']), { nil: null }),
    suggestion: fc.option(pick(['id', 'state', 'confidence', 'decidedAt', 'subject { __typename ... on User { email } }', 'candidate { ... on Identity { name } ... on User { id } }']), { nil: null }),
    computed: pick(['score', 'evidence { kind value weight candidateField }', '__typename']),
  })
  .map(({ user, identity, suggestion, computed }) =>
    [computed, user ? `user { ${user} }` : '', identity ? `identity { ${identity} }` : '', suggestion ? `suggestion { ${suggestion} }` : ''].join(' '),
  );

describe('matchCandidates on generated worlds', () => {
  it('the same answer as the general path, for viewers of every role', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(holderShape, { minLength: 1, maxLength: 6 }), candidateSelection, async (holders, selection) => {
        const w = await world();
        const values = ['G1', 'G2', 'G3'].map((v) => `${v}-${w.org.id.slice(0, 8)}`);
        for (const [i, v] of values.entries()) await anIdentifier(w.org.id, w.person.id, w.crm.id, { identifierKey: `g${i}`, identifierValue: v });
        let previous: { id: string } = w.person;
        for (const [n, h] of holders.entries()) {
          const party: Party =
            h.kind === 'identity'
              ? { type: 'IDENTITY', id: (await anIdentity(w.org.id, { externalEmail: w.person.email, userId: h.linkedTo === 'subject' ? w.person.id : h.linkedTo === 'previous' ? previous.id : null })).id }
              : { type: 'USER', id: (await aUser()).id };
          if (party.type === 'USER') {
            if (h.kind === 'member') await aMember(w.org.id, party.id, { state: h.state });
            const org = h.kind === 'elsewhere' ? (await prisma.member.findFirstOrThrow({ where: { userId: w.left.id, organizationId: { not: w.org.id } } })).organizationId : w.org.id;
            if (h.kind === 'left' || h.kind === 'elsewhere') await aMember(org, party.id);
            const source = org === w.org.id ? w.crm.id : (await aSource(org)).id;
            for (const v of h.values) {
              await anIdentifier(org, party.id, source, { identifierKey: h.sameKey ? `g${v}` : `other${n}-${v}`, identifierValue: values[v]!, confidenceScore: h.score && h.score / 10 });
            }
            if (h.kind === 'merged') await prisma.user.update({ where: { id: party.id }, data: { mergedIntoId: previous.id } });
            previous = party;
          }
          if (h.suggestion) {
            await prisma.linkSuggestion.create({
              data: { organizationId: w.org.id, ...normalisedPair({ type: 'USER', id: w.person.id }, party), state: h.suggestion, confidence: h.score && h.score / 10, createdBy: 'MANUAL', decidedAt: h.suggestion === 'SUGGESTED' ? null : new Date() },
            });
          }
        }
        const query = `{ matchCandidates(organizationId: "${w.org.id}", userId: "${globalId('User', w.person.id)}") { ${selection} } }`;
        // Every user holding a value here is a candidate (an identity, unless it is the subject's own).
        const users = holders.filter((h) => h.kind !== 'identity' && h.kind !== 'elsewhere').length;
        const named = /\b(user|identity|suggestion) \{/.test(selection);
        for (const [viewer, options] of [...w.viewers, ...w.refused]) {
          const both = await bothWays(query, options);
          expect(both.planned, `${query}\nas ${viewer}`).toEqual(both.general);
          if (!both.planned.errors && named) expect(both.plans, `${query}\nas ${viewer}`).toBe(1);
          if (!both.planned.errors) expect(both.planned.data!.matchCandidates.length).toBeGreaterThanOrEqual(users);
        }
      }),
      { numRuns: 4 },
    );
  }, 240_000);
});

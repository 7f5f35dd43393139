import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { tableName } from '../src/modules/shared/sql-names.ts';
import { expectErrorCode, expectNoErrors, globalId, gql } from './helpers/app.ts';
import { aMember, anIdentifier, anIdentity, anOrganization, aSource, aUser, withNormalised } from './helpers/factories.ts';
import { withSqlLog } from './helpers/sql-count.ts';

// Duplicates: candidates that share values, with their evidence and score, and link
// suggestions through their life cycle (created, listed, approved or rejected, the
// organization's automatic approval, a rejected pair staying rejected).

const CANDIDATES = `query ($org: ID, $user: ID, $identity: ID) {
  matchCandidates(organizationId: $org, userId: $user, identityId: $identity) {
    user { id } identity { id } score
    evidence { kind value subjectField subjectSource subjectConfidence candidateField candidateSource candidateConfidence weight }
    suggestion { id state }
  }
}`;
const CREATE = `mutation ($input: CreateLinkSuggestionInput!) {
  createLinkSuggestion(input: $input) {
    __typename
    ... on CreateLinkSuggestionSuccess { suggestion { id state confidence createdBy merge { id } subject { __typename ... on User { id } ... on Identity { id } } candidate { __typename ... on User { id } ... on Identity { id } } } }
    ... on Error { code message }
  }
}`;
const APPROVE = `mutation ($input: ApproveLinkSuggestionInput!) {
  approveLinkSuggestion(input: $input) {
    __typename
    ... on ApproveLinkSuggestionSuccess { suggestion { id state decidedAt merge { id survivor { id } mergedUserId } } }
    ... on Error { code message }
  }
}`;
const REJECT = `mutation ($input: RejectLinkSuggestionInput!) {
  rejectLinkSuggestion(input: $input) { __typename ... on RejectLinkSuggestionSuccess { suggestion { id state } } ... on Error { code message } }
}`;
const LIST = `query ($org: ID!, $state: SuggestionState, $min: Float) {
  organization(id: $org) { linkSuggestions(state: $state, minConfidence: $min, first: 50) { totalCount edges { node { id state confidence } } } }
}`;
const SET_THRESHOLD = `mutation ($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) { __typename ... on UpdateOrganizationSuccess { organization { autoApproveLinkConfidence } } ... on Error { code } }
}`;

const uid = (id: string) => globalId('User', id);
const did = (id: string) => globalId('Identity', id);

async function tenant() {
  const org = await anOrganization();
  const admin = await aUser();
  const analyst = await aUser();
  await aMember(org.id, admin.id, { role: 'ORGANIZATION_ADMIN' });
  await aMember(org.id, analyst.id, { role: 'ANALYST' });
  const crm = await aSource(org.id, { key: 'crm' });
  const chat = await aSource(org.id, { key: 'chat' });
  return { org, admin, analyst, crm, chat };
}

describe('matchCandidates', () => {
  it('finds users and identities sharing values with a user, with evidence and scores, best first', async () => {
    const { org, admin, crm, chat } = await tenant();
    const ada = await aUser({ email: 'ada@example.com' });
    const twin = await aUser(); // same owner_id in another source, scored
    const weak = await aUser(); // same value under another key
    const other = await aUser(); // nothing shared
    for (const u of [ada, twin, weak, other]) await aMember(org.id, u.id);
    await anIdentifier(org.id, ada.id, crm.id, { identifierKey: 'owner_id', identifierValue: '005A', confidenceScore: 0.8 });
    await anIdentifier(org.id, twin.id, chat.id, { identifierKey: 'owner_id', identifierValue: '005A', confidenceScore: 0.5 });
    await anIdentifier(org.id, weak.id, chat.id, { identifierKey: 'employee_id', identifierValue: '005A' });
    await anIdentifier(org.id, other.id, crm.id, { identifierKey: 'owner_id', identifierValue: '999' });
    const identity = await anIdentity(org.id, { email: 'ada@example.com', phoneNumber: '+15555550100' });
    await anIdentity(org.id, { email: 'ada-linked@example.com', userId: ada.id }); // her own: no candidate
    // Another organization's identical values stay out.
    const elsewhere = await anOrganization();
    const stranger = await aUser();
    await aMember(elsewhere.id, stranger.id);
    const src = await aSource(elsewhere.id, { key: 'crm' });
    await anIdentifier(elsewhere.id, stranger.id, src.id, { identifierKey: 'owner_id', identifierValue: '005A' });

    const result = await gql(CANDIDATES, { asUser: admin, variables: { org: org.id, user: uid(ada.id) } });
    expectNoErrors(result);
    // 005A is held by three users (Ada, twin, weak): a shared value, each piece of its evidence counts half.
    expect(result.data!.matchCandidates).toEqual([
      {
        user: null,
        identity: { id: did(identity.id) },
        score: 0.9,
        evidence: [{
          kind: 'EMAIL', value: 'ada@example.com', subjectField: 'email', subjectSource: null, subjectConfidence: null,
          candidateField: 'email', candidateSource: null, candidateConfidence: null, weight: 0.9,
        }],
        suggestion: null,
      },
      {
        user: { id: uid(weak.id) },
        identity: null,
        score: 0.2,
        evidence: [{
          kind: 'IDENTIFIER_VALUE', value: '005A', subjectField: 'owner_id', subjectSource: 'crm', subjectConfidence: 0.8,
          candidateField: 'employee_id', candidateSource: 'chat', candidateConfidence: null, weight: 0.2,
        }],
        suggestion: null,
      },
      {
        user: { id: uid(twin.id) },
        identity: null,
        score: 0.18,
        evidence: [{
          kind: 'IDENTIFIER_VALUE', value: '005A', subjectField: 'owner_id', subjectSource: 'crm', subjectConfidence: 0.8,
          candidateField: 'owner_id', candidateSource: 'chat', candidateConfidence: 0.5, weight: 0.18,
        }],
        suggestion: null,
      },
    ]);
  });

  it('finds the users an identity may belong to, combining evidence; the cost does not grow with the matches', async () => {
    const { org, admin, crm } = await tenant();
    const identity = await anIdentity(org.id, { email: 'jean@example.com', phoneNumber: '+15555550111' });
    const jean = await aUser({ email: 'jean@example.com' });
    await aMember(org.id, jean.id);
    await anIdentifier(org.id, jean.id, crm.id, { identifierKey: 'phone', identifierValue: '+15555550111' });
    const run = () => gql(CANDIDATES, { asUser: admin, variables: { identity: did(identity.id) } });
    const one = await withSqlLog(run);
    expectNoErrors(one.result);
    const [candidate] = one.result.data!.matchCandidates;
    expect(candidate.user).toEqual({ id: uid(jean.id) });
    expect(candidate.evidence.map((e: { kind: string; weight: number }) => [e.kind, e.weight])).toEqual([['EMAIL', 0.9], ['PHONE', 0.8]]);
    expect(candidate.score).toBe(0.98);

    for (let i = 0; i < 15; i++) {
      const u = await aUser();
      await aMember(org.id, u.id);
      await anIdentifier(org.id, u.id, crm.id, { identifierKey: `phone${i}`, identifierValue: '+15555550111' });
    }
    const many = await withSqlLog(run);
    expect(many.result.data!.matchCandidates).toHaveLength(16);
    console.info(`matchCandidates: ${one.statements.length} SQL statements for 1 candidate, ${many.statements.length} for 16`);
    expect(many.statements.length).toBe(one.statements.length);

    // Linked to jean, the identity no longer has jean as a candidate.
    await prisma.identity.update({ where: { id: identity.id }, data: { userId: jean.id, linkedBy: 'MANUAL' } });
    const linked = await run();
    expect(linked.data!.matchCandidates.map((c: { user: { id: string } }) => c.user.id)).not.toContain(uid(jean.id));
  });

  it('answers NOT_FOUND for an identity of an organization the viewer cannot read, FORBIDDEN for the organization', async () => {
    const { org, analyst } = await tenant();
    const identity = await anIdentity(org.id, { email: 'x@example.com' });
    const outsider = await aUser();
    const theirs = await anOrganization();
    await aMember(theirs.id, outsider.id, { role: 'ORGANIZATION_ADMIN' });
    expectErrorCode(await gql(CANDIDATES, { asUser: outsider, variables: { identity: did(identity.id) } }), 'NOT_FOUND');
    expectErrorCode(await gql(CANDIDATES, { asUser: outsider, variables: { org: org.id, user: uid(analyst.id) } }), 'FORBIDDEN');
  });
});

describe('link suggestions', () => {
  it('go from SUGGESTED to REJECTED, and a rejected pair stays rejected whoever suggests it again', async () => {
    const { org, admin, analyst } = await tenant();
    const a = await aUser();
    const b = await aUser();
    await aMember(org.id, a.id);
    await aMember(org.id, b.id);
    const created = await gql(CREATE, {
      asUser: analyst,
      variables: { input: { organizationId: org.id, subjectId: uid(a.id), candidateId: uid(b.id), confidence: 0.7, createdBy: 'LLM_DISCOVERY', metadata: { job: 'nightly' } } },
    });
    expectNoErrors(created);
    const s = created.data!.createLinkSuggestion.suggestion;
    expect(s).toMatchObject({ state: 'SUGGESTED', confidence: 0.7, createdBy: 'LLM_DISCOVERY', subject: { id: uid(a.id) }, candidate: { id: uid(b.id) } });
    const createdEvents = await prisma.auditEvent.findMany({ where: { entityType: 'LinkSuggestion' } });
    expect(createdEvents.map((e) => [e.action, e.organizationId, e.actorUserId])).toEqual([['CREATE', org.id, analyst.id]]);

    // An analyst suggests; only an admin decides.
    expectErrorCode(await gql(REJECT, { asUser: analyst, variables: { input: { id: s.id } } }), 'FORBIDDEN');
    const rejected = await gql(REJECT, { asUser: admin, variables: { input: { id: s.id } } });
    expect(rejected.data!.rejectLinkSuggestion.suggestion).toEqual({ id: s.id, state: 'REJECTED' });

    // The same pair, the other way round and by the server's own rule, is the same row.
    const again = await gql(CREATE, {
      asUser: admin,
      variables: { input: { organizationId: org.id, subjectId: uid(b.id), candidateId: uid(a.id), confidence: 0.99 } },
    });
    expect(again.data!.createLinkSuggestion.suggestion).toMatchObject({ id: s.id, state: 'REJECTED', confidence: 0.7 });
    const approve = await gql(APPROVE, { asUser: admin, variables: { input: { id: s.id } } });
    expectErrorCode(approve, 'CONFLICT');
    expect(await prisma.user.count({ where: { mergedIntoId: { not: null } } })).toBe(0);
    expect(await prisma.linkSuggestion.count()).toBe(1);
    const decisions = await prisma.auditEvent.findMany({ where: { entityType: 'LinkSuggestion', action: 'UPDATE' } });
    expect(decisions.map((e) => [e.actorUserId, e.changes])).toEqual([[admin.id, { state: { before: 'SUGGESTED', after: 'REJECTED' } }]]);

    // Listed by state and confidence.
    const list = await gql(LIST, { asUser: analyst, variables: { org: org.id, state: 'REJECTED' } });
    expect(list.data!.organization.linkSuggestions).toEqual({ totalCount: 1, edges: [{ node: { id: s.id, state: 'REJECTED', confidence: 0.7 } }] });
    const none = await gql(LIST, { asUser: analyst, variables: { org: org.id, min: 0.8 } });
    expect(none.data!.organization.linkSuggestions.totalCount).toBe(0);
  });

  it('approving two users merges them (the subject survives) and unmerging puts the suggestion back', async () => {
    const { org, admin } = await tenant();
    const a = await aUser();
    const b = await aUser();
    await aMember(org.id, a.id);
    await aMember(org.id, b.id);
    const created = await gql(CREATE, { asUser: admin, variables: { input: { organizationId: org.id, subjectId: uid(a.id), candidateId: uid(b.id) } } });
    const id = created.data!.createLinkSuggestion.suggestion.id;
    const before = await prisma.linkSuggestion.findFirstOrThrow();
    const approved = await gql(APPROVE, { asUser: admin, variables: { input: { id } } });
    expectNoErrors(approved);
    const s = approved.data!.approveLinkSuggestion.suggestion;
    expect(s).toMatchObject({ state: 'APPROVED', decidedAt: expect.any(String), merge: { survivor: { id: uid(a.id) }, mergedUserId: uid(b.id) } });
    expect((await prisma.user.findUniqueOrThrow({ where: { id: b.id } })).mergedIntoId).toBe(a.id);

    const undone = await gql(`mutation ($id: ID!) { unmergeUser(input: { mergeId: $id }) { __typename } }`, { asUser: admin, variables: { id: s.merge.id } });
    expect(undone.data!.unmergeUser.__typename).toBe('UnmergeUserSuccess');
    expect(await prisma.linkSuggestion.findFirstOrThrow()).toEqual(before);
  });

  it('approving an identity and a user links them MANUAL; a second decision is a conflict', async () => {
    const { org, admin } = await tenant();
    const u = await aUser();
    await aMember(org.id, u.id);
    const identity = await anIdentity(org.id);
    const created = await gql(CREATE, { asUser: admin, variables: { input: { organizationId: org.id, subjectId: did(identity.id), candidateId: uid(u.id), confidence: 0.4 } } });
    expectNoErrors(created);
    const id = created.data!.createLinkSuggestion.suggestion.id;
    const approved = await gql(APPROVE, { asUser: admin, variables: { input: { id } } });
    expect(approved.data!.approveLinkSuggestion.suggestion).toMatchObject({ state: 'APPROVED', merge: null });
    expect(await prisma.identity.findUniqueOrThrow({ where: { id: identity.id } })).toMatchObject({ userId: u.id, linkedBy: 'MANUAL' });
    expectErrorCode(await gql(REJECT, { asUser: admin, variables: { input: { id } } }), 'CONFLICT');
    expect((await prisma.linkSuggestion.findFirstOrThrow()).state).toBe('APPROVED');
  });

  it('refuses pairs that cannot be linked, writing nothing', async () => {
    const { org, admin } = await tenant();
    const d1 = await anIdentity(org.id);
    const d2 = await anIdentity(org.id);
    const outsider = await aUser(); // not a member
    expectErrorCode(await gql(CREATE, { asUser: admin, variables: { input: { organizationId: org.id, subjectId: did(d1.id), candidateId: did(d2.id) } } }), 'BAD_USER_INPUT');
    expectErrorCode(await gql(CREATE, { asUser: admin, variables: { input: { organizationId: org.id, subjectId: did(d1.id), candidateId: uid(outsider.id) } } }), 'NOT_FOUND');
    expectErrorCode(await gql(CREATE, { asUser: admin, variables: { input: { organizationId: org.id, subjectId: did(d1.id), candidateId: did(d1.id) } } }), 'BAD_USER_INPUT');
    expect(await prisma.linkSuggestion.count()).toBe(0);
  });

  it('are approved at once at or above the organization\'s threshold, only there, and only an admin sets it', async () => {
    const { org, admin, analyst } = await tenant();
    const users = [];
    for (let i = 0; i < 4; i++) {
      const u = await aUser();
      await aMember(org.id, u.id);
      users.push(u);
    }
    const suggest = (s: string, c: string, confidence: number) =>
      gql(CREATE, { asUser: analyst, variables: { input: { organizationId: org.id, subjectId: uid(s), candidateId: uid(c), confidence } } });

    // Off by default.
    expect((await suggest(users[0]!.id, users[1]!.id, 0.99)).data!.createLinkSuggestion.suggestion.state).toBe('SUGGESTED');
    expectErrorCode(await gql(SET_THRESHOLD, { asUser: analyst, variables: { input: { id: org.id, autoApproveLinkConfidence: 0.9 } } }), 'FORBIDDEN');
    expectErrorCode(await gql(SET_THRESHOLD, { asUser: admin, variables: { input: { id: org.id, autoApproveLinkConfidence: 1.5 } } }), 'BAD_USER_INPUT');
    const set = await gql(SET_THRESHOLD, { asUser: admin, variables: { input: { id: org.id, autoApproveLinkConfidence: 0.9 } } });
    expect(set.data!.updateOrganization.organization).toEqual({ autoApproveLinkConfidence: 0.9 });

    const below = await suggest(users[2]!.id, users[3]!.id, 0.89);
    expect(below.data!.createLinkSuggestion.suggestion).toMatchObject({ state: 'SUGGESTED', merge: null });
    const at = await suggest(users[1]!.id, users[2]!.id, 0.9);
    expect(at.data!.createLinkSuggestion.suggestion).toMatchObject({ state: 'APPROVED', merge: { id: expect.any(String) } });
    expect((await prisma.user.findUniqueOrThrow({ where: { id: users[2]!.id } })).mergedIntoId).toBe(users[1]!.id);

    // A user with data in another organization is not merged by this one's setting.
    const other = await anOrganization();
    await aMember(other.id, users[3]!.id);
    const beyond = await suggest(users[0]!.id, users[3]!.id, 0.95);
    expect(beyond.data!.createLinkSuggestion.suggestion).toMatchObject({ state: 'SUGGESTED', merge: null });
    expect((await prisma.user.findUniqueOrThrow({ where: { id: users[3]!.id } })).mergedIntoId).toBeNull();

    const off = await gql(SET_THRESHOLD, { asUser: admin, variables: { input: { id: org.id, autoApproveLinkConfidence: null } } });
    expect(off.data!.updateOrganization.organization).toEqual({ autoApproveLinkConfidence: null });
    const identity = await anIdentity(org.id);
    expect((await gql(CREATE, { asUser: analyst, variables: { input: { organizationId: org.id, subjectId: did(identity.id), candidateId: uid(users[0]!.id), confidence: 1 } } }))
      .data!.createLinkSuggestion.suggestion.state).toBe('SUGGESTED');
  });
});

describe('server-created suggestions', () => {
  const UPSERT_MANY = `mutation ($input: UpsertIdentifiersInput!) {
    upsertIdentifiers(input: $input) { __typename ... on UpsertIdentifiersSuccess { createdCount } ... on Error { code message } }
  }`;

  it('a bulk write giving a user values another user has suggests the pair once, in one statement for 1,000 items', async () => {
    const { org, admin, analyst, crm } = await tenant();
    const a = await aUser();
    const b = await aUser();
    const c = await aUser();
    for (const u of [a, b, c]) await aMember(org.id, u.id);
    await prisma.identifier.createMany({
      data: Array.from({ length: 500 }, (_, i) => ({
        organizationId: org.id, userId: a.id, sourceId: crm.id, ...withNormalised(`k${i}`, `v${i}`), discoveryMethod: 'MANUAL' as const, confidenceScore: 0.7,
      })),
    });
    // c shares a value under another key only: not suggested.
    await anIdentifier(org.id, c.id, crm.id, { identifierKey: 'other', identifierValue: 'v999' });
    const items = (n: number, user: string, offset = 0) =>
      Array.from({ length: n }, (_, i) => ({
        userId: uid(user), sourceKey: 'chat', identifierKey: `k${i + offset}`, identifierValue: `v${i + offset}`, discoveryMethod: 'LLM_DISCOVERY', confidenceScore: 0.9,
      }));

    const small = await withSqlLog(() => gql(UPSERT_MANY, { asUser: analyst, variables: { input: { organizationId: org.id, items: items(10, c.id, 2000) } } }));
    expect(small.result.data!.upsertIdentifiers.createdCount).toBe(10);
    const big = await withSqlLog(() => gql(UPSERT_MANY, { asUser: analyst, variables: { input: { organizationId: org.id, items: items(1000, b.id) } } }));
    expect(big.result.data!.upsertIdentifiers.createdCount).toBe(1000);
    console.info(`upsertIdentifiers: ${small.statements.length} SQL statements for 10 items, ${big.statements.length} for 1,000 (suggestions included)`);
    // The same statements, and the one recording the suggestions when there is something to suggest.
    const recording = (s: string) => s.includes(`INSERT INTO ${tableName('LinkSuggestion')}`);
    expect(big.statements.filter((s) => !recording(s)).length).toBe(small.statements.filter((s) => !recording(s)).length);
    expect(small.statements.filter(recording)).toHaveLength(0);
    expect(big.statements.filter(recording)).toHaveLength(1);

    const suggestions = await prisma.linkSuggestion.findMany();
    expect(suggestions).toHaveLength(1);
    const [s] = suggestions;
    // 500 shared values under the same keys (0.9 × 0.9 × 0.7 each): as certain as a score gets.
    expect(s).toMatchObject({ organizationId: org.id, state: 'SUGGESTED', createdBy: 'SERVER', confidence: 1 });
    expect([s!.aId, s!.bId].sort()).toEqual([a.id, b.id].sort());
    expect(s!.subjectIsA).toBe(s!.aId === b.id); // the writer's user is the subject
    // The strongest 20 pieces of evidence are kept, each with its author.
    expect(s!.evidence).toHaveLength(20);
    expect((s!.evidence as object[])[0]).toEqual(
      expect.objectContaining({ kind: 'IDENTIFIER_VALUE', subjectSource: 'chat', candidateSource: 'crm', weight: 0.567, suggestedBy: 'SERVER' }),
    );

    // Rejected, the pair stays rejected however many more values they come to share.
    const rejected = await gql(REJECT, { asUser: admin, variables: { input: { id: globalId('LinkSuggestion', s!.id) } } });
    expect(rejected.data!.rejectLinkSuggestion.suggestion.state).toBe('REJECTED');
    await gql(UPSERT_MANY, { asUser: analyst, variables: { input: { organizationId: org.id, items: items(5, a.id, 3000).map((x, i) => ({ ...x, ...withNormalised(`k${i}`, `v${i}`), sourceKey: 'chat' })) } } });
    expect(await prisma.linkSuggestion.findMany()).toEqual([expect.objectContaining({ id: s!.id, state: 'REJECTED' })]);
  });

  it('updateIdentifier to a value another user has suggests the pair', async () => {
    const { org, analyst, crm } = await tenant();
    const a = await aUser();
    const b = await aUser();
    await aMember(org.id, a.id);
    await aMember(org.id, b.id);
    await anIdentifier(org.id, a.id, crm.id, { identifierKey: 'owner_id', identifierValue: '005A' });
    const mine = await anIdentifier(org.id, b.id, crm.id, { identifierKey: 'owner_id', identifierValue: '005B', confidenceScore: 0.4 });
    expect(await prisma.linkSuggestion.count()).toBe(0);
    const result = await gql(`mutation ($input: UpdateIdentifierInput!) { updateIdentifier(input: $input) { __typename } }`, {
      asUser: analyst,
      variables: { input: { id: globalId('Identifier', mine.id), identifierValue: '005A' } },
    });
    expectNoErrors(result);
    const list = await gql(LIST, { asUser: analyst, variables: { org: org.id, state: 'SUGGESTED' } });
    // Its weight: 0.9 for the same key, times the confidences (0.4 and unscored, which counts as certain).
    expect(list.data!.organization.linkSuggestions.edges.map((e: { node: { confidence: number } }) => e.node.confidence)).toEqual([0.36]);
  });

  it("a discovery job suggesting a pair above the auto-approve threshold raises the server's weaker suggestion, keeps both authors' evidence and approves it", async () => {
    const { org, admin, analyst, crm, chat } = await tenant();
    const a = await aUser();
    const b = await aUser();
    await aMember(org.id, a.id);
    await aMember(org.id, b.id);
    await anIdentifier(org.id, a.id, crm.id, { identifierKey: 'owner_id', identifierValue: '005A', confidenceScore: 0.9 });
    const mine = await anIdentifier(org.id, b.id, chat.id, { identifierKey: 'owner_id', identifierValue: '005B' });
    expectNoErrors(await gql(`mutation ($input: UpdateIdentifierInput!) { updateIdentifier(input: $input) { __typename } }`, {
      asUser: analyst,
      variables: { input: { id: globalId('Identifier', mine.id), identifierValue: '005A' } },
    }));
    const [server] = await prisma.linkSuggestion.findMany();
    expect(server).toMatchObject({ createdBy: 'SERVER', state: 'SUGGESTED' });
    expect(server!.confidence).toBeLessThan(0.95);
    const serverEvidence = server!.evidence as object[];
    expect(serverEvidence).toEqual([expect.objectContaining({ kind: 'IDENTIFIER_VALUE', suggestedBy: 'SERVER' })]);
    expectNoErrors(await gql(SET_THRESHOLD, { asUser: admin, variables: { input: { id: org.id, autoApproveLinkConfidence: 0.95 } } }));

    const job = await gql(CREATE, {
      asUser: analyst,
      variables: {
        input: {
          organizationId: org.id, subjectId: uid(a.id), candidateId: uid(b.id), confidence: 0.97, createdBy: 'LLM_DISCOVERY',
          evidence: [{ kind: 'SIGNATURE', value: 'same e-mail signature' }],
        },
      },
    });
    expectNoErrors(job);
    expect(job.data!.createLinkSuggestion.suggestion).toMatchObject({
      id: globalId('LinkSuggestion', server!.id), state: 'APPROVED', confidence: 0.97, createdBy: 'SERVER', merge: { id: expect.any(String) },
    });
    const row = await prisma.linkSuggestion.findUniqueOrThrow({ where: { id: server!.id } });
    expect(row.evidence).toEqual([...serverEvidence, { kind: 'SIGNATURE', value: 'same e-mail signature', suggestedBy: 'LLM_DISCOVERY' }]);
    const merged = (await prisma.user.findMany({ where: { id: { in: [a.id, b.id] } } })).filter((u) => u.mergedIntoId !== null);
    expect(merged).toHaveLength(1);
    const events = await prisma.auditEvent.findMany({ where: { entityType: 'LinkSuggestion', entityId: server!.id }, orderBy: { createdAt: 'asc' } });
    expect(events.map((e) => e.action)).toEqual(expect.arrayContaining(['UPDATE']));
    expect(events.find((e) => e.action === 'UPDATE')!.changes).toMatchObject({ confidence: { before: server!.confidence, after: 0.97 } });
  });

  it('an identity write whose email, unverified account email or phone number a member has suggests the identity as theirs', async () => {
    const { org, analyst, crm } = await tenant();
    await aSource(org.id, { key: 'okta', kind: 'IDENTITY_PROVIDER' });
    const ada = await aUser({ email: 'ada@example.com' });
    const bob = await aUser();
    await aUser({ email: 'eve@example.com' });
    await aMember(org.id, ada.id);
    await aMember(org.id, bob.id);
    await anIdentifier(org.id, bob.id, crm.id, { identifierKey: 'mobile', identifierValue: '+15555550123', confidenceScore: 0.5 });
    const BULK = `mutation ($input: UpsertIdentitiesInput!) {
      upsertIdentities(input: $input) { __typename ... on UpsertIdentitiesSuccess { results { identity { id identifierKey user { id } } } } ... on Error { code } }
    }`;
    const items = [
      // Its email is Ada's: suggested as Ada's.
      { identifierKey: 'by-email', identityType: 'USER', name: 'A', email: 'ADA@example.com' },
      // An account whose email the provider did not verify: never linked, but suggested.
      { identifierKey: 'by-account', identityType: 'USER', name: 'B', sourceKey: 'okta', externalId: '00u1', externalEmail: 'ada@example.com' },
      // Its phone number is one of Bob's identifier values.
      { identifierKey: 'by-phone', identityType: 'USER', name: 'C', phoneNumber: '+1 555 555 0123' },
      // Verified: linked to Ada at once (AUTO), so nothing to suggest.
      { identifierKey: 'linked', identityType: 'USER', name: 'D', sourceKey: 'okta', externalId: '00u2', externalEmail: 'ada@example.com', externalEmailVerified: true },
      // Eve is no member of this organization: nothing.
      { identifierKey: 'outsider', identityType: 'USER', name: 'E', email: 'eve@example.com' },
    ];
    const written = await withSqlLog(() => gql(BULK, { asUser: analyst, variables: { input: { organizationId: org.id, items } } }));
    expectNoErrors(written.result);
    expect(written.statements.filter((q) => q.includes(`INSERT INTO ${tableName('LinkSuggestion')}`))).toHaveLength(1);
    const ids = Object.fromEntries(
      written.result.data!.upsertIdentities.results.map((r: { identity: { id: string; identifierKey: string } }) => [r.identity.identifierKey, r.identity.id]),
    );
    const rows = await prisma.linkSuggestion.findMany({ orderBy: { confidence: 'desc' } });
    const pairs = rows.map((r) => [globalId('Identity', r.aId), r.bId, r.aType, r.bType, r.subjectIsA, r.createdBy, r.state, r.confidence]);
    expect(pairs).toEqual(
      expect.arrayContaining([
        [ids['by-email'], ada.id, 'IDENTITY', 'USER', true, 'SERVER', 'SUGGESTED', 0.9],
        [ids['by-account'], ada.id, 'IDENTITY', 'USER', true, 'SERVER', 'SUGGESTED', 0.9],
        [ids['by-phone'], bob.id, 'IDENTITY', 'USER', true, 'SERVER', 'SUGGESTED', 0.4],
      ]),
    );
    expect(rows).toHaveLength(3);
    expect(rows.find((r) => globalId('Identity', r.aId) === ids['by-account'])!.evidence).toEqual([
      expect.objectContaining({ kind: 'EMAIL', value: 'ada@example.com', subjectField: 'externalEmail', candidateField: 'email' }),
    ]);
    expect(rows.find((r) => r.bId === bob.id)!.evidence).toEqual([
      expect.objectContaining({ kind: 'PHONE', value: '+15555550123', subjectField: 'phoneNumber', candidateField: 'mobile', candidateSource: 'crm' }),
    ]);
    expect(ids.linked).toBeDefined();

    // Rejected stays rejected when the identity is written again; an update that gives
    // another identity Bob's email suggests that one.
    await prisma.linkSuggestion.updateMany({ data: { state: 'REJECTED', decidedAt: new Date() } });
    await gql(BULK, { asUser: analyst, variables: { input: { organizationId: org.id, items: [{ ...items[0], name: 'A again' }] } } });
    const other = await anIdentity(org.id, { identifierKey: 'later' });
    const update = await gql(`mutation ($input: UpdateIdentityInput!) { updateIdentity(input: $input) { __typename } }`, {
      asUser: analyst,
      variables: { input: { id: did(other.id), externalEmail: null, email: null, name: 'Later' } },
    });
    expectNoErrors(update);
    expect(await prisma.linkSuggestion.count()).toBe(3);
    await gql(`mutation ($input: UpdateIdentityInput!) { updateIdentity(input: $input) { __typename } }`, {
      asUser: analyst,
      variables: { input: { id: did(other.id), email: bob.email } },
    });
    expect(await prisma.linkSuggestion.findMany({ where: { state: 'SUGGESTED' } })).toEqual([
      expect.objectContaining({ aId: other.id, bId: bob.id, createdBy: 'SERVER' }),
    ]);
  });
});

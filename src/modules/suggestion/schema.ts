import type { GraphQLObjectType, GraphQLResolveInfo } from 'graphql';
import { builder } from '../../builder.ts';
import type { Context } from '../../context.ts';
import type { SuggestionState } from '../../generated/prisma/client.ts';
import { organizationIdField } from '../shared/fields.ts';
import { IdentityRef } from '../identity/schema.ts';
import { loadVisibleMerge, MergeChoiceInput, UserMergeRef, visibleMergesWhere } from '../merge/schema.ts';
import { loadReadableIdentity, loadVisibleUser, readableRowRule } from '../shared/pointed.ts';
import { visibleUserRule } from '../shared/rules.ts';
import { LastOrganizationAdminError } from '../../errors.ts';
import { OLDEST_FIRST, totalCountField } from '../shared/connections.ts';
import { mutationResult } from '../shared/errors.ts';
import { scopesForOrganization } from '../shared/tenant.ts';
import { tenantRowWhere } from '../shared/visibility.ts';
import { UserRef } from '../user/schema.ts';
import { columnValue, compiledConnection, compiledField, compiledNode, model, seenWithin, type NamedRows, pointedRow, prebuiltNamedRows, unionRow } from '../shared/engine/index.ts';
import { literal } from '../shared/engine/text.ts';
import { endOf } from './pairs.ts';
import { readableWhere } from '../shared/rules.ts';
import {
  approveLinkSuggestion,
  type Candidate,
  candidateOf,
  createLinkSuggestion,
  type Evidence,
  matchCandidates,
  type Party,
  rejectLinkSuggestion,
  subjectOf,
  suggestionsWhere,
} from './service.ts';

export const SuggestionStateEnum = builder.enumType('SuggestionState', {
  description: 'Where a link suggestion stands.',
  values: {
    SUGGESTED: { description: 'Waiting for review.' },
    APPROVED: { description: 'Approved: the users were merged, or the identity linked to the user.' },
    REJECTED: { description: 'Rejected: the pair is never suggested again.' },
  } satisfies Record<SuggestionState, unknown>,
});

const EvidenceKindEnum = builder.enumType('MatchEvidenceKind', {
  description: 'What kind of value two objects share.',
  values: {
    IDENTIFIER_VALUE: { description: 'An identifier value.' },
    EMAIL: { description: 'An email address (of a user, an identity, or an identifier holding one).' },
    PHONE: { description: 'A phone number.' },
  },
});

const MatchEvidenceRef = builder.objectRef<Evidence>('MatchEvidence').implement({
  description: 'One value two objects share: where each has it, and how much it counts.',
  fields: (t) => ({
    kind: t.field({ type: EvidenceKindEnum, description: 'What kind of value it is.', resolve: (e) => e.kind }),
    value: t.exposeString('value', { description: 'The shared value.' }),
    subjectField: t.exposeString('subjectField', { description: 'Where the subject has it: an identifier key, `email`, `phoneNumber` or `externalEmail`.' }),
    subjectSource: t.exposeString('subjectSource', { nullable: true, description: 'Key of the source of the subject\'s identifier, when it is one.' }),
    subjectConfidence: t.exposeFloat('subjectConfidence', { nullable: true, description: "Confidence of the subject's identifier; null when unscored or not an identifier." }),
    candidateField: t.exposeString('candidateField', { description: 'Where the candidate has it.' }),
    candidateSource: t.exposeString('candidateSource', { nullable: true, description: "Key of the source of the candidate's identifier, when it is one." }),
    candidateConfidence: t.exposeFloat('candidateConfidence', { nullable: true, description: "Confidence of the candidate's identifier; null when unscored or not an identifier." }),
    weight: t.exposeFloat('weight', {
      description: 'What the evidence adds to the score (0 to 1): 0.9 for an email or the same identifier key, 0.8 for a phone number, 0.5 for the same value under different keys, times both confidences; divided by (users - 1) when more than two users hold the value.',
    }),
  }),
});

/** A user or an identity, by what the party names. */
const LinkPartyRef = builder.unionType('LinkParty', {
  description: 'One side of a link suggestion: a user or an identity.',
  types: [UserRef, IdentityRef],
  resolveType: (value) => ('email' in value && 'isSystemAdmin' in value ? 'User' : 'Identity'),
});

/** A party, read under the rule node(id) reads its type by: null when the viewer may not see it (a user who left the organization, say). */
function loadParty(ctx: Context, party: Party) {
  return (party.type === 'USER' ? loadVisibleUser(ctx, party.id) : loadReadableIdentity(ctx, party.id)) as Promise<never>;
}

export const LinkSuggestionRef = builder.prismaNode('LinkSuggestion', {
  description:
    'A suggestion that two objects of an organization are the same person: a user or identity and another user or identity, with confidence, evidence and a review state.',
  id: { field: 'id' },
  nullable: true,
  findUnique: (id, ctx) => tenantRowWhere(id, ctx),
  fields: (t) => ({
    state: t.expose('state', { type: SuggestionStateEnum, description: 'Where it stands.' }),
    confidence: t.exposeFloat('confidence', { nullable: true, description: 'How sure the suggester is, 0 to 1; null when unscored.' }),
    evidence: t.expose('evidence', { type: 'JSON', description: 'Which values matched, from which sources, with which confidence.' }),
    metadata: t.field({
      type: 'JSONObject',
      nullable: true,
      description: 'What the suggester recorded with it (job, prompt, model...).',
      resolve: (s) => s.metadata as Record<string, unknown> | null,
    }),
    createdBy: t.exposeString('createdBy', { description: '`SERVER` when a write created a shared value, otherwise what the suggester said (e.g. `LLM_DISCOVERY`).' }),
    subject: t.field({ type: LinkPartyRef, nullable: true, description: 'What the suggestion was made for (null when it no longer exists, or you may not see it: a user who left the organization).', resolve: (s, _a, ctx) => loadParty(ctx, subjectOf(s)) }),
    candidate: t.field({ type: LinkPartyRef, nullable: true, description: 'What it is suggested to be the same as (null when it no longer exists, or you may not see it: a user who left the organization).', resolve: (s, _a, ctx) => loadParty(ctx, candidateOf(s)) }),
    decidedAt: t.expose('decidedAt', { type: 'DateTime', nullable: true, description: 'When it was approved or rejected.' }),
    merge: t.field({
      type: UserMergeRef,
      nullable: true,
      description: 'The merge an approved user pair performed; null when you may not see it (as node(id) of it would answer).',
      resolve: (s, _args, ctx) => (s.mergeId ? loadVisibleMerge(ctx, s.mergeId) : null),
    }),
    organization: t.relation('organization', { description: 'The organization it belongs to.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was first suggested.' }),
  }),
});

// node(id) is compiled under the rule of findUnique above (tenantRowWhere). `metadata`
// is its column. A party is the user or identity its stored end names (endOf, as
// subjectOf and candidateOf read it), under the rule node(id) reads its type by
// (shared/pointed.ts), as the resolvers read it; the merge is the row mergeId points
// at, under the rule of node(id) of a merge (visibleMergesWhere), as loadVisibleMerge reads it.
compiledNode('LinkSuggestion', (_ctx, readable) => readableWhere(readable));
// A suggestion is seen only in an organization the viewer reads, on every path: so is its organization.
seenWithin('LinkSuggestion', 'read');
compiledField('LinkSuggestion', 'metadata', (_b, alias) => columnValue(model('LinkSuggestion'), alias, 'metadata'));
const PARTY_TYPES = { USER: 'User', IDENTITY: 'Identity' } as const satisfies Record<Party['type'], string>;
const PARTY_RULES = { User: visibleUserRule, Identity: readableRowRule };
const party = (side: 'subject' | 'candidate') =>
  unionRow((alias) => {
    const col = (field: string) => `${alias}.${model('LinkSuggestion').fields.get(field)!.column}`;
    const [ifA, ifB] = [endOf(side, true), endOf(side, false)];
    const either = (field: 'Type' | 'Id') => `CASE WHEN ${col('subjectIsA')} THEN ${col(`${ifA}${field}`)} ELSE ${col(`${ifB}${field}`)} END`;
    return Object.entries(PARTY_TYPES).map(([stored, type]) => ({ when: `${either('Type')} = ${literal(stored)}`, type, id: either('Id'), where: PARTY_RULES[type] }));
  });
compiledField('LinkSuggestion', 'subject', party('subject'));
compiledField('LinkSuggestion', 'candidate', party('candidate'));
compiledField('LinkSuggestion', 'merge', pointedRow('Merge', 'mergeId', visibleMergesWhere));

// The same query is given to Pothos and to the read engine (compiledConnection).
const suggestionsQuery = (args: Parameters<typeof suggestionsWhere>[0]) => ({ where: suggestionsWhere(args), orderBy: OLDEST_FIRST });
compiledConnection('Organization', 'linkSuggestions', suggestionsQuery);

builder.prismaObjectField('Organization', 'linkSuggestions', (t) =>
  t.relatedConnection(
    'linkSuggestions',
    {
      description: "The organization's link suggestions, oldest first, filtered by state and confidence. Null, with FORBIDDEN, when you may not read the organization.",
      cursor: 'id',
      nullable: true,
      totalCount: true,
      authScopes: (organization) => ({ orgRead: organization.id }),
      args: {
        state: t.arg({ type: SuggestionStateEnum, required: false, description: 'Only suggestions in this state.' }),
        minConfidence: t.arg.float({ required: false, description: 'Only suggestions scored at least this (0 to 1); unscored ones count as certain and are kept.' }),
      },
      query: suggestionsQuery,
    },
    { description: 'A page of link suggestions.', fields: totalCountField },
    { description: 'A link suggestion in a page.' },
  ),
);

/** A candidate as listed: with the rows it names, when the engine read them for the whole list. */
type Listed = Candidate & { compiled?: NamedRows };

/**
 * A row a candidate names, by the field's response name: compiled with the list
 * (matchCandidates below), else `general`, read under the rule node(id) reads it by.
 */
function named<T>(c: Listed, info: GraphQLResolveInfo, general: () => Promise<T | null> | T | null): Promise<T | null> | T | null {
  const key = info.path.key as string;
  return c.compiled && key in c.compiled ? (c.compiled[key] as T | null) : general();
}

const MatchCandidateRef = builder.objectRef<Listed>('MatchCandidate').implement({
  description: 'Another user or identity that shares values with the subject: perhaps the same person.',
  fields: (t) => ({
    user: t.field({
      type: UserRef,
      nullable: true,
      description: 'The candidate, when it is a user; null when you may not see it (a user who left the organization).',
      resolve: (c, _args, ctx, info) =>
        named(c, info, async () => {
          const user = c.party.type === 'USER' ? await loadVisibleUser(ctx, c.party.id) : null;
          return user && !user.mergedIntoId ? user : null;
        }),
    }),
    identity: t.field({
      type: IdentityRef,
      nullable: true,
      description: 'The candidate, when it is an identity.',
      resolve: (c, _args, ctx, info) => named(c, info, () => (c.party.type === 'IDENTITY' ? loadReadableIdentity(ctx, c.party.id) : null)),
    }),
    score: t.exposeFloat('score', { description: 'How likely the two are one person, 0 to 1: one minus the product of (1 - weight) over the evidence.' }),
    evidence: t.field({ type: [MatchEvidenceRef], description: 'Every shared value, strongest first.', resolve: (c) => c.evidence }),
    suggestion: t.field({
      type: LinkSuggestionRef,
      nullable: true,
      description: 'The suggestion already recorded for this pair, if any (a rejected one means: not the same person).',
      resolve: (c, _args, _ctx, info) => named(c, info, () => c.suggestion),
    }),
  }),
});

builder.queryFields((t) => ({
  matchCandidates: t.field({
    type: [MatchCandidateRef],
    description:
      'Other users and identities of the organization that share an identifier value, an email or a phone number with a user or an identity, best first, each with its evidence and score. Give exactly one of userId or identityId.',
    authScopes: { authenticated: true },
    args: {
      organizationId: t.arg.id({ required: false, description: 'The organization: its global id or UUID. Left out, the one X-Organization-ID names (or the identity\'s).' }),
      userId: t.arg.id({ required: false, description: 'A member of the organization: its global id (or UUID).' }),
      identityId: t.arg.id({ required: false, description: 'An identity: its global id (or UUID).' }),
    },
    resolve: async (_root, args, ctx, info): Promise<Listed[]> => {
      const candidates = await matchCandidates(ctx.access, args);
      if (!candidates.length) return candidates;
      // What is selected of the rows the candidates name, for all of them in one statement.
      const idOf = (type: Candidate['party']['type']) => candidates.map((c) => (c.party.type === type ? c.party.id : null));
      const rows = await prebuiltNamedRows(ctx, info, info.schema.getType('MatchCandidate') as GraphQLObjectType, {
        user: idOf('USER'),
        identity: idOf('IDENTITY'),
        suggestion: candidates.map((c) => c.suggestion?.id ?? null),
      });
      return rows ? candidates.map((c, i) => ({ ...c, compiled: rows[i] })) : candidates;
    },
  }),
}));

const CreateLinkSuggestionInput = builder.inputType('CreateLinkSuggestionInput', {
  description: 'A suggestion that two objects are the same person.',
  fields: (t) => ({
    organizationId: organizationIdField(t),
    subjectId: t.id({ description: 'Global id of a User (a member) or an Identity of the organization.' }),
    candidateId: t.id({ description: 'Global id of another User or Identity of the organization (not two identities).' }),
    confidence: t.float({ required: false, description: 'How sure the suggester is, 0 to 1.' }),
    evidence: t.field({ type: ['JSON'], required: false, description: 'What the suggestion rests on (e.g. matchCandidates evidence), at most 16 KB as JSON.' }),
    metadata: t.field({ type: 'JSONObject', required: false, description: 'Anything else to keep with it (job, model, prompt), at most 16 KB.' }),
    createdBy: t.string({ required: false, description: 'Who suggests, e.g. `LLM_DISCOVERY` (up to 40 characters); `MANUAL` when left out.' }),
  }),
});

const ApproveLinkSuggestionInput = builder.inputType('ApproveLinkSuggestionInput', {
  description: 'A suggestion to approve, and how to merge when it pairs two users.',
  fields: (t) => ({
    id: t.id({ description: 'The suggestion: its global id.' }),
    survivorId: t.id({ required: false, description: 'For two users: the one that stays (global id); the subject when left out.' }),
    choices: t.field({
      type: [MergeChoiceInput],
      required: false,
      description: 'For two users: the sides chosen for conflicts, as in mergeUsers.',
    }),
  }),
});

const RejectLinkSuggestionInput = builder.inputType('RejectLinkSuggestionInput', {
  description: 'A suggestion to reject.',
  fields: (t) => ({ id: t.id({ description: 'The suggestion: its global id.' }) }),
});

builder.mutationFields((t) => ({
  createLinkSuggestion: t.field({
    type: LinkSuggestionRef,
    description:
      'Suggests that two objects are the same person (write access, e.g. a discovery job). A pair suggested before is returned as it is: a rejected pair stays rejected. At or above the organization\'s autoApproveLinkConfidence it is approved at once.',
    authScopes: (_root, { input }, ctx) => scopesForOrganization('orgWrite', input.organizationId, ctx.access),
    args: { input: t.arg({ type: CreateLinkSuggestionInput, description: 'The suggestion.' }) },
    errors: mutationResult('CreateLinkSuggestion', 'suggestion', 'suggesting a link'),
    resolve: async (_root, { input }, ctx) => (await createLinkSuggestion(ctx.access, input)).suggestion,
  }),
  approveLinkSuggestion: t.field({
    type: LinkSuggestionRef,
    description:
      'Approves a suggestion (ORGANIZATION_ADMIN): two users are merged (see mergeUsers), an identity is linked to the user (MANUAL). Only SUGGESTED ones can be approved.',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: ApproveLinkSuggestionInput, description: 'The suggestion and merge choices.' }) },
    errors: mutationResult('ApproveLinkSuggestion', 'suggestion', 'approving a link suggestion', [LastOrganizationAdminError]),
    resolve: (_root, { input }, ctx) => approveLinkSuggestion(ctx.access, input),
  }),
  rejectLinkSuggestion: t.field({
    type: LinkSuggestionRef,
    description: 'Rejects a suggestion (ORGANIZATION_ADMIN): the pair is never suggested again, by anyone.',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: RejectLinkSuggestionInput, description: 'The suggestion.' }) },
    errors: mutationResult('RejectLinkSuggestion', 'suggestion', 'rejecting a link suggestion'),
    resolve: (_root, { input }, ctx) => rejectLinkSuggestion(ctx.access, input),
  }),
}));

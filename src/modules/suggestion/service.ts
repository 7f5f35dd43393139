import type { Access } from '../../context.ts';
import { Prisma, prisma } from '../../db.ts';
import { ApiError, ConflictError, DomainError, NotFoundError, ValidationError } from '../../errors.ts';
import type { Identity, LinkSuggestion, PartyType, User } from '../../generated/prisma/client.ts';
import { recordAudit } from '../audit/service.ts';
import { jsonObject, score } from '../shared/inputs.ts';
import { requireOrganizationAccess } from '../shared/authorize.ts';
import { requireOrganizationOf, requireRowIn } from '../shared/tenant.ts';
import { Issues, parseId } from '../shared/validate.ts';
import { type MergeChoice, mergeParties, runMerge } from '../merge/service.ts';

// Duplicates: candidates that share values with a user or identity, and link
// suggestions with a review life cycle (SUGGESTED, then APPROVED or REJECTED). No
// GraphQL here.
//
// A pair is stored in a normalised order (a < b by type, then id), unique per
// organization, so whoever suggests it again (a job, the server) finds the same row:
// a rejected pair stays rejected.

export interface Party {
  type: PartyType;
  id: string;
}

/** The pair in its stored order, and whether the subject came first. */
export function normalisedPair(subject: Party, candidate: Party) {
  const key = (p: Party) => `${p.type}:${p.id}`;
  const subjectIsA = key(subject) < key(candidate);
  const [a, b] = subjectIsA ? [subject, candidate] : [candidate, subject];
  return { aType: a.type, aId: a.id, bType: b.type, bId: b.id, subjectIsA };
}

export const subjectOf = (s: LinkSuggestion): Party => (s.subjectIsA ? { type: s.aType, id: s.aId } : { type: s.bType, id: s.bId });
export const candidateOf = (s: LinkSuggestion): Party => (s.subjectIsA ? { type: s.bType, id: s.bId } : { type: s.aType, id: s.aId });

// ---- Candidates ---------------------------------------------------------------------

export type EvidenceKind = 'IDENTIFIER_VALUE' | 'EMAIL' | 'PHONE';

/** One shared value: where the subject has it, where the candidate has it, and how much it counts. */
export interface Evidence {
  kind: EvidenceKind;
  value: string;
  subjectField: string;
  subjectSource: string | null;
  subjectConfidence: number | null;
  candidateField: string;
  candidateSource: string | null;
  candidateConfidence: number | null;
  /** What this evidence adds to the score, 0..1. */
  weight: number;
}

export interface Candidate {
  party: Party;
  user: User | null;
  identity: Identity | null;
  evidence: Evidence[];
  /** 0..1: 1 - Π(1 - weight) over the evidence. */
  score: number;
  suggestion: LinkSuggestion | null;
}

/**
 * How much one shared value counts: an email or the same identifier key is strong, a
 * phone number a little less, the same value under different keys (`1`, `admin`) weak;
 * times both sides' confidence (unscored counts as certain).
 */
export function weightOf(e: Omit<Evidence, 'weight'>): number {
  const base =
    e.kind === 'EMAIL' ? 0.9 : e.kind === 'PHONE' ? 0.8 : e.subjectField === e.candidateField ? 0.9 : 0.5;
  return Math.round(base * (e.subjectConfidence ?? 1) * (e.candidateConfidence ?? 1) * 1e6) / 1e6;
}

const scoreOf = (evidence: Evidence[]) => Math.round((1 - evidence.reduce((p, e) => p * (1 - e.weight), 1)) * 1e6) / 1e6;

interface MatchRow {
  type: PartyType;
  id: string;
  kind: EvidenceKind;
  value: string;
  s_field: string;
  s_source: string | null;
  s_conf: number | null;
  c_field: string;
  c_source: string | null;
  c_conf: number | null;
}

/**
 * The organization's other users and identities that share an identifier value, an
 * email or a phone number with `subject`, each with its evidence and score, best
 * first. One statement finds every match; two load the users and identities and one
 * the suggestions already recorded for the pairs.
 */
export async function matchCandidates(access: Access, args: { organizationId?: string | null; userId?: string | null; identityId?: string | null }) {
  const issues = new Issues();
  if ((args.userId == null) === (args.identityId == null)) issues.add('userId', 'give exactly one of userId or identityId');
  const userId = issues.id('userId', args.userId, 'User');
  const identityId = issues.id('identityId', args.identityId, 'Identity');
  const organizationArg = issues.id('organizationId', args.organizationId, 'Organization');
  issues.throwIfAnyInRead();
  let organizationId = access.organizationFor(organizationArg ?? null);
  let linkedUserId: string | null = null;
  if (identityId) {
    const identity = await prisma.identity.findUnique({ where: { id: identityId }, select: { organizationId: true, userId: true } });
    if (!identity || (organizationId && identity.organizationId !== organizationId)) throw new NotFoundError('Identity');
    organizationId = identity.organizationId;
    linkedUserId = identity.userId;
  }
  if (!organizationId) {
    issues.add('organizationId', 'is required unless the X-Organization-ID header names the organization');
    issues.throwIfAnyInRead();
  }
  if (identityId) {
    if (!(await access.can(organizationId!, 'read'))) throw new NotFoundError('Identity');
  } else {
    await requireOrganizationAccess(access, organizationId!, 'read');
  }
  if (userId) {
    const member = await prisma.member.findUnique({ where: { organizationId_userId: { organizationId: organizationId!, userId } }, select: { id: true } });
    if (!member) throw new NotFoundError('User');
  }
  return findCandidates(organizationId!, userId ? { type: 'USER', id: userId } : { type: 'IDENTITY', id: identityId! }, linkedUserId);
}

export async function findCandidates(organizationId: string, subject: Party, linkedUserId: string | null = null): Promise<Candidate[]> {
  const userId = subject.type === 'USER' ? subject.id : null;
  const identityId = subject.type === 'IDENTITY' ? subject.id : null;
  // The subject's own user (itself, or the user its identity is linked to) is no candidate.
  const ownUser = userId ?? linkedUserId;
  const rows = await prisma.$queryRaw<MatchRow[]>`
    WITH v(kind, value, field, source, conf) AS (
      SELECT 'IDENTIFIER_VALUE', i.identifier_value, i.identifier_key, s.key, i.confidence_score
        FROM identifiers i JOIN integration_sources s ON s.id = i.source_id
        WHERE i.organization_id = ${organizationId}::uuid AND i.user_id = ${userId}::uuid
      UNION ALL SELECT 'EMAIL', u.email, 'email', NULL, NULL FROM users u WHERE u.id = ${userId}::uuid
      UNION ALL SELECT 'EMAIL', d.email, 'email', NULL, NULL FROM identities d WHERE d.id = ${identityId}::uuid AND d.email IS NOT NULL
      UNION ALL SELECT 'EMAIL', d.external_email, 'externalEmail', NULL, NULL FROM identities d
        WHERE d.id = ${identityId}::uuid AND d.external_email IS NOT NULL
      UNION ALL SELECT 'PHONE', d.phone_number, 'phoneNumber', NULL, NULL FROM identities d
        WHERE d.id = ${identityId}::uuid AND d.phone_number IS NOT NULL
    )
    SELECT 'USER'::text AS type, i.user_id::text AS id, v.kind, v.value, v.field AS s_field, v.source AS s_source, v.conf AS s_conf,
           i.identifier_key AS c_field, s.key AS c_source, i.confidence_score AS c_conf
      FROM v JOIN identifiers i ON i.organization_id = ${organizationId}::uuid AND i.identifier_value = v.value
      JOIN integration_sources s ON s.id = i.source_id
      WHERE i.user_id IS DISTINCT FROM ${ownUser}::uuid
    UNION ALL
    SELECT 'USER', u.id::text, 'EMAIL', v.value, v.field, v.source, v.conf, 'email', NULL, NULL
      FROM v JOIN users u ON u.email = lower(v.value) AND u.merged_into_id IS NULL
      JOIN members m ON m.user_id = u.id AND m.organization_id = ${organizationId}::uuid
      WHERE u.id IS DISTINCT FROM ${ownUser}::uuid
    UNION ALL
    SELECT 'IDENTITY', d.id::text, 'EMAIL', v.value, v.field, v.source, v.conf, 'email', NULL, NULL
      FROM v JOIN identities d ON d.organization_id = ${organizationId}::uuid AND d.email = lower(v.value)
      WHERE d.id IS DISTINCT FROM ${identityId}::uuid AND d.user_id IS DISTINCT FROM ${ownUser}::uuid
    UNION ALL
    SELECT 'IDENTITY', d.id::text, 'PHONE', v.value, v.field, v.source, v.conf, 'phoneNumber', NULL, NULL
      FROM v JOIN identities d ON d.organization_id = ${organizationId}::uuid AND d.phone_number = v.value
      WHERE d.id IS DISTINCT FROM ${identityId}::uuid AND d.user_id IS DISTINCT FROM ${ownUser}::uuid`;

  const byParty = new Map<string, { party: Party; evidence: Evidence[] }>();
  for (const r of rows) {
    const key = `${r.type}:${r.id}`;
    const entry = byParty.get(key) ?? { party: { type: r.type, id: r.id }, evidence: [] };
    const num = (x: number | null) => (x === null ? null : Number(x));
    const kind: EvidenceKind = r.kind === 'IDENTIFIER_VALUE' && r.c_field === 'email' ? 'EMAIL' : r.kind;
    const e = {
      kind,
      value: r.value,
      subjectField: r.s_field,
      subjectSource: r.s_source,
      subjectConfidence: num(r.s_conf),
      candidateField: r.c_field,
      candidateSource: r.c_source,
      candidateConfidence: num(r.c_conf),
    };
    entry.evidence.push({ ...e, weight: weightOf(e) });
    byParty.set(key, entry);
  }
  const parties = [...byParty.values()];
  const userIds = parties.filter((p) => p.party.type === 'USER').map((p) => p.party.id);
  const identityIds = parties.filter((p) => p.party.type === 'IDENTITY').map((p) => p.party.id);
  const pairs = parties.map((p) => normalisedPair(subject, p.party));
  const [users, identities, suggestions] = await Promise.all([
    userIds.length ? prisma.user.findMany({ where: { id: { in: userIds } } }) : [],
    identityIds.length ? prisma.identity.findMany({ where: { id: { in: identityIds } } }) : [],
    pairs.length ? prisma.linkSuggestion.findMany({ where: { organizationId, OR: pairs.map(({ subjectIsA: _s, ...p }) => p) } }) : [],
  ]);
  return parties
    .map(({ party, evidence }): Candidate => {
      const pair = normalisedPair(subject, party);
      return {
        party,
        user: party.type === 'USER' ? (users.find((u) => u.id === party.id) ?? null) : null,
        identity: party.type === 'IDENTITY' ? (identities.find((d) => d.id === party.id) ?? null) : null,
        evidence: evidence.sort((x, y) => y.weight - x.weight || (x.value < y.value ? -1 : 1)),
        score: scoreOf(evidence),
        suggestion: suggestions.find((s) => s.aId === pair.aId && s.bId === pair.bId && s.aType === pair.aType && s.bType === pair.bType) ?? null,
      };
    })
    .sort((x, y) => y.score - x.score || (x.party.id < y.party.id ? -1 : 1));
}

// ---- Suggestions --------------------------------------------------------------------

/** A user or identity by global id: `User:…` or `Identity:…` (a bare UUID is refused: it names no type). */
function partyOf(issues: Issues, path: string, value: string): Party | undefined {
  const user = parseId(value, 'User');
  const identity = parseId(value, 'Identity');
  if (user && !identity) return { type: 'USER', id: user };
  if (identity && !user) return { type: 'IDENTITY', id: identity };
  issues.add(path, 'must be the global id of a User or an Identity');
  return undefined;
}

export interface CreateLinkSuggestionInput {
  organizationId?: string | null;
  subjectId: string;
  candidateId: string;
  confidence?: number | null;
  evidence?: unknown[] | null;
  metadata?: Record<string, unknown> | null;
  createdBy?: string | null;
}

export interface SuggestionOutcome {
  suggestion: LinkSuggestion;
  /** False when the pair was suggested before: the existing row is returned unchanged (a rejected pair stays rejected). */
  created: boolean;
}

const MAX_EVIDENCE_BYTES = 16 * 1024;

/**
 * Records "these two are probably the same person" (write access: discovery jobs and
 * analysts suggest, admins decide). A pair suggested before is returned as it is. When
 * the organization approves automatically at or above a confidence and this one
 * reaches it, it is approved at once (see approveLinkSuggestion).
 */
export async function createLinkSuggestion(access: Access, input: CreateLinkSuggestionInput): Promise<SuggestionOutcome> {
  const issues = new Issues();
  const organizationId = await requireOrganizationOf(access, issues, 'input.organizationId', input.organizationId);
  const subject = partyOf(issues, 'input.subjectId', input.subjectId);
  const candidate = partyOf(issues, 'input.candidateId', input.candidateId);
  if (subject && candidate && subject.id === candidate.id) issues.add('input.candidateId', 'must be another object than the subject');
  if (subject?.type === 'IDENTITY' && candidate?.type === 'IDENTITY') {
    issues.add('input.candidateId', 'must be a User when the subject is an Identity: two identities cannot be linked to each other');
  }
  const confidence = score(issues, 'input.confidence', input.confidence);
  const metadata = jsonObject(issues, 'input.metadata', input.metadata, MAX_EVIDENCE_BYTES) ?? null;
  const evidence = input.evidence ?? [];
  if (JSON.stringify(evidence).length > MAX_EVIDENCE_BYTES) issues.add('input.evidence', 'must be at most 16 KB as JSON');
  const createdBy = issues.text('input.createdBy', input.createdBy, 40) ?? 'MANUAL';
  issues.throwIfAny();
  await requireParties(organizationId, [subject!, candidate!], ['input.subjectId', 'input.candidateId']);
  const pair = normalisedPair(subject!, candidate!);
  const created = await prisma.$transaction(async (tx) => {
    const [row] = await tx.linkSuggestion.createManyAndReturn({
      data: [{
        organizationId,
        ...pair,
        confidence: confidence ?? null,
        evidence: evidence as Prisma.InputJsonArray,
        metadata: metadata === null ? Prisma.DbNull : (metadata as Prisma.InputJsonObject),
        createdBy,
      }],
      skipDuplicates: true,
    });
    if (row) {
      await recordAudit(tx, access.viewer, [{
        organizationId,
        entityType: 'LinkSuggestion',
        entityId: row.id,
        action: 'CREATE',
        changes: {
          subject: { before: null, after: `${subject!.type}:${subject!.id}` },
          candidate: { before: null, after: `${candidate!.type}:${candidate!.id}` },
          confidence: { before: null, after: row.confidence },
          createdBy: { before: null, after: createdBy },
        },
      }]);
    }
    return row;
  });
  if (!created) {
    const { subjectIsA: _s, ...key } = pair;
    const existing = await prisma.linkSuggestion.findUniqueOrThrow({ where: { organizationId_aType_aId_bType_bId: { organizationId, ...key } } });
    return { suggestion: existing, created: false };
  }
  const threshold = (await prisma.organization.findUnique({ where: { id: organizationId }, select: { autoApproveLinkConfidence: true } }))
    ?.autoApproveLinkConfidence;
  if (threshold != null && confidence != null && confidence >= threshold) {
    // Whatever stops the approval (a link taken meanwhile, a merge beyond this
    // organization) leaves the suggestion for review instead of failing its creation.
    const approved = await decide(access, created, 'APPROVED', { automatic: true }).catch((err: unknown) => {
      if (err instanceof DomainError || err instanceof ApiError) return null;
      throw err;
    });
    if (approved) return { suggestion: approved, created: true };
  }
  return { suggestion: created, created: true };
}

/** NOT_FOUND unless each party is a member (users) or an identity of the organization. */
async function requireParties(organizationId: string, parties: Party[], paths: string[]) {
  const userIds = parties.filter((p) => p.type === 'USER').map((p) => p.id);
  const identityIds = parties.filter((p) => p.type === 'IDENTITY').map((p) => p.id);
  const [members, identities] = await Promise.all([
    userIds.length ? prisma.member.findMany({ where: { organizationId, userId: { in: userIds }, user: { mergedIntoId: null } }, select: { userId: true } }) : [],
    identityIds.length ? prisma.identity.findMany({ where: { organizationId, id: { in: identityIds } }, select: { id: true } }) : [],
  ]);
  parties.forEach((p, i) => {
    const found = p.type === 'USER' ? members.some((m) => m.userId === p.id) : identities.some((d) => d.id === p.id);
    if (!found) throw new NotFoundError(p.type === 'USER' ? 'User' : 'Identity', `${paths[i]}: no ${p.type === 'USER' ? 'member' : 'identity'} of the organization matches.`);
  });
}

/** The suggestion with this id, for a decision: NOT_FOUND unless visible, FORBIDDEN unless the viewer administers its organization. */
async function suggestionForDecision(access: Access, rawId: string) {
  const issues = new Issues();
  const id = issues.id('input.id', rawId, 'LinkSuggestion');
  issues.throwIfAny();
  const row = await prisma.linkSuggestion.findUnique({ where: { id: id! } });
  await requireRowIn(access, row?.organizationId, 'admin', 'LinkSuggestion');
  return row!;
}

export interface ApproveLinkSuggestionInput {
  id: string;
  survivorId?: string | null;
  choices?: readonly MergeChoice[] | null;
}

/**
 * Approves a suggestion (ORGANIZATION_ADMIN): a user pair is merged (the subject
 * survives unless `survivorId` names the other; see mergeUsers), an identity and a
 * user are linked (MANUAL). Only a SUGGESTED suggestion can be approved (CONFLICT
 * otherwise): a rejected pair stays rejected.
 */
export async function approveLinkSuggestion(access: Access, input: ApproveLinkSuggestionInput): Promise<LinkSuggestion> {
  const suggestion = await suggestionForDecision(access, input.id);
  const approved = await decide(access, suggestion, 'APPROVED', { survivorId: input.survivorId, choices: input.choices ?? [] });
  return approved!;
}

/** Rejects a suggestion (ORGANIZATION_ADMIN); the pair is never suggested again. */
export async function rejectLinkSuggestion(access: Access, input: { id: string }): Promise<LinkSuggestion> {
  const suggestion = await suggestionForDecision(access, input.id);
  return (await decide(access, suggestion, 'REJECTED', {}))!;
}

/**
 * Applies a decision in one transaction with the suggestion row locked, so two
 * decisions of one suggestion run one after the other and the second is refused.
 * Automatic approvals (the organization's threshold) merge only users whose data lies
 * in this organization alone, and return null (leaving the suggestion SUGGESTED) when
 * the merge would touch others: one organization's setting cannot change another's.
 */
async function decide(
  access: Access,
  suggestion: LinkSuggestion,
  state: 'APPROVED' | 'REJECTED',
  opts: { survivorId?: string | null; choices?: readonly MergeChoice[]; automatic?: boolean },
): Promise<LinkSuggestion | null> {
  const subject = subjectOf(suggestion);
  const candidate = candidateOf(suggestion);
  const decidedById = access.viewer.kind === 'user' ? access.viewer.userId : null;
  const mark = (tx: Prisma.TransactionClient, mergeId: string | null) =>
    tx.linkSuggestion.update({ where: { id: suggestion.id }, data: { state, decidedAt: new Date(), decidedById, mergeId } });
  const locked = async (tx: Prisma.TransactionClient) => {
    const [row] = await tx.$queryRaw<{ state: string }[]>`SELECT state::text FROM link_suggestions WHERE id = ${suggestion.id}::uuid FOR UPDATE`;
    if (!row) throw new NotFoundError('LinkSuggestion');
    if (row.state !== 'SUGGESTED') throw new ConflictError(['input.id'], `This suggestion was ${row.state.toLowerCase()} already.`);
  };
  const audit = (tx: Prisma.TransactionClient, after: LinkSuggestion) =>
    recordAudit(tx, access.viewer, [{
      organizationId: after.organizationId,
      entityType: 'LinkSuggestion',
      entityId: after.id,
      action: 'UPDATE',
      changes: { state: { before: 'SUGGESTED', after: after.state } },
    }]);

  if (state === 'REJECTED') {
    return prisma.$transaction(async (tx) => {
      await locked(tx);
      const after = await mark(tx, null);
      await audit(tx, after);
      return after;
    });
  }

  if (subject.type === 'USER' && candidate.type === 'USER') {
    let survivor = subject.id;
    let merged = candidate.id;
    if (opts.survivorId != null) {
      const chosen = parseId(opts.survivorId, 'User');
      if (chosen !== subject.id && chosen !== candidate.id) throw ValidationError.field('input.survivorId', 'must be one of the two users of the suggestion');
      [survivor, merged] = chosen === subject.id ? [subject.id, candidate.id] : [candidate.id, subject.id];
    }
    const parties = await mergeParties(access, { survivorId: survivor, mergedId: merged }, { survivorId: 'input.survivorId', mergedId: 'input.id' });
    // The organization's own setting approves within the organization only.
    const effective = opts.automatic ? { ...parties, adminOrganizations: [suggestion.organizationId] } : parties;
    return prisma.$transaction(async (tx) => {
        await locked(tx);
        const { merge } = await runMerge(tx, access, effective, opts.choices ?? [], {
          table: 'link_suggestions',
          id: suggestion.id,
          apply: async (mergeId) => {
            await audit(tx, await mark(tx, mergeId));
          },
        });
        return tx.linkSuggestion.findUniqueOrThrow({ where: { id: suggestion.id, mergeId: merge.id } });
    });
  }

  // An identity and a user: link them (MANUAL, as an admin's linkIdentity would).
  const identityId = subject.type === 'IDENTITY' ? subject.id : candidate.id;
  const userId = subject.type === 'USER' ? subject.id : candidate.id;
  return prisma.$transaction(async (tx) => {
    await locked(tx);
    const [identity] = await tx.$queryRaw<{ user_id: string | null; linked_by: string | null }[]>`
      SELECT user_id::text, linked_by::text FROM identities WHERE id = ${identityId}::uuid AND organization_id = ${suggestion.organizationId}::uuid FOR UPDATE`;
    if (!identity) throw new NotFoundError('Identity');
    if (identity.user_id && identity.user_id !== userId) throw new ConflictError(['input.id'], 'The identity is linked to another user; unlink it first.');
    const member = await tx.member.findUnique({ where: { organizationId_userId: { organizationId: suggestion.organizationId, userId } }, select: { id: true } });
    if (!member) throw new NotFoundError('User');
    await tx.identity.update({ where: { id: identityId }, data: { userId, linkedBy: 'MANUAL', linkedAt: new Date() } });
    const after = await mark(tx, null);
    await recordAudit(tx, access.viewer, [{
      organizationId: suggestion.organizationId,
      entityType: 'Identity',
      entityId: identityId,
      action: 'LINK',
      changes: { userId: { before: identity.user_id, after: userId }, linkedBy: { before: identity.linked_by, after: 'MANUAL' } },
    }]);
    await audit(tx, after);
    return after;
  });
}

/** The where of `Organization.linkSuggestions`. */
export function suggestionsWhere(args: { state?: LinkSuggestion['state'] | null; minConfidence?: number | null }): Prisma.LinkSuggestionWhereInput {
  const issues = new Issues();
  if (args.minConfidence != null && !(args.minConfidence >= 0 && args.minConfidence <= 1)) issues.add('minConfidence', 'must be a number from 0 to 1');
  issues.throwIfAnyInRead();
  return {
    ...(args.state && { state: args.state }),
    ...(args.minConfidence != null && { confidence: { gte: args.minConfidence } }),
  };
}

/**
 * Server-created suggestions: for identifiers just written, every other user of the
 * organization holding the same value under the same identifier key (in any source)
 * is suggested as a duplicate of the writer's user, with the two identifiers as
 * evidence and the lower of their confidences. One statement for the whole batch; a
 * pair suggested before (rejected ones included) is left as it is.
 */
export async function suggestSharedIdentifiers(db: Pick<Prisma.TransactionClient, '$executeRaw'>, organizationId: string, identifierIds: string[]) {
  if (!identifierIds.length) return 0;
  return db.$executeRaw`
    INSERT INTO link_suggestions (organization_id, a_type, a_id, b_type, b_id, subject_is_a, confidence, evidence, created_by)
    SELECT DISTINCT ON (LEAST(w.user_id, o.user_id), GREATEST(w.user_id, o.user_id))
      ${organizationId}::uuid, 'USER', LEAST(w.user_id, o.user_id), 'USER', GREATEST(w.user_id, o.user_id), w.user_id < o.user_id,
      LEAST(COALESCE(w.confidence_score, 1), COALESCE(o.confidence_score, 1)),
      jsonb_build_array(jsonb_build_object(
        'kind', 'IDENTIFIER_VALUE', 'value', w.identifier_value,
        'subjectField', w.identifier_key, 'subjectSource', ws.key, 'subjectConfidence', w.confidence_score,
        'candidateField', o.identifier_key, 'candidateSource', os.key, 'candidateConfidence', o.confidence_score)),
      'SERVER'
    FROM identifiers w
    JOIN identifiers o ON o.organization_id = w.organization_id AND o.identifier_value = w.identifier_value
      AND o.identifier_key = w.identifier_key AND o.user_id <> w.user_id
    JOIN integration_sources ws ON ws.id = w.source_id
    JOIN integration_sources os ON os.id = o.source_id
    WHERE w.organization_id = ${organizationId}::uuid AND w.id = ANY(${identifierIds}::uuid[])
    ORDER BY LEAST(w.user_id, o.user_id), GREATEST(w.user_id, o.user_id),
      LEAST(COALESCE(w.confidence_score, 1), COALESCE(o.confidence_score, 1)) DESC
    ON CONFLICT (organization_id, a_type, a_id, b_type, b_id) DO NOTHING`;
}

/**
 * Server-created suggestions for identities just written: an identity whose email,
 * account email (one the provider did not verify, or the server would have linked it)
 * or phone number is the email of a member of the organization, or the value of a
 * member's identifier, is suggested as that member's, unless it is linked to them
 * already. Emails and E.164 numbers are distinctive, so any identifier key counts.
 * Evidence as matchCandidates gives it; the confidence is its weight (0.9 for an email,
 * 0.8 for a phone number) times the identifier's confidence. One statement for the
 * batch; a pair suggested before (rejected ones included) is left as it is.
 */
export async function suggestIdentityOwners(db: Pick<Prisma.TransactionClient, '$executeRaw'>, organizationId: string, identityIds: string[]) {
  if (!identityIds.length) return 0;
  return db.$executeRaw`
    WITH v AS (
      SELECT d.id, d.user_id, x.kind, x.field, x.value
      FROM identities d
      CROSS JOIN LATERAL (VALUES ('EMAIL', 'email', d.email), ('EMAIL', 'externalEmail', d.external_email),
        ('PHONE', 'phoneNumber', d.phone_number)) AS x(kind, field, value)
      WHERE d.organization_id = ${organizationId}::uuid AND d.id = ANY(${identityIds}::uuid[]) AND x.value IS NOT NULL
    ),
    matched AS (
      SELECT v.id, u.id AS user_id, v.kind, v.field, v.value, 'email' AS c_field, NULL::text AS c_source, NULL::float8 AS c_conf
      FROM v JOIN users u ON u.email = v.value AND u.merged_into_id IS NULL
      JOIN members m ON m.user_id = u.id AND m.organization_id = ${organizationId}::uuid
      WHERE v.kind = 'EMAIL' AND u.id IS DISTINCT FROM v.user_id
      UNION ALL
      SELECT v.id, i.user_id, v.kind, v.field, v.value, i.identifier_key, s.key, i.confidence_score
      FROM v JOIN identifiers i ON i.organization_id = ${organizationId}::uuid AND i.identifier_value = v.value
      JOIN integration_sources s ON s.id = i.source_id
      WHERE i.user_id IS DISTINCT FROM v.user_id
    )
    INSERT INTO link_suggestions (organization_id, a_type, a_id, b_type, b_id, subject_is_a, confidence, evidence, created_by)
    SELECT ${organizationId}::uuid, 'IDENTITY', m.id, 'USER', m.user_id, true,
      max(CASE m.kind WHEN 'EMAIL' THEN 0.9 ELSE 0.8 END * COALESCE(m.c_conf, 1)),
      jsonb_agg(jsonb_build_object('kind', m.kind, 'value', m.value, 'subjectField', m.field, 'subjectSource', NULL,
        'subjectConfidence', NULL, 'candidateField', m.c_field, 'candidateSource', m.c_source, 'candidateConfidence', m.c_conf)
        ORDER BY m.field, m.c_field, m.c_source),
      'SERVER'
    FROM matched m
    GROUP BY m.id, m.user_id
    ON CONFLICT (organization_id, a_type, a_id, b_type, b_id) DO NOTHING`;
}

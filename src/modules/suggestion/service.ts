import { asSystem } from '../../db/scope.ts';
import type { Access } from '../../context.ts';
import { Prisma, prisma } from '../../db.ts';
import { ApiError, ConflictError, DomainError, NotFoundError, ValidationError } from '../../errors.ts';
import type { LinkSuggestion } from '../../generated/prisma/client.ts';
import { recordAudit } from '../audit/service.ts';
import { jsonObject, score } from '../shared/inputs.ts';
import { sqlNames } from '../shared/sql-names.ts';
import { requireOrganizationOf, requireRowIn } from '../shared/tenant.ts';
import { Issues, parseId } from '../shared/validate.ts';
import { type MergeChoice, mergeParties, runMerge } from '../merge/service.ts';
import { meetsMinimum, meetsMinimumWhere } from '../shared/rules.ts';
import { candidateOf, normalisedPair, type Party, subjectOf } from './pairs.ts';
import { suggestLinks } from './server.ts';

export { candidateOf, subjectOf, type Party } from './pairs.ts';
export { findCandidates, matchCandidates, type Candidate, type Evidence } from './candidates.ts';

const SUGGESTION = sqlNames('LinkSuggestion');
const IDENTITY = sqlNames('Identity');

// Link suggestions with a review life cycle (SUGGESTED, then APPROVED or REJECTED).
// Candidates are in candidates.ts, the server's own suggestions in server.ts, the
// stored order of a pair in pairs.ts. No GraphQL here.

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
  /** False when the pair was suggested before: the existing row is returned, raised when this suggestion is stronger and it still waits for review (a rejected pair stays rejected). */
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
    const raised = await raiseExisting(access, organizationId, pair, { confidence: confidence ?? null, evidence, createdBy });
    if (!raised.raised) return { suggestion: raised.suggestion, created: false };
    return { suggestion: (await approveAutomatically(access, raised.suggestion)) ?? raised.suggestion, created: false };
  }
  return { suggestion: (await approveAutomatically(access, created)) ?? created, created: true };
}

/**
 * Approves a suggestion at once when the organization approves automatically at or
 * above a confidence and this one reaches it (unscored counts as certain, see
 * meetsMinimum); null when it does not, or when the approval cannot happen.
 */
async function approveAutomatically(access: Access, suggestion: LinkSuggestion): Promise<LinkSuggestion | null> {
  const threshold = (await prisma.organization.findUnique({ where: { id: suggestion.organizationId }, select: { autoApproveLinkConfidence: true } }))
    ?.autoApproveLinkConfidence;
  if (threshold == null || !meetsMinimum(suggestion.confidence, threshold)) return null;
  // Whatever stops the approval (a link taken meanwhile, a merge beyond this
  // organization) leaves the suggestion for review instead of failing its creation.
  return decide(access, suggestion, 'APPROVED', { automatic: true }).catch((err: unknown) => {
    if (err instanceof DomainError || err instanceof ApiError) return null;
    throw err;
  });
}

/** A piece of evidence with who gave it (kept when it says so already). */
function authored(item: unknown, by: string): unknown {
  if (item !== null && typeof item === 'object' && !Array.isArray(item)) return 'suggestedBy' in item ? item : { ...item, suggestedBy: by };
  return { value: item, suggestedBy: by };
}

/**
 * A pair suggested again while it waits for review: a higher confidence raises the
 * suggestion's, and the new evidence is added to the old, each piece with its author.
 * A decided pair, or one suggested at no higher confidence, is returned as it is.
 */
async function raiseExisting(
  access: Access,
  organizationId: string,
  pair: ReturnType<typeof normalisedPair>,
  next: { confidence: number | null; evidence: unknown[]; createdBy: string },
): Promise<{ suggestion: LinkSuggestion; raised: boolean }> {
  const { subjectIsA: _s, ...key } = pair;
  return prisma.$transaction(async (tx) => {
    const l = SUGGESTION();
    const [locked] = await tx.$queryRaw<{ id: string }[]>`
      SELECT ${l.id} AS id FROM ${l.$table} WHERE ${l.organizationId} = ${organizationId}::uuid AND ${l.aType} = ${key.aType}::"PartyType" AND ${l.aId} = ${key.aId}::uuid
        AND ${l.bType} = ${key.bType}::"PartyType" AND ${l.bId} = ${key.bId}::uuid FOR UPDATE`;
    const existing = await tx.linkSuggestion.findUniqueOrThrow({ where: { id: locked!.id } });
    const higher = existing.confidence !== null && (next.confidence === null || next.confidence > existing.confidence);
    if (existing.state !== 'SUGGESTED' || !higher) return { suggestion: existing, raised: false };
    const old = (Array.isArray(existing.evidence) ? existing.evidence : []).map((e) => authored(e, existing.createdBy));
    const added = next.evidence.map((e) => authored(e, next.createdBy));
    const evidence = [...old, ...added.filter((e) => !old.some((o) => JSON.stringify(o) === JSON.stringify(e)))];
    const after = await tx.linkSuggestion.update({
      where: { id: existing.id },
      data: { confidence: next.confidence, evidence: evidence as Prisma.InputJsonArray },
    });
    await recordAudit(tx, access.viewer, [{
      organizationId,
      entityType: 'LinkSuggestion',
      entityId: existing.id,
      action: 'UPDATE',
      changes: {
        confidence: { before: existing.confidence, after: after.confidence },
        evidence: { before: existing.evidence, after: after.evidence },
      },
    }]);
    return { suggestion: after, raised: true };
  });
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
    const l = SUGGESTION();
    const [row] = await tx.$queryRaw<{ state: string }[]>`SELECT ${l.state}::text AS state FROM ${l.$table} WHERE ${l.id} = ${suggestion.id}::uuid FOR UPDATE`;
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
    // A merge spans every organization of both users, which mergeParties authorized.
    return asSystem(() => prisma.$transaction(async (tx) => {
        await locked(tx);
        const { merge } = await runMerge(tx, access, effective, opts.choices ?? [], {
          table: 'link_suggestions',
          id: suggestion.id,
          apply: async (mergeId) => {
            await audit(tx, await mark(tx, mergeId));
          },
        });
        return tx.linkSuggestion.findUniqueOrThrow({ where: { id: suggestion.id, mergeId: merge.id } });
    }));
  }

  // An identity and a user: link them (MANUAL, as an admin's linkIdentity would).
  const identityId = subject.type === 'IDENTITY' ? subject.id : candidate.id;
  const userId = subject.type === 'USER' ? subject.id : candidate.id;
  return prisma.$transaction(async (tx) => {
    await locked(tx);
    const i = IDENTITY();
    const [identity] = await tx.$queryRaw<{ user_id: string | null; linked_by: string | null }[]>`
      SELECT ${i.userId}::text AS user_id, ${i.linkedBy}::text AS linked_by FROM ${i.$table}
      WHERE ${i.id} = ${identityId}::uuid AND ${i.organizationId} = ${suggestion.organizationId}::uuid FOR UPDATE`;
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
    ...meetsMinimumWhere('confidence', args.minConfidence),
  };
}

/** Server-created suggestions for identifiers just written (server.ts). */
export const suggestSharedIdentifiers = (db: Parameters<typeof suggestLinks>[0], organizationId: string, identifierIds: string[]) =>
  suggestLinks(db, organizationId, { identifierIds });

/** Server-created suggestions for identities just written (server.ts). */
export const suggestIdentityOwners = (db: Parameters<typeof suggestLinks>[0], organizationId: string, identityIds: string[]) =>
  suggestLinks(db, organizationId, { identityIds });

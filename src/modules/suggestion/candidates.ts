import type { Access } from '../../context.ts';
import { prisma } from '../../db.ts';
import { NotFoundError } from '../../errors.ts';
import type { LinkSuggestion } from '../../generated/prisma/client.ts';
import { linkedHolders, partyLinks, scoreOf, type Evidence, type Party } from '../matching/links.ts';
import { requireOrganizationAccess } from '../shared/authorize.ts';
import { Issues } from '../shared/validate.ts';
import { normalisedPair } from './pairs.ts';

// Duplicates: the organization's other users and identities that share a value with a
// user or an identity, as the matching module links them (matching/links.ts).

export type { Evidence, EvidenceKind } from '../matching/links.ts';

export interface Candidate {
  /** The candidate user or identity: its row is read as node(id) reads it (schema.ts). */
  party: Party;
  evidence: Evidence[];
  /** 0..1: 1 - Π(1 - weight) over the evidence. */
  score: number;
  suggestion: LinkSuggestion | null;
}

/**
 * The organization's other users and identities that share an identifier value, an
 * email or a phone number with `subject`, each with its evidence and score, best
 * first. One statement finds the subject's values and their holders, one the
 * suggestions already recorded for the pairs.
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

/** The candidates of a user (by its email and identifiers) or an identity (by its values). */
export async function findCandidates(organizationId: string, subject: Party, linkedUserId: string | null = null): Promise<Candidate[]> {
  const own = subject.type === 'USER' ? { userIds: [subject.id], ownedBy: [subject.id] } : { identityIds: [subject.id] };
  const { own: subjectHeld, holders } = await linkedHolders(prisma, organizationId, own);
  // The subject's own user (itself, or the user its identity is linked to) is no candidate.
  const ownUser = subject.type === 'USER' ? subject.id : linkedUserId;
  const parties = partyLinks(subjectHeld, holders, () => ownUser).map((l) => ({ party: l.candidate, evidence: l.evidence }));
  const pairs = parties.map((p) => normalisedPair(subject, p.party));
  const suggestions = pairs.length ? await prisma.linkSuggestion.findMany({ where: { organizationId, OR: pairs.map(({ subjectIsA: _s, ...p }) => p) } }) : [];
  return parties
    .map(({ party, evidence }): Candidate => {
      const pair = normalisedPair(subject, party);
      return {
        party,
        evidence,
        score: scoreOf(evidence),
        suggestion: suggestions.find((s) => s.aId === pair.aId && s.bId === pair.bId && s.aType === pair.aType && s.bType === pair.bType) ?? null,
      };
    })
    .sort((x, y) => y.score - x.score || (x.party.id < y.party.id ? -1 : 1));
}

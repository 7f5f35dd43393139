import type { LinkSuggestion } from '../../generated/prisma/client.ts';
import type { Party } from '../matching/links.ts';

// A pair is stored in a normalised order (a < b by type, then id), unique per
// organization, so whoever suggests it again (a job, the server) finds the same row:
// a rejected pair stays rejected.

export type { Party };

/** The pair in its stored order, and whether the subject came first. */
export function normalisedPair(subject: Party, candidate: Party) {
  const key = (p: Party) => `${p.type}:${p.id}`;
  const subjectIsA = key(subject) < key(candidate);
  const [a, b] = subjectIsA ? [subject, candidate] : [candidate, subject];
  return { aType: a.type, aId: a.id, bType: b.type, bId: b.id, subjectIsA };
}

/** Which stored end of the pair a side is, given subjectIsA: the rule subjectOf, candidateOf and the read engine follow. */
export const endOf = (side: 'subject' | 'candidate', subjectIsA: boolean): 'a' | 'b' => ((side === 'subject') === subjectIsA ? 'a' : 'b');

const sideOf = (s: LinkSuggestion, side: 'subject' | 'candidate'): Party => {
  const end = endOf(side, s.subjectIsA);
  return { type: s[`${end}Type`], id: s[`${end}Id`] };
};
export const subjectOf = (s: LinkSuggestion): Party => sideOf(s, 'subject');
export const candidateOf = (s: LinkSuggestion): Party => sideOf(s, 'candidate');

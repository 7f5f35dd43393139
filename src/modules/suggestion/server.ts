import type { Prisma } from '../../db.ts';
import { linkedHolders, partyLinks, scoreOf, SUGGEST_MIN_STRENGTH, strength, type Held } from '../matching/links.ts';
import { sqlNames } from '../shared/sql-names.ts';
import { normalisedPair } from './pairs.ts';

// Server-created suggestions: after a write of identifiers or identities, every party
// the matching module links the written values to (matching/links.ts) is suggested as
// the same person as the writer's user or identity, on evidence at least as
// distinctive as SUGGEST_MIN_STRENGTH (an email, a phone number, the same key), with
// the pair's score as its confidence. One statement reads the written values and
// their holders, one records every pair of the batch (when there is one).
//
// A pair suggested before keeps its row: a rejected or approved pair stays as it is; a
// pending one is raised when this write gives it a higher confidence, its evidence
// kept and the new evidence added.

type Db = Pick<Prisma.TransactionClient, '$executeRaw' | '$queryRaw'>;

/** At most this many pieces of evidence are stored per pair, the strongest (the score counts them all). */
const MAX_EVIDENCE = 20;

const SUGGESTION = sqlNames('LinkSuggestion');

export async function suggestLinks(db: Db, organizationId: string, written: { identifierIds?: string[]; identityIds?: string[] }) {
  if (!written.identifierIds?.length && !written.identityIds?.length) return 0;
  const { own: subjectHeld, holders } = await linkedHolders(db, organizationId, written);
  const distinctive = (s: Held, h: Held) => strength(s, h) >= SUGGEST_MIN_STRENGTH;
  const links = partyLinks(subjectHeld, holders, (s: Held) => s.ownerId, distinctive)
    // Two identities are never linked to each other.
    .filter((l) => !(l.subject.type === 'IDENTITY' && l.candidate.type === 'IDENTITY'));
  // One row per pair, the strongest reading first (a batch may write both sides).
  const rows = new Map<string, ReturnType<typeof normalisedPair> & { confidence: number; evidence: string }>();
  for (const l of links) {
    const evidence = l.evidence;
    const pair = normalisedPair(l.subject, l.candidate);
    const key = `${pair.aType}:${pair.aId}:${pair.bType}:${pair.bId}`;
    const confidence = scoreOf(evidence);
    if ((rows.get(key)?.confidence ?? -1) >= confidence) continue;
    const kept = evidence.slice(0, MAX_EVIDENCE).map((e) => ({ ...e, suggestedBy: 'SERVER' }));
    rows.set(key, { ...pair, confidence, evidence: JSON.stringify(kept) });
  }
  if (!rows.size) return 0;
  const list = [...rows.values()];
  const c = SUGGESTION();
  return db.$executeRaw`
    INSERT INTO ${c.$table} AS l (${c.organizationId}, ${c.aType}, ${c.aId}, ${c.bType}, ${c.bId}, ${c.subjectIsA}, ${c.confidence}, ${c.evidence}, ${c.createdBy})
    SELECT ${organizationId}::uuid, q.a_type::"PartyType", q.a_id, q.b_type::"PartyType", q.b_id, q.subject_is_a, q.confidence, q.evidence::jsonb, 'SERVER'
    FROM unnest(${list.map((r) => r.aType)}::text[], ${list.map((r) => r.aId)}::uuid[], ${list.map((r) => r.bType)}::text[],
                ${list.map((r) => r.bId)}::uuid[], ${list.map((r) => r.subjectIsA)}::boolean[], ${list.map((r) => r.confidence)}::float8[],
                ${list.map((r) => r.evidence)}::text[]) AS q(a_type, a_id, b_type, b_id, subject_is_a, confidence, evidence)
    ORDER BY q.a_id, q.b_id
    ON CONFLICT (${c.organizationId}, ${c.aType}, ${c.aId}, ${c.bType}, ${c.bId}) DO UPDATE
      SET ${c.confidence} = EXCLUDED.${c.confidence}, ${c.updatedAt} = now(),
          ${c.evidence} = l.${c.evidence} || coalesce((SELECT jsonb_agg(e) FROM jsonb_array_elements(EXCLUDED.${c.evidence}) AS e
                                             WHERE NOT l.${c.evidence} @> jsonb_build_array(e)), '[]'::jsonb)
      WHERE l.${c.state} = 'SUGGESTED' AND l.${c.confidence} IS NOT NULL AND EXCLUDED.${c.confidence} > l.${c.confidence}`;
}

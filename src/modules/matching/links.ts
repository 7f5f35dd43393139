import { Prisma } from '../../db.ts';
import type { DiscoveryMethod, LinkedBy, PartyType } from '../../generated/prisma/client.ts';
import { rowsAt } from '../shared/engine/datamodel.ts';
import { meetsMinimum, UNSCORED } from '../shared/rules.ts';
import { column, type FieldOf } from '../shared/sql-names.ts';
import type { ValueKind } from './normalise.ts';

// What links to what, for every feature that asks (resolve, graph, explainLink,
// matchCandidates, server suggestions): which values each object holds, which objects
// hold a value, and how much one shared value counts. Two holders are linked when they
// hold the same normalised value (normalise.ts); nothing else compares values.
//
// The values each object holds:
// - a user: its email (a member of the organization, not merged);
// - an identifier: its normalised value, under its key;
// - an identity: its email and provider account email (EMAIL), its phone number (PHONE)
//   and its provider account id (OTHER), all stored normalised.

export type HolderType = 'USER' | 'IDENTITY' | 'IDENTIFIER';

/** One value held by one object, with what the features show of it. */
export interface Held {
  type: HolderType;
  id: string;
  /** A short label of the holder (name, email or key=value). */
  label: string;
  /** The user the value belongs to: the user itself, an identifier's user, an identity's linked user. */
  ownerId: string | null;
  /** Where the holder keeps it: an identifier's key, or `email`, `externalEmail`, `phoneNumber`, `externalId`. */
  field: string;
  sourceId: string | null;
  sourceKey: string | null;
  kind: ValueKind;
  /** The value, normalised. */
  value: string;
  /** An identifier's confidence; null when unscored (counts as certain, see effectiveConfidence). */
  confidence: number | null;
  discoveryMethod: DiscoveryMethod | null;
  linkedBy: LinkedBy | null;
  at: Date | null;
}

/** Which objects' values to read: by value held, or by holder. */
export interface HeldFilter {
  values?: string[];
  /** Users (their email). */
  userIds?: string[];
  /** The identifiers of these users. */
  ownedBy?: string[];
  identifierIds?: string[];
  identityIds?: string[];
  /** Read the values held at this past moment instead of now. */
  asOf?: Date | null;
}

type Db = Pick<Prisma.TransactionClient, '$queryRaw'>;

/** The columns of a model under a table alias, for the statement below. */
const of =
  <M extends Prisma.ModelName>(model: M, alias: string) =>
  (field: FieldOf<M>) =>
    column(model, field, alias);

interface HeldRow extends Omit<Held, 'confidence' | 'at'> {
  confidence: number | string | null;
  at: Date | string | null;
}

/**
 * The values held in the organization that `filter` asks for: those equal to one of
 * `values`, and every value of the holders named. With `expand`, every holder of any
 * of those values too (the holders named among them). One statement either way,
 * indexed by value on each table.
 */
export async function heldValues(db: Db, organizationId: string, filter: HeldFilter, expand = false): Promise<Held[]> {
  const values = [...new Set(filter.values ?? [])];
  const userIds = filter.userIds ?? [];
  const ownedBy = filter.ownedBy ?? [];
  const identifierIds = filter.identifierIds ?? [];
  const identityIds = filter.identityIds ?? [];
  if (!values.length && !userIds.length && !ownedBy.length && !identifierIds.length && !identityIds.length) return [];
  // Each way a row is asked for is its own lookup (the asked values as one array),
  // and the ids found are gathered first, then read by primary key. An OR of the ways
  // in one WHERE makes PostgreSQL scan the organization's whole table; a semi-join of
  // the table with the lookups, planned on the stale estimates of rows just written in
  // the same transaction, may run every lookup again for every row.
  const at = filter.asOf ?? null;
  const t = Object.fromEntries(['Identifier', 'Identity', 'User', 'IntegrationSource', 'Member'].map((m) => [m, Prisma.raw(rowsAt(m, at))])) as Record<
    'Identifier' | 'Identity' | 'User' | 'IntegrationSource' | 'Member', Prisma.Sql>;
  // The columns of each alias below, named by the datamodel.
  const [i, d, u, v, s, m] = [of('Identifier', 'i'), of('Identity', 'd'), of('User', 'u'), of('User', 'v'), of('IntegrationSource', 's'), of('Member', 'm')];
  const [hi, hd] = [of('Identifier', 'h'), of('Identity', 'h')];
  const rows = await db.$queryRaw<HeldRow[]>`
    WITH asked AS (
      SELECT unnest(${values}::text[]) AS value
      UNION SELECT ${i('normalizedValue')} FROM ${t.Identifier} i
        WHERE ${expand} AND ${i('organizationId')} = ${organizationId}::uuid AND ${i('id')} = ANY(${identifierIds}::uuid[])
      UNION SELECT ${i('normalizedValue')} FROM ${t.Identifier} i
        WHERE ${expand} AND ${i('organizationId')} = ${organizationId}::uuid AND ${i('userId')} = ANY(${ownedBy}::uuid[])
      UNION SELECT x.value FROM ${t.Identity} d
        CROSS JOIN LATERAL (VALUES (${d('email')}), (${d('externalEmail')}), (${d('phoneNumber')}), (${d('externalId')})) AS x(value)
        WHERE ${expand} AND ${d('organizationId')} = ${organizationId}::uuid AND ${d('id')} = ANY(${identityIds}::uuid[]) AND x.value IS NOT NULL
      UNION SELECT ${u('email')} FROM ${t.User} u WHERE ${expand} AND ${u('id')} = ANY(${userIds}::uuid[])
    ),
    identifier_ids AS MATERIALIZED (
      SELECT ${hi('id')} FROM ${t.Identifier} h WHERE ${hi('organizationId')} = ${organizationId}::uuid AND ${hi('normalizedValue')} = ANY(ARRAY(SELECT value FROM asked))
      UNION SELECT unnest(${identifierIds}::uuid[])
      UNION SELECT ${hi('id')} FROM ${t.Identifier} h WHERE ${hi('organizationId')} = ${organizationId}::uuid AND ${hi('userId')} = ANY(${ownedBy}::uuid[])
    ),
    identity_ids AS MATERIALIZED (
      SELECT ${hd('id')} FROM ${t.Identity} h WHERE ${hd('organizationId')} = ${organizationId}::uuid AND ${hd('email')} = ANY(ARRAY(SELECT value FROM asked))
      UNION SELECT ${hd('id')} FROM ${t.Identity} h WHERE ${hd('organizationId')} = ${organizationId}::uuid AND ${hd('externalEmail')} = ANY(ARRAY(SELECT value FROM asked))
      UNION SELECT ${hd('id')} FROM ${t.Identity} h WHERE ${hd('organizationId')} = ${organizationId}::uuid AND ${hd('phoneNumber')} = ANY(ARRAY(SELECT value FROM asked))
      UNION SELECT ${hd('id')} FROM ${t.Identity} h WHERE ${hd('organizationId')} = ${organizationId}::uuid AND ${hd('externalId')} = ANY(ARRAY(SELECT value FROM asked))
      UNION SELECT unnest(${identityIds}::uuid[])
    ),
    user_ids AS MATERIALIZED (
      SELECT ${v('id')} FROM ${t.User} v WHERE ${v('email')} = ANY(ARRAY(SELECT value FROM asked)) UNION SELECT unnest(${userIds}::uuid[])
    )
    SELECT 'IDENTIFIER' AS type, ${i('id')}::text AS id, ${i('identifierKey')} || '=' || ${i('identifierValue')} AS label, ${i('userId')}::text AS "ownerId",
           ${i('identifierKey')} AS field, ${i('sourceId')}::text AS "sourceId", ${s('key')} AS "sourceKey", ${i('valueKind')}::text AS kind,
           ${i('normalizedValue')} AS value, ${i('confidenceScore')} AS confidence, ${i('discoveryMethod')}::text AS "discoveryMethod",
           NULL::text AS "linkedBy", ${i('updatedAt')} AS at
      FROM identifier_ids f JOIN ${t.Identifier} i ON ${i('id')} = f.id JOIN ${t.IntegrationSource} s ON ${s('id')} = ${i('sourceId')}
      WHERE ${i('organizationId')} = ${organizationId}::uuid
    UNION ALL
    SELECT 'IDENTITY', ${d('id')}::text, ${d('name')}, ${d('userId')}::text, x.field, ${d('sourceId')}::text, ${s('key')}, x.kind, x.value,
           NULL::float8, NULL::text, ${d('linkedBy')}::text, ${d('updatedAt')}
      FROM identity_ids f JOIN ${t.Identity} d ON ${d('id')} = f.id LEFT JOIN ${t.IntegrationSource} s ON ${s('id')} = ${d('sourceId')}
      CROSS JOIN LATERAL (VALUES ('email', 'EMAIL', ${d('email')}), ('externalEmail', 'EMAIL', ${d('externalEmail')}),
                                 ('phoneNumber', 'PHONE', ${d('phoneNumber')}), ('externalId', 'OTHER', ${d('externalId')})) AS x(field, kind, value)
      WHERE ${d('organizationId')} = ${organizationId}::uuid AND x.value IS NOT NULL
        AND (x.value = ANY(ARRAY(SELECT value FROM asked)) OR ${d('id')} = ANY(${identityIds}::uuid[]))
    UNION ALL
    SELECT 'USER', ${u('id')}::text, coalesce(${u('name')}, ${u('email')}), ${u('id')}::text, 'email', NULL, NULL, 'EMAIL', ${u('email')},
           NULL::float8, NULL::text, NULL::text, NULL::timestamptz
      FROM user_ids f JOIN ${t.User} u ON ${u('id')} = f.id JOIN ${t.Member} m ON ${m('userId')} = ${u('id')} AND ${m('organizationId')} = ${organizationId}::uuid
      WHERE ${u('mergedIntoId')} IS NULL`;
  return rows.map((r) => ({
    ...r,
    confidence: r.confidence === null ? null : Number(r.confidence),
    at: r.at === null ? null : new Date(r.at),
  }));
}

/** Whether `h` is one of the holders `filter` names. */
export function namedBy(filter: HeldFilter, h: Held): boolean {
  if (h.type === 'USER') return !!filter.userIds?.includes(h.id);
  if (h.type === 'IDENTITY') return !!filter.identityIds?.includes(h.id);
  return !!filter.identifierIds?.includes(h.id) || !!filter.ownedBy?.includes(h.ownerId!);
}

/** The values of the holders `filter` names, and every holder of one of them (themselves included): one statement. */
export async function linkedHolders(db: Db, organizationId: string, filter: HeldFilter): Promise<{ own: Held[]; holders: Held[] }> {
  const holders = await heldValues(db, organizationId, filter, true);
  return { own: holders.filter((h) => namedBy(filter, h)), holders };
}

// ---- How much a link counts -----------------------------------------------------------

/** Unscored counts as certain: the one rule for a missing confidence (shared/rules.ts), in matching as in filters. */
export const effectiveConfidence = (score: number | null | undefined) => score ?? UNSCORED;

export { meetsMinimum };

export type EvidenceKind = 'IDENTIFIER_VALUE' | 'EMAIL' | 'PHONE';

/** The same key, whatever its case. */
const sameField = (a: Held, b: Held) => a.field.toLowerCase() === b.field.toLowerCase();

/** Whether two holders are linked: another object holding the same normalised value. */
export const linked = (a: Held, b: Held) => a.value === b.value && !(a.type === b.type && a.id === b.id);

/** What a shared value is evidence of: an email, a phone number, or another value. */
export function evidenceKind(a: Held, b: Held): EvidenceKind {
  if (a.kind === 'EMAIL' || b.kind === 'EMAIL') return 'EMAIL';
  if (a.kind === 'PHONE' || b.kind === 'PHONE') return 'PHONE';
  return 'IDENTIFIER_VALUE';
}

/**
 * How distinctive a shared value is, before confidences: an email or the same key is
 * strong (0.9), a phone number a little less (households share them, 0.8), the same
 * value under different keys (`1`, `admin`) weak (0.5).
 */
export function strength(a: Held, b: Held): number {
  const kind = evidenceKind(a, b);
  return kind === 'EMAIL' ? 0.9 : kind === 'PHONE' ? 0.8 : sameField(a, b) ? 0.9 : 0.5;
}

/** The server suggests a pair only on evidence at least this distinctive (an email, a phone number, the same key). */
export const SUGGEST_MIN_STRENGTH = 0.8;

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
  /** What this evidence adds to the score, 0..1: its strength times both confidences, less for a value many users hold (sharedFactor). */
  weight: number;
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;

/**
 * How much a value counts when `users` distinct users hold it: fully when at most two
 * do (a person's own value, or one held by their two accounts); held by more (a team
 * mailbox, a desk phone), it says less about any two of them: 1 / (users - 1). Without
 * this, two colleagues sharing a team mailbox and a desk phone scored 0.98, enough to
 * be approved automatically at an organization's 0.95.
 */
export const sharedFactor = (users: number) => (users > 2 ? 1 / (users - 1) : 1);

export function evidenceOf(subject: Held, candidate: Held, users = 0): Evidence {
  return {
    kind: evidenceKind(subject, candidate),
    value: subject.value,
    subjectField: subject.field,
    subjectSource: subject.sourceKey,
    subjectConfidence: subject.confidence,
    candidateField: candidate.field,
    candidateSource: candidate.sourceKey,
    candidateConfidence: candidate.confidence,
    weight: round(
      strength(subject, candidate) * sharedFactor(users) * effectiveConfidence(subject.confidence) * effectiveConfidence(candidate.confidence),
    ),
  };
}

/** A pair's score from its evidence, 0..1: 1 - Π(1 - weight). */
export const scoreOf = (evidence: readonly Pick<Evidence, 'weight'>[]) => round(1 - evidence.reduce((p, e) => p * (1 - e.weight), 1));

/** Strongest first, then by value: the order evidence is shown and kept in. */
export const byWeight = (x: Evidence, y: Evidence) => y.weight - x.weight || (x.value < y.value ? -1 : x.value > y.value ? 1 : 0);

// ---- Parties: who a link is between ---------------------------------------------------

export interface Party {
  type: PartyType;
  id: string;
}

/** The party a holder speaks for: an identifier its user, a user or an identity itself. */
export const partyOf = (h: Held): Party => (h.type === 'IDENTIFIER' ? { type: 'USER', id: h.ownerId! } : { type: h.type, id: h.id });

/**
 * How many distinct users hold each value among `holders` (through their email, their
 * identifiers or their linked identities). Identities not linked to a user do not
 * count: they are accounts waiting to be matched to a user, often several of one person.
 */
function usersPerValue(holders: readonly Held[]): Map<string, number> {
  const sets = new Map<string, Set<string>>();
  for (const h of holders) if (h.ownerId) sets.set(h.value, (sets.get(h.value) ?? new Set()).add(h.ownerId));
  return new Map([...sets].map(([value, set]) => [value, set.size]));
}

const sameParty = (a: Party, b: Party) => a.type === b.type && a.id === b.id;

/** Whether `candidate` is the subject's own: the subject, its user, or an identity linked to its user. */
function ownOf(subject: Party, ownUserId: string | null, candidate: Held, party: Party) {
  if (sameParty(subject, party)) return true;
  if (ownUserId === null) return false;
  return (party.type === 'USER' && party.id === ownUserId) || (candidate.type === 'IDENTITY' && candidate.ownerId === ownUserId);
}

export interface PartyLink {
  subject: Party;
  candidate: Party;
  evidence: Evidence[];
}

/**
 * The parties the subject holders are linked to, each with its evidence (strongest
 * first): what matchCandidates lists and the server suggests. `ownUserId` is the
 * subject's user (itself, or the user its identity is linked to), never a candidate.
 */
export function partyLinks(
  subjectHeld: readonly Held[],
  holders: readonly Held[],
  ownUserId: (s: Held) => string | null,
  keep: (s: Held, h: Held) => boolean = () => true,
): PartyLink[] {
  const byPair = new Map<string, PartyLink>();
  const seen = new Set<string>();
  // `holders` has every holder of each subject value, so these counts are the organization's.
  const users = usersPerValue(holders);
  for (const s of subjectHeld) {
    const subject = partyOf(s);
    for (const h of holders) {
      if (!linked(s, h) || !keep(s, h)) continue;
      const candidate = partyOf(h);
      if (ownOf(subject, ownUserId(s), h, candidate)) continue;
      const once = `${s.type}:${s.id}:${s.field}|${h.type}:${h.id}:${h.field}`;
      if (seen.has(once)) continue;
      seen.add(once);
      const key = `${subject.type}:${subject.id}|${candidate.type}:${candidate.id}`;
      const entry = byPair.get(key) ?? { subject, candidate, evidence: [] };
      entry.evidence.push(evidenceOf(s, h, users.get(h.value)));
      byPair.set(key, entry);
    }
  }
  for (const entry of byPair.values()) entry.evidence.sort(byWeight);
  return [...byPair.values()];
}

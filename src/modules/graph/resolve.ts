import { prisma } from '../../db.ts';
import type { Identifier, Identity, User } from '../../generated/prisma/client.ts';
import { lookupNeedsRegion, lookupValues, normalisePhone } from '../matching/normalise.ts';
import { organizationRegion, sourceRegions } from '../matching/regions.ts';
import { sourceIdOf } from '../shared/inputs.ts';
import { survivorsOf } from '../user/tombstones.ts';
import { rankMatches } from '../shared/rules.ts';
import { scalarFields, selectList } from '../shared/sql-names.ts';
import { emailHolderWhere, identifierMatchWhere, identityNamedWhere, inOrganizationWhere, providerAccountWhere, valueHolderWhere } from './lookups.ts';

// "Who is this?": any identifier a tenant knows a person by, to the person. Lookups of
// one kind are answered together, so a batch of a thousand costs one statement per
// kind of key present, plus one for the users found. A few identifiers (one `resolve`)
// come with their users, and what the operation selects of them, in one statement.
//
// Values are compared normalised (matching/normalise.ts): an identifier's value as
// its key and source would store it, an email lower-cased, a phone number in E.164.
// An email or phone number finds the users, identities and identifiers holding it.

export type ResolveKey =
  | { kind: 'identifier'; source: string; identifierKey: string; identifierValue: string }
  | { kind: 'email'; email: string }
  | { kind: 'phone'; phoneNumber: string }
  | { kind: 'external'; source: string; externalId: string }
  | { kind: 'identityKey'; identityKey: string };

export interface Resolution {
  /** The person: the one user the key matched; null when it matched several (ambiguous). */
  user: User | null;
  /**
   * Every distinct user the key matched, best first: the user whose own email it is, the
   * user of the identity it names, then the users of the matched identifiers as they rank
   * (rules.ts, rankMatches). More than one means the key is ambiguous.
   */
  candidates: User[];
  /** Whether it matched more than one user, those left out of `candidates` as not visible included; absent: whether candidates has several. */
  ambiguous?: boolean;
  /** The identity the key names (email, phone, provider account or identity key), if any. */
  identity: Identity | null;
  /** The identifiers that matched, best first. */
  matchedIdentifiers: Identifier[];
}

/** An identifier key with its index and its value normalised. */
type IdentifierKey = Extract<ResolveKey, { kind: 'identifier' }> & { i: number; normalizedValue: string };

/**
 * Up to this many identifier keys are looked up with their users in one statement; a
 * larger batch joins the keys as an array instead (one statement for the identifiers,
 * one more for the users), which stays fast for a thousand.
 */
const JOINED_LOOKUP_MAX_KEYS = 10;

/**
 * The identifiers matching `keys` (each with the index `ord` of the key it matches) and
 * their users, loaded with `userQuery`.
 */
async function findIdentifiers(
  organizationId: string,
  keys: IdentifierKey[],
  userQuery: object,
): Promise<{ rows: { ord: number; row: Identifier }[]; users: User[] }> {
  if (!keys.length) return { rows: [], users: [] };
  if (keys.length <= JOINED_LOOKUP_MAX_KEYS) {
    const found = await prisma.identifier.findMany({
      where: { organizationId, OR: keys.map((k) => identifierMatchWhere(organizationId, { ...k, sourceId: sourceIdOf(k.source) })) },
      include: { source: { select: { key: true } }, user: Object.keys(userQuery).length ? userQuery : true },
    });
    const users = new Map<string, User>();
    const rows = found.flatMap(({ source, user, ...row }) => {
      users.set(user.id, user as User);
      return keys
        .filter(
          (k) =>
            k.identifierKey === row.identifierKey &&
            k.normalizedValue === row.normalizedValue &&
            (k.source === source.key || sourceIdOf(k.source) === row.sourceId),
        )
        .map((k) => ({ ord: k.i, row: row as Identifier }));
    });
    return { rows, users: [...users.values()] };
  }
  const rows = await prisma.$queryRaw<(Identifier & { ord: number })[]>`
    SELECT ${selectList('Identifier', scalarFields('Identifier'), 'i')}, q.ord
    FROM unnest(${keys.map((k) => k.source)}::text[], ${keys.map((k) => sourceIdOf(k.source))}::uuid[],
                ${keys.map((k) => k.identifierKey)}::text[], ${keys.map((k) => k.normalizedValue)}::text[],
                ${keys.map((k) => k.i)}::int[]) AS q(src, sid, k, v, ord)
    JOIN integration_sources s ON s.organization_id = ${organizationId}::uuid AND (s.key = q.src OR s.id = q.sid)
    JOIN identifiers i ON i.organization_id = ${organizationId}::uuid AND i.source_id = s.id
         AND i.identifier_key = q.k AND i.normalized_value = q.v`;
  return {
    rows: rows.map(({ ord, ...row }) => ({
      ord,
      row: { ...row, confidenceScore: row.confidenceScore === null ? null : Number(row.confidenceScore) } as Identifier,
    })),
    users: [],
  };
}

/**
 * The identifier keys of `keys`, with their values normalised as their sources would
 * store them; a value that may be a phone number of a given kind is looked up both ways
 * (lookupValues), the same index `i` standing for both.
 */
export async function normalisedKeys(organizationId: string, keys: readonly ResolveKey[]): Promise<IdentifierKey[]> {
  const found = keys.flatMap((k, i) => (k.kind === 'identifier' ? [{ ...k, i }] : []));
  const regional = found.filter((k) => lookupNeedsRegion(k.identifierKey, k.identifierValue));
  const regions = regional.length ? await sourceRegions(organizationId, regional.map((k) => k.source)) : null;
  return found.flatMap((k) => lookupValues(k.identifierKey, k.identifierValue, regions?.get(k.source)).map((normalizedValue) => ({ ...k, normalizedValue })));
}

/** Whether a key is a phone number read in the organization's region (written without its country code). */
export const isNationalPhone = (k: ResolveKey): boolean => k.kind === 'phone' && !k.phoneNumber.startsWith('+');

/**
 * How phone numbers looked up are normalised: national formats are read in the
 * organization's region (looked up only for them), as resolveKeys reads them.
 */
export async function phonesOf(organizationId: string, keys: readonly ResolveKey[]): Promise<(k: Extract<ResolveKey, { kind: 'phone' }>) => string> {
  const region = keys.some(isNationalPhone) ? await organizationRegion(organizationId) : null;
  return (k) => normalisePhone(k.phoneNumber, region);
}

/** The organization's identifiers holding any of these normalised values, in any source under any key. */
export function identifiersHolding(organizationId: string, values: string[]): Promise<Identifier[]> {
  return prisma.identifier.findMany({ where: valueHolderWhere(organizationId, { in: values }), orderBy: { createdAt: 'asc' } });
}

/** The identities holding the provider accounts `keys` name (each with the index `ord` of its key). */
async function identitiesOfAccounts(organizationId: string, keys: (Extract<ResolveKey, { kind: 'external' }> & { i: number })[]): Promise<{ id: string; ord: number }[]> {
  const found = await prisma.identity.findMany({
    where: { organizationId, OR: keys.map((k) => providerAccountWhere(organizationId, { ...k, sourceId: sourceIdOf(k.source) })) },
    select: { id: true, externalId: true, sourceId: true, source: { select: { key: true } } },
  });
  return keys.flatMap((k) =>
    found.filter((d) => d.externalId === k.externalId && (d.source?.key === k.source || d.sourceId === sourceIdOf(k.source))).map((d) => ({ id: d.id, ord: k.i })),
  );
}

/** Best first (shared/rules.ts). */
const byConfidence = rankMatches;

/**
 * Resolves every key within `organizationId`; null where nothing matched. `userQuery`
 * (a Prisma include or select) is what to load with each user, so the relations an
 * operation selects beneath the users come in the statement that finds them.
 */
export async function resolveKeys(
  organizationId: string,
  keys: readonly ResolveKey[],
  userQuery: object = {},
): Promise<(Resolution | null)[]> {
  const [identifierKeys, phoneOf] = await Promise.all([normalisedKeys(organizationId, keys), phonesOf(organizationId, keys)]);
  const emails = [...new Set(keys.flatMap((k) => (k.kind === 'email' ? [k.email] : [])))];
  const phones = [...new Set(keys.flatMap((k) => (k.kind === 'phone' ? [phoneOf(k)] : [])))];
  const externals = keys.flatMap((k, i) => (k.kind === 'external' ? [{ ...k, i }] : []));
  const identityKeys = [...new Set(keys.flatMap((k) => (k.kind === 'identityKey' ? [k.identityKey] : [])))];

  const [{ rows: identifierRows, users: identifierUsers }, foundByEmail, identities, externalRows, valueHolders] = await Promise.all([
    findIdentifiers(organizationId, identifierKeys, userQuery),
    emails.length
      ? (prisma.user.findMany({
          ...userQuery,
          // Merged users too: their email leads to the user they were merged into.
          where: emailHolderWhere(organizationId, { in: emails }),
        }) as Promise<User[]>)
      : [],
    emails.length || phones.length || identityKeys.length
      ? prisma.identity.findMany({
          where: {
            organizationId,
            OR: [
              ...(emails.length ? [identityNamedWhere(organizationId, 'email', { in: emails })] : []),
              ...(phones.length ? [identityNamedWhere(organizationId, 'phone', { in: phones })] : []),
              ...(identityKeys.length ? [identityNamedWhere(organizationId, 'identityKey', { in: identityKeys })] : []),
            ],
          },
        })
      : [],
    externals.length ? identitiesOfAccounts(organizationId, externals) : [],
    // Identifiers holding an email or phone number looked up, in any source under any key.
    emails.length || phones.length ? identifiersHolding(organizationId, [...emails, ...phones]) : ([] as Identifier[]),
  ]);

  let emailUsers: (User & { lookupEmail?: string })[] = foundByEmail;
  const tombstones = emailUsers.filter((u) => u.mergedIntoId !== null);
  if (tombstones.length) {
    const survivors = await survivorsOf(tombstones.map((u) => u.id));
    const found = (await prisma.user.findMany({
      ...userQuery,
      where: { id: { in: [...new Set(survivors.values())] }, ...inOrganizationWhere(organizationId) },
    })) as User[];
    emailUsers = [
      ...emailUsers.filter((u) => u.mergedIntoId === null),
      // Under the merged user's email, so the lookup below finds the survivor.
      ...tombstones.flatMap((t) => found.filter((u) => u.id === survivors.get(t.id)).map((u) => ({ ...u, lookupEmail: t.email }))),
    ];
  }

  // Identities found by provider account, loaded with the rest below.
  const externalIdentityIds = [...new Set(externalRows.map((r) => r.id))].filter((id) => !identities.some((d) => d.id === id));
  const extraIdentities = externalIdentityIds.length
    ? await prisma.identity.findMany({ where: { id: { in: externalIdentityIds }, organizationId } })
    : [];
  const allIdentities = [...identities, ...extraIdentities];
  const identityById = new Map(allIdentities.map((d) => [d.id, d]));

  const userIds = new Set<string>();
  for (const r of identifierRows) userIds.add(r.row.userId);
  for (const r of valueHolders) userIds.add(r.userId);
  for (const d of allIdentities) if (d.userId) userIds.add(d.userId);
  for (const u of [...emailUsers, ...identifierUsers]) userIds.delete(u.id);
  const users = userIds.size ? ((await prisma.user.findMany({ ...userQuery, where: { id: { in: [...userIds] } } })) as User[]) : [];
  const userById = new Map([...users, ...emailUsers, ...identifierUsers].map((u) => [u.id, u]));

  const identifiersByOrd = new Map<number, Identifier[]>();
  for (const { ord, row } of identifierRows) {
    const list = identifiersByOrd.get(ord) ?? [];
    list.push(row);
    identifiersByOrd.set(ord, list);
  }
  const externalByOrd = new Map(externalRows.map((r) => [r.ord, r.id]));

  return keys.map((key, i) => {
    let matched: Identifier[] = [];
    let identity: Identity | null = null;
    let emailUser: User | null = null;
    switch (key.kind) {
      case 'identifier':
        matched = (identifiersByOrd.get(i) ?? []).sort(byConfidence);
        break;
      case 'email':
        emailUser = emailUsers.find((u) => (u.lookupEmail ?? u.email) === key.email) ?? null;
        identity = allIdentities.find((d) => d.email === key.email) ?? null;
        matched = valueHolders.filter((h) => h.normalizedValue === key.email).sort(byConfidence);
        break;
      case 'phone': {
        const phone = phoneOf(key);
        identity = allIdentities.find((d) => d.phoneNumber === phone) ?? null;
        matched = valueHolders.filter((h) => h.normalizedValue === phone).sort(byConfidence);
        break;
      }
      case 'external':
        identity = identityById.get(externalByOrd.get(i) ?? '') ?? null;
        break;
      case 'identityKey':
        identity = allIdentities.find((d) => d.identifierKey === key.identityKey) ?? null;
        break;
    }
    const candidates: User[] = [];
    const add = (id: string | null | undefined) => {
      const u = id ? userById.get(id) : undefined;
      if (u && !candidates.some((c) => c.id === u.id)) candidates.push(u);
    };
    if (emailUser) candidates.push(emailUser);
    add(identity?.userId);
    for (const m of matched) add(m.userId);
    if (!candidates.length && !identity && !matched.length) return null;
    // Ambiguous: no one user is the answer (the compiled read, engine/roots.ts prebuiltResolution, agrees).
    return { user: candidates.length === 1 ? candidates[0]! : null, candidates, identity, matchedIdentifiers: matched };
  });
}

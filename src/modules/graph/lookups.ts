// What each kind of `resolve` key matches, as Prisma filters: the general path
// (resolve.ts) gives them to Prisma with the values looked up, the compiled read
// (compiled.ts) renders the same objects in SQL with the columns holding each key's
// values (engine/where.ts, ParentId). Values arrive normalised (keys.ts, resolve.ts).

// Each takes the values it compares with as given: a value, `{ in: [...] }`, or a column standing for it.

/** A source of the organization named by its key or its id (sourceIdOf; null when the name is no id). */
export const sourceNamedWhere = <K, I>(organizationId: string, key: K, id: I | null) => ({
  organizationId,
  OR: [{ key } as { key?: K; id?: I }, ...(id === null || id === undefined ? [] : [{ id }])],
});

/** The identifiers an identifier key matches: under that key, with that normalised value, in the source named. */
export const identifierMatchWhere = <V, I>(organizationId: string, k: { identifierKey: V; normalizedValue: V; source: V; sourceId: I | null }) => ({
  organizationId,
  identifierKey: k.identifierKey,
  normalizedValue: k.normalizedValue,
  source: sourceNamedWhere(organizationId, k.source, k.sourceId),
});

/** The identifiers holding an email or phone number looked up: in any source, under any key. */
export const valueHolderWhere = <V>(organizationId: string, normalizedValue: V) => ({ organizationId, normalizedValue });

/** The identity field an email, a phone number and an identity key name an identity by (each unique in an organization). */
export const IDENTITY_FIELD = { email: 'email', phone: 'phoneNumber', identityKey: 'identifierKey' } as const;

/** The identity a key of one of IDENTITY_FIELD's kinds names. */
export const identityNamedWhere = <V>(organizationId: string, kind: keyof typeof IDENTITY_FIELD, value: V) =>
  ({ organizationId, [IDENTITY_FIELD[kind]]: value }) as { organizationId: string; email?: V; phoneNumber?: V; identifierKey?: V };

/** The identity holding a provider account: its externalId in the source named. */
export const providerAccountWhere = <V, I>(organizationId: string, k: { externalId: V; source: V; sourceId: I | null }) => ({
  organizationId,
  externalId: k.externalId,
  source: sourceNamedWhere(organizationId, k.source, k.sourceId),
});

/** Users who belong to the organization (in any state). */
export const inOrganizationWhere = (organizationId: string) => ({ memberships: { some: { organizationId } } });

/**
 * The user whose own email is looked up: its holder while a member of the organization,
 * or a user merged away, which leads to the end of its chain (user/tombstones.ts), who
 * must be a member (inOrganizationWhere).
 */
export const emailHolderWhere = <V>(organizationId: string, email: V) => ({
  email,
  OR: [inOrganizationWhere(organizationId), { mergedIntoId: { not: null } }],
});

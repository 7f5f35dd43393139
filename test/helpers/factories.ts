import { randomUUID } from 'node:crypto';
import { prisma } from '../../src/db.ts';
import { classify } from '../../src/modules/matching/normalise.ts';
import type {
  DiscoveryMethod,
  IdentityType,
  LinkedBy,
  MemberRole,
  MembershipState,
  SourceKind,
} from '../../src/generated/prisma/client.ts';

// Fluent builders for every model. Each call makes unique values, so tests own
// their data and never collide; override only what the test is about.

const unique = () => randomUUID().slice(0, 8);

export const anOrganization = (overrides: { slug?: string; name?: string } = {}) => {
  const slug = overrides.slug ?? `org-${unique()}`;
  return prisma.organization.create({ data: { slug, name: overrides.name ?? `Organization ${slug}` } });
};

export const aUser = (
  overrides: Partial<{ email: string; authSubject: string | null; name: string; givenName: string; familyName: string; isSystemAdmin: boolean }> = {},
) => {
  const u = unique();
  return prisma.user.create({
    data: {
      email: overrides.email ?? `user-${u}@example.com`,
      authSubject: overrides.authSubject === undefined ? `auth|${u}` : overrides.authSubject,
      name: overrides.name ?? `User ${u}`,
      givenName: overrides.givenName ?? null,
      familyName: overrides.familyName ?? null,
      isSystemAdmin: overrides.isSystemAdmin ?? false,
    },
  });
};

export const aMember = (
  organizationId: string,
  userId: string,
  overrides: { role?: MemberRole; state?: MembershipState } = {},
) =>
  prisma.member.create({
    data: { organizationId, userId, role: overrides.role ?? 'ANALYST', state: overrides.state ?? 'ACTIVE' },
  });

export const aSource = (
  organizationId: string,
  overrides: { kind?: SourceKind; key?: string; name?: string } = {},
) => {
  const key = overrides.key ?? `src-${unique()}`;
  return prisma.integrationSource.create({
    data: { organizationId, kind: overrides.kind ?? 'INTEGRATION', key, name: overrides.name ?? key },
  });
};

/** An identifier's key and value with the kind and normalised value the server would store (no default region). */
export const withNormalised = (identifierKey: string, identifierValue: string) => ({
  identifierKey,
  identifierValue,
  ...classify(identifierKey, identifierValue),
});

export const anIdentifier = (
  organizationId: string,
  userId: string,
  sourceId: string,
  overrides: Partial<{ identifierKey: string; identifierValue: string; discoveryMethod: DiscoveryMethod; confidenceScore: number | null }> = {},
) =>
  prisma.identifier.create({
    data: {
      organizationId,
      userId,
      sourceId,
      ...withNormalised(overrides.identifierKey ?? 'owner_id', overrides.identifierValue ?? `v-${unique()}`),
      discoveryMethod: overrides.discoveryMethod ?? 'MANUAL',
      confidenceScore: overrides.confidenceScore === undefined ? null : overrides.confidenceScore,
    },
  });

export const anIdentity = (
  organizationId: string,
  overrides: Partial<{
    identifierKey: string;
    identityType: IdentityType;
    name: string;
    email: string | null;
    phoneNumber: string | null;
    projectId: string | null;
    userId: string | null;
    linkedBy: LinkedBy | null;
    /** A provider account: the identity provider source and the account's fields. */
    sourceId: string | null;
    externalId: string | null;
    externalEmail: string | null;
    externalEmailVerified: boolean;
  }> = {},
) => {
  const u = unique();
  return prisma.identity.create({
    data: {
      organizationId,
      identifierKey: overrides.identifierKey ?? `identity-${u}`,
      identityType: overrides.identityType ?? 'USER',
      name: overrides.name ?? `Identity ${u}`,
      email: overrides.email ?? null,
      phoneNumber: overrides.phoneNumber ?? null,
      projectId: overrides.projectId ?? null,
      userId: overrides.userId ?? null,
      linkedBy: overrides.linkedBy !== undefined ? overrides.linkedBy : overrides.userId ? 'MANUAL' : null,
      linkedAt: overrides.userId ? new Date() : null,
      sourceId: overrides.sourceId ?? null,
      externalId: overrides.externalId ?? (overrides.sourceId ? `ext-${u}` : null),
      externalEmail: overrides.externalEmail ?? null,
      externalEmailVerified: overrides.externalEmailVerified ?? false,
    },
  });
};

export const anApiKey = (organizationId: string, secretHash: string, overrides: { role?: MemberRole; name?: string } = {}) =>
  prisma.apiKey.create({
    data: { organizationId, secretHash, prefix: secretHash.slice(0, 8), name: overrides.name ?? 'key', role: overrides.role ?? 'ANALYST' },
  });

/** A tenant with one active member of the given role: the most common starting point. */
export async function aTenantWithMember(role: MemberRole = 'ANALYST') {
  const organization = await anOrganization();
  const user = await aUser();
  const member = await aMember(organization.id, user.id, { role });
  return { organization, user, member };
}

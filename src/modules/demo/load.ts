import { encodeGlobalID } from '@pothos/plugin-relay';
import type { PrismaClient } from '../../db.ts';
import type { DevGrant, DevMembership } from '../auth/dev.ts';
import {
  DEMO_ADMIN,
  DEMO_DUPLICATE,
  DEMO_ORGANIZATION,
  DEMO_PEOPLE,
  DEMO_SOURCES,
  demoIdentifiers,
  demoIdentities,
  demoUserId,
} from './dataset.ts';

// Loads the demo organization the way a client would: people through the development
// grant (users and ACTIVE memberships, as `npm run token` makes them), everything else
// through the public GraphQL API as the demo's organization admin, so every rule,
// normalisation and audit event applies as it would to real data.

export interface GraphQLAnswer {
  data?: Record<string, any> | null;
  errors?: { message: string }[];
}

/** How the loader reaches a server: in process, or a running development server. */
export interface DemoTransport {
  grant(grant: DevGrant): Promise<DevMembership>;
  token(user: DevMembership['user']): Promise<string>;
  graphql(query: string, variables: Record<string, unknown>, headers: Record<string, string>): Promise<GraphQLAnswer>;
}

export interface DemoLoad {
  /** False when the demo organization already had its data (nothing was written). */
  loaded: boolean;
  organizationId: string;
  /** Headers that act as the demo's organization admin, with a fresh token on each call. */
  headers: () => Promise<Record<string, string>>;
}

const SOURCES = `query ($slug: String!) { organization(slug: $slug) { sources(first: 1) { totalCount } } }`;

const WRITES = {
  source: `mutation ($input: CreateIntegrationSourceInput!) { r: createIntegrationSource(input: $input) { __typename ... on Error { message } } }`,
  identifiers: `mutation ($input: UpsertIdentifiersInput!) { r: upsertIdentifiers(input: $input) { __typename ... on Error { message } } }`,
  identities: `mutation ($input: UpsertIdentitiesInput!) { r: upsertIdentities(input: $input) { __typename ... on Error { message } } }`,
  suggestion: `mutation ($input: CreateLinkSuggestionInput!) { r: createLinkSuggestion(input: $input) { __typename ... on Error { message } } }`,
};

/** Headers that act as the demo's organization admin, creating the admin and organization when missing. */
export async function demoAdmin(transport: DemoTransport): Promise<{ organizationId: string; headers: () => Promise<Record<string, string>> }> {
  const admin = await transport.grant({
    email: DEMO_ADMIN.email,
    name: DEMO_ADMIN.name,
    organization: DEMO_ORGANIZATION.slug,
    role: 'ORGANIZATION_ADMIN',
    userId: demoUserId(DEMO_ADMIN.email),
  });
  const organizationId = admin.organization.id;
  return {
    organizationId,
    headers: async () => ({ Authorization: `Bearer ${await transport.token(admin.user)}`, 'X-Organization-ID': organizationId }),
  };
}

/** Loads the demo organization unless it already has its sources. */
export async function loadDemo(transport: DemoTransport): Promise<DemoLoad> {
  const { organizationId, headers } = await demoAdmin(transport);
  const asAdmin = await headers();
  const call = async (query: string, variables: Record<string, unknown>) => {
    const answer = await transport.graphql(query, variables, asAdmin);
    const result = answer.data?.r as { __typename?: string; message?: string } | undefined;
    if (answer.errors?.length || (result && !result.__typename?.endsWith('Success'))) {
      throw new Error(`loading the demo data failed: ${answer.errors?.[0]?.message ?? result?.message}`);
    }
    return answer;
  };
  const existing = await call(SOURCES, { slug: DEMO_ORGANIZATION.slug });
  if (existing.data?.organization?.sources?.totalCount > 0) return { loaded: false, organizationId, headers };

  for (const person of [...DEMO_PEOPLE, DEMO_DUPLICATE]) {
    await transport.grant({ ...person, organization: DEMO_ORGANIZATION.slug, userId: demoUserId(person.email) });
  }
  for (const source of DEMO_SOURCES) await call(WRITES.source, { input: { ...source, organizationId } });
  await call(WRITES.identifiers, { input: { items: demoIdentifiers() } });
  await call(WRITES.identities, { input: { items: demoIdentities() } });
  const ada = (email: string) => encodeGlobalID('User', demoUserId(email));
  await call(WRITES.suggestion, {
    input: {
      subjectId: ada(DEMO_PEOPLE[0]!.email),
      candidateId: ada(DEMO_DUPLICATE.email),
      confidence: 0.8,
      createdBy: 'demo discovery job',
      evidence: [{ kind: 'SHARED_VALUE', note: 'same Zendesk phone and email as Ada Lovelace, another name' }],
    },
  });
  return { loaded: true, organizationId, headers };
}

/**
 * A development start: the demo loaded into a database with no organization yet, or
 * found from an earlier start; null when the database holds other data only.
 */
export async function developmentDemo(transport: DemoTransport, prisma: PrismaClient): Promise<DemoLoad | null> {
  if ((await prisma.organization.count()) === 0) return loadDemo(transport);
  if (!(await prisma.organization.findUnique({ where: { slug: DEMO_ORGANIZATION.slug }, select: { id: true } }))) return null;
  return { loaded: false, ...(await demoAdmin(transport)) };
}

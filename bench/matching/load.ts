import { REGION, SOURCES, type Population } from './generate.ts';

// Loads a generated population through the public GraphQL API, as a client would: an
// organization (its default phone region and auto-approve threshold), its sources,
// members invited by email, their identifiers and the identity provider's accounts.
// The server normalises, links and suggests on these writes exactly as on any others.

export interface GraphQLAnswer {
  data?: Record<string, any> | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

/** One GraphQL operation as the organization's admin (token and X-Organization-ID set by the caller). */
export type Call = (query: string, variables?: Record<string, unknown>, organizationId?: string) => Promise<GraphQLAnswer>;

/** The threshold the organization approves suggestions at: the measured one. */
export const AUTO_APPROVE = 0.95;

export interface Loaded {
  organizationId: string;
  /** The server's id of each party, by the generator's ref (u…, d…, i…). */
  ids: Map<string, string>;
}

const ORGANIZATION = `mutation ($input: CreateOrganizationInput!) { r: createOrganization(input: $input) {
  __typename ... on CreateOrganizationSuccess { organization { id } } ... on Error { message } } }`;
const SETTINGS = `mutation ($input: UpdateOrganizationInput!) { r: updateOrganization(input: $input) { __typename ... on Error { message } } }`;
const SOURCE = `mutation ($input: CreateIntegrationSourceInput!) { r: createIntegrationSource(input: $input) { __typename ... on Error { message } } }`;
const MEMBER = `mutation ($input: AddMemberInput!) { r: addMember(input: $input) {
  __typename ... on AddMemberSuccess { member { user { id } } } ... on Error { message } } }`;
const IDENTIFIERS = `mutation ($input: UpsertIdentifiersInput!) { r: upsertIdentifiers(input: $input) { __typename ... on Error { message } } }`;
const IDENTITIES = `mutation ($input: UpsertIdentitiesInput!) { r: upsertIdentities(input: $input) {
  __typename ... on UpsertIdentitiesSuccess { results { identity { id } } } ... on Error { message } } }`;

/** The answer's `r`, or an error naming the step when the operation failed. */
async function write(call: Call, step: string, query: string, variables: Record<string, unknown>, organizationId?: string) {
  const answer = await call(query, variables, organizationId);
  const r = answer.data?.r as { __typename?: string; message?: string } | undefined;
  if (answer.errors?.length || !r?.__typename?.endsWith('Success')) {
    throw new Error(`loading failed at ${step}: ${answer.errors?.[0]?.message ?? r?.message ?? r?.__typename}`);
  }
  return answer.data!.r as Record<string, any>;
}

const BATCH = 500;
const chunks = <T>(xs: T[]) => Array.from({ length: Math.ceil(xs.length / BATCH) }, (_, i) => xs.slice(i * BATCH, (i + 1) * BATCH));

/** Loads `population` into a new organization with this slug. */
export async function loadPopulation(call: Call, population: Population, slug: string): Promise<Loaded> {
  const created = await write(call, 'organization', ORGANIZATION, { input: { slug, name: `Matching evaluation ${population.seed}` } });
  // Headers name an organization by its UUID; the API answers global ids.
  const organizationId = Buffer.from(created.organization.id as string, 'base64').toString('utf8').split(':')[1]!;
  const as = (step: string, query: string, variables: Record<string, unknown>) => write(call, step, query, variables, organizationId);
  await as('settings', SETTINGS, { input: { id: organizationId, defaultPhoneRegion: REGION, autoApproveLinkConfidence: AUTO_APPROVE } });
  for (const s of SOURCES) await as(`source ${s.key}`, SOURCE, { input: { key: s.key, name: s.name, kind: s.kind } });

  const ids = new Map<string, string>();
  for (const u of population.users) {
    const r = await as(`member ${u.ref}`, MEMBER, { input: { email: u.email, role: 'ANALYST' } });
    ids.set(u.ref, r.member.user.id);
  }
  const items = population.users.flatMap((u) =>
    u.identifiers.map((i) => ({
      userId: ids.get(u.ref),
      sourceKey: i.sourceKey,
      identifierKey: i.identifierKey,
      identifierValue: i.identifierValue,
      discoveryMethod: i.confidenceScore === null ? 'MANUAL' : 'LLM_DISCOVERY',
      confidenceScore: i.confidenceScore,
      valueKind: i.valueKind,
    })),
  );
  for (const batch of chunks(items)) await as('identifiers', IDENTIFIERS, { input: { items: batch } });
  for (const batch of chunks(population.identities)) {
    const r = await as('identities', IDENTITIES, {
      input: {
        items: batch.map((d) => ({
          identifierKey: d.identifierKey,
          identityType: 'USER',
          name: d.name,
          email: d.email,
          phoneNumber: d.phoneNumber,
          sourceKey: 'okta',
          externalId: d.externalId,
          externalEmail: d.externalEmail,
          externalEmailVerified: d.externalEmailVerified,
        })),
      },
    });
    batch.forEach((d, i) => ids.set(d.ref, r.results[i].identity.id));
  }
  return { organizationId, ids };
}

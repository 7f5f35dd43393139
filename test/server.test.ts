import { Writable } from 'node:stream';
import { createSchema, createYoga } from 'graphql-yoga';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { logger, setLogger } from '../src/observability/logger.ts';
import { useReadiness } from '../src/plugins/readiness.ts';
import { app, expectNoErrors, globalId, gql } from './helpers/app.ts';
import { aMember, anOrganization, aTenantWithMember, aUser } from './helpers/factories.ts';

describe('the GraphQL endpoint', () => {
  it('answers { __typename } without credentials', async () => {
    const result = await gql('{ __typename }');
    expect(result).toMatchObject({ status: 200, data: { __typename: 'Query' } });
  });

  it('answers /health while the process is up and /ready while the database answers', async () => {
    expect((await app.fetch('http://localhost/health')).status).toBe(200);
    const ready = await app.fetch('http://localhost/ready');
    expect(ready.status).toBe(200);
    expect(await ready.text()).toBe('ready\n');
  });

  it('answers /ready with "not ready" alone when the check fails, and logs why', async () => {
    const lines: string[] = [];
    const previous = logger;
    setLogger(pino({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) })));
    try {
      const failing = createYoga({
        schema: createSchema({ typeDefs: 'type Query { a: Int }' }),
        plugins: [
          useReadiness('/ready', async () => {
            throw new Error('connect ECONNREFUSED 127.0.0.1:55432');
          }),
        ],
      });
      const response = await failing.fetch('http://localhost/ready');
      expect(response.status).toBe(503);
      expect(await response.text()).toBe('not ready\n');
      expect(lines.join('')).toContain('connect ECONNREFUSED');
    } finally {
      setLogger(previous);
    }
  });

  it('rejects an X-Organization-ID that is not a UUID with BAD_USER_INPUT', async () => {
    const result = await gql('{ __typename }', { organizationId: 'acme' });
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('node(id)', () => {
  const query = `query ($id: ID!) { node(id: $id) { id __typename ... on Organization { slug } ... on User { email } } }`;

  it('resolves an organization and a fellow member through Prisma for a member', async () => {
    const { organization, user } = await aTenantWithMember();
    const colleague = await aUser();
    await aMember(organization.id, colleague.id);
    const org = await gql(query, { variables: { id: globalId('Organization', organization.id) }, asUser: user });
    expectNoErrors(org);
    expect(org.data?.node).toEqual({ id: globalId('Organization', organization.id), __typename: 'Organization', slug: organization.slug });
    const other = await gql(query, { variables: { id: globalId('User', colleague.id) }, asUser: user });
    expect(other.data?.node).toMatchObject({ __typename: 'User', email: colleague.email });
  });

  it("answers another tenant's organization and users exactly like an id that does not exist", async () => {
    const { user } = await aTenantWithMember();
    const { organization: foreign, user: stranger } = await aTenantWithMember();
    for (const id of [
      globalId('Organization', foreign.id),
      globalId('User', stranger.id),
      globalId('Organization', '00000000-0000-4000-8000-000000000000'),
      globalId('Organization', 'not-a-uuid'),
    ]) {
      const result = await gql(query, { variables: { id }, asUser: user });
      expect(result, id).toMatchObject({ status: 200, data: { node: null } });
      expect(result.errors).toBeUndefined();
    }
  });

  it('shows a suspended member nothing of the organization', async () => {
    const organization = await anOrganization();
    const user = await aUser();
    await aMember(organization.id, user.id, { state: 'SUSPENDED' });
    const result = await gql(query, { variables: { id: globalId('Organization', organization.id) }, asUser: user });
    expect(result.data?.node).toBeNull();
  });
});

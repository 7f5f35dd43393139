import { describe, expect, it } from 'vitest';
import { app, globalId, tokenFor } from './helpers/app.ts';
import { anOrganization, aTenantWithMember } from './helpers/factories.ts';

// GraphQL over HTTP: with `application/graphql-response+json`, a request refused before
// execution answers its own status, a request that does not validate answers 400, and
// an error inside execution leaves the status at 200. README has the table.

const RESPONSE = 'application/graphql-response+json';

async function post(body: unknown, headers: Record<string, string> = {}, accept = RESPONSE) {
  const response = await app.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept, ...headers },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as { data?: Record<string, any>; errors?: { message: string; extensions?: Record<string, any> }[] };
  return { status: response.status, code: json.errors?.[0]?.extensions?.code, message: json.errors?.[0]?.message, json };
}

async function asMember() {
  const { organization, user } = await aTenantWithMember();
  return { organization, headers: { authorization: `Bearer ${await tokenFor(user.authSubject!)}` } };
}

describe('HTTP status of an answer with application/graphql-response+json', () => {
  it('answers 401 for a credential that does not verify', async () => {
    const r = await post({ query: '{ viewer { id } }' }, { authorization: 'Bearer nonsense' });
    expect([r.status, r.code]).toEqual([401, 'UNAUTHENTICATED']);
  });

  it('answers 403 FORBIDDEN when the request names an organization the viewer may not read', async () => {
    const { headers } = await asMember();
    const other = await anOrganization();
    const r = await post({ query: '{ viewer { id } }' }, { ...headers, 'x-organization-id': other.id });
    expect([r.status, r.code]).toEqual([403, 'FORBIDDEN']);
  });

  it('answers 403 TENANT_MISMATCH when X-Organization-ID and X-Tenant-ID name different organizations', async () => {
    const { organization, headers } = await asMember();
    const other = await anOrganization();
    const r = await post(
      { query: '{ viewer { id } }' },
      { ...headers, 'x-organization-id': organization.id, 'x-tenant-id': other.id },
    );
    expect([r.status, r.code]).toEqual([403, 'TENANT_MISMATCH']);
    expect(r.message).toMatch(/X-Organization-ID and X-Tenant-ID/);
  });

  it('accepts X-Organization-ID and X-Tenant-ID naming the same organization in any case', async () => {
    const { organization, headers } = await asMember();
    const r = await post(
      { query: '{ viewer { id } }' },
      { ...headers, 'x-organization-id': organization.id, 'x-tenant-id': organization.id.toUpperCase() },
    );
    expect(r.status).toBe(200);
    expect(r.json.errors).toBeUndefined();
  });

  it('reports a malformed X-Tenant-ID under its own name', async () => {
    const r = await post({ query: '{ __typename }' }, { 'x-tenant-id': 'acme' });
    expect([r.status, r.code]).toEqual([400, 'BAD_USER_INPUT']);
    expect(r.message).toMatch(/^X-Tenant-ID/);
    expect(r.json.errors?.[0]?.extensions?.details).toEqual([{ path: 'X-Tenant-ID', message: 'not a UUID' }]);
  });

  it('answers 400 for a document that does not validate, and for a variable that does not coerce', async () => {
    const invalid = await post({ query: '{ noSuchField }' });
    expect([invalid.status, invalid.code]).toEqual([400, 'BAD_USER_INPUT']);
    const syntax = await post({ query: '{ viewer { ' });
    expect([syntax.status, syntax.code]).toEqual([400, 'BAD_USER_INPUT']);
    const inline = await post({ query: '{ node(id: 5.5) { id } }' });
    expect([inline.status, inline.code]).toEqual([400, 'BAD_USER_INPUT']);
    const variable = await post({ query: 'query ($id: ID!) { node(id: $id) { id } }', variables: { id: { not: 'an id' } } });
    expect([variable.status, variable.code]).toEqual([400, 'BAD_USER_INPUT']);
    const missing = await post({ query: 'query ($id: ID!) { node(id: $id) { id } }' });
    expect([missing.status, missing.code]).toEqual([400, 'BAD_USER_INPUT']);
  });

  it('keeps 200 for an error inside execution, beside the data that was found', async () => {
    const { organization, headers } = await asMember();
    const r = await post(
      {
        query: `query ($id: ID!) { node(id: $id) { id } organization(id: $id) { apiKeys(first: 1) { totalCount } } }`,
        variables: { id: globalId('Organization', organization.id) },
      },
      headers,
    );
    expect(r.status).toBe(200);
    expect(r.code).toBe('FORBIDDEN');
  });

  it('answers application/json requests with the same codes, and 200 for a document that does not validate', async () => {
    const invalid = await post({ query: '{ noSuchField }' }, {}, 'application/json');
    expect([invalid.status, invalid.code]).toEqual([200, 'BAD_USER_INPUT']);
    const { headers } = await asMember();
    const other = await anOrganization();
    const forbidden = await post({ query: '{ viewer { id } }' }, { ...headers, 'x-organization-id': other.id }, 'application/json');
    expect([forbidden.status, forbidden.code]).toEqual([403, 'FORBIDDEN']);
  });
});

describe('an argument that names another organization than the request', () => {
  it('says the header and the argument disagree, not that the credential belongs elsewhere', async () => {
    const { organization, headers } = await asMember();
    const other = await anOrganization();
    const r = await post(
      { query: `query ($id: ID!) { organization(id: $id) { id } }`, variables: { id: globalId('Organization', other.id) } },
      { ...headers, 'x-organization-id': organization.id },
    );
    expect(r.code).toBe('TENANT_MISMATCH');
    expect(r.message).toMatch(/X-Organization-ID/);
    expect(r.message).not.toMatch(/credential/);
  });
});

describe('a connection asked for first and last at once', () => {
  const MEMBERS = `query ($id: ID!, $first: Int, $last: Int) {
    organization(id: $id) { members(first: $first, last: $last) { totalCount } }
  }`;

  it('is refused before it runs, inline or in variables, naming the field', async () => {
    const { organization, headers } = await asMember();
    const id = globalId('Organization', organization.id);
    const inline = await post({ query: `query ($id: ID!) { organization(id: $id) { m: members(first: 2, last: 2) { totalCount } } }`, variables: { id } }, headers);
    expect([inline.status, inline.code]).toEqual([400, 'BAD_USER_INPUT']);
    expect(inline.json.errors?.[0]?.extensions?.details).toEqual([{ path: 'm', message: 'give first or last, not both' }]);
    expect(inline.json.data).toBeUndefined();
    const variables = await post({ query: MEMBERS, variables: { id, first: 2, last: 2 } }, headers);
    expect([variables.status, variables.code]).toEqual([400, 'BAD_USER_INPUT']);
    const json = await post({ query: MEMBERS, variables: { id, first: 2, last: 2 } }, headers, 'application/json');
    expect([json.status, json.code]).toEqual([200, 'BAD_USER_INPUT']);
  });

  it('runs when only one of them has a value', async () => {
    const { organization, headers } = await asMember();
    const id = globalId('Organization', organization.id);
    for (const vars of [{ first: 2 }, { last: 2 }, { first: 2, last: null }, {}]) {
      const r = await post({ query: MEMBERS, variables: { id, ...vars } }, headers);
      expect(r.json.errors, JSON.stringify(vars)).toBeUndefined();
      expect(r.json.data?.organization?.members?.totalCount).toBe(1);
    }
  });
});

import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { expectErrorCode, expectNoErrors, globalId, gql } from './helpers/app.ts';
import { aMember, anIdentifier, anOrganization, aSource, aTenantWithMember, aUser } from './helpers/factories.ts';
import { withSqlLog } from './helpers/sql-count.ts';
import type { GraphQLObjectType, GraphQLResolveInfo } from 'graphql';
import { Access, ANONYMOUS, createContext } from '../src/context.ts';
import type { IdentifierItemInput } from '../src/modules/identifier/prepare.ts';
import { upsertIdentifiers } from '../src/modules/identifier/service.ts';
import { schema } from '../src/schema.ts';
import { tableName } from '../src/modules/shared/sql-names.ts';

const UPSERT = `mutation ($input: UpsertIdentifierInput!) {
  upsertIdentifier(input: $input) {
    __typename
    ... on UpsertIdentifierSuccess {
      created outcome
      identifier { id identifierKey identifierValue discoveryMethod confidenceScore discoveryMetadata updatedAt user { email } source { key } }
    }
    ... on Error { code message }
    ... on ValidationError { issues { path message } }
    ... on ConflictError { fields }
    ... on NotFoundError { entity }
  }
}`;

const BULK = `mutation ($input: UpsertIdentifiersInput!) {
  upsertIdentifiers(input: $input) {
    __typename
    ... on UpsertIdentifiersSuccess { createdCount updatedCount unchangedCount results { created outcome identifier { id identifierValue user { email } source { key } } } }
    ... on Error { code message }
    ... on ValidationError { issues { path message } }
  }
}`;

const UPDATE = `mutation ($input: UpdateIdentifierInput!) {
  updateIdentifier(input: $input) {
    __typename
    ... on UpdateIdentifierSuccess { identifier { id identifierKey identifierValue confidenceScore discoveryMetadata updatedAt } }
    ... on Error { code message }
    ... on ValidationError { issues { path message } }
    ... on ConflictError { fields }
  }
}`;

const DELETE = `mutation ($input: DeleteIdentifierInput!) {
  deleteIdentifier(input: $input) {
    __typename
    ... on DeleteIdentifierSuccess { deletedId }
    ... on Error { code message }
  }
}`;

/** A tenant with an ANALYST, an integration source and a second member to record identifiers for. */
async function aTenant() {
  const { organization, user: analyst } = await aTenantWithMember('ANALYST');
  const source = await aSource(organization.id, { key: 'salesforce' });
  const person = await aUser();
  await aMember(organization.id, person.id, { state: 'PENDING' });
  return { organization, analyst, source, person };
}

const item = (person: { email: string }, overrides: Record<string, unknown> = {}) => ({
  userEmail: person.email,
  sourceKey: 'salesforce',
  identifierKey: 'owner_id',
  identifierValue: '005A0000001',
  discoveryMethod: 'MCP_TOOL',
  confidenceScore: 0.9,
  discoveryMetadata: { tool: 'crm_lookup' },
  ...overrides,
});

describe('upsertIdentifier', () => {
  it('creates the identifier in the organization X-Organization-ID names, by source key and member email', async () => {
    const { organization, analyst, person } = await aTenant();
    const result = await gql(UPSERT, { variables: { input: item(person) }, asUser: analyst, organizationId: organization.id });
    expectNoErrors(result);
    expect(result.data?.upsertIdentifier).toMatchObject({
      __typename: 'UpsertIdentifierSuccess',
      created: true,
      outcome: 'CREATED',
      identifier: {
        identifierKey: 'owner_id',
        identifierValue: '005A0000001',
        discoveryMethod: 'MCP_TOOL',
        confidenceScore: 0.9,
        discoveryMetadata: { tool: 'crm_lookup' },
        user: { email: person.email },
        source: { key: 'salesforce' },
      },
    });
    const row = await prisma.identifier.findFirstOrThrow();
    expect(row).toMatchObject({ organizationId: organization.id, userId: person.id });
  });

  it('accepts the organization, user and source as global ids or UUIDs in the input', async () => {
    const { organization, analyst, person, source } = await aTenant();
    for (const [org, user, src] of [
      [globalId('Organization', organization.id), globalId('User', person.id), globalId('IntegrationSource', source.id)],
      [organization.id, person.id, source.id],
    ]) {
      const input = { ...item(person), userEmail: undefined, sourceKey: undefined, organizationId: org, userId: user, sourceId: src };
      const result = await gql(UPSERT, { variables: { input }, asUser: analyst });
      expectNoErrors(result);
      expect(result.data?.upsertIdentifier.__typename).toBe('UpsertIdentifierSuccess');
    }
    expect(await prisma.identifier.count()).toBe(1);
  });

  it('changes nothing, not even updatedAt, when the same call is made twice, and updates in place when a value differs', async () => {
    const { organization, analyst, person } = await aTenant();
    const call = (overrides = {}) =>
      gql(UPSERT, { variables: { input: { ...item(person, overrides), organizationId: organization.id } }, asUser: analyst });
    const first = (await call()).data?.upsertIdentifier;
    const again = (await call()).data?.upsertIdentifier;
    expect(again).toMatchObject({ created: false, outcome: 'UNCHANGED' });
    expect(again.identifier).toEqual(first.identifier);

    await new Promise((r) => setTimeout(r, 5));
    const changed = (await call({ identifierValue: '005B', confidenceScore: null, discoveryMetadata: undefined })).data
      ?.upsertIdentifier;
    expect(changed).toMatchObject({
      created: false,
      outcome: 'UPDATED',
      identifier: { id: first.identifier.id, identifierValue: '005B', confidenceScore: null, discoveryMetadata: null },
    });
    expect(new Date(changed.identifier.updatedAt).getTime()).toBeGreaterThan(new Date(first.identifier.updatedAt).getTime());
    expect(await prisma.identifier.count()).toBe(1);
  });

  it('answers BAD_USER_INPUT naming every invalid field and writes nothing', async () => {
    const { organization, analyst, person } = await aTenant();
    const input = {
      ...item(person),
      organizationId: organization.id,
      userId: person.id,
      identifierKey: '  ',
      confidenceScore: 1.5,
      discoveryMetadata: { blob: 'x'.repeat(17 * 1024) },
    };
    const result = await gql(UPSERT, { variables: { input }, asUser: analyst });
    expectErrorCode(result, 'BAD_USER_INPUT');
    expect(result.data?.upsertIdentifier.issues.map((i: { path: string }) => i.path)).toEqual([
      'input.userId',
      'input.identifierKey',
      'input.confidenceScore',
      'input.discoveryMetadata',
    ]);
    const noOrganization = await gql(UPSERT, { variables: { input: item(person) }, asUser: analyst });
    expectErrorCode(noOrganization, 'BAD_USER_INPUT');
    expect(noOrganization.data?.upsertIdentifier.issues[0].path).toBe('input.organizationId');
    expect(await prisma.identifier.count()).toBe(0);
  });

  it('leaves one row and returns the same id to 50 concurrent upserts of one natural key', async () => {
    const { organization, analyst, person } = await aTenant();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        gql(UPSERT, {
          variables: { input: { ...item(person, { confidenceScore: i % 2 ? 0.5 : 0.6 }), organizationId: organization.id } },
          asUser: analyst,
        }),
      ),
    );
    for (const r of results) expectNoErrors(r);
    const payloads = results.map((r) => r.data?.upsertIdentifier);
    expect(payloads.every((p) => p.__typename === 'UpsertIdentifierSuccess')).toBe(true);
    expect(new Set(payloads.map((p) => p.identifier.id)).size).toBe(1);
    expect(payloads.filter((p) => p.created)).toHaveLength(1);
    expect(await prisma.identifier.count()).toBe(1);
  });

  it('allows the same user, source key and identifier in another organization', async () => {
    const a = await aTenant();
    const b = await aTenant();
    await aMember(b.organization.id, a.person.id);
    for (const tenant of [a, b]) {
      const result = await gql(UPSERT, {
        variables: { input: { ...item(a.person), organizationId: tenant.organization.id } },
        asUser: tenant.analyst,
      });
      expect(result.data?.upsertIdentifier).toMatchObject({ created: true });
    }
    expect(await prisma.identifier.count()).toBe(2);
  });

  it("answers NOT_FOUND for another tenant's source or user and for a non-member, and writes nothing", async () => {
    const { organization, analyst, person } = await aTenant();
    const other = await aTenant();
    const stranger = await aUser();
    for (const overrides of [
      { sourceKey: undefined, sourceId: other.source.id },
      { userEmail: undefined, userId: other.person.id },
      { userEmail: stranger.email },
      { sourceKey: 'no-such-source' },
    ]) {
      const input = { ...item(person, overrides), organizationId: organization.id };
      const result = await gql(UPSERT, { variables: { input }, asUser: analyst });
      expectErrorCode(result, 'NOT_FOUND');
    }
    expect(await prisma.identifier.count()).toBe(0);
  });

  // A PENDING member's invitation is accepted when they sign in, so no request comes from one.
  it('lets ANALYST, ORGANIZATION_ADMIN and system admins write; refuses SUSPENDED members, other tenants and anonymous callers', async () => {
    const { organization, person } = await aTenant();
    const input = (n: number) => ({ ...item(person, { identifierKey: `key_${n}` }), organizationId: organization.id });
    const admin = await aUser();
    await aMember(organization.id, admin.id, { role: 'ORGANIZATION_ADMIN' });
    const sysadmin = await aUser({ isSystemAdmin: true });
    let n = 0;
    for (const user of [admin, sysadmin]) {
      const ok = await gql(UPSERT, { variables: { input: input(n++) }, asUser: user });
      expect(ok.data?.upsertIdentifier.__typename).toBe('UpsertIdentifierSuccess');
    }
    const suspended = await aUser();
    await aMember(organization.id, suspended.id, { role: 'ORGANIZATION_ADMIN', state: 'SUSPENDED' });
    const { user: outsider } = await aTenantWithMember('ORGANIZATION_ADMIN');
    for (const user of [suspended, outsider]) {
      expectErrorCode(await gql(UPSERT, { variables: { input: input(n++) }, asUser: user }), 'FORBIDDEN');
    }
    expectErrorCode(await gql(UPSERT, { variables: { input: input(n++) } }), 'UNAUTHENTICATED');
    expect(await prisma.identifier.count()).toBe(2);
  });

  it('answers TENANT_MISMATCH when the input names another organization than X-Organization-ID', async () => {
    const { organization, analyst, person } = await aTenant();
    const other = await anOrganization();
    await aMember(other.id, analyst.id);
    const result = await gql(UPSERT, {
      variables: { input: { ...item(person), organizationId: organization.id } },
      asUser: analyst,
      organizationId: other.id,
    });
    expectErrorCode(result, 'TENANT_MISMATCH');
    expect(await prisma.identifier.count()).toBe(0);
  });
});

describe('upsertIdentifiers', () => {
  const items = (person: { email: string }, n: number, value = 'v') =>
    Array.from({ length: n }, (_, i) => item(person, { identifierKey: `key_${i}`, identifierValue: `${value}${i}` }));

  it('creates 1,000 identifiers in a fixed number of statements, then finds them all unchanged', async () => {
    const { organization, analyst, person } = await aTenant();
    const started = performance.now();
    const { result, statements } = await withSqlLog(() =>
      gql(BULK, { variables: { input: { organizationId: organization.id, items: items(person, 1000) } }, asUser: analyst }),
    );
    const ms = performance.now() - started;
    expectNoErrors(result);
    expect(result.data?.upsertIdentifiers).toMatchObject({ createdCount: 1000, updatedCount: 0, unchangedCount: 0 });
    expect(result.data?.upsertIdentifiers.results[999]).toMatchObject({ created: true, identifier: { identifierValue: 'v999' } });
    // Whatever the number of items: the caller with its memberships, the members and the
    // sources the items name, the upsert, the link suggestions for values other users
    // share, then the written rows again with their sources for the selection in the
    // same statement, and their users under the rule users are read by (one statement).
    expect(statements).toHaveLength(7);
    console.log(`upsertIdentifiers: 1,000 new identifiers in ${ms.toFixed(0)} ms, ${statements.length} SQL statements`);

    const mixed = [...items(person, 999), item(person, { identifierKey: 'key_999', identifierValue: 'changed' })];
    const { result: again, statements: second } = await withSqlLog(() =>
      gql(BULK, { variables: { input: { organizationId: organization.id, items: mixed } }, asUser: analyst }),
    );
    // One more: the rows the upsert left untouched are read back by their keys.
    expect(second).toHaveLength(8);
    expect(again.data?.upsertIdentifiers).toMatchObject({ createdCount: 0, updatedCount: 1, unchangedCount: 999 });
    expect(again.data?.upsertIdentifiers.results[999]).toMatchObject({ outcome: 'UPDATED', identifier: { identifierValue: 'changed' } });
    expect(await prisma.identifier.count()).toBe(1000);
  });

  it('answers counts and outcomes from ids and keys alone, and the identifiers in full wherever a fragment asks for them', async () => {
    const { organization, analyst, person } = await aTenant();
    const COUNTS = `mutation ($input: UpsertIdentifiersInput!) {
      upsertIdentifiers(input: $input) {
        ... on UpsertIdentifiersSuccess { createdCount updatedCount unchangedCount results { created outcome } }
      }
    }`;
    const first = await withSqlLog(() =>
      gql(COUNTS, { variables: { input: { organizationId: organization.id, items: items(person, 20) } }, asUser: analyst }),
    );
    expectNoErrors(first.result);
    expect(first.result.data?.upsertIdentifiers).toMatchObject({ createdCount: 20, updatedCount: 0, unchangedCount: 0 });
    expect(first.result.data?.upsertIdentifiers.results[19]).toEqual({ created: true, outcome: 'CREATED' });
    const write = first.statements.find((s) => s.includes(`INSERT INTO ${tableName('Identifier')}`))!;
    // The statement's answer (its final SELECT) has ids and keys, not the values.
    const answer = write.match(/SELECT ((?:(?!SELECT)[^])*), w\.created, \(SELECT count\(\*\) FROM notified\)/)?.[1];
    expect(answer).toBe('w."id", w."userId", w."sourceId", w."identifierKey"');
    // The same statements as with the identifiers shown, less the reload of the rows for the selection.
    expect(first.statements).toHaveLength(5);

    const mixed = [...items(person, 19), item(person, { identifierKey: 'key_19', identifierValue: 'changed' })];
    const second = await withSqlLog(() =>
      gql(COUNTS, { variables: { input: { organizationId: organization.id, items: mixed } }, asUser: analyst }),
    );
    expect(second.result.data?.upsertIdentifiers).toMatchObject({ createdCount: 0, updatedCount: 1, unchangedCount: 19 });
    expect(second.result.data?.upsertIdentifiers.results.map((r: { outcome: string }) => r.outcome)).toEqual([
      ...Array(19).fill('UNCHANGED'),
      'UPDATED',
    ]);
    const reread = second.statements.find((s) => /^\s*SELECT/.test(s) && s.includes(`FROM ${tableName('Identifier')}`) && /unnest/.test(s))!;
    expect(reread).not.toMatch(/identifier_value/);

    // Asked for through a named fragment inside an inline one: every value, as written.
    const FRAGMENT = `mutation ($input: UpsertIdentifiersInput!) {
      upsertIdentifiers(input: $input) { ... on UpsertIdentifiersSuccess { ...Shown } }
    }
    fragment Shown on UpsertIdentifiersSuccess { results { outcome ... on IdentifierUpsert { identifier { identifierValue confidenceScore } } } }`;
    const third = await gql(FRAGMENT, {
      variables: { input: { organizationId: organization.id, items: [item(person, { identifierKey: 'key_0', identifierValue: 'v0', confidenceScore: 0.25 })] } },
      asUser: analyst,
    });
    expectNoErrors(third);
    expect(third.data?.upsertIdentifiers.results).toEqual([{ outcome: 'UPDATED', identifier: { identifierValue: 'v0', confidenceScore: 0.25 } }]);
  });

  it("loads an identifier a keys-only answer holds if it is shown all the same, from the viewer's write", async () => {
    const { organization, analyst, person } = await aTenant();
    const written = await upsertIdentifiers(
      new Access({ kind: 'user', userId: analyst.id, isSystemAdmin: false, boundOrganizationId: null }, organization.id),
      { organizationId: organization.id, items: items(person, 2) as IdentifierItemInput[] },
      'keys',
    );
    expect(Object.keys(written[0]!.identifier).sort()).toEqual(['id', 'identifierKey', 'sourceId', 'userId']);
    const field = (schema.getType('IdentifierUpsert') as GraphQLObjectType).getFields().identifier!;
    const ctx = createContext({ viewer: ANONYMOUS, requestedOrganizationId: null, requestId: 'test' });
    const { statements, result: shown } = await withSqlLog(() =>
      Promise.all(written.map((w) => field.resolve!(w, {}, ctx, {} as GraphQLResolveInfo))),
    );
    expect((shown as { identifierValue: string }[]).map((i) => i.identifierValue)).toEqual(['v0', 'v1']);
    expect(statements).toHaveLength(1);
  });

  it('writes nothing when any item is invalid, naming each invalid item', async () => {
    const { organization, analyst, person } = await aTenant();
    const list = items(person, 10);
    list[3] = { ...list[3]!, confidenceScore: -1 };
    list[7] = { ...list[7]!, identifierKey: 'key_1' };
    const result = await gql(BULK, { variables: { input: { organizationId: organization.id, items: list } }, asUser: analyst });
    expectErrorCode(result, 'BAD_USER_INPUT');
    expect(result.data?.upsertIdentifiers.issues.map((i: { path: string }) => i.path)).toEqual([
      'input.items[3].confidenceScore',
      'input.items[7].identifierKey',
    ]);
    const tooMany = await gql(BULK, { variables: { input: { organizationId: organization.id, items: items(person, 1001) } }, asUser: analyst });
    expectErrorCode(tooMany, 'BAD_USER_INPUT');
    const foreign = [...items(person, 3), item(person, { identifierKey: 'x', sourceKey: 'unknown' })];
    expectErrorCode(
      await gql(BULK, { variables: { input: { organizationId: organization.id, items: foreign } }, asUser: analyst }),
      'NOT_FOUND',
    );
    expect(await prisma.identifier.count()).toBe(0);
  });

  it('refuses a SUSPENDED member and writes nothing', async () => {
    const { organization, person } = await aTenant();
    const suspended = await aUser();
    await aMember(organization.id, suspended.id, { state: 'SUSPENDED' });
    const result = await gql(BULK, { variables: { input: { organizationId: organization.id, items: items(person, 3) } }, asUser: suspended });
    expectErrorCode(result, 'FORBIDDEN');
    expect(await prisma.identifier.count()).toBe(0);
  });
});

describe('updateIdentifier and deleteIdentifier', () => {
  it('changes only the given fields, clears with null, and keeps updatedAt when nothing differs', async () => {
    const { organization, analyst, person, source } = await aTenant();
    const row = await anIdentifier(organization.id, person.id, source.id, { confidenceScore: 0.4 });
    const id = globalId('Identifier', row.id);
    const same = await gql(UPDATE, { variables: { input: { id, identifierValue: row.identifierValue } }, asUser: analyst });
    expect(new Date(same.data?.updateIdentifier.identifier.updatedAt)).toEqual(row.updatedAt);
    const result = await gql(UPDATE, {
      variables: { input: { id, identifierValue: 'new', confidenceScore: null, discoveryMetadata: { a: 1 } } },
      asUser: analyst,
    });
    expectNoErrors(result);
    expect(result.data?.updateIdentifier.identifier).toMatchObject({
      identifierKey: 'owner_id',
      identifierValue: 'new',
      confidenceScore: null,
      discoveryMetadata: { a: 1 },
    });
  });

  it('answers CONFLICT naming the key when the user already has it in the source, and BAD_USER_INPUT on a cleared key', async () => {
    const { organization, analyst, person, source } = await aTenant();
    await anIdentifier(organization.id, person.id, source.id, { identifierKey: 'email' });
    const row = await anIdentifier(organization.id, person.id, source.id, { identifierKey: 'owner_id' });
    const id = globalId('Identifier', row.id);
    const conflict = await gql(UPDATE, { variables: { input: { id, identifierKey: 'email' } }, asUser: analyst });
    expectErrorCode(conflict, 'CONFLICT');
    expect(conflict.data?.updateIdentifier.fields).toEqual(['input.identifierKey']);
    expectErrorCode(await gql(UPDATE, { variables: { input: { id, identifierKey: null } }, asUser: analyst }), 'BAD_USER_INPUT');
    expect(await prisma.identifier.findUniqueOrThrow({ where: { id: row.id } })).toEqual(row);
  });

  it("answers NOT_FOUND for another tenant's identifier and changes nothing", async () => {
    const { organization, person, source } = await aTenant();
    const row = await anIdentifier(organization.id, person.id, source.id);
    const { user: outsider } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const id = globalId('Identifier', row.id);
    expectErrorCode(await gql(UPDATE, { variables: { input: { id, identifierValue: 'x' } }, asUser: outsider }), 'NOT_FOUND');
    expectErrorCode(await gql(DELETE, { variables: { input: { id } }, asUser: outsider }), 'NOT_FOUND');
    expect(await prisma.identifier.findUniqueOrThrow({ where: { id: row.id } })).toEqual(row);
  });

  it('deletes an identifier of the organization', async () => {
    const { organization, analyst, person, source } = await aTenant();
    const row = await anIdentifier(organization.id, person.id, source.id);
    const result = await gql(DELETE, { variables: { input: { id: row.id } }, asUser: analyst });
    expect(result.data?.deleteIdentifier).toEqual({ __typename: 'DeleteIdentifierSuccess', deletedId: globalId('Identifier', row.id) });
    expect(await prisma.identifier.count()).toBe(0);
    expectErrorCode(await gql(DELETE, { variables: { input: { id: row.id } }, asUser: analyst }), 'NOT_FOUND');
  });
});

describe('identifier lists', () => {
  const LIST = `query ($id: ID!, $filter: String, $min: Float, $method: DiscoveryMethod, $userId: ID) {
    node(id: $id) {
      ... on Organization {
        identifiers(first: 50, identifierKey: $filter, minConfidence: $min, discoveryMethod: $method, userId: $userId) {
          totalCount
          edges { node { identifierValue confidenceScore user { email } source { key } } }
        }
      }
    }
  }`;

  async function seed(n: number) {
    const tenant = await aTenant();
    const people = [tenant.person];
    for (let i = 1; i < Math.min(n, 5); i++) {
      const p = await aUser();
      await aMember(tenant.organization.id, p.id);
      people.push(p);
    }
    for (let i = 0; i < n; i++) {
      await anIdentifier(tenant.organization.id, people[i % people.length]!.id, tenant.source.id, {
        // 5 people and 2 keys: unique up to 10 identifiers, numbered keys beyond.
        identifierKey: n <= 10 ? (i % 2 ? 'owner_id' : 'email') : `key_${i}`,
        confidenceScore: i / n,
        discoveryMethod: i % 3 ? 'MANUAL' : 'LLM_DISCOVERY',
      });
    }
    return tenant;
  }

  it('filters by key, confidence, method and user, oldest first', async () => {
    const { organization, analyst, person } = await seed(10);
    const id = globalId('Organization', organization.id);
    const page = async (variables: Record<string, unknown>) => {
      const result = await gql(LIST, { variables: { id, ...variables }, asUser: analyst });
      expectNoErrors(result);
      return result.data?.node.identifiers;
    };
    expect((await page({})).totalCount).toBe(10);
    expect((await page({ filter: 'owner_id' })).totalCount).toBe(5);
    expect((await page({ min: 0.5 })).edges.map((e: any) => e.node.confidenceScore)).toEqual([0.5, 0.6, 0.7, 0.8, 0.9]);
    expect((await page({ method: 'LLM_DISCOVERY' })).totalCount).toBe(4);
    expect((await page({ userId: globalId('User', person.id) })).totalCount).toBe(2);
  });

  it('loads a page with its users, their identifiers and the sources in the same number of statements for 3 or 30 identifiers', async () => {
    const NESTED = `query ($id: ID!) {
      node(id: $id) {
        ... on Organization {
          identifiers(first: 50) {
            totalCount
            edges { node { identifierValue source { key } user { email identifiers(first: 5) { totalCount edges { node { identifierKey } } } } } }
          }
        }
      }
    }`;
    const counts: number[] = [];
    for (const n of [3, 30]) {
      const { organization, analyst } = await seed(n);
      const { result, statements } = await withSqlLog(() =>
        gql(NESTED, { variables: { id: globalId('Organization', organization.id) }, asUser: analyst }),
      );
      expectNoErrors(result);
      expect(result.data?.node.identifiers.edges).toHaveLength(n);
      counts.push(statements.length);
    }
    // The caller with its memberships (read with it, they give the request's row-level
    // security scope), and the organization with everything selected under it in one
    // compiled statement, whatever the page's length.
    expect(counts).toEqual([2, 2]);
  });

  it("shows a user's identifiers only from organizations you may read, and a source's identifiers", async () => {
    const a = await aTenant();
    const b = await aTenant();
    await aMember(b.organization.id, a.person.id);
    await anIdentifier(a.organization.id, a.person.id, a.source.id);
    await anIdentifier(b.organization.id, a.person.id, b.source.id);
    const query = `query ($user: ID!, $source: ID!) {
      user: node(id: $user) { ... on User { identifiers(first: 10) { totalCount edges { node { organization { id } } } } } }
      source: node(id: $source) { ... on IntegrationSource { identifiers(first: 10) { totalCount } } }
    }`;
    const variables = { user: globalId('User', a.person.id), source: globalId('IntegrationSource', a.source.id) };
    const result = await gql(query, { variables, asUser: a.analyst });
    expectNoErrors(result);
    expect(result.data?.user.identifiers.totalCount).toBe(1);
    expect(result.data?.user.identifiers.edges[0].node.organization.id).toBe(globalId('Organization', a.organization.id));
    expect(result.data?.source.identifiers.totalCount).toBe(1);
    const outsider = await gql(query, { variables, asUser: b.analyst });
    expect(outsider.data?.user.identifiers.totalCount).toBe(1);
    expect(outsider.data?.source).toBeNull();
  });

  it("answers node(id) of another tenant's identifier with null", async () => {
    const { organization, person, source, analyst } = await aTenant();
    const row = await anIdentifier(organization.id, person.id, source.id);
    const { user: outsider } = await aTenantWithMember();
    const query = `query ($id: ID!) { node(id: $id) { ... on Identifier { identifierValue } } }`;
    const id = globalId('Identifier', row.id);
    expect((await gql(query, { variables: { id }, asUser: analyst })).data?.node).toEqual({ identifierValue: row.identifierValue });
    expect((await gql(query, { variables: { id }, asUser: outsider })).data?.node).toBeNull();
  });
});

describe('identifier races', () => {
  it('lets two overlapping bulk upserts both succeed, leaving one row per natural key', async () => {
    const { organization, analyst, person } = await aTenant();
    const list = Array.from({ length: 200 }, (_, i) => item(person, { identifierKey: `key_${i}` }));
    const results = await Promise.all(
      [list, [...list].reverse()].map((items) =>
        gql(BULK, { variables: { input: { organizationId: organization.id, items } }, asUser: analyst }),
      ),
    );
    for (const r of results) expectNoErrors(r);
    const created = results.map((r) => r.data?.upsertIdentifiers.createdCount as number);
    expect(created[0]! + created[1]!).toBe(200);
    expect(await prisma.identifier.count()).toBe(200);
  });

  it('answers one of two concurrent renames to the same key with CONFLICT, and one of two deletes with NOT_FOUND', async () => {
    const { organization, analyst, person, source } = await aTenant();
    const rows = await Promise.all(['a', 'b'].map((k) => anIdentifier(organization.id, person.id, source.id, { identifierKey: k })));
    const renames = await Promise.all(
      rows.map((row) => gql(UPDATE, { variables: { input: { id: row.id, identifierKey: 'same' } }, asUser: analyst })),
    );
    expect(renames.map((r) => r.data?.updateIdentifier.__typename).sort()).toEqual(['ConflictError', 'UpdateIdentifierSuccess']);
    const deletes = await Promise.all(
      [0, 1].map(() => gql(DELETE, { variables: { input: { id: rows[0]!.id } }, asUser: analyst })),
    );
    expect(deletes.map((r) => r.data?.deleteIdentifier.__typename).sort()).toEqual(['DeleteIdentifierSuccess', 'NotFoundError']);
    expect(await prisma.identifier.count()).toBe(1);
  });
});

import { describe, expect, it } from 'vitest';
import { maskError, isDatabaseUnavailable } from '../src/plugins/errors.ts';
import { MemoryCounterStore, RedisCounterStore } from '../src/plugins/rate-limit.ts';
import { app, appWith, expectErrorCode, gql } from './helpers/app.ts';
import { aTenantWithMember, aUser } from './helpers/factories.ts';
import { withSqlLog } from './helpers/sql-count.ts';

const post = (target: typeof app, body: string, headers: Record<string, string> = {}) =>
  target.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });

// An operation whose depth is `depth` (createOrganization's result nests three deep).
const CREATE_DEPTH_3 = `mutation { createOrganization(input: { slug: "x", name: "X" }) {
  ... on CreateOrganizationSuccess { organization { slug } } } }`;

describe('query limits', () => {
  it('run an operation at the depth limit and refuse one level more before any SQL runs', async () => {
    const limited = appWith({ MAX_QUERY_DEPTH: '3' });
    const user = await aUser();
    const atLimit = await gql(CREATE_DEPTH_3, { app: limited, asUser: user });
    expect(atLimit.errors).toBeUndefined();
    const deeper = appWith({ MAX_QUERY_DEPTH: '2' });
    const { result, statements } = await withSqlLog(() =>
      gql(CREATE_DEPTH_3.replace('"x"', '"y"'), { app: deeper, asUser: user }),
    );
    expectErrorCode(result, 'BAD_USER_INPUT');
    expect(result.errors?.[0]?.message).toMatch(/depth/i);
    // Only authentication's own lookup of the user: nothing of the operation ran.
    expect(statements.filter((s) => /organizations/.test(s))).toEqual([]);
  });

  it('allow the configured number of aliases and refuse one more', async () => {
    const limited = appWith({ MAX_ALIASES: '3' });
    const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    expect((await gql(aliases(3), { app: limited })).errors).toBeUndefined();
    const over = await gql(aliases(4), { app: limited });
    expectErrorCode(over, 'BAD_USER_INPUT');
    expect(over.errors?.[0]?.message).toMatch(/alias/i);
  });

  it('allow the configured number of directives and refuse one more', async () => {
    const limited = appWith({ MAX_DIRECTIVES: '2' });
    const directives = (n: number) =>
      `{ ${Array.from({ length: n }, (_, i) => `a${i}: __typename @include(if: true)`).join(' ')} }`;
    expect((await gql(directives(2), { app: limited })).errors).toBeUndefined();
    expectErrorCode(await gql(directives(3), { app: limited }), 'BAD_USER_INPUT');
  });

  it('allow the configured number of tokens and refuse more', async () => {
    const limited = appWith({ MAX_TOKENS: '10' });
    expect((await gql('{ a: __typename b: __typename }', { app: limited })).errors).toBeUndefined();
    const over = await gql(`{ ${Array.from({ length: 10 }, (_, i) => `a${i}: __typename`).join(' ')} }`, { app: limited });
    expectErrorCode(over, 'BAD_USER_INPUT');
    expect(over.errors?.[0]?.message).toMatch(/token/i);
  });

  it('refuse an operation over the cost limit', async () => {
    const limited = appWith({ MAX_QUERY_COST: '5' });
    const user = await aUser();
    const over = await gql(CREATE_DEPTH_3, { app: limited, asUser: user });
    expectErrorCode(over, 'BAD_USER_INPUT');
    expect(over.errors?.[0]?.message).toMatch(/cost/i);
  });

  it('name the limit an operation broke, with its number outside production and without it in production', async () => {
    const aliases = (n: number, directive = '') => `{ ${Array.from({ length: n }, (_, i) => `a${i}: __typename${directive}`).join(' ')} }`;
    const cases: { env: Record<string, string>; query: string; dev: string; prod: string }[] = [
      { env: { MAX_QUERY_DEPTH: '2' }, query: CREATE_DEPTH_3, dev: 'Query depth limit of 2 exceeded', prod: 'Query depth limit exceeded.' },
      { env: { MAX_ALIASES: '3' }, query: aliases(4), dev: 'Aliases limit of 3 exceeded', prod: 'Aliases limit exceeded.' },
      { env: { MAX_DIRECTIVES: '2' }, query: aliases(3, ' @include(if: true)'), dev: 'Directives limit of 2 exceeded', prod: 'Directives limit exceeded.' },
      { env: { MAX_TOKENS: '10' }, query: aliases(10), dev: 'Token limit of 10 exceeded', prod: 'Token limit exceeded.' },
      { env: { MAX_QUERY_COST: '5' }, query: CREATE_DEPTH_3, dev: 'Query Cost limit of 5 exceeded', prod: 'Query cost limit exceeded.' },
    ];
    for (const { env, query, dev, prod } of cases) {
      const development = await gql(query, { app: appWith(env) });
      expectErrorCode(development, 'BAD_USER_INPUT');
      expect(development.errors?.[0]?.message).toContain(dev);
      const production = await gql(query, { app: appWith({ NODE_ENV: 'production', ...env }) });
      expectErrorCode(production, 'BAD_USER_INPUT');
      expect(production.errors?.map((e) => e.message)).toEqual([prod]);
      expect(JSON.stringify(production.errors), prod).not.toMatch(/\d/);
    }
  });

  it('hide field suggestions in production and show them in development', async () => {
    const prod = await gql('{ nod(id: "x") { id } }', { app: appWith({ NODE_ENV: 'production' }) });
    expect(JSON.stringify(prod.errors)).not.toMatch(/Did you mean/);
    const dev = await gql('{ nod(id: "x") { id } }');
    expect(dev.errors?.[0]?.message).toMatch(/Did you mean .*node/);
    expectErrorCode(prod, 'BAD_USER_INPUT');
  });
});

describe('the HTTP layer', () => {
  it('refuses a body over the size limit with 413 before parsing it', async () => {
    const small = appWith({ BODY_LIMIT_BYTES: '2048' });
    const big = JSON.stringify({ query: `{ __typename }`, variables: { pad: 'x'.repeat(4096) } });
    const res = await post(small, big);
    expect(res.status).toBe(413);
    const body = await res.json();
    expect(body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect((await post(small, JSON.stringify({ query: '{ __typename }' }))).status).toBe(200);
  });

  it('counts a body sent without Content-Length, of any type, and refuses it past the limit', async () => {
    const small = appWith({ BODY_LIMIT_BYTES: '2048' });
    const streamed = (text: string, type: string) => {
      const bytes = new TextEncoder().encode(text);
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < bytes.length; i += 512) controller.enqueue(bytes.slice(i, i + 512));
          controller.close();
        },
      });
      return small.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: { 'content-type': type, accept: 'application/json', 'x-graphql-csrf': '1' },
        body,
        duplex: 'half',
      } as RequestInit);
    };
    const query = '{ __typename }';
    const pad = 'x'.repeat(4096);
    for (const [type, text] of [
      ['application/json', JSON.stringify({ query, variables: { pad } })],
      ['application/x-www-form-urlencoded', `query=${encodeURIComponent(query)}&pad=${pad}`],
    ] as const) {
      const res = await streamed(text, type);
      expect(res.status, type).toBe(413);
      expect((await res.json()).errors[0].extensions.code).toBe('BAD_USER_INPUT');
    }
    const form = await streamed(`query=${encodeURIComponent(query)}`, 'application/x-www-form-urlencoded');
    expect(await form.json()).toEqual({ data: { __typename: 'Query' } });
    const json = await streamed(JSON.stringify({ query }), 'application/json');
    expect(await json.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('refuses batched requests unless batching is enabled, then caps the batch', async () => {
    const batch = (n: number) => JSON.stringify(Array.from({ length: n }, () => ({ query: '{ __typename }' })));
    expect((await post(app, batch(2))).status).not.toBe(200);
    const batching = appWith({ BATCH_LIMIT: '2' });
    const ok = await post(batching, batch(2));
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual([{ data: { __typename: 'Query' } }, { data: { __typename: 'Query' } }]);
    expect((await post(batching, batch(3))).status).not.toBe(200);
  });

  it('refuses requests a browser would send cross-site without a preflight', async () => {
    const form = await app.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(form.status).toBe(403);
    expect((await form.json()).errors[0].extensions.code).toBe('FORBIDDEN');
    const bareGet = await app.fetch('http://localhost/graphql?query=%7B__typename%7D');
    expect(bareGet.status).toBe(403);
    const get = await app.fetch('http://localhost/graphql?query=%7B__typename%7D', {
      headers: { 'x-graphql-csrf': '1', accept: 'application/json' },
    });
    expect(await get.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('never runs a mutation over GET', async () => {
    const query = encodeURIComponent('mutation { createOrganization(input: { slug: "g", name: "G" }) { __typename } }');
    const res = await app.fetch(`http://localhost/graphql?query=${query}`, {
      headers: { 'x-graphql-csrf': '1', accept: 'application/json' },
    });
    expect(res.status).toBe(405);
  });

  it('turns introspection and GraphiQL off in production unless enabled', async () => {
    const prod = appWith({ NODE_ENV: 'production' });
    const intro = await gql('{ __schema { queryType { name } } }', { app: prod });
    expect(intro.errors?.length).toBeGreaterThan(0);
    const page = await prod.fetch('http://localhost/graphql', { headers: { accept: 'text/html' } });
    expect(await page.text()).not.toContain('GraphiQL');
    const enabled = appWith({ NODE_ENV: 'production', INTROSPECTION: 'true', GRAPHIQL: 'true' });
    expect((await gql('{ __schema { queryType { name } } }', { app: enabled })).data).toEqual({
      __schema: { queryType: { name: 'Query' } },
    });
    const devPage = await app.fetch('http://localhost/graphql', { headers: { accept: 'text/html' } });
    const html = await devPage.text();
    expect(html).toContain('GraphiQL');
    // It opens on the example operations, the "who is this?" resolve first.
    expect(html).toContain('query WhoIsThis');
    expect(html).toContain('X-Organization-ID');
  });

  it('echoes a well-formed X-Request-ID and makes one otherwise', async () => {
    const given = await post(app, JSON.stringify({ query: '{ __typename }' }), { 'x-request-id': 'gateway-123' });
    expect(given.headers.get('x-request-id')).toBe('gateway-123');
    const made = await post(app, JSON.stringify({ query: '{ __typename }' }), { 'x-request-id': 'bad id with spaces' });
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('exposes Prometheus metrics with request counts and errors by code', async () => {
    const own = appWith({});
    await gql('{ __typename }', { app: own });
    await gql('{ nope }', { app: own });
    const text = await (await own.fetch('http://localhost/metrics')).text();
    expect(text).toMatch(/graphql_envelop_request_duration/);
    // Off: the deprecated-field counter walks every operation; the summary repeats the histogram.
    expect(text).not.toMatch(/graphql_envelop_deprecated_field|graphql_envelop_request_time_summary/);
    expect(text).toMatch(/graphql_errors_total\{code="BAD_USER_INPUT"/);
  });
});

describe('error masking', () => {
  it('answers an unexpected error with INTERNAL_SERVER_ERROR and the request id, nothing internal', () => {
    const masked = maskError(new Error('SELECT secret FROM users WHERE email = \'a@b.c\'')) as unknown as {
      message: string;
      extensions: Record<string, unknown>;
    };
    expect(masked.message).toBe('Unexpected error.');
    expect(masked.extensions.code).toBe('INTERNAL_SERVER_ERROR');
    expect(JSON.stringify(masked)).not.toMatch(/SELECT|secret|a@b\.c|at /);
  });

  it('answers a database outage with SERVICE_UNAVAILABLE', () => {
    const outage = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(isDatabaseUnavailable(outage)).toBe(true);
    expect(isDatabaseUnavailable({ code: 'P2002' })).toBe(false);
    const masked = maskError(outage) as unknown as { extensions: Record<string, unknown> };
    expect(masked.extensions.code).toBe('SERVICE_UNAVAILABLE');
  });

  it('answers errors the GraphQL layer raises (syntax, unknown fields, bad variables) with BAD_USER_INPUT', async () => {
    expectErrorCode(await gql('{ __typename '), 'BAD_USER_INPUT');
    expectErrorCode(await gql('{ unknownField }'), 'BAD_USER_INPUT');
    expectErrorCode(await gql('query ($id: ID!) { node(id: $id) { id } }', { variables: {} }), 'BAD_USER_INPUT');
  });
});

describe('rate limits', () => {
  const op = '{ __typename }';

  it('refuse a credential over its limit with RATE_LIMITED and Retry-After, counting each alias', async () => {
    const limited = appWith({ RATE_LIMIT_PER_CREDENTIAL: '5' });
    const user = await aUser();
    for (let i = 0; i < 3; i++) expect((await gql(op, { app: limited, asUser: user })).errors).toBeUndefined();
    // Two aliases cost two: 3 + 2 = 5 is still allowed; the next is over.
    expect((await gql('{ a: __typename b: __typename }', { app: limited, asUser: user })).errors).toBeUndefined();
    const res = await limited.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await (await import('./helpers/app.ts')).tokenFor(user.authSubject!)}` },
      body: JSON.stringify({ query: op }),
    });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await res.json()).errors[0].extensions.code).toBe('RATE_LIMITED');
    // Another credential is not affected.
    expect((await gql(op, { app: limited, asUser: await aUser() })).errors).toBeUndefined();
  });

  it("limit an organization across its callers without slowing another tenant's requests", async () => {
    const limited = appWith({ RATE_LIMIT_PER_ORGANIZATION: '20', RATE_LIMIT_PER_CREDENTIAL: '0' });
    const a = await aTenantWithMember();
    const b = await aTenantWithMember();
    const flood = await Promise.all(
      Array.from({ length: 40 }, () => gql(op, { app: limited, asUser: a.user, organizationId: a.organization.id })),
    );
    const refused = flood.filter((r) => r.errors?.[0]?.extensions?.code === 'RATE_LIMITED').length;
    expect(refused).toBe(20);
    const started = performance.now();
    const other = await Promise.all(
      Array.from({ length: 10 }, () => gql(op, { app: limited, asUser: b.user, organizationId: b.organization.id })),
    );
    expect(other.every((r) => r.errors === undefined)).toBe(true);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('share counters between server processes through Redis', async () => {
    const url = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
    const first = new RedisCounterStore(url);
    const second = new RedisCounterStore(url);
    try {
      const one = appWith({ RATE_LIMIT_PER_CREDENTIAL: '4', REDIS_URL: url }, { counters: first });
      const two = appWith({ RATE_LIMIT_PER_CREDENTIAL: '4', REDIS_URL: url }, { counters: second });
      const user = await aUser();
      const codes: unknown[] = [];
      for (const target of [one, two, one, two, one, two]) {
        codes.push((await gql(op, { app: target, asUser: user })).errors?.[0]?.extensions?.code ?? 'OK');
      }
      expect(codes).toEqual(['OK', 'OK', 'OK', 'OK', 'RATE_LIMITED', 'RATE_LIMITED']);
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('counts in memory within a window that starts with the first unit', async () => {
    const store = new MemoryCounterStore();
    expect((await store.add('k', 2, 50)).total).toBe(2);
    expect((await store.add('k', 3, 50)).total).toBe(5);
    await new Promise((r) => setTimeout(r, 60));
    expect((await store.add('k', 1, 50)).total).toBe(1);
  });
});

describe('the input guard', () => {
  it('refuses a NUL character anywhere in the operation with BAD_USER_INPUT, before anything runs', async () => {
    const user = await aUser();
    const viaVariable = await gql(
      'mutation ($input: CreateOrganizationInput!) { createOrganization(input: $input) { __typename } }',
      { variables: { input: { slug: 'nul', name: 'a\u0000b' } }, asUser: user },
    );
    expectErrorCode(viaVariable, 'BAD_USER_INPUT');
    expect(viaVariable.errors?.[0]?.extensions?.details).toEqual([{ path: 'input.name', message: 'contains U+0000' }]);
    const inline = await gql('mutation { createOrganization(input: { slug: "nul", name: "a\\u0000b" }) { __typename } }', {
      asUser: user,
    });
    expectErrorCode(inline, 'BAD_USER_INPUT');
  });
});

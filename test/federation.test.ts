import { createServer, type Server } from 'node:http';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { createGatewayRuntime } from '@graphql-hive/gateway-runtime';
import { composeServices } from '@theguild/federation-composition';
import { parse } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printedSubgraphSchema } from '../src/print-schema.ts';
import { SUBGRAPH_SECRET_HEADER } from '../src/plugins/subgraph-guard.ts';
import { appWith, expectErrorCode, globalId, gql, tokenFor } from './helpers/app.ts';
import { aMember, anIdentifier, anIdentity, aSource, aTenantWithMember, aUser } from './helpers/factories.ts';
import { withSqlLog } from './helpers/sql-count.ts';

// A real composition (the Guild's federation-composition) of this subgraph with a
// small second one written here, behind a real gateway (Hive Gateway's runtime), with
// every subgraph served over HTTP on loopback.

const SECRET = 'gateway-only-secret';
const servers: Server[] = [];

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/graphql`;
}

// The second subgraph extends User with a field of its own and offers a root field
// returning a User that only this subgraph can complete.
const coloursTypeDefs = parse(`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key"])
  type User @key(fields: "id") {
    id: ID!
    favouriteColour: String!
  }
  type Query {
    userOfTheDay(id: ID!): User
  }
`);
const colours = createYoga({
  schema: buildSubgraphSchema({
    typeDefs: coloursTypeDefs,
    resolvers: {
      Query: { userOfTheDay: (_: unknown, { id }: { id: string }) => ({ id }) },
      User: {
        __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
        favouriteColour: (user: { id: string }) => `colour-of-${user.id.slice(-4)}`,
      },
    },
  }),
  logging: false,
});

let gateway: ReturnType<typeof createGatewayRuntime>;

beforeAll(async () => {
  const identityUrl = await serve(appWith({ SUBGRAPH_SECRET: SECRET }));
  const coloursUrl = await serve(colours);
  const composed = composeServices([
    { name: 'identity', typeDefs: parse(printedSubgraphSchema()), url: identityUrl },
    { name: 'colours', typeDefs: coloursTypeDefs, url: coloursUrl },
  ]);
  if (composed.errors?.length) throw new Error(composed.errors.map((e) => e.message).join('\n'));
  gateway = createGatewayRuntime({
    supergraph: composed.supergraphSdl!,
    logging: false,
    maskedErrors: false,
    propagateHeaders: {
      // The gateway forwards the caller's token and proves itself to the subgraphs.
      fromClientToSubgraphs: ({ request }) => ({
        authorization: request.headers.get('authorization'),
        [SUBGRAPH_SECRET_HEADER]: SECRET,
      }),
    },
  });
});

afterAll(async () => {
  await gateway?.dispose?.();
  for (const s of servers) await new Promise((r) => s.close(r));
});

async function throughGateway(query: string, token?: string) {
  const res = await gateway.fetch('http://gateway/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query }),
  });
  return (await res.json()) as { data?: Record<string, any>; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

describe('behind a federation gateway', () => {
  it('answers a query that crosses both subgraphs with the JWT the gateway forwards', async () => {
    const { user, organization } = await aTenantWithMember();
    const colleague = await aUser();
    await aMember(organization.id, colleague.id);
    const id = globalId('User', colleague.id);
    const result = await throughGateway(
      `{ node(id: "${id}") { ... on User { email favouriteColour } } userOfTheDay(id: "${id}") { email favouriteColour } }`,
      await tokenFor(user.authSubject!),
    );
    expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
    const expected = { email: colleague.email, favouriteColour: `colour-of-${id.slice(-4)}` };
    expect(result.data).toEqual({ node: expected, userOfTheDay: expected });
  });

  it("resolves another tenant's user, reached through the other subgraph, to null", async () => {
    const { user } = await aTenantWithMember();
    const { user: stranger } = await aTenantWithMember();
    const result = await throughGateway(
      `{ userOfTheDay(id: "${globalId('User', stranger.id)}") { favouriteColour email } }`,
      await tokenFor(user.authSubject!),
    );
    expect(result.data?.userOfTheDay ?? null).toBeNull();
    expect(JSON.stringify(result)).not.toContain(stranger.email);
  });
});

describe('the subgraph', () => {
  const entities = (ids: string[]) =>
    `{ _entities(representations: [${ids.map((id) => `{ __typename: "User", id: "${id}" }`).join(', ')}]) { ... on User { id email } } }`;

  it('resolves 100 representations with a constant number of SQL statements', async () => {
    const { user, organization } = await aTenantWithMember();
    const members: { id: string; email: string }[] = [];
    for (let i = 0; i < 100; i++) {
      const u = await aUser();
      await aMember(organization.id, u.id);
      members.push(u);
    }
    const app = appWith({ SUBGRAPH_SECRET: SECRET });
    const run = (n: number) =>
      withSqlLog(() =>
        gql(entities(members.slice(0, n).map((m) => globalId('User', m.id))), {
          app,
          asUser: user,
          headers: { [SUBGRAPH_SECRET_HEADER]: SECRET },
        }),
      );
    await run(1); // the credential, seen once
    const ten = await run(10);
    const hundred = await run(100);
    expect(hundred.result.errors).toBeUndefined();
    expect(hundred.result.data?._entities.map((e: { email: string }) => e.email)).toEqual(members.map((m) => m.email));
    expect(hundred.statements.length).toBe(ten.statements.length);
    expect(hundred.statements.length).toBeLessThanOrEqual(4);
    console.info(`_entities: ${ten.statements.length} SQL statements for 10 representations, ${hundred.statements.length} for 100`);
  });

  it('resolves every entity type by its id: Organization, User, Member, Identifier, Identity', async () => {
    const { user, organization, member } = await aTenantWithMember();
    const source = await aSource(organization.id);
    const identifier = await anIdentifier(organization.id, user.id, source.id);
    const identity = await anIdentity(organization.id);
    const reps = [
      ['Organization', organization.id],
      ['User', user.id],
      ['Member', member.id],
      ['Identifier', identifier.id],
      ['Identity', identity.id],
    ].map(([t, id]) => `{ __typename: "${t}", id: "${globalId(t!, id!)}" }`);
    const result = await gql(`{ _entities(representations: [${reps.join(', ')}]) { __typename ... on Node { id } } }`, {
      app: appWith({ SUBGRAPH_SECRET: SECRET }),
      asUser: user,
      headers: { [SUBGRAPH_SECRET_HEADER]: SECRET },
    });
    expect(result.errors).toBeUndefined();
    expect(result.data?._entities.map((e: { __typename: string }) => e.__typename)).toEqual(['Organization', 'User', 'Member', 'Identifier', 'Identity']);
    const { _service } = (await gql('{ _service { sdl } }', { app: appWith({ SUBGRAPH_SECRET: SECRET }), headers: { [SUBGRAPH_SECRET_HEADER]: SECRET } })).data!;
    for (const t of ['Organization', 'User', 'Member', 'Identifier', 'Identity']) {
      expect(_service.sdl).toMatch(new RegExp(`type ${t} implements Node\\s*@key\\(fields: "id"\\)`));
    }
  });

  it("answers another tenant's representation with null, like node(id)", async () => {
    const { user } = await aTenantWithMember();
    const { user: stranger } = await aTenantWithMember();
    const result = await gql(entities([globalId('User', stranger.id), globalId('User', 'not-a-uuid'), 'garbage']), {
      app: appWith({ SUBGRAPH_SECRET: SECRET }),
      asUser: user,
      headers: { [SUBGRAPH_SECRET_HEADER]: SECRET },
    });
    expect(result.data?._entities).toEqual([null, null, null]);
  });

  it('refuses _service in production without a gateway secret, as introspection is refused, unless introspection is enabled', async () => {
    const production = appWith({ NODE_ENV: 'production' });
    for (const query of ['{ _service { sdl } }', '{ ... on Query { svc: _service { sdl } } }', 'query { ...S } fragment S on Query { _service { sdl } }']) {
      const refused = await gql(query, { app: production });
      expect(refused.data ?? null, query).toBeNull();
      expect(refused.errors?.map((e) => [e.extensions?.code, e.message]), query).toEqual([
        ['BAD_USER_INPUT', 'GraphQL introspection has been disabled, but the requested query contained the field "_service".'],
      ]);
    }
    // The gateway still reads it with its secret, and a production server with introspection on answers it.
    const gateway = await gql('{ _service { sdl } }', { app: appWith({ NODE_ENV: 'production', SUBGRAPH_SECRET: SECRET }), headers: { [SUBGRAPH_SECRET_HEADER]: SECRET } });
    expect(gateway.data?._service.sdl).toContain('@key(fields: "id")');
    const open = await gql('{ _service { sdl } }', { app: appWith({ NODE_ENV: 'production', INTROSPECTION: 'true' }) });
    expect(open.data?._service.sdl).toContain('@key(fields: "id")');
  });

  it('refuses _entities and _service without the gateway secret, and everything when so configured', async () => {
    const guarded = appWith({ SUBGRAPH_SECRET: SECRET });
    expectErrorCode(await gql('{ _service { sdl } }', { app: guarded }), 'FORBIDDEN');
    expectErrorCode(await gql('{ _service { sdl } }', { app: guarded, headers: { [SUBGRAPH_SECRET_HEADER]: 'wrong' } }), 'FORBIDDEN');
    expect((await gql('{ __typename }', { app: guarded })).data).toEqual({ __typename: 'Query' });
    const sdl = await gql('{ _service { sdl } }', { app: guarded, headers: { [SUBGRAPH_SECRET_HEADER]: SECRET } });
    expect(sdl.data?._service.sdl).toContain('@key(fields: "id")');

    const strict = appWith({ SUBGRAPH_SECRET: SECRET, SUBGRAPH_SECRET_REQUIRED_FOR_ALL: 'true' });
    expectErrorCode(await gql('{ __typename }', { app: strict }), 'FORBIDDEN');
    expect((await gql('{ __typename }', { app: strict, headers: { [SUBGRAPH_SECRET_HEADER]: SECRET } })).data).toEqual({
      __typename: 'Query',
    });
  });
});

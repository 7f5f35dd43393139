// Join Monster 4 as a peer of the benchmark: a graphql-js schema annotated for Join
// Monster (tables, columns, joins, ordering, offset pages), serving the members page
// (scenarios 2 and 7) and the identifier lookup (scenario 1), with the same ES256 JWT
// check as the other peers. The tenancy rules are its `where` and `sqlJoin` clauses:
// the organization is the one X-Organization-ID names and the viewer an ACTIVE member
// of it; memberships and identifiers are those of that organization. Join Monster
// writes values into the SQL text (it has no bind parameters), so they are quoted
// with pg's escapeLiteral. Settings from the environment: DATABASE_URL, POOL_SIZE,
// JWKS, JWT_ISSUER, JWT_AUDIENCE, and NAMES (tables and columns from the Prisma datamodel).
import { createServer } from 'node:http';
import {
  GraphQLBoolean, GraphQLID, GraphQLInt, GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, GraphQLString,
  execute, parse, validate,
} from 'graphql';
import joinMonster from 'join-monster';
import { createLocalJWKSet, jwtVerify } from 'jose';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.POOL_SIZE ?? 10) });
const jwks = createLocalJWKSet(JSON.parse(process.env.JWKS ?? '{"keys":[]}'));
const verifyOptions = { issuer: process.env.JWT_ISSUER, audience: process.env.JWT_AUDIENCE, algorithms: ['ES256'] };

/** Model → { $table, field → column }, unquoted, as the datamodel maps them. */
const NAMES = JSON.parse(process.env.NAMES ?? '{}');
const table = (model) => `"${NAMES[model].$table}"`;
const col = (model, field) => NAMES[model][field];
/** A column of a model under a Join Monster alias (given quoted). */
const at = (alias, model, field) => `${alias}."${col(model, field)}"`;
const lit = pg.escapeLiteral;
const oldestFirst = (model) => [
  { column: col(model, 'createdAt'), direction: 'asc' },
  { column: col(model, 'id'), direction: 'asc' },
];

/** The viewer is an ACTIVE member of the organization `orgSql` names. */
const viewerIsMember = (orgSql, ctx) => `EXISTS (SELECT 1 FROM ${table('User')} v JOIN ${table('Member')} vm ON ${at('vm', 'Member', 'userId')} = ${at('v', 'User', 'id')}
  WHERE ${at('v', 'User', 'authSubject')} = ${lit(ctx.subject)} AND ${at('vm', 'Member', 'organizationId')} = ${orgSql} AND ${at('vm', 'Member', 'state')} = 'ACTIVE')`;

const jm = (extensions) => ({ extensions: { joinMonster: extensions } });
const column = (type, model, field) => ({ type, ...jm({ sqlColumn: col(model, field) }) });

const IntegrationSource = new GraphQLObjectType({
  name: 'IntegrationSource',
  ...jm({ sqlTable: table('IntegrationSource'), uniqueKey: col('IntegrationSource', 'id') }),
  fields: () => ({ key: column(GraphQLString, 'IntegrationSource', 'key') }),
});

const Identifier = new GraphQLObjectType({
  name: 'Identifier',
  ...jm({ sqlTable: table('Identifier'), uniqueKey: col('Identifier', 'id') }),
  fields: () => ({
    identifierKey: column(GraphQLString, 'Identifier', 'identifierKey'),
    identifierValue: column(GraphQLString, 'Identifier', 'identifierValue'),
    source: {
      type: IntegrationSource,
      ...jm({ sqlJoin: (i, s) => `${at(i, 'Identifier', 'sourceId')} = ${at(s, 'IntegrationSource', 'id')}` }),
    },
  }),
});

const Organization = new GraphQLObjectType({
  name: 'Organization',
  ...jm({ sqlTable: table('Organization'), uniqueKey: col('Organization', 'id') }),
  fields: () => ({
    id: column(GraphQLID, 'Organization', 'id'),
    name: column(GraphQLString, 'Organization', 'name'),
    members: {
      type: MemberConnection,
      args: { first: { type: GraphQLInt }, after: { type: GraphQLString } },
      // Offset pages: Join Monster's keyset pages (sortKey) give no totalCount.
      ...jm({ sqlPaginate: true, orderBy: oldestFirst('Member'), sqlJoin: (o, m) => `${at(o, 'Organization', 'id')} = ${at(m, 'Member', 'organizationId')}` }),
    },
  }),
});

const User = new GraphQLObjectType({
  name: 'User',
  ...jm({ sqlTable: table('User'), uniqueKey: col('User', 'id') }),
  fields: () => ({
    id: column(GraphQLID, 'User', 'id'),
    email: column(GraphQLString, 'User', 'email'),
    name: column(GraphQLString, 'User', 'name'),
    // Memberships and identifiers in the request's organization only.
    memberships: {
      type: new GraphQLList(Member),
      ...jm({
        orderBy: oldestFirst('Member'),
        sqlJoin: (u, m, _args, ctx) => `${at(u, 'User', 'id')} = ${at(m, 'Member', 'userId')} AND ${at(m, 'Member', 'organizationId')} = ${lit(ctx.organizationId)}`,
      }),
    },
    identifiers: {
      type: new GraphQLList(Identifier),
      args: { first: { type: GraphQLInt } },
      ...jm({
        orderBy: oldestFirst('Identifier'),
        limit: (args) => Math.min(Number(args.first ?? 100), 100),
        sqlJoin: (u, i, _args, ctx) => `${at(u, 'User', 'id')} = ${at(i, 'Identifier', 'userId')} AND ${at(i, 'Identifier', 'organizationId')} = ${lit(ctx.organizationId)}`,
      }),
    },
  }),
});

const Member = new GraphQLObjectType({
  name: 'Member',
  ...jm({ sqlTable: table('Member'), uniqueKey: col('Member', 'id') }),
  fields: () => ({
    role: column(GraphQLString, 'Member', 'role'),
    user: { type: User, ...jm({ sqlJoin: (m, u) => `${at(m, 'Member', 'userId')} = ${at(u, 'User', 'id')}` }) },
    organization: { type: Organization, ...jm({ sqlJoin: (m, o) => `${at(m, 'Member', 'organizationId')} = ${at(o, 'Organization', 'id')}` }) },
  }),
});

const PageInfo = new GraphQLObjectType({
  name: 'PageInfo',
  fields: { hasNextPage: { type: new GraphQLNonNull(GraphQLBoolean) }, endCursor: { type: GraphQLString } },
});
const MemberConnection = new GraphQLObjectType({
  name: 'MemberConnection',
  fields: () => ({
    totalCount: { type: GraphQLInt, resolve: (c) => c.total },
    pageInfo: { type: new GraphQLNonNull(PageInfo) },
    edges: { type: new GraphQLList(new GraphQLObjectType({ name: 'MemberEdge', fields: { cursor: { type: GraphQLString }, node: { type: Member } } })) },
  }),
});

const run = (info, ctx) => (joinMonster.default ?? joinMonster)(info, ctx, async (sql) => (await pool.query(sql)).rows, { dialect: 'pg' });

const Query = new GraphQLObjectType({
  name: 'Query',
  fields: {
    organization: {
      type: Organization,
      args: { id: { type: new GraphQLNonNull(GraphQLID) } },
      // Only the organization of the request, and only for a member of it.
      ...jm({
        where: (o, args, ctx) => `${at(o, 'Organization', 'id')} = ${lit(args.id)} AND ${at(o, 'Organization', 'id')} = ${lit(ctx.organizationId)} AND ${viewerIsMember(at(o, 'Organization', 'id'), ctx)}`,
      }),
      resolve: (_p, _a, ctx, info) => run(info, ctx),
    },
    // Scenario 1: the user an identifier (source key, key, value) of the organization
    // names; the best match is the highest confidence, then the newest.
    resolveUser: {
      type: User,
      args: { source: { type: new GraphQLNonNull(GraphQLString) }, identifierKey: { type: new GraphQLNonNull(GraphQLString) }, identifierValue: { type: new GraphQLNonNull(GraphQLString) } },
      ...jm({
        where: (u, args, ctx) => `${at(u, 'User', 'id')} = (
          SELECT ${at('i', 'Identifier', 'userId')} FROM ${table('Identifier')} i
          JOIN ${table('IntegrationSource')} s ON ${at('s', 'IntegrationSource', 'id')} = ${at('i', 'Identifier', 'sourceId')} AND ${at('s', 'IntegrationSource', 'organizationId')} = ${at('i', 'Identifier', 'organizationId')}
          WHERE ${at('i', 'Identifier', 'organizationId')} = ${lit(ctx.organizationId)} AND ${at('s', 'IntegrationSource', 'key')} = ${lit(args.source)}
            AND ${at('i', 'Identifier', 'identifierKey')} = ${lit(args.identifierKey)} AND ${at('i', 'Identifier', 'identifierValue')} = ${lit(args.identifierValue)}
          ORDER BY ${at('i', 'Identifier', 'confidenceScore')} DESC NULLS LAST, ${at('i', 'Identifier', 'updatedAt')} DESC LIMIT 1)
          AND ${viewerIsMember(lit(ctx.organizationId), ctx)}`,
      }),
      resolve: (_p, _a, ctx, info) => run(info, ctx),
    },
  },
});

const schema = new GraphQLSchema({ query: Query });
/** Parsed and validated documents by query text, as a GraphQL server caches them. */
const documents = new Map();

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
}

async function handle(req, res) {
  if (req.url === '/health') return send(res, 200, '{"ok":true}');
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const auth = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
  let subject;
  try {
    if (!auth) throw new Error('no token');
    subject = String((await jwtVerify(auth[1], jwks, verifyOptions)).payload.sub);
  } catch {
    return send(res, 401, '{"errors":[{"message":"Unauthenticated"}]}');
  }
  let body;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return send(res, 400, '{"errors":[{"message":"Bad request"}]}');
  }
  const organizationId = req.headers['x-organization-id'];
  if (typeof organizationId !== 'string' || typeof body.query !== 'string') return send(res, 400, '{"errors":[{"message":"Bad request"}]}');
  let document = documents.get(body.query);
  if (!document) {
    document = parse(body.query);
    const errors = validate(schema, document);
    if (errors.length) return send(res, 200, JSON.stringify({ errors }));
    documents.set(body.query, document);
  }
  const result = await execute({ schema, document, operationName: body.operationName, variableValues: body.variables, contextValue: { subject, organizationId } });
  send(res, 200, JSON.stringify(result));
}

const server = createServer((req, res) => {
  handle(req, res).catch((err) => send(res, 500, JSON.stringify({ errors: [{ message: err.message }] })));
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(`Join Monster on http://127.0.0.1:${server.address().port}/graphql`));
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    void pool.end().then(() => process.exit(0));
  });
}

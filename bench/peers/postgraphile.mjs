// PostGraphile v5 as a peer of the benchmark: the amber preset, production mode
// (no GraphiQL, no watch, no explain), the public schema of the benchmark database,
// and the same ES256 JWT check as the other peers (jose, before the request reaches
// PostGraphile). Run with the Node.js of this folder; settings come from the
// environment: DATABASE_URL, POOL_SIZE, JWKS, JWT_ISSUER, JWT_AUDIENCE.
// With VIEWER_SQL (a statement answering `ok` for a subject $1 and organization $2) it
// runs under the project's row-level policies, as this server's role does: the viewer's
// membership is checked first (a refused viewer gets Forbidden), then the request's
// statements see only that organization (`igs.organizations` through pgSettings).
import { createServer } from 'node:http';
import { postgraphile } from 'postgraphile';
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber';
import { makePgService } from 'postgraphile/adaptors/pg';
import { grafserv } from 'postgraphile/grafserv/node';
import { createLocalJWKSet, jwtVerify } from 'jose';
import pg from 'pg';

const jwks = createLocalJWKSet(JSON.parse(process.env.JWKS));
const verifyOptions = { issuer: process.env.JWT_ISSUER, audience: process.env.JWT_AUDIENCE, algorithms: ['ES256'] };
const viewerSql = process.env.VIEWER_SQL;
const poolSettings = { connectionString: process.env.DATABASE_URL, max: Number(process.env.POOL_SIZE ?? 10) };
// Under the policies, one pool serves PostGraphile and the membership check.
const pool = viewerSql ? new pg.Pool(poolSettings) : null;

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    pool
      ? makePgService({ pool, schemas: ['public'] })
      : makePgService({ connectionString: poolSettings.connectionString, schemas: ['public'], poolConfig: { max: poolSettings.max } }),
  ],
  grafserv: { watch: false, graphiqlOnGraphQLGET: false, graphiql: false, maxRequestLength: 4_000_000 },
  grafast: {
    explain: false,
    // @dataplan/pg sets pgSettings in a transaction around the request's statements.
    ...(pool ? { context: (ctx) => ({ pgSettings: { 'igs.organizations': ctx.node?.req?.igsOrganizations ?? '' } }) } : {}),
  },
  // Conditions and orders on every column, not only indexed ones: "oldest first"
  // (created_at, then id) is the order this server pages in.
  disablePlugins: ['PgIndexBehaviorsPlugin'],
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const handler = serv.createHandler();

const server = createServer(async (req, res) => {
  if (req.url === '/health') return res.writeHead(200).end('ok');
  const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
  let subject;
  try {
    if (!m) throw new Error('no token');
    subject = String((await jwtVerify(m[1], jwks, verifyOptions)).payload.sub);
  } catch {
    res.writeHead(401, { 'content-type': 'application/json' }).end('{"errors":[{"message":"Unauthenticated"}]}');
    return;
  }
  if (pool) {
    const organization = String(req.headers['x-organization-id'] ?? '');
    const ok = /^[0-9a-f-]{36}$/i.test(organization) && (await pool.query({ name: 'viewer', text: viewerSql, values: [subject, organization] })).rows[0]?.ok;
    if (!ok) {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":null,"errors":[{"message":"Forbidden"}]}');
      return;
    }
    req.igsOrganizations = organization;
  }
  handler(req, res);
});
// Builds the schema (introspection) before announcing the URL.
await pgl.getSchemaResult();
server.listen(0, '127.0.0.1', () => console.log(`PostGraphile on http://127.0.0.1:${server.address().port}/graphql`));
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    void pgl.release().then(() => process.exit(0));
  });
}

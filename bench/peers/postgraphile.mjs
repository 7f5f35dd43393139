// PostGraphile v5 as a peer of the benchmark: the amber preset, production mode
// (no GraphiQL, no watch, no explain), the public schema of the benchmark database,
// and the same ES256 JWT check as the other peers (jose, before the request reaches
// PostGraphile). Run with the Node.js 22 of this folder; settings come from the
// environment: DATABASE_URL, POOL_SIZE, JWKS, JWT_ISSUER, JWT_AUDIENCE.
import { createServer } from 'node:http';
import { postgraphile } from 'postgraphile';
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber';
import { makePgService } from 'postgraphile/adaptors/pg';
import { grafserv } from 'postgraphile/grafserv/node';
import { createLocalJWKSet, jwtVerify } from 'jose';

const jwks = createLocalJWKSet(JSON.parse(process.env.JWKS));
const verifyOptions = { issuer: process.env.JWT_ISSUER, audience: process.env.JWT_AUDIENCE, algorithms: ['ES256'] };

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: ['public'],
      poolConfig: { max: Number(process.env.POOL_SIZE ?? 10) },
    }),
  ],
  grafserv: { watch: false, graphiqlOnGraphQLGET: false, graphiql: false, maxRequestLength: 4_000_000 },
  grafast: { explain: false },
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
  try {
    if (!m) throw new Error('no token');
    await jwtVerify(m[1], jwks, verifyOptions);
  } catch {
    res.writeHead(401, { 'content-type': 'application/json' }).end('{"errors":[{"message":"Unauthenticated"}]}');
    return;
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

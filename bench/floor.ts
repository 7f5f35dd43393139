// The floor of the benchmark: node:http and pg, no GraphQL layer. It takes the same
// request as this server (the operation's name and variables; the query text is not
// read), checks the same ES256 JWT with jose, and answers each scenario with one
// prepared SQL statement that also checks the viewer is an ACTIVE member of the
// organization X-Organization-ID names, building the JSON of this server's answer in
// PostgreSQL (json_build_object, json_agg); its bulk upsert records the same audit events. Settings from the environment:
// DATABASE_URL, POOL_SIZE, JWKS, JWT_ISSUER, JWT_AUDIENCE.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createLocalJWKSet, jwtVerify } from 'jose';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.POOL_SIZE ?? 10) });
const jwks = createLocalJWKSet(JSON.parse(process.env.JWKS ?? '{"keys":[]}'));
const verifyOptions = { issuer: process.env.JWT_ISSUER, audience: process.env.JWT_AUDIENCE, algorithms: ['ES256'] };

// $1 is the viewer's subject, $2 the organization.
const VIEWER = `EXISTS (SELECT 1 FROM users v JOIN members vm ON vm.user_id = v.id
  WHERE v.auth_subject = $1 AND vm.organization_id = $2 AND vm.state = 'ACTIVE')`;
const gid = (type: string, col: string) => `encode(convert_to('${type}:' || ${col}, 'UTF8'), 'base64')`;
const empty = `'[]'::json`;
// The identifier columns this server's audit events record, with their field names.
const AUDITED = [
  ['user_id', 'userId'], ['source_id', 'sourceId'], ['identifier_key', 'identifierKey'], ['identifier_value', 'identifierValue'],
  ['value_kind', 'valueKind'], ['discovery_method', 'discoveryMethod'], ['confidence_score', 'confidenceScore'], ['discovery_metadata', 'discoveryMetadata'],
] as const;
const cursor = (col: string) => `encode(convert_to('GPC:S:' || ${col}, 'UTF8'), 'base64')`;

const SQL = {
  // $3 source key, $4 identifier key, $5 value. The best match: highest confidence, then newest.
  BenchResolve: `
    SELECT ${VIEWER} AS allowed, json_build_object('resolve', (
      SELECT json_build_object('user', json_build_object(
        'id', ${gid('User', 'u.id')}, 'email', u.email, 'name', u.name,
        'memberships', (SELECT coalesce(json_agg(json_build_object('role', m.role, 'organization', json_build_object('name', o.name)) ORDER BY m.created_at, m.id), ${empty})
                        FROM members m JOIN organizations o ON o.id = m.organization_id WHERE m.user_id = u.id AND m.organization_id = $2),
        'identifiers', json_build_object('edges', (
          SELECT coalesce(json_agg(json_build_object('node', json_build_object('identifierKey', i.identifier_key, 'identifierValue', i.identifier_value, 'source', json_build_object('key', s.key))) ORDER BY i.created_at, i.id), ${empty})
          FROM (SELECT * FROM identifiers WHERE user_id = u.id AND organization_id = $2 ORDER BY created_at, id LIMIT 100) i
          JOIN integration_sources s ON s.id = i.source_id))))
      FROM (SELECT i.user_id FROM identifiers i JOIN integration_sources s ON s.id = i.source_id AND s.organization_id = i.organization_id
            WHERE i.organization_id = $2 AND s.key = $3 AND i.identifier_key = $4 AND i.identifier_value = $5
            ORDER BY i.confidence_score DESC NULLS LAST, i.updated_at DESC LIMIT 1) hit
      JOIN users u ON u.id = hit.user_id))::text AS data`,
  // $3 page size. Oldest first.
  BenchMembers: `
    SELECT ${VIEWER} AS allowed, json_build_object('organization', (
      SELECT json_build_object('members', json_build_object('edges', (
        SELECT coalesce(json_agg(json_build_object('node', json_build_object('role', p.role, 'user', json_build_object(
          'id', ${gid('User', 'u.id')}, 'email', u.email, 'name', u.name,
          'identifiers', json_build_object('edges', (
            SELECT coalesce(json_agg(json_build_object('node', json_build_object('identifierKey', i.identifier_key, 'identifierValue', i.identifier_value)) ORDER BY i.created_at, i.id), ${empty})
            FROM (SELECT * FROM identifiers WHERE user_id = u.id AND organization_id = $2 ORDER BY created_at, id LIMIT 100) i))))) ORDER BY p.created_at, p.id), ${empty})
        FROM (SELECT * FROM members WHERE organization_id = o.id ORDER BY created_at, id LIMIT $3) p JOIN users u ON u.id = p.user_id)))
      FROM organizations o WHERE o.id = $2))::text AS data`,
  // $3 the user's id: visible when a member of the organization.
  BenchNode: `
    SELECT ${VIEWER} AS allowed, json_build_object('node', (
      SELECT json_build_object('id', ${gid('User', 'u.id')}, 'email', u.email, 'name', u.name) FROM users u
      WHERE u.id = $3 AND EXISTS (SELECT 1 FROM members m WHERE m.user_id = u.id AND m.organization_id = $2)))::text AS data`,
  // $3 the users' ids, in order; null for each not visible.
  BenchEntities: `
    SELECT ${VIEWER} AS allowed, json_build_object('_entities', (
      SELECT json_agg(CASE WHEN u.id IS NULL THEN NULL ELSE json_build_object('id', ${gid('User', 'u.id')}, 'email', u.email, 'name', u.name) END ORDER BY r.n)
      FROM unnest($3::uuid[]) WITH ORDINALITY r(id, n)
      LEFT JOIN users u ON u.id = r.id AND EXISTS (SELECT 1 FROM members m WHERE m.user_id = u.id AND m.organization_id = $2)))::text AS data`,
  // $3 page size, $4 the id of the member the page follows (null: the first page).
  // Oldest first; a cursor is this server's (base64 of GPC:S:<id>).
  BenchPage: `
    WITH page AS (
      SELECT * FROM members m WHERE m.organization_id = $2
        AND ($4::uuid IS NULL OR (m.created_at, m.id) > (SELECT a.created_at, a.id FROM members a WHERE a.id = $4::uuid AND a.organization_id = $2))
      ORDER BY m.created_at, m.id LIMIT $3 + 1),
    shown AS (SELECT * FROM page ORDER BY created_at, id LIMIT $3)
    SELECT ${VIEWER} AS allowed, json_build_object('organization', (
      SELECT json_build_object('members', json_build_object(
        'totalCount', (SELECT count(*) FROM members c WHERE c.organization_id = o.id),
        'pageInfo', json_build_object('hasNextPage', (SELECT count(*) FROM page) > $3,
          'endCursor', (SELECT ${cursor('x.id')} FROM shown x ORDER BY x.created_at DESC, x.id DESC LIMIT 1)),
        'edges', (
        SELECT coalesce(json_agg(json_build_object('cursor', ${cursor('p.id')}, 'node', json_build_object('role', p.role, 'user', json_build_object(
          'id', ${gid('User', 'u.id')}, 'email', u.email, 'name', u.name,
          'identifiers', json_build_object('edges', (
            SELECT coalesce(json_agg(json_build_object('node', json_build_object('identifierKey', i.identifier_key, 'identifierValue', i.identifier_value)) ORDER BY i.created_at, i.id), ${empty})
            FROM (SELECT * FROM identifiers WHERE user_id = u.id AND organization_id = $2 ORDER BY created_at, id LIMIT 100) i))))) ORDER BY p.created_at, p.id), ${empty})
        FROM shown p JOIN users u ON u.id = p.user_id)))
      FROM organizations o WHERE o.id = $2))::text AS data`,
  // $3 the identity's id, with its properties (by key), provider and linked user.
  BenchIdentity: `
    SELECT ${VIEWER} AS allowed, json_build_object('node', (
      SELECT json_build_object('id', ${gid('Identity', 'd.id')}, 'name', d.name, 'email', d.email, 'identityType', d.identity_type, 'externalId', d.external_id,
        'source', (SELECT json_build_object('key', s.key) FROM integration_sources s WHERE s.id = d.source_id),
        'user', (SELECT json_build_object('id', ${gid('User', 'u.id')}, 'email', u.email) FROM users u WHERE u.id = d.user_id),
        'properties', (SELECT coalesce(json_agg(json_build_object('key', p.key, 'value', p.value) ORDER BY p.key, p.id), ${empty})
                       FROM identity_properties p WHERE p.identity_id = d.id))
      FROM identities d WHERE d.id = $3 AND d.organization_id = $2))::text AS data`,
  // $3 the source's key, $4 the minimum confidence (unscored counts as certain). Oldest first, 50.
  BenchIdentifiers: `
    WITH f AS (
      SELECT i.* FROM identifiers i JOIN integration_sources s ON s.id = i.source_id AND s.organization_id = $2
      WHERE i.organization_id = $2 AND s.key = $3 AND (i.confidence_score >= $4 OR i.confidence_score IS NULL)),
    page AS (SELECT * FROM f ORDER BY created_at, id LIMIT 51),
    shown AS (SELECT * FROM page ORDER BY created_at, id LIMIT 50)
    SELECT ${VIEWER} AS allowed, json_build_object('organization', json_build_object('identifiers', json_build_object(
      'totalCount', (SELECT count(*) FROM f),
      'pageInfo', json_build_object('hasNextPage', (SELECT count(*) FROM page) > 50,
        'endCursor', (SELECT ${cursor('x.id')} FROM shown x ORDER BY x.created_at DESC, x.id DESC LIMIT 1)),
      'edges', (SELECT coalesce(json_agg(json_build_object('cursor', ${cursor('p.id')}, 'node', json_build_object(
          'identifierKey', p.identifier_key, 'identifierValue', p.identifier_value, 'confidenceScore', p.confidence_score,
          'user', json_build_object('id', ${gid('User', 'p.user_id')}))) ORDER BY p.created_at, p.id), ${empty})
        FROM shown p))))::text AS data`,
  // $3..$8 the items as arrays: user ids, source keys, keys, values, methods, scores.
  // The same work as this server's bulk upsert in one statement: the rows it replaces
  // locked and read first, one INSERT ... ON CONFLICT (rows whose values are all equal
  // left untouched), and an audit event per row created or changed with the changed
  // fields before and after.
  BenchUpsertIdentifiers: `
    WITH items AS (
      SELECT x.*, s.id AS source_id FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::float8[])
        AS x(user_id, source_key, identifier_key, identifier_value, discovery_method, confidence_score)
      JOIN integration_sources s ON s.organization_id = $2 AND s.key = x.source_key
      JOIN members m ON m.organization_id = $2 AND m.user_id = x.user_id
      WHERE ${VIEWER}
    ), before AS (
      SELECT i.* FROM identifiers i JOIN items x ON i.organization_id = $2 AND i.user_id = x.user_id AND i.source_id = x.source_id
        AND i.identifier_key = x.identifier_key AND i.merge_slot = 0
      ORDER BY i.user_id, i.source_id, i.identifier_key FOR UPDATE OF i
    ), written AS (
      INSERT INTO identifiers AS t (organization_id, user_id, source_id, identifier_key, identifier_value, value_kind, normalized_value, discovery_method, confidence_score)
      SELECT $2, x.user_id, x.source_id, x.identifier_key, x.identifier_value, identifier_value_kind(x.identifier_key, x.identifier_value),
        normalised_identifier_value(identifier_value_kind(x.identifier_key, x.identifier_value), x.identifier_value),
        x.discovery_method::"DiscoveryMethod", x.confidence_score
      FROM items x WHERE (SELECT count(*) FROM before) >= 0
      ON CONFLICT (organization_id, user_id, source_id, identifier_key, merge_slot) DO UPDATE SET
        identifier_value = excluded.identifier_value, value_kind = excluded.value_kind, normalized_value = excluded.normalized_value, discovery_method = excluded.discovery_method,
        confidence_score = excluded.confidence_score, discovery_metadata = excluded.discovery_metadata, updated_at = now()
      WHERE (t.identifier_value, t.discovery_method, t.confidence_score, t.discovery_metadata::text)
            IS DISTINCT FROM (excluded.identifier_value, excluded.discovery_method, excluded.confidence_score, excluded.discovery_metadata::text)
      RETURNING t.*, (xmax = 0) AS created
    ), audited AS (
      INSERT INTO audit_events (organization_id, actor_type, actor_user_id, entity_type, entity_id, action, changes, discovery_method)
      SELECT $2, 'USER'::"ActorType", (SELECT v.id FROM users v WHERE v.auth_subject = $1), 'Identifier', w.id,
        CASE WHEN w.created THEN 'CREATE' ELSE 'UPDATE' END, ${AUDITED.map(
          (c) => `CASE WHEN b.${c[0]} IS DISTINCT FROM w.${c[0]} THEN jsonb_build_object('${c[1]}', jsonb_build_object('before', to_jsonb(b.${c[0]}), 'after', to_jsonb(w.${c[0]}))) ELSE '{}'::jsonb END`,
        ).join(' || ')},
        w.discovery_method
      FROM written w LEFT JOIN before b ON b.id = w.id
      RETURNING 1
    )
    SELECT ${VIEWER} AS allowed, json_build_object('upsertIdentifiers', json_build_object(
      '__typename', 'UpsertIdentifiersSuccess',
      'createdCount', (SELECT count(*) FILTER (WHERE created) FROM written),
      'updatedCount', (SELECT count(*) FILTER (WHERE NOT created) FROM written),
      'unchangedCount', (SELECT count(*) FROM items) - (SELECT count(*) FROM written)))::text AS data`,
} as const;
// The same statement answers resolve written with fragments.
const STATEMENTS = { ...SQL, BenchResolveFragment: SQL.BenchResolve };
type Operation = keyof typeof STATEMENTS;

interface Item {
  userId: string;
  sourceKey: string;
  identifierKey: string;
  identifierValue: string;
  discoveryMethod: string;
  confidenceScore?: number | null;
}

/** A global id (base64 of `Type:uuid`) or a bare UUID, as the UUID. */
const uuidOf = (id: string) => (id.includes('-') ? id : Buffer.from(id, 'base64').toString('utf8').split(':')[1] ?? '');

function params(op: Operation, v: Record<string, unknown>): unknown[] {
  switch (op) {
    case 'BenchResolve':
    case 'BenchResolveFragment':
      return [v.source, v.identifierKey, v.identifierValue];
    case 'BenchPage':
      return [v.first, v.after ? Buffer.from(String(v.after), 'base64').toString('utf8').replace(/^GPC:S:/, '') : null];
    case 'BenchIdentity':
      return [uuidOf(String(v.id))];
    case 'BenchIdentifiers':
      return [v.sourceKey, v.minConfidence];
    case 'BenchMembers':
      return [v.first];
    case 'BenchNode':
      return [uuidOf(String(v.id))];
    case 'BenchEntities':
      return [(v.representations as { id: string }[]).map((r) => uuidOf(r.id))];
    case 'BenchUpsertIdentifiers': {
      const items = v.items as Item[];
      return [
        items.map((i) => uuidOf(i.userId)),
        items.map((i) => i.sourceKey),
        items.map((i) => i.identifierKey),
        items.map((i) => i.identifierValue),
        items.map((i) => i.discoveryMethod),
        items.map((i) => i.confidenceScore ?? null),
      ];
    }
  }
}

function send(res: ServerResponse, status: number, body: string) {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
}

async function handle(req: IncomingMessage, res: ServerResponse) {
  if (req.url === '/health') return send(res, 200, '{"ok":true}');
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const auth = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
  let subject: string;
  try {
    if (!auth) throw new Error('no token');
    subject = String((await jwtVerify(auth[1]!, jwks, verifyOptions)).payload.sub);
  } catch {
    return send(res, 401, '{"errors":[{"message":"Unauthenticated","extensions":{"code":"UNAUTHENTICATED"}}]}');
  }
  let body: { operationName?: string; variables?: Record<string, unknown> };
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return send(res, 400, '{"errors":[{"message":"Bad request"}]}');
  }
  const op = body.operationName as Operation;
  const organizationId = req.headers['x-organization-id'];
  if (!(op in STATEMENTS) || typeof organizationId !== 'string') return send(res, 400, '{"errors":[{"message":"Unknown operation"}]}');
  const result = await pool.query({ name: op, text: STATEMENTS[op], values: [subject, organizationId, ...params(op, body.variables ?? {})] });
  const row = result.rows[0] as { allowed: boolean; data: string };
  if (!row.allowed) return send(res, 200, '{"data":null,"errors":[{"message":"Forbidden","extensions":{"code":"FORBIDDEN"}}]}');
  send(res, 200, `{"data":${row.data}}`);
}

const server = createServer((req, res) => {
  handle(req, res).catch((err: Error) => send(res, 500, JSON.stringify({ errors: [{ message: err.message }] })));
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(`SQL floor on http://127.0.0.1:${(server.address() as { port: number }).port}/graphql`));
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    server.close();
    void pool.end().then(() => process.exit(0));
  });
}

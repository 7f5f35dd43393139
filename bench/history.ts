// What keeping history costs (README, "Reading the past"), on one PostgreSQL, in one
// process: the 1,000-identifier bulk upsert with the history triggers on and off
// (alternated, same data), `resolve` as of a past moment against the current one, and
// the bytes each version adds.
//   LOG_LEVEL=warn npx tsx bench/history.ts [--url postgresql://…/db] [--rounds 7] [--resolves 300]
// The database named by --url (default igs_history_bench on 127.0.0.1:5432) is dropped
// and created afresh.
import { loadavg, uptime } from 'node:os';
import { SignJWT } from 'jose';
import pg from 'pg';
import { loadConfig } from '../src/config.ts';
import { openDatabase, useDatabase } from '../src/db.ts';
import { createApp } from '../src/yoga.ts';
import { parseArgs } from './common.ts';

const args = parseArgs(process.argv.slice(2));
const url = args.url ?? 'postgresql://postgres@127.0.0.1:5432/igs_history_bench';
const rounds = Number(args.rounds ?? 7);
const resolves = Number(args.resolves ?? 300);
const SECRET = 'bench-secret-of-at-least-thirty-two-bytes!';
const TABLES = ['organizations', 'users', 'members', 'integration_sources', 'identifiers', 'identities', 'identity_properties'];

const target = new URL(url);
const dbName = target.pathname.slice(1);
const admin = new pg.Client({ connectionString: Object.assign(new URL(url), { pathname: '/postgres' }).toString() });
await admin.connect();
await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
await admin.query(`CREATE DATABASE "${dbName}"`);
await admin.end();

const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: url, JWT_SECRET: SECRET, LOG_LEVEL: 'error' });
const db = await openDatabase(config, { migrate: true });
useDatabase(db);
const app = createApp({ config });
const client = new pg.Client({ connectionString: url });
await client.connect();

// One organization of 200 members with five identifiers each (1,000), as the main benchmark's.
const { rows: [org] } = await client.query(`INSERT INTO organizations (slug, name) VALUES ('bench', 'Bench') RETURNING id`);
const { rows: [source] } = await client.query(`INSERT INTO integration_sources (organization_id, kind, key, name) VALUES ($1, 'INTEGRATION', 'crm', 'CRM') RETURNING id`, [org.id]);
const { rows: [boss] } = await client.query(`INSERT INTO users (email, auth_subject) VALUES ('admin@bench.test', 'bench-admin') RETURNING id`);
await client.query(`INSERT INTO members (organization_id, user_id, role, state) VALUES ($1, $2, 'ORGANIZATION_ADMIN', 'ACTIVE')`, [org.id, boss.id]);
await client.query(`INSERT INTO users (email) SELECT 'u' || i || '@bench.test' FROM generate_series(1, 200) i`);
await client.query(`INSERT INTO members (organization_id, user_id, state) SELECT $1, id, 'ACTIVE' FROM users WHERE id <> $2`, [org.id, boss.id]);
await client.query(
  `INSERT INTO identifiers (organization_id, user_id, source_id, identifier_key, identifier_value, normalized_value, discovery_method)
   SELECT $1, u.id, $2, k, u.email || '-' || k, u.email || '-' || k, 'MANUAL' FROM users u, unnest(ARRAY['owner_id','employee_id','member_id','subject','badge']) k WHERE u.id <> $3`,
  [org.id, source.id, boss.id],
);
const items = (await client.query(`SELECT user_id, identifier_key, identifier_value FROM identifiers ORDER BY user_id, identifier_key`)).rows;

const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('bench-admin').setIssuedAt().setExpirationTime('2h').sign(new TextEncoder().encode(SECRET));
async function gql(query: string, variables: Record<string, unknown>): Promise<number> {
  const t0 = performance.now();
  const res = await app.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-organization-id': org.id },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  const ms = performance.now() - t0;
  if (res.status !== 200 || text.includes('"errors"') || text.includes('"code"')) throw new Error(text.slice(0, 500));
  return ms;
}

const UPSERT = `mutation ($items: [IdentifierItemInput!]!) { upsertIdentifiers(input: { items: $items }) { __typename ... on UpsertIdentifiersSuccess { updatedCount } ... on Error { code message } } }`;
let confidence = 0;
const upsert = () => {
  confidence = (confidence + 0.01) % 1;
  return gql(UPSERT, { items: items.map((r) => ({ userId: r.user_id, sourceKey: 'crm', identifierKey: r.identifier_key, identifierValue: r.identifier_value, discoveryMethod: 'MCP_TOOL', confidenceScore: +confidence.toFixed(2) })) });
};
const triggers = async (on: boolean) => {
  for (const t of TABLES) for (const e of ['insert', 'update', 'delete']) await client.query(`ALTER TABLE ${t} ${on ? 'ENABLE' : 'DISABLE'} TRIGGER ${t}_history_${e}`);
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const spread = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `${s[Math.floor(s.length / 4)]!.toFixed(1)}–${s[Math.floor((3 * s.length) / 4)]!.toFixed(1)}`;
};
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

console.log(`machine: uptime ${Math.round(uptime() / 3600)} h, load ${load()}`);
for (let i = 0; i < 3; i++) await upsert(); // warm-up
const timed: Record<'on' | 'off', number[]> = { on: [], off: [] };
for (let r = 0; r < rounds; r++) {
  for (const mode of r % 2 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
    await triggers(mode === 'on');
    await upsert();
    for (let i = 0; i < 3; i++) timed[mode].push(await upsert());
  }
}
await triggers(true);
const [on, off] = [median(timed.on), median(timed.off)];
console.log(`bulk upsert of 1,000 (${timed.on.length} each): triggers on ${on.toFixed(1)} ms (p25–p75 ${spread(timed.on)}), off ${off.toFixed(1)} ms (${spread(timed.off)}): ${(((on - off) / off) * 100).toFixed(1)} %`);
console.log(`load after the upserts: ${load()}`);

// resolve, the main benchmark's selection, now and as of a moment between the upserts above.
const RESOLVE = `query ($v: String!, $asOf: DateTime) { resolve(input: { identifier: { sourceKey: "crm", identifierKey: "owner_id", identifierValue: $v } }, asOf: $asOf) {
  user { id email name memberships { role organization { name } } identifiers(first: 100) { edges { node { identifierKey identifierValue source { key } } } } } } }`;
// Halfway through the upserts: every identifier has versions before and after it.
const { rows: [mid] } = await client.query(`SELECT min(valid_from) + (max(valid_from) - min(valid_from)) / 2 AS at FROM identifiers_history`);
const values = items.filter((r) => r.identifier_key === 'owner_id').map((r) => r.identifier_value);
const lat: Record<'now' | 'past', number[]> = { now: [], past: [] };
for (let i = 0; i < 20; i++) await gql(RESOLVE, { v: values[i % values.length], asOf: i % 2 ? mid.at.toISOString() : null });
for (let i = 0; i < resolves; i++) {
  const v = values[i % values.length];
  lat.now.push(await gql(RESOLVE, { v, asOf: null }));
  lat.past.push(await gql(RESOLVE, { v, asOf: mid.at.toISOString() }));
}
const versions = (await client.query(`SELECT count(*)::int AS n FROM identifiers_history WHERE id = $1`, [(await client.query('SELECT id FROM identifiers LIMIT 1')).rows[0].id])).rows[0].n;
console.log(`resolve (${resolves} each, ${versions} versions per identifier): now ${median(lat.now).toFixed(2)} ms (${spread(lat.now)}), as of ${median(lat.past).toFixed(2)} ms (${spread(lat.past)}): ${(median(lat.past) / median(lat.now)).toFixed(2)}×`);

// Storage: every update of a row adds one version.
await client.query('VACUUM ANALYZE identifiers_history');
const { rows: [size] } = await client.query(`SELECT pg_total_relation_size('identifiers_history')::float8 AS bytes, (SELECT count(*) FROM identifiers_history)::float8 AS rows`);
const perRow = size.bytes / size.rows;
console.log(`identifiers_history: ${size.rows} versions, ${(size.bytes / 2 ** 20).toFixed(1)} MiB with indexes: ${perRow.toFixed(0)} bytes per version, ${((perRow * 1e6) / 2 ** 20).toFixed(0)} MiB per million updates`);

await client.end();
await db.close();

// Loads a deterministic data set into PostgreSQL for benchmarks:
//   npm run bench:seed -- [--scale 1] [--database-url postgresql://…]
// Scale 1 is 1,000 organizations, 100,000 users, 200,000 memberships, 1,000,000
// identifiers and 200,000 identities; --scale 0.01 makes a small set for quick runs.
// Every organization has 200 members and 1,000 identifiers at any scale.
// Rows are generated inside PostgreSQL (generate_series), in chunks for the progress
// bar; ids derive from md5 of the row number and timestamps from it too, so every run
// of one scale yields the same data. Then VACUUM ANALYZE. Without --database-url (or
// BENCH_DATABASE_URL) it loads database igs_bench (scale 1; igs_bench_0_01 for scale
// 0.01 and so on) of the benchmark's own cluster.
import pg from 'pg';
import { loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db.ts';
import { benchDatabase, parseArgs } from './common.ts';

export interface SeedCounts {
  organizations: number;
  users: number;
  memberships: number;
  identifiers: number;
  identities: number;
}

export function countsFor(scale: number): SeedCounts {
  const organizations = Math.max(2, Math.round(1000 * scale));
  const users = Math.max(10, Math.round(100_000 * scale));
  return { organizations, users, memberships: users * 2, identifiers: users * 10, identities: Math.max(10, Math.round(200_000 * scale)) };
}

const KEYS = [
  // Five identifiers per membership, so ten per user.
  ['salesforce', 'owner_id', "'005' || lpad(to_hex(u), 12, '0')"],
  ['salesforce', 'employee_id', "'E' || lpad(u::text, 7, '0')"],
  ['slack', 'member_id', "'U' || upper(substr(md5('slack' || u), 1, 10))"],
  ['slack', 'user_email', "'user' || u || '@example.com'"],
  ['okta', 'subject', "'00u' || substr(md5('okta' || u), 1, 17)"],
] as const;

function progress(step: string, done: number, total: number, started: number) {
  const width = 30;
  const filled = Math.round((done / total) * width);
  const pct = `${Math.floor((done / total) * 100)}%`.padStart(4);
  process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct} ${step.padEnd(34)} ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/**
 * Two properties (a string and a number) on every other identity: what the identity
 * scenario reads. A data set seeded before they were added gets them on its next run.
 */
export function propertiesSql(counts: SeedCounts): string {
  return `INSERT INTO identity_properties (id, organization_id, identity_id, key, type, value, created_at, updated_at)
    SELECT md5('property' || i || '-' || p.key)::uuid, d.organization_id, d.id, p.key, p.type::"PropertyType", p.value, d.created_at, d.created_at
    FROM generate_series(2, ${counts.identities}, 2) i JOIN identities d ON d.id = md5('identity' || i)::uuid,
      LATERAL (VALUES ('department', 'STRING', to_jsonb('dept-' || (i % 17))), ('seniority', 'NUMBER', to_jsonb(i % 9))) p(key, type, value)
    ON CONFLICT DO NOTHING`;
}

/** The fixed instant every seeded timestamp counts from (row n is n milliseconds later). */
const EPOCH = "'2025-01-01T00:00:00Z'::timestamptz";
const at = (n: string) => `${EPOCH} + (${n}) * interval '1 millisecond'`;

/** The scale the database was last seeded with (recorded as a comment on the database), or null. */
export async function seededScale(url: string): Promise<number | null> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const row = (await client.query('SELECT shobj_description(oid, \'pg_database\') AS c FROM pg_database WHERE datname = current_database()')).rows[0];
    const m = /^bench seed scale=([\d.]+)$/.exec(row?.c ?? '');
    if (!m) return null;
    const users = await client.query('SELECT count(*)::int AS n FROM users').catch(() => ({ rows: [{ n: 0 }] }));
    return users.rows[0].n === countsFor(Number(m[1])).users ? Number(m[1]) : null;
  } finally {
    await client.end();
  }
}

export async function seed(url: string, scale: number, opts: { quiet?: boolean } = {}): Promise<SeedCounts> {
  const counts = countsFor(scale);
  const db = await openDatabase(loadConfig({ DATABASE_URL: url }), { migrate: true });
  await db.close();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  // Rows are consistent by construction: skip foreign-key triggers while loading.
  await client.query('SET session_replication_role = replica');
  await client.query('SET maintenance_work_mem = \'512MB\'');
  const o = counts.organizations;
  const half = Math.floor(o / 2);
  const u = counts.users;
  // Users are loaded in chunks of user numbers, so the bar moves while large tables load.
  const chunks = Math.max(1, Math.min(10, Math.ceil(u / 10_000)));
  const ranges = Array.from({ length: chunks }, (_, c) => [Math.floor((c * u) / chunks) + 1, Math.floor(((c + 1) * u) / chunks)] as const);
  const perUser = (name: string, sql: (from: number, to: number) => string): [string, string][] =>
    ranges.map(([from, to], c) => [`${name}${chunks > 1 ? ` ${c + 1}/${chunks}` : ''}`, sql(from, to)]);
  const steps: [string, string][] = [
    ['emptying', 'TRUNCATE organizations, users CASCADE'],
    [
      'organizations',
      `INSERT INTO organizations (id, slug, name, created_at, updated_at)
       SELECT md5('org' || i)::uuid, 'org-' || i, 'Organization ' || i, ${at('i')}, ${at('i')} FROM generate_series(1, ${o}) i`,
    ],
    ...perUser('users', (from, to) =>
      `INSERT INTO users (id, email, auth_subject, name, given_name, family_name, created_at, updated_at)
       SELECT md5('user' || i)::uuid, 'user' || i || '@example.com', 'bench|' || i, 'User ' || i, 'Given' || i, 'Family' || i, ${at('i')}, ${at('i')}
       FROM generate_series(${from}, ${to}) i`),
    ...perUser('memberships', (from, to) =>
      `INSERT INTO members (organization_id, user_id, role, state, created_at, updated_at)
       SELECT md5('org' || m.o)::uuid, md5('user' || i)::uuid,
              (CASE WHEN i % 50 = 0 THEN 'ORGANIZATION_ADMIN' ELSE 'ANALYST' END)::"MemberRole", 'ACTIVE', ${at('i')}, ${at('i')}
       FROM generate_series(${from}, ${to}) i, LATERAL (VALUES ((i % ${o}) + 1), (((i + ${half}) % ${o}) + 1)) m(o)`),
    [
      'integration sources',
      `INSERT INTO integration_sources (id, organization_id, kind, key, name, created_at, updated_at)
       SELECT md5('src' || o || '-' || k)::uuid, md5('org' || o)::uuid,
              (CASE WHEN k = 'okta' THEN 'IDENTITY_PROVIDER' ELSE 'INTEGRATION' END)::"SourceKind", k, initcap(k), ${at('o')}, ${at('o')}
       FROM generate_series(1, ${o}) o, unnest(ARRAY['salesforce', 'slack', 'okta']) k`,
    ],
    // Five identifiers per membership, so ten per user; one statement per chunk of users.
    ...perUser('identifiers', (from, to) =>
      `INSERT INTO identifiers (id, organization_id, user_id, source_id, identifier_key, identifier_value, value_kind, normalized_value, discovery_method, confidence_score, created_at, updated_at)
       SELECT md5('identifier' || u || '-' || m.o || '-' || k.n)::uuid, md5('org' || m.o)::uuid, md5('user' || u)::uuid, md5('src' || m.o || '-' || k.source)::uuid, k.key, k.value,
              identifier_value_kind(k.key, k.value), normalised_identifier_value(identifier_value_kind(k.key, k.value), k.value),
              (CASE u % 3 WHEN 0 THEN 'MCP_TOOL' WHEN 1 THEN 'LLM_DISCOVERY' ELSE 'MANUAL' END)::"DiscoveryMethod",
              CASE WHEN u % 3 = 1 THEN round(((u % 100) / 100.0)::numeric, 2)::float8 ELSE NULL END,
              ${at('u * 10 + k.n')}, ${at('u * 10 + k.n')}
       FROM generate_series(${from}, ${to}) u,
            LATERAL (VALUES ((u % ${o}) + 1), (((u + ${half}) % ${o}) + 1)) m(o),
            LATERAL (VALUES ${KEYS.map(([source, key, value], n) => `(${n}, '${source}', '${key}', ${value})`).join(', ')}) k(n, source, key, value)`),
    [
      'identities',
      `INSERT INTO identities (id, organization_id, identifier_key, identity_type, name, email, phone_number, source_id, external_id, external_email, external_email_verified, user_id, linked_by, linked_at, created_at, updated_at)
       SELECT md5('identity' || i)::uuid, md5('org' || ((i % ${o}) + 1))::uuid, 'identity-' || i,
              (CASE i % 10 WHEN 0 THEN 'ORG' WHEN 1 THEN 'OTHER' ELSE 'USER' END)::"IdentityType",
              'Identity ' || i,
              CASE WHEN i % 2 = 0 THEN 'identity' || i || '@example.com' END,
              CASE WHEN i % 4 = 0 THEN '+1555' || lpad(i::text, 7, '0') END,
              CASE WHEN i % 3 = 0 THEN md5('src' || ((i % ${o}) + 1) || '-okta')::uuid END,
              CASE WHEN i % 3 = 0 THEN 'okta-' || i END,
              CASE WHEN i % 3 = 0 THEN 'identity' || i || '@example.com' END,
              i % 3 = 0,
              CASE WHEN i % 5 = 0 AND i <= ${u} THEN md5('user' || i)::uuid END,
              (CASE WHEN i % 5 = 0 AND i <= ${u} THEN 'MANUAL' END)::"LinkedBy",
              CASE WHEN i % 5 = 0 AND i <= ${u} THEN ${at('i')} END,
              ${at('i')}, ${at('i')}
       FROM generate_series(1, ${counts.identities}) i`,
    ],
    ['identity properties', propertiesSql(counts)],
    ['vacuum analyze', 'VACUUM ANALYZE'],
    ['recording the scale', `COMMENT ON DATABASE "${(await client.query('SELECT current_database() AS d')).rows[0].d}" IS 'bench seed scale=${scale}'`],
  ];
  const started = performance.now();
  const show = opts.quiet ? () => {} : progress;
  for (let i = 0; i < steps.length; i++) {
    const [name, sql] = steps[i]!;
    show(name, i, steps.length, started);
    await client.query(sql);
  }
  show('done', steps.length, steps.length, started);
  if (!opts.quiet) process.stderr.write('\n');
  await client.end();
  return counts;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = parseArgs(process.argv.slice(2));
  const scale = Number(args.scale ?? '1');
  const { databaseForScale } = await import('./postgres.ts');
  const database = args['database-url'] ? { url: args['database-url'], stop() {} } : await benchDatabase(undefined, databaseForScale(scale));
  const started = performance.now();
  const counts = await seed(database.url, scale);
  console.log(`Seeded scale ${scale} in ${((performance.now() - started) / 1000).toFixed(1)} s:`, counts);
  database.stop();
}

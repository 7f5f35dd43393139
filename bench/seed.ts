// Loads a deterministic data set into PostgreSQL for benchmarks:
//   npm run bench:seed -- [--scale 1] [--database-url postgresql://…]
// Scale 1 is 1,000 organizations, 100,000 users, 200,000 memberships, 1,000,000
// identifiers and 200,000 identities; --scale 0.01 makes a small set for quick runs.
// Rows are generated inside PostgreSQL (generate_series), ids derive from md5 of the
// row number, so every run of one scale yields the same data.
import pg from 'pg';
import { loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db.ts';
import { benchDatabaseUrl, parseArgs } from './common.ts';

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

function progress(step: string, i: number, total: number, started: number) {
  const width = 30;
  const done = Math.round((i / total) * width);
  process.stderr.write(`\r[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${i}/${total} ${step.padEnd(40)} ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

export async function seed(url: string, scale: number): Promise<SeedCounts> {
  const counts = countsFor(scale);
  const db = await openDatabase(loadConfig({ DATABASE_URL: url }), { migrate: true });
  await db.close();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  // Rows are consistent by construction: skip foreign-key triggers while loading.
  await client.query('SET session_replication_role = replica');
  const o = counts.organizations;
  const steps: [string, string][] = [
    ['emptying', 'TRUNCATE organizations, users CASCADE'],
    [
      'organizations',
      `INSERT INTO organizations (id, slug, name) SELECT md5('org' || i)::uuid, 'org-' || i, 'Organization ' || i FROM generate_series(1, ${o}) i`,
    ],
    [
      'users',
      `INSERT INTO users (id, email, auth_subject, name, given_name, family_name)
       SELECT md5('user' || i)::uuid, 'user' || i || '@example.com', 'bench|' || i, 'User ' || i, 'Given' || i, 'Family' || i
       FROM generate_series(1, ${counts.users}) i`,
    ],
    [
      'memberships',
      `INSERT INTO members (organization_id, user_id, role, state)
       SELECT md5('org' || m.o)::uuid, md5('user' || i)::uuid,
              (CASE WHEN i % 50 = 0 THEN 'ORGANIZATION_ADMIN' ELSE 'ANALYST' END)::"MemberRole", 'ACTIVE'
       FROM generate_series(1, ${counts.users}) i, LATERAL (VALUES ((i % ${o}) + 1), (((i + ${Math.floor(o / 2)}) % ${o}) + 1)) m(o)`,
    ],
    [
      'integration sources',
      `INSERT INTO integration_sources (id, organization_id, kind, key, name)
       SELECT md5('src' || o || '-' || k)::uuid, md5('org' || o)::uuid,
              (CASE WHEN k = 'okta' THEN 'IDENTITY_PROVIDER' ELSE 'INTEGRATION' END)::"SourceKind", k, initcap(k)
       FROM generate_series(1, ${o}) o, unnest(ARRAY['salesforce', 'slack', 'okta']) k`,
    ],
    ...KEYS.map(([source, key, value]): [string, string] => [
      `identifiers ${source}.${key}`,
      `INSERT INTO identifiers (organization_id, user_id, source_id, identifier_key, identifier_value, discovery_method, confidence_score)
       SELECT md5('org' || m.o)::uuid, md5('user' || u)::uuid, md5('src' || m.o || '-${source}')::uuid, '${key}', ${value},
              (CASE u % 3 WHEN 0 THEN 'MCP_TOOL' WHEN 1 THEN 'LLM_DISCOVERY' ELSE 'MANUAL' END)::"DiscoveryMethod",
              CASE WHEN u % 3 = 1 THEN round(((u % 100) / 100.0)::numeric, 2)::float8 ELSE NULL END
       FROM generate_series(1, ${counts.users}) u, LATERAL (VALUES ((u % ${o}) + 1), (((u + ${Math.floor(o / 2)}) % ${o}) + 1)) m(o)`,
    ]),
    [
      'identities',
      `INSERT INTO identities (organization_id, identifier_key, identity_type, name, email, phone_number, source_id, external_id, external_email, external_email_verified, user_id, linked_by, linked_at)
       SELECT md5('org' || ((i % ${o}) + 1))::uuid, 'identity-' || i,
              (CASE i % 10 WHEN 0 THEN 'ORG' WHEN 1 THEN 'OTHER' ELSE 'USER' END)::"IdentityType",
              'Identity ' || i,
              CASE WHEN i % 2 = 0 THEN 'identity' || i || '@example.com' END,
              CASE WHEN i % 4 = 0 THEN '+1555' || lpad(i::text, 7, '0') END,
              CASE WHEN i % 3 = 0 THEN md5('src' || ((i % ${o}) + 1) || '-okta')::uuid END,
              CASE WHEN i % 3 = 0 THEN 'okta-' || i END,
              CASE WHEN i % 3 = 0 THEN 'identity' || i || '@example.com' END,
              i % 3 = 0,
              CASE WHEN i % 5 = 0 AND i <= ${counts.users} THEN md5('user' || i)::uuid END,
              (CASE WHEN i % 5 = 0 AND i <= ${counts.users} THEN 'MANUAL' END)::"LinkedBy",
              CASE WHEN i % 5 = 0 AND i <= ${counts.users} THEN now() END
       FROM generate_series(1, ${counts.identities}) i`,
    ],
    ['vacuum analyze', 'VACUUM ANALYZE'],
  ];
  const started = performance.now();
  for (let i = 0; i < steps.length; i++) {
    const [name, sql] = steps[i]!;
    progress(name, i, steps.length, started);
    await client.query(sql);
  }
  progress('done', steps.length, steps.length, started);
  process.stderr.write('\n');
  await client.end();
  return counts;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = parseArgs(process.argv.slice(2));
  const scale = Number(args.scale ?? '1');
  const url = args['database-url'] ?? (await benchDatabaseUrl());
  const started = performance.now();
  const counts = await seed(url, scale);
  console.log(`Seeded scale ${scale} in ${((performance.now() - started) / 1000).toFixed(1)} s:`, counts);
}

// `npm run bench:webhooks`: what an enabled webhook endpoint costs the bulk write. Runs
// the benchmark's bulk upsert (1,000 new identifiers through GraphQL, in process)
// alternately with the organization's endpoint disabled and enabled (no worker runs,
// so only queueing the 1,000 deliveries is measured), and prints the medians. Each run
// writes to a user of its own, as a real batch spreads over many people (one user
// holding every run's identifiers makes each run slower than the one before), and the
// order within a pair alternates, so neither arm always runs on the larger tables.
import { SignJWT } from 'jose';
import { loadConfig } from '../src/config.ts';
import { openDatabase, useDatabase } from '../src/db.ts';
import { createApp } from '../src/yoga.ts';
import { benchDatabase, parseArgs } from './common.ts';

const args = parseArgs(process.argv.slice(2));
const runs = Number(args.runs ?? 7);
const SECRET = 'webhook-bench-secret-of-at-least-32-bytes';
const { url, stop } = await benchDatabase();
const db = await openDatabase(loadConfig({ DATABASE_URL: url }), { migrate: true });
useDatabase(db);
const prisma = db.prisma;
const app = createApp({ config: loadConfig({ NODE_ENV: 'test', JWT_SECRET: SECRET, RATE_LIMIT_PER_CREDENTIAL: '0', RATE_LIMIT_PER_ORGANIZATION: '0', LOG_LEVEL: 'warn' }) });

const tag = Date.now().toString(36);
const organization = await prisma.organization.create({ data: { slug: `webhook-bench-${tag}`, name: 'webhook bench' } });
const user = await prisma.user.create({ data: { email: `webhook-bench-${tag}@example.com`, authSubject: `bench|${tag}`, name: 'bench' } });
await prisma.member.create({ data: { organizationId: organization.id, userId: user.id, role: 'ORGANIZATION_ADMIN', state: 'ACTIVE' } });
await prisma.integrationSource.create({ data: { organizationId: organization.id, kind: 'INTEGRATION', key: 'salesforce', name: 'Salesforce' } });
const endpoint = await prisma.webhookEndpoint.create({
  data: { organizationId: organization.id, url: 'http://127.0.0.1:9/hook', secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', enabled: false },
});
const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(user.authSubject!).setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));
const BULK = `mutation ($input: UpsertIdentifiersInput!) { upsertIdentifiers(input: $input) { __typename ... on UpsertIdentifiersSuccess { createdCount } } }`;

async function upsert(run: string): Promise<number> {
  const holder = await prisma.user.create({ data: { email: `webhook-bench-${tag}-${run}@example.com`, name: run } });
  await prisma.member.create({ data: { organizationId: organization.id, userId: holder.id, role: 'ANALYST', state: 'ACTIVE' } });
  const items = Array.from({ length: 1000 }, (_, i) => ({
    userEmail: holder.email, sourceKey: 'salesforce', identifierKey: `key_${run}_${i}`, identifierValue: `v_${run}_${i}`,
    discoveryMethod: 'MCP_TOOL', confidenceScore: 0.9, discoveryMetadata: { tool: 'bench' },
  }));
  const started = performance.now();
  const response = await app.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: BULK, variables: { input: { organizationId: organization.id, items } } }),
  });
  const body = (await response.json()) as { data?: { upsertIdentifiers?: { createdCount?: number } } };
  const ms = performance.now() - started;
  if (body.data?.upsertIdentifiers?.createdCount !== 1000) throw new Error(`unexpected answer: ${JSON.stringify(body)}`);
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const without: number[] = [];
const withEndpoint: number[] = [];
await upsert('warmup');
const run = async (enabled: boolean, i: number) => {
  await prisma.webhookEndpoint.update({ where: { id: endpoint.id }, data: { enabled } });
  (enabled ? withEndpoint : without).push(await upsert(`${enabled ? 'on' : 'off'}${i}`));
};
for (let i = 0; i < runs; i++) {
  await prisma.$executeRawUnsafe('ANALYZE');
  await run(i % 2 === 1, i);
  await run(i % 2 === 0, i);
}
const queued = await prisma.webhookDelivery.count({ where: { endpointId: endpoint.id } });
console.log(`bulk upsert of 1,000 identifiers, ${runs} runs each (ms): without endpoint ${without.map((x) => x.toFixed(0)).join(', ')}`);
console.log(`  with an enabled endpoint ${withEndpoint.map((x) => x.toFixed(0)).join(', ')}; ${queued} deliveries queued`);
console.log(`median without ${median(without).toFixed(0)} ms, with ${median(withEndpoint).toFixed(0)} ms: ${((median(withEndpoint) / median(without) - 1) * 100).toFixed(1)} %`);
await prisma.organization.delete({ where: { id: organization.id } });
await db.close();
stop();

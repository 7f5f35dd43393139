// Throughput of one server process against two, on one PostgreSQL primary with one
// streaming replica (README, "Scaling"). Both arms go through the same loopback
// round-robin proxy (to one process, or to two), alternated run by run, under a mixed
// load: 9 in 10 requests read an organization with a page of 20 members (served by
// the replica), 1 in 10 renames it (on the primary).
//   npm run bench:instances -- [--runs 5] [--duration 5] [--connections 16]
import { loadConfig } from '../src/config.ts';
import { openDatabase, useDatabase } from '../src/db.ts';
import { globalId, tokenFor } from '../test/helpers/app.ts';
import { aMember, anOrganization, aUser } from '../test/helpers/factories.ts';
import { startRoundRobinProxy, type Proxy } from '../test/helpers/replica-proxy.ts';
import { replicaUnavailable, startReplicaPair } from '../test/helpers/replica.ts';
import { startServer, type ServerProcess } from '../test/helpers/server-process.ts';
import { parseArgs } from './common.ts';
import { runLoad, summarize } from './load.ts';

const args = parseArgs(process.argv.slice(2));
const runs = Number(args.runs ?? 5);
const durationMs = Number(args.duration ?? 5) * 1000;
const connections = Number(args.connections ?? 16);
const log = (line: string) => process.stderr.write(`${line}\n`);

const unavailable = replicaUnavailable();
if (unavailable) {
  log(`Cannot run: ${unavailable}.`);
  process.exit(2);
}

const pair = await startReplicaPair();
const db = await openDatabase(loadConfig({ DATABASE_URL: pair.primary.url, NODE_ENV: 'test' }), { migrate: true }).catch((err: unknown) => {
  pair.destroy();
  throw err;
});
const results: Record<'one' | 'two', { rps: number; p50: number; errors: number }[]> = { one: [], two: [] };
const servers: ServerProcess[] = [];
const proxies: Proxy[] = [];
// Whatever fails, the processes and the clusters this run started are stopped.
try {
  useDatabase(db);
  const organization = await anOrganization();
  const admin = await aUser();
  await aMember(organization.id, admin.id, { role: 'ORGANIZATION_ADMIN' });
  for (let i = 0; i < 40; i++) await aMember(organization.id, (await aUser()).id, { role: 'ANALYST' });
  await pair.replica.catchUp();

  const env = {
    DATABASE_URL: pair.primary.url,
    DATABASE_REPLICA_URLS: pair.replica.url,
    RATE_LIMIT_PER_CREDENTIAL: '0',
    RATE_LIMIT_PER_ORGANIZATION: '0',
    REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
  };
  // One first, so that a bundle of the sources is built once.
  servers.push(await startServer(env));
  servers.push(await startServer(env));
  const one = await startRoundRobinProxy([servers[0]!.url]);
  const two = await startRoundRobinProxy(servers.map((s) => s.url));
  proxies.push(one, two);

  const id = globalId('Organization', organization.id);
  const headers = {
    'content-type': 'application/json',
    authorization: `Bearer ${await tokenFor(admin.authSubject!)}`,
    'x-organization-id': organization.id,
  };
  const READ = JSON.stringify({
    query: 'query ($id: ID!) { organization(id: $id) { name members(first: 20) { edges { node { role user { email } } } } } }',
    variables: { id },
  });
  let n = 0;
  const next = () => {
    n++;
    if (n % 10 === 0) {
      return { headers, body: JSON.stringify({ query: 'mutation ($input: UpdateOrganizationInput!) { updateOrganization(input: $input) { __typename } }', variables: { input: { id, name: `Name ${n}` } } }) };
    }
    return { headers, body: READ, check: (json: unknown) => ((json as { errors?: unknown }).errors ? JSON.stringify((json as { errors: unknown }).errors) : null) };
  };

  // Warm-up of both processes.
  await runLoad(two.url, { connections, durationMs: 2000, next });
  for (let r = 0; r < runs; r++) {
    for (const [name, proxy] of (r % 2 ? [['two', two], ['one', one]] : [['one', one], ['two', two]]) as ['one' | 'two', Proxy][]) {
      const s = summarize(await runLoad(proxy.url, { connections, durationMs, next }));
      results[name].push({ rps: s.rps, p50: s.p50, errors: s.errors });
      log(`run ${r + 1} ${name}: ${s.rps} requests/s, p50 ${s.p50} ms, ${s.errors} errors${s.firstErrors.length ? ` ${s.firstErrors.join('; ')}` : ''}`);
    }
  }
} finally {
  await Promise.all(proxies.map((p) => p.close()));
  await Promise.all(servers.map((s) => s.stop()));
  await db.close();
  pair.destroy();
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const name of ['one', 'two'] as const) {
  const rps = results[name].map((x) => x.rps);
  console.log(
    `${name === 'one' ? 'one process ' : 'two processes'}: median ${median(rps)} requests/s (${Math.min(...rps)}–${Math.max(...rps)} over ${runs} runs), ` +
      `median p50 ${median(results[name].map((x) => x.p50))} ms, ${results[name].reduce((a, x) => a + x.errors, 0)} errors`,
  );
}

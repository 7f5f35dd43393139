import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, describe, expect, it } from 'vitest';
import { globalId, TEST_JWT_SECRET, tokenFor } from './helpers/app.ts';

// `npm start` as a user runs it: a real process on the embedded database in a data
// folder, answering on a port, keeping its data across restarts. (*.embedded.test.ts
// files run in the embedded project only: this is what `npm start` uses.)

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function start(dataDir: string): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: {
      ...process.env,
      NODE_ENV: 'development',
      PORT: '0',
      PGLITE_DATA_DIR: dataDir,
      DATABASE_URL: '',
      JWT_SECRET: TEST_JWT_SECRET,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL within 60 s:\n${out}`)), 60_000);
    child.stdout!.on('data', () => {
      const m = /(http:\/\/\S+\/graphql)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('exit', (code) => reject(new Error(`exited with ${code}:\n${out}`)));
  });
  return { child, url, output: () => out };
}

async function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.on('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

const post = (url: string, query: string, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query }),
  }).then((r) => r.json());

describe('npm start', () => {
  it('migrates a new data folder, serves GraphQL and GraphiQL, exits 0 on SIGTERM, and keeps its data on restart', async () => {
    const dataDir = path.join(await mkdtemp(path.join(os.tmpdir(), 'igs-start-')), 'pglite');
    dirs.push(path.dirname(dataDir));

    const first = await start(dataDir);
    expect(first.output()).toContain('Applied migration');
    expect(await post(first.url, '{ __typename }')).toEqual({ data: { __typename: 'Query' } });
    const page = await fetch(first.url, { headers: { accept: 'text/html' } });
    expect(await page.text()).toContain('GraphiQL');
    expect(await stop(first.child)).toBe(0);

    // Data left in the folder while the server is down is served after a restart.
    const pglite = await PGlite.create(dataDir);
    const { rows } = await pglite.query<{ id: string }>(
      "INSERT INTO organizations (slug, name) VALUES ('kept', 'Kept') RETURNING id",
    );
    const orgId = rows[0]!.id;
    await pglite.query(
      `WITH u AS (INSERT INTO users (email, auth_subject) VALUES ('kept@example.com', 'kept') RETURNING id)
       INSERT INTO members (organization_id, user_id, role, state) SELECT '${orgId}', id, 'ANALYST', 'ACTIVE' FROM u`,
    );
    await pglite.close();

    const second = await start(dataDir);
    expect(second.output()).not.toContain('Applied migration');
    const answer = await post(second.url, `{ node(id: "${globalId('Organization', orgId)}") { ... on Organization { slug } } }`, {
      authorization: `Bearer ${await tokenFor('kept')}`,
    });
    expect(answer).toEqual({ data: { node: { slug: 'kept' } } });
    expect(await stop(second.child)).toBe(0);
  }, 120_000);
});

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, describe, expect, it } from 'vitest';
import { globalId, tokenFor } from './helpers/app.ts';
import { startServer } from './helpers/server-process.ts';

// `npm start` as a user runs it: a real process on the embedded database in a data
// folder, answering on a port, keeping its data across restarts. (*.embedded.test.ts
// files run in the embedded project only: this is what `npm start` uses.)

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

// The same process `npm start` runs, on the embedded database in `dataDir`.
const start = (dataDir: string) => startServer({ PGLITE_DATA_DIR: dataDir, LOG_LEVEL: 'info' });

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
    expect(await first.stop()).toBe(0);

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
    expect(await second.stop()).toBe(0);
  }, 120_000);
});

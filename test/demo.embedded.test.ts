import { readFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Kind, parse } from 'graphql';
import { afterAll, describe, expect, it } from 'vitest';
import { startServer, type ServerProcess } from './helpers/server-process.ts';

// The first five minutes: a fresh clone's `npm start` loads the demo organization,
// GraphiQL opens acting as its admin, and every example operation, run in order with
// its default variables as a person pressing run would, answers with data.

let dir: string;
let server: ServerProcess | undefined;
afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The headers GraphiQL's page opens with. */
async function graphiqlHeaders(url: string): Promise<Record<string, string>> {
  const page = await (await fetch(url, { headers: { accept: 'text/html' } })).text();
  // The page hands GraphiQL its options as one JSON object after the root element.
  const options = /renderYogaGraphiQL\(\s*window\.document\.querySelector\('#root'\),\s*(\{.*\}),\s*\);/s.exec(page)?.[1];
  const headers = options && (JSON.parse(options) as { headers?: string }).headers;
  if (!headers) throw new Error('GraphiQL opens without headers');
  return JSON.parse(headers) as Record<string, string>;
}

async function run(url: string, headers: Record<string, string>, query: string, operationName: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, operationName }),
  });
  return (await response.json()) as { data?: Record<string, any>; errors?: unknown[] };
}

describe('a first development start', () => {
  it('loads the demo once, opens GraphiQL as its admin, and answers every example operation with data', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'igs-demo-'));
    const env = { NODE_ENV: 'development', JWT_SECRET: '', PGLITE_DATA_DIR: path.join(dir, 'pglite'), DEMO_DATA: 'true' };
    server = await startServer(env);
    expect(server.output()).toContain('Loaded the demo organization');
    const headers = await graphiqlHeaders(server.url);
    expect(Object.keys(headers)).toEqual(['Authorization', 'X-Organization-ID']);

    const examples = await readFile('examples/operations.graphql', 'utf8');
    const names = parse(examples).definitions.flatMap((d) => (d.kind === Kind.OPERATION_DEFINITION && d.name ? [d.name.value] : []));
    expect(names.length).toBeGreaterThanOrEqual(4);
    const answers: Record<string, Record<string, any>> = {};
    for (const name of names) {
      const answer = await run(server.url, headers, examples, name);
      expect(answer.errors, `${name}: ${JSON.stringify(answer.errors)}`).toBeUndefined();
      answers[name] = answer.data!;
    }
    expect(answers.WhoIsThis!.resolve.user.email).toBe('ada.lovelace@demo.test');
    expect(answers.OrganizationMembers!.organization.members.totalCount).toBeGreaterThan(25);
    expect(answers.UpsertIdentifier!.upsertIdentifier.__typename).toBe('UpsertIdentifierSuccess');
    expect(answers.DuplicateCandidates!.matchCandidates.map((c: any) => c.user?.email)).toContain('ada.king@demo.test');
    expect(answers.DuplicateCandidates!.matchCandidates.find((c: any) => c.user?.email === 'ada.king@demo.test').suggestion.state).toBe('SUGGESTED');

    // A restart finds the demo and loads nothing again.
    expect(await server.stop()).toBe(0);
    server = await startServer(env);
    expect(server.output()).toContain('The demo organization is here');
    const again = await run(server.url, await graphiqlHeaders(server.url), examples, 'OrganizationMembers');
    expect(again.data?.organization.members.totalCount).toBe(answers.OrganizationMembers!.organization.members.totalCount);
  }, 180_000);

  it('loads nothing with DEMO_DATA=false, and GraphiQL opens without headers', async () => {
    const own = await mkdtemp(path.join(os.tmpdir(), 'igs-nodemo-'));
    const plain = await startServer({ NODE_ENV: 'development', JWT_SECRET: '', PGLITE_DATA_DIR: path.join(own, 'pglite'), DEMO_DATA: 'false' });
    try {
      expect(plain.output()).not.toContain('demo organization');
      await expect(graphiqlHeaders(plain.url)).rejects.toThrow(/without headers/);
    } finally {
      await plain.stop();
      await rm(own, { recursive: true, force: true });
    }
  }, 120_000);
});

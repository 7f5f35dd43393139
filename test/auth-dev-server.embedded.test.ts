import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { startServer, type ServerProcess } from './helpers/server-process.ts';
import { aMigratedFolder } from './helpers/migrated-folder.ts';

// The development sign-in as a developer meets it: `npm start` on the embedded
// database generates a secret and says how to get a token; `npm run token` (here the
// same script) creates the user and membership, through the running server, and
// prints headers to paste into GraphiQL; the token works there and after a restart.

const run = promisify(execFile);
let dir: string;
let server: ServerProcess | undefined;

afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function token(env: Record<string, string>, ...args: string[]) {
  const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'scripts/token.ts', ...args], {
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  return { stdout, stderr, output: stdout + stderr };
}

/** The headers JSON block the script prints for GraphiQL. */
function pastedHeaders(output: string): Record<string, string> {
  const json = /\{\n[\s\S]*?\n\}/.exec(output)?.[0];
  if (!json) throw new Error(`no headers in:\n${output}`);
  return JSON.parse(json) as Record<string, string>;
}

async function call(url: string, headers: Record<string, string>, query: string) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query }) });
  return (await response.json()) as { data?: Record<string, any>; errors?: { extensions?: { code?: string } }[] };
}

describe('development tokens end to end', () => {
  it('npm start generates a secret and says how to get a token; npm run token works with the server running and after a restart', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'igs-dev-'));
    const env = { NODE_ENV: 'development', JWT_SECRET: '', DATABASE_URL: '', PGLITE_DATA_DIR: await aMigratedFolder(path.join(dir, 'pglite')) };
    server = await startServer(env);
    expect(server.output()).toContain(`JWT_SECRET is not set: generated a development secret in ${path.join(dir, 'dev-jwt-secret')}`);
    expect(server.output()).toContain('npm run token -- --email');
    const secret = (await readFile(path.join(dir, 'dev-jwt-secret'), 'utf8')).trim();
    expect(secret.length).toBeGreaterThanOrEqual(43);

    // The server holds the embedded database: the script goes through it.
    const { output, stdout } = await token(env, '--email', 'ada@example.com', '--org', 'acme');
    // stdout has the token alone, so scripts can capture it; the rest is on stderr.
    expect(stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    expect(output).toMatch(/ORGANIZATION_ADMIN of acme/);
    const headers = pastedHeaders(output);
    expect(Object.keys(headers)).toEqual(['Authorization', 'X-Organization-ID']);
    const me = await call(server.url, headers, '{ viewer { email } }');
    expect(me).toEqual({ data: { viewer: { email: 'ada@example.com' } } });
    const key = await call(server.url, headers, 'mutation { createApiKey(input: { name: "dev" }) { __typename } }');
    expect(key.data?.createApiKey.__typename).toBe('CreateApiKeySuccess');

    // GraphiQL is served, and the page tells where to paste the header.
    const page = await fetch(server.url, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Authorization');

    // Stopped: the script opens the database itself; the secret survives the restart.
    expect(await server.stop()).toBe(0);
    const analyst = pastedHeaders((await token(env, '--email', 'ada@example.com', '--org', 'acme', '--role', 'ANALYST')).output);
    server = await startServer(env);
    expect(server.output()).toContain('using the development secret in');
    expect(await call(server.url, headers, '{ viewer { email } }')).toEqual({ data: { viewer: { email: 'ada@example.com' } } });
    const refused = await call(server.url, analyst, 'mutation { createApiKey(input: { name: "dev" }) { __typename } }');
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    // --quiet prints the token alone, for scripts.
    const quiet = await token(env, '--email', 'ada@example.com', '--org', 'acme', '--quiet');
    expect(quiet.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    expect(quiet.stderr).toBe('');
  }, 180_000);
});

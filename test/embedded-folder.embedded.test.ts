import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { FolderInUseError, lockFileOf } from '../src/db/folder-lock.ts';
import { openDatabase } from '../src/db.ts';
import { tokenFor } from './helpers/app.ts';
import { nodeArgsOf, startServer, type ServerProcess } from './helpers/server-process.ts';
import { aMigratedFolder } from './helpers/migrated-folder.ts';

// The embedded database's folder is opened by one process at a time: `npm run import`
// while the server runs loads through the server (its rows are the server's rows, and
// stay after a restart), and a second server on the folder is refused, naming the first.

const run = promisify(execFile);
const LINES = 2_000;
let dir: string;
let folder: string;
let server: ServerProcess | undefined;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'identity-folder-'));
  folder = path.join(dir, 'db');
  const db = await openDatabase(loadConfig({ PGLITE_DATA_DIR: await aMigratedFolder(folder) }));
  const organization = await db.prisma.organization.create({ data: { slug: 'acme', name: 'Acme' } });
  const user = await db.prisma.user.create({ data: { email: 'ana@example.com', authSubject: 'auth|ana' } });
  await db.prisma.member.create({ data: { organizationId: organization.id, userId: user.id, state: 'ACTIVE', role: 'ORGANIZATION_ADMIN' } });
  await db.prisma.integrationSource.create({ data: { organizationId: organization.id, kind: 'INTEGRATION', key: 'crm', name: 'CRM' } });
  await db.close();
});

afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

const env = () => ({ PGLITE_DATA_DIR: folder, DATABASE_URL: '', NODE_ENV: 'development' });

async function importCommand(file: string) {
  try {
    const { stdout, stderr } = await run(process.execPath, [...nodeArgsOf('import'), '--org', 'acme', file], {
      env: { ...process.env, ...env(), JWT_SECRET: 'test-secret-of-at-least-thirty-two-bytes!' },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function identifierCount(url: string): Promise<number> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${await tokenFor('auth|ana')}` },
    body: JSON.stringify({ query: '{ organization(slug: "acme") { identifiers(first: 1) { totalCount } } }' }),
  });
  const body = (await response.json()) as { data?: { organization?: { identifiers: { totalCount: number } } }; errors?: unknown };
  if (!body.data?.organization) throw new Error(JSON.stringify(body));
  return body.data.organization.identifiers.totalCount;
}

describe('the embedded database folder', () => {
  it('import while the server runs goes through the server: every row is visible there and still there after a restart', async () => {
    server = await startServer(env());
    const file = path.join(dir, 'data.ndjson');
    const line = (i: number) =>
      JSON.stringify({ kind: 'identifier', userEmail: 'ana@example.com', sourceKey: 'crm', identifierKey: `key_${i}`, identifierValue: `v${i}`, discoveryMethod: 'MANUAL' });
    await writeFile(file, Array.from({ length: LINES }, (_, i) => line(i)).join('\n'));

    const imported = await importCommand(file);
    expect(imported.stderr).toContain('holds the embedded database; it loads the file');
    expect(imported.stdout).toContain(`identifiers: ${LINES.toLocaleString('en')} created`);
    expect(imported.code).toBe(0);
    expect(await identifierCount(server.url)).toBe(LINES);

    expect(await server.stop()).toBe(0);
    server = await startServer(env());
    expect(await identifierCount(server.url)).toBe(LINES);
  }, 180_000);

  it('a second server, or any process opening the folder, is refused with the holder named', async () => {
    server ??= await startServer(env());
    const pid = server.child.pid!;
    const second = await startServer(env()).then(
      (s) => s.stop().then(() => 'started'),
      (err: Error) => err.message,
    );
    expect(second).toMatch(/^exited with 1:/);
    expect(second).toContain(`The embedded database in ${folder} is in use by process ${pid} (the server at http://127.0.0.1:`);
    await expect(openDatabase(loadConfig({ PGLITE_DATA_DIR: folder }))).rejects.toThrow(FolderInUseError);
    // The first server still serves.
    expect(await identifierCount(server.url)).toBe(LINES);
  }, 120_000);

  it('a lock left by a process that died is taken over', async () => {
    await server?.stop();
    server = undefined;
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    await writeFile(lockFileOf(folder), JSON.stringify({ pid: Number(dead.stdout), url: 'http://127.0.0.1:1' }));
    const db = await openDatabase(loadConfig({ PGLITE_DATA_DIR: folder }));
    try {
      expect(await db.prisma.identifier.count()).toBe(LINES);
    } finally {
      await db.close();
    }
  }, 60_000);
});

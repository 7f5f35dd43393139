import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db.ts';
import { nodeArgsOf } from './helpers/server-process.ts';
import { aMigratedFolder } from './helpers/migrated-folder.ts';

// `npm run import` as a process, on an embedded database in a folder of its own.

const run = promisify(execFile);
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'identity-import-cli-'));
  const db = await openDatabase(loadConfig({ PGLITE_DATA_DIR: await aMigratedFolder(path.join(dir, 'db')) }));
  const organization = await db.prisma.organization.create({ data: { slug: 'acme', name: 'Acme' } });
  const user = await db.prisma.user.create({ data: { email: 'ana@example.com' } });
  await db.prisma.member.create({ data: { organizationId: organization.id, userId: user.id, state: 'ACTIVE' } });
  await db.prisma.integrationSource.create({ data: { organizationId: organization.id, kind: 'INTEGRATION', key: 'crm', name: 'CRM' } });
  await db.close();
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function importCommand(...args: string[]) {
  try {
    const { stdout, stderr } = await run(process.execPath, [...nodeArgsOf('import'), ...args], {
      env: { ...process.env, PGLITE_DATA_DIR: path.join(dir, 'db'), DATABASE_URL: '', LOG_LEVEL: 'silent' },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('npm run import', () => {
  it('loads the good lines, prints the summary and progress, and exits 1 when a line was rejected', async () => {
    const file = path.join(dir, 'data.ndjson');
    const line = (key: string, value: string) =>
      JSON.stringify({ kind: 'identifier', userEmail: 'ana@example.com', sourceKey: 'crm', identifierKey: key, identifierValue: value, discoveryMethod: 'MANUAL' });
    await writeFile(file, [line('owner_id', '005A'), line('email', ''), line('employee_id', 'E1')].join('\n'));

    const first = await importCommand('--org', 'acme', file);
    expect(first.code).toBe(1);
    expect(first.stdout).toContain('identifiers: 2 created, 0 updated, 0 unchanged');
    expect(first.stdout).toContain('rejected:    1\n    line 2: identifierValue: must not be blank');
    expect(first.stderr).toContain('100%');

    const again = await importCommand('--org', 'acme', file);
    expect(again.stdout).toContain('identifiers: 0 created, 0 updated, 2 unchanged');

    await writeFile(file, line('owner_id', '005B'));
    const fixed = await importCommand('--org=acme', file);
    expect(fixed.code).toBe(0);
    expect(fixed.stdout).toContain('identifiers: 0 created, 1 updated, 0 unchanged');
  }, 120_000);

  it('exits 2 with the usage for missing arguments, an unknown organization or an unreadable file', async () => {
    const usage = await importCommand('data.ndjson');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('usage: npm run import -- --org <slug>');
    const file = path.join(dir, 'empty.ndjson');
    await writeFile(file, '');
    const unknown = await importCommand('--org', 'nope', file);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('No organization has the slug "nope".');
    expect((await importCommand('--org', 'acme', path.join(dir, 'missing.ndjson'))).code).toBe(2);
  }, 120_000);
});

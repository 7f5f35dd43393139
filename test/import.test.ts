import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatSummary, runImport } from '../scripts/import.ts';
import { prisma } from '../src/db.ts';
import { aMember, anIdentity, anOrganization, aSource, aUser } from './helpers/factories.ts';
import { TEST_DATABASE } from './helpers/setup.ts';

// The import command's work, run in-process against the test database (the command
// itself only parses arguments, opens the database and prints; import.embedded.test.ts
// runs it as a process).

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'identity-import-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** An organization with `people` members, a CRM source and an identity provider. */
async function aTenant(people = 20) {
  const organization = await anOrganization();
  await aSource(organization.id, { key: 'crm' });
  await aSource(organization.id, { key: 'okta', kind: 'IDENTITY_PROVIDER' });
  const users = [];
  for (let i = 0; i < people; i++) {
    const user = await aUser();
    await aMember(organization.id, user.id);
    users.push(user);
  }
  return { organization, users };
}

/**
 * An NDJSON file of `lines` lines: three identifiers (one per key) for every two
 * identities, identities with properties and every fifth one an account at the
 * identity provider.
 */
async function anNdjsonFile(name: string, lines: number, people: { email: string }[]) {
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    if (i % 5 < 3) {
      out.push(
        JSON.stringify({
          kind: 'identifier',
          userEmail: people[i % people.length]!.email,
          sourceKey: 'crm',
          identifierKey: `field_${i}`,
          identifierValue: `value-${i}`,
          discoveryMethod: i % 2 ? 'LLM_DISCOVERY' : 'MANUAL',
          confidenceScore: i % 2 ? 0.75 : null,
          discoveryMetadata: i % 2 ? { job: 'nightly', line: i } : undefined,
        }),
      );
    } else {
      out.push(
        JSON.stringify({
          kind: 'identity',
          identifierKey: `identity_${i}`,
          identityType: i % 3 ? 'USER' : 'ORG',
          name: `Party ${i}`,
          email: `party${i}@example.com`,
          phoneNumber: `+1 555 ${String(1_000_000 + i).slice(-7)}`,
          properties: [{ key: 'line', type: 'NUMBER', value: i }],
          ...(i % 5 === 4 && { sourceKey: 'okta', externalId: `00u${i}`, externalEmail: `party${i}@example.com` }),
        }),
      );
    }
  }
  const file = path.join(dir, name);
  await writeFile(file, `${out.join('\n')}\n`);
  return file;
}

const LINES = Number(process.env.IMPORT_TEST_LINES ?? 5000);

describe('the import command', () => {
  it(
    `loads a generated ${LINES.toLocaleString('en')}-line file in batches, and a second run changes nothing`,
    async () => {
      const { organization, users } = await aTenant();
      const file = await anNdjsonFile('generated.ndjson', LINES, users);
      const first = await runImport({ organizationSlug: organization.slug, file });
      console.log(`import (${TEST_DATABASE}): ${formatSummary(file, organization.slug, first).split('\n')[0]}`);
      expect(first.rejected).toEqual([]);
      expect(first.lines).toBe(LINES);
      const identifiers = Math.ceil((LINES * 3) / 5);
      expect(first.counts).toEqual({
        identifier: { CREATED: identifiers, UPDATED: 0, UNCHANGED: 0 },
        identity: { CREATED: LINES - identifiers, UPDATED: 0, UNCHANGED: 0 },
      });
      expect(await prisma.identifier.count()).toBe(identifiers);
      expect(await prisma.identity.count()).toBe(LINES - identifiers);
      expect(await prisma.identityProperty.count()).toBe(LINES - identifiers);

      const before = await prisma.identity.findFirstOrThrow({ where: { identifierKey: 'identity_3' } });
      const again = await runImport({ organizationSlug: organization.slug, file });
      console.log(`import again (${TEST_DATABASE}): ${formatSummary(file, organization.slug, again).split('\n')[0]}`);
      expect(again.rejected).toEqual([]);
      expect(again.counts).toEqual({
        identifier: { CREATED: 0, UPDATED: 0, UNCHANGED: identifiers },
        identity: { CREATED: 0, UPDATED: 0, UNCHANGED: LINES - identifiers },
      });
      expect(await prisma.identity.findFirstOrThrow({ where: { identifierKey: 'identity_3' } })).toEqual(before);
    },
    Math.max(120_000, LINES * 5),
  );

  it('reports each rejected line with its number and reason, and loads every other line', async () => {
    const { organization, users } = await aTenant(2);
    await anIdentity(organization.id, { identifierKey: 'existing', email: 'taken@example.com' });
    const stranger = await aUser();
    const identifier = (overrides: Record<string, unknown>) =>
      JSON.stringify({
        kind: 'identifier',
        userEmail: users[0]!.email,
        sourceKey: 'crm',
        identifierKey: 'owner_id',
        identifierValue: '005A',
        discoveryMethod: 'MANUAL',
        ...overrides,
      });
    const lines = [
      identifier({}), // 1: loads
      '{ not json', // 2
      JSON.stringify({ kind: 'person', name: 'x' }), // 3
      identifier({ identifierKey: 'k2', confidenceScore: 7 }), // 4
      identifier({ identifierKey: 'k3', userEmail: stranger.email }), // 5
      '', // 6: blank, skipped
      identifier({ identifierValue: 'again' }), // 7: repeats line 1
      JSON.stringify({ kind: 'identity', identifierKey: 'a', identityType: 'USER', name: 'A', email: 'Taken@example.com' }), // 8
      JSON.stringify({ kind: 'identity', identifierKey: 'b', identityType: 'USER', name: 'B', phoneNumber: '12' }), // 9
      JSON.stringify({ kind: 'identity', identifierKey: 'c', identityType: 'ORG', name: 'C', sourceKey: 'crm', externalId: '1' }), // 10
      JSON.stringify({ kind: 'identity', identifierKey: 'd', identityType: 'OTHER', name: 'D' }), // 11: loads
      identifier({ identifierKey: 'k4', userEmail: users[1]!.email }), // 12: loads
    ];
    const file = path.join(dir, 'mixed.ndjson');
    await writeFile(file, lines.join('\n'));
    const summary = await runImport({ organizationSlug: organization.slug, file, batchSize: 3 });
    expect(summary.rejected).toEqual([
      { line: 2, reason: 'is not valid JSON' },
      { line: 3, reason: 'kind: must be identifier or identity' },
      { line: 4, reason: 'confidenceScore: must be a number from 0 to 1, or null' },
      { line: 5, reason: 'userEmail: no member of the organization matches.' },
      { line: 7, reason: 'repeats line 1 (the same user, source and identifierKey)' },
      { line: 8, reason: 'email: Another identity of the organization has this email.' },
      { line: 9, reason: 'phoneNumber: must be a phone number with its country code, e.g. +15555550100 (set a default phone region to accept national formats)' },
      { line: 10, reason: 'sourceKey: must be an IDENTITY_PROVIDER source' },
    ]);
    expect(summary.counts.identifier.CREATED).toBe(2);
    expect(summary.counts.identity.CREATED).toBe(1);
    expect(await prisma.identifier.findFirstOrThrow({ where: { identifierKey: 'owner_id' } })).toMatchObject({ identifierValue: '005A' });
    const text = formatSummary(file, organization.slug, summary);
    expect(text).toContain('rejected:    8');
    expect(text).toContain('    line 8: email: Another identity of the organization has this email.');
  });

  it('reads CSV with a header, quoted commas, quotes and line breaks, and JSON columns', async () => {
    const { organization, users } = await aTenant(1);
    const csv = [
      'kind,userEmail,sourceKey,identifierKey,identifierValue,discoveryMethod,confidenceScore,discoveryMetadata,identityType,name,email,properties',
      `identifier,${users[0]!.email},crm,owner_id,"005,A",LLM_DISCOVERY,0.5,"{""job"":""x""}",,,,`,
      `identity,,,jd,,,,,USER,"Doe, ""JD""\nJean",jd@example.com,"[{""key"":""k"",""type"":""STRING"",""value"":""v""}]"`,
      'identity,,,bad,,,,,USER,Bad,,{oops',
      'identifier,too,few',
    ].join('\r\n');
    const file = path.join(dir, 'data.csv');
    await writeFile(file, `${csv}\r\n`);
    const summary = await runImport({ organizationSlug: organization.slug, file });
    expect(summary.rejected).toEqual([
      { line: 5, reason: 'properties: is not valid JSON' },
      { line: 6, reason: 'has 3 columns, the header 12' },
    ]);
    expect(await prisma.identifier.findFirstOrThrow()).toMatchObject({
      identifierValue: '005,A',
      confidenceScore: 0.5,
      discoveryMetadata: { job: 'x' },
    });
    const jd = await prisma.identity.findFirstOrThrow({ include: { properties: true } });
    expect(jd).toMatchObject({ name: 'Doe, "JD"\nJean', email: 'jd@example.com', properties: [{ key: 'k', value: 'v' }] });
  });

  it('records who ran the import (--as, else the system) and the run id as the request id of every event', async () => {
    const { organization, users } = await aTenant(2);
    const admin = await aUser();
    await aMember(organization.id, admin.id, { role: 'ORGANIZATION_ADMIN' });
    const file = await anNdjsonFile('audited.ndjson', 10, users);
    const asAdmin = await runImport({ organizationSlug: organization.slug, file, actorEmail: admin.email });
    expect(asAdmin.runId).toMatch(/^[0-9a-f-]{36}$/);
    const mine = await prisma.auditEvent.findMany({ where: { requestId: asAdmin.runId } });
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((e) => e.actorType === 'USER' && e.actorUserId === admin.id && e.organizationId === organization.id)).toBe(true);
    expect(formatSummary(file, organization.slug, asAdmin)).toContain(`(run ${asAdmin.runId})`);

    await writeFile(file, JSON.stringify({ kind: 'identity', identifierKey: 'sys', identityType: 'OTHER', name: 'S' }));
    const bySystem = await runImport({ organizationSlug: organization.slug, file });
    expect(bySystem.runId).not.toBe(asAdmin.runId);
    const system = await prisma.auditEvent.findMany({ where: { requestId: bySystem.runId } });
    expect(system).toEqual([expect.objectContaining({ actorType: 'SYSTEM', actorUserId: null, action: 'CREATE', entityType: 'Identity' })]);

    // A user who may not write there is refused before any line is read.
    const outsider = await aUser();
    const before = await prisma.auditEvent.count();
    await expect(runImport({ organizationSlug: organization.slug, file, actorEmail: outsider.email })).rejects.toThrow(/may not write/);
    await expect(runImport({ organizationSlug: organization.slug, file, actorEmail: 'nobody@example.com' })).rejects.toThrow(/No user/);
    expect(await prisma.auditEvent.count()).toBe(before);
  });
});

import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { anIdentifier, anOrganization, aSource, aUser } from './helpers/factories.ts';

// Every version of a row is kept with the period it was valid in, written by the
// database itself; reads as of a past moment are answered from these versions.

interface Version {
  identifier_value: string;
  valid_from: Date;
  valid_to: Date | null;
}

const versionsOf = (id: string) =>
  prisma.$queryRawUnsafe<Version[]>(
    'SELECT identifier_value, valid_from, valid_to FROM identifiers_history WHERE id = $1::uuid ORDER BY valid_from',
    id,
  );

describe('row history', () => {
  it('records a version per change, each valid until the next one, and closes the last on delete', async () => {
    const org = await anOrganization();
    const crm = await aSource(org.id, { key: 'crm' });
    const user = await aUser();
    const ident = await anIdentifier(org.id, user.id, crm.id, { identifierKey: 'email', identifierValue: 'a@example.com' });
    await prisma.identifier.update({ where: { id: ident.id }, data: { identifierValue: 'b@example.com' } });
    await prisma.identifier.update({ where: { id: ident.id }, data: { identifierValue: 'c@example.com' } });
    let versions = await versionsOf(ident.id);
    expect(versions.map((v) => v.identifier_value)).toEqual(['a@example.com', 'b@example.com', 'c@example.com']);
    expect(versions[0]!.valid_to).toEqual(versions[1]!.valid_from);
    expect(versions[1]!.valid_to).toEqual(versions[2]!.valid_from);
    expect(versions[2]!.valid_to).toBeNull();

    await prisma.identifier.delete({ where: { id: ident.id } });
    versions = await versionsOf(ident.id);
    expect(versions).toHaveLength(3);
    expect(versions[2]!.valid_to).not.toBeNull();
    expect(versions[2]!.valid_to!.getTime()).toBeGreaterThanOrEqual(versions[2]!.valid_from.getTime());
  });

  it('keeps one version per transaction: the changes of one transaction share its moment', async () => {
    const org = await anOrganization();
    const crm = await aSource(org.id, { key: 'crm' });
    const user = await aUser();
    const ident = await prisma.$transaction(async (tx) => {
      const created = await tx.identifier.create({
        data: { organizationId: org.id, userId: user.id, sourceId: crm.id, identifierKey: 'k', identifierValue: 'one', normalizedValue: 'one', discoveryMethod: 'MANUAL' },
      });
      await tx.identifier.update({ where: { id: created.id }, data: { identifierValue: 'two' } });
      await tx.identifier.update({ where: { id: created.id }, data: { identifierValue: 'three' } });
      return created;
    });
    const versions = await versionsOf(ident.id);
    expect(versions.map((v) => [v.identifier_value, v.valid_to])).toEqual([['three', null]]);
  });

  it('writes the versions of a bulk write of many rows, one per row, with the columns the rows hold', async () => {
    const org = await anOrganization();
    const crm = await aSource(org.id, { key: 'crm' });
    const user = await aUser();
    const rows = Array.from({ length: 200 }, (_, i) => ({
      organizationId: org.id, userId: user.id, sourceId: crm.id, identifierKey: `k${i}`, identifierValue: `v${i}`, normalizedValue: `v${i}`, discoveryMethod: 'MANUAL' as const, confidenceScore: i / 200,
    }));
    await prisma.identifier.createMany({ data: rows });
    await prisma.identifier.updateMany({ where: { organizationId: org.id }, data: { confidenceScore: 1 } });
    const counts = await prisma.$queryRawUnsafe<{ open: bigint; closed: bigint; same: boolean }[]>(
      `SELECT count(*) FILTER (WHERE h.valid_to IS NULL) AS open, count(*) FILTER (WHERE h.valid_to IS NOT NULL) AS closed,
              bool_and(h.valid_to IS NOT NULL OR (h.identifier_value, h.confidence_score, h.updated_at) IS NOT DISTINCT FROM (i.identifier_value, i.confidence_score, i.updated_at)) AS same
         FROM identifiers_history h LEFT JOIN identifiers i ON i.id = h.id WHERE h.organization_id = $1::uuid`,
      org.id,
    );
    expect(counts[0]).toEqual({ open: 200n, closed: 200n, same: true });
  });

  it('versions the other tables an as-of read needs', async () => {
    const org = await anOrganization({ name: 'Before' });
    await prisma.organization.update({ where: { id: org.id }, data: { name: 'After' } });
    const names = await prisma.$queryRawUnsafe<{ name: string }[]>(
      'SELECT name FROM organizations_history WHERE id = $1::uuid ORDER BY valid_from',
      org.id,
    );
    expect(names.map((n) => n.name)).toEqual(['Before', 'After']);
    for (const table of ['users', 'members', 'integration_sources', 'identities', 'identity_properties']) {
      const [row] = await prisma.$queryRawUnsafe<{ triggers: bigint }[]>(
        `SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = $1::regclass AND tgname LIKE '%_history_%'`,
        table,
      );
      expect(row?.triggers, table).toBe(3n);
    }
  });
});

import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { pruneHistory } from '../src/modules/shared/history-retention.ts';
import { expectErrorCode, expectNoErrors, gql, type GqlOptions } from './helpers/app.ts';
import { aMember, anIdentifier, anOrganization, aSource, aUser } from './helpers/factories.ts';

// History is kept for each organization's historyRetentionDays: reads as of a moment
// within it answer as before pruning, earlier moments are refused naming the horizon,
// and pruning leaves every version such a read needs.

const DAY = 86_400_000;
const RESOLVE = `query ($value: String!, $asOf: DateTime) {
  resolve(input: { identifier: { sourceKey: "crm", identifierKey: "owner_id", identifierValue: $value } }, asOf: $asOf) { user { id } }
}`;
const RETENTION = `mutation ($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) { __typename ... on Error { code message } ... on ValidationError { issues { path message } } }
}`;

/** Moves every version of the organization's rows (and of its users) `days` into the past, as if written then. */
async function age(organizationId: string, userIds: string[], days: number) {
  const shift = `valid_from = valid_from - make_interval(days => ${days})`;
  await prisma.$executeRawUnsafe(`UPDATE organizations_history SET ${shift} WHERE id = $1::uuid`, organizationId);
  await prisma.$executeRawUnsafe(`UPDATE users_history SET ${shift} WHERE id = ANY($1::uuid[])`, userIds);
  for (const t of ['members_history', 'integration_sources_history', 'identifiers_history']) {
    await prisma.$executeRawUnsafe(`UPDATE ${t} SET ${shift} WHERE organization_id = $1::uuid`, organizationId);
  }
}

const versions = async (id: string) =>
  (await prisma.$queryRawUnsafe<{ n: number }[]>('SELECT count(*)::int AS n FROM identifiers_history WHERE id = $1::uuid', id))[0]!.n;

async function pruneAll() {
  while ((await pruneHistory()) > 0);
}

async function aged() {
  const org = await anOrganization();
  const admin = await aUser();
  const person = await aUser();
  await aMember(org.id, admin.id, { role: 'ORGANIZATION_ADMIN' });
  await aMember(org.id, person.id);
  const crm = await aSource(org.id, { key: 'crm' });
  const held = await anIdentifier(org.id, person.id, crm.id, { identifierKey: 'owner_id', identifierValue: 'v1' });
  for (const v of ['v2', 'v3']) await prisma.identifier.update({ where: { id: held.id }, data: { identifierValue: v, normalizedValue: v } });
  const gone = await anIdentifier(org.id, person.id, crm.id, { identifierKey: 'employee_id', identifierValue: 'e1' });
  const deleted = await gql(`mutation ($id: ID!) { deleteIdentifier(input: { id: $id }) { __typename } }`, {
    asUser: admin,
    organizationId: org.id,
    variables: { id: gone.id },
  });
  expectNoErrors(deleted);
  await age(org.id, [admin.id, person.id], 10);
  // The present: one more change, now.
  await prisma.identifier.update({ where: { id: held.id }, data: { identifierValue: 'v4', normalizedValue: 'v4' } });
  return { org, admin, person, held, gone, as: { asUser: admin, organizationId: org.id } as GqlOptions };
}

describe('history retention', () => {
  it('refuses moments before the retention, answers those within it the same before and after pruning, and prunes what no read needs', async () => {
    const d = await aged();
    const other = await aged(); // keeps the default of 365 days
    const set = await gql(RETENTION, { ...d.as, variables: { input: { id: d.org.id, historyRetentionDays: 2 } } });
    expectNoErrors(set);
    expect(set.data!.updateOrganization.__typename).toBe('UpdateOrganizationSuccess');

    const dayAgo = new Date(Date.now() - DAY).toISOString();
    const answers = async () => {
      const out: unknown[] = [];
      for (const value of ['v1', 'v3', 'v4']) {
        const r = await gql(RESOLVE, { ...d.as, variables: { value, asOf: dayAgo } });
        expectNoErrors(r);
        out.push(r.data!.resolve?.user?.id ?? null);
      }
      return out;
    };
    const before = await answers();
    expect(before.filter(Boolean)).toHaveLength(1); // v3 was the value a day ago

    const early = await gql(RESOLVE, { ...d.as, variables: { value: 'v3', asOf: new Date(Date.now() - 5 * DAY).toISOString() } });
    expectErrorCode(early, 'BAD_USER_INPUT');
    expect(early.errors![0]!.message).toMatch(/history horizon of this organization, \d{4}-/);

    // Versions of one object written in the same millisecond are one (the embedded
    // database's clock counts milliseconds), so the other organization's are counted
    // before pruning rather than assumed.
    const kept = [await versions(other.held.id), await versions(other.gone.id)];
    expect(kept[1]).toBeGreaterThan(0);
    await pruneAll();
    // v3 (valid at the cutoff) and v4 stay; v1, v2 and the deleted identifier's versions go.
    expect(await versions(d.held.id)).toBe(2);
    expect(await versions(d.gone.id)).toBe(0);
    expect(await answers()).toEqual(before);
    // An organization with the default retention keeps all of it.
    expect([await versions(other.held.id), await versions(other.gone.id)]).toEqual(kept);
    const old = await gql(RESOLVE, { ...other.as, variables: { value: 'v3', asOf: new Date(Date.now() - 10 * DAY + 300_000).toISOString() } });
    expectNoErrors(old);
    expect(old.data!.resolve.user).not.toBeNull();
  });

  it('takes 1 to 3650 days, and refuses anything else writing nothing', async () => {
    const d = await aged();
    for (const days of [0, 3651, 1.5]) {
      const r = await gql(RETENTION, { ...d.as, variables: { input: { id: d.org.id, historyRetentionDays: days } } });
      expect(r.data?.updateOrganization?.issues ?? r.errors).toBeTruthy();
      expect(JSON.stringify(r)).toMatch(/historyRetentionDays/);
    }
    expect((await prisma.organization.findUniqueOrThrow({ where: { id: d.org.id } })).historyRetentionDays).toBe(365);
  });
});

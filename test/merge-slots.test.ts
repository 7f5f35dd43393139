import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { expectNoErrors, globalId, gql } from './helpers/app.ts';
import { aMember, anIdentifier, anOrganization, aSource, aUser } from './helpers/factories.ts';
import { fc } from './helpers/property-runs.ts';

// A merge of two users who both hold a source and key loses neither value: the one kept
// answers the upsert key (slot 0), the other stays beside it, both resolve to the
// survivor, and an unmerge puts every row back as it was.

const MERGE = `mutation ($input: MergeUsersInput!) {
  mergeUsers(input: $input) { __typename ... on MergeUsersSuccess { merge { id } } ... on Error { code message } }
}`;
const UNMERGE = `mutation ($input: UnmergeUserInput!) {
  unmergeUser(input: $input) { __typename ... on Error { code message } }
}`;
const RESOLVE = `query ($org: ID!, $inputs: [ResolveInput!]!) { resolveMany(organizationId: $org, inputs: $inputs) { user { id } } }`;

const uid = (id: string) => globalId('User', id);

async function identifierRows(userIds: string[]) {
  return prisma.$queryRawUnsafe<{ row: Record<string, unknown> }[]>(
    `SELECT to_jsonb(i) AS row FROM identifiers i WHERE user_id = ANY($1::uuid[]) ORDER BY id`,
    userIds,
  );
}

async function twoHolders() {
  const org = await anOrganization();
  const admin = await aUser();
  await aMember(org.id, admin.id, { role: 'ORGANIZATION_ADMIN' });
  const crm = await aSource(org.id, { key: 'crm' });
  const a = await aUser();
  const b = await aUser();
  await aMember(org.id, a.id);
  await aMember(org.id, b.id);
  const aOwner = await anIdentifier(org.id, a.id, crm.id, { identifierKey: 'owner_id', identifierValue: '005A', confidenceScore: 0.5 });
  const bOwner = await anIdentifier(org.id, b.id, crm.id, { identifierKey: 'owner_id', identifierValue: '005B', confidenceScore: 0.9 });
  return { org, admin, crm, a, b, aOwner, bOwner };
}

describe('merging two users who hold the same source and key', () => {
  it('keeps both values with the survivor, both resolve to it, and writes update the value kept', async () => {
    const d = await twoHolders();
    const merged = await gql(MERGE, { asUser: d.admin, variables: { input: { survivorId: uid(d.a.id), mergedId: uid(d.b.id) } } });
    expect(merged.data!.mergeUsers.__typename).toBe('MergeUsersSuccess');
    // b's value is the more confident: it takes slot 0, a's stays beside it.
    const rows = await prisma.identifier.findMany({ where: { organizationId: d.org.id }, orderBy: { mergeSlot: 'asc' } });
    expect(rows.map((r) => [r.id, r.userId, r.mergeSlot])).toEqual([[d.bOwner.id, d.a.id, 0], [d.aOwner.id, d.a.id, 1]]);

    const inputs = ['005A', '005B'].map((identifierValue) => ({ identifier: { source: 'crm', identifierKey: 'owner_id', identifierValue } }));
    const resolved = await gql(RESOLVE, { asUser: d.admin, variables: { org: d.org.id, inputs } });
    expectNoErrors(resolved);
    expect(resolved.data!.resolveMany).toEqual([{ user: { id: uid(d.a.id) } }, { user: { id: uid(d.a.id) } }]);

    const listed = await gql(`query ($id: ID!) { user(id: $id) { identifiers(first: 10) { edges { node { identifierValue mergeSlot } } } } }`, {
      asUser: d.admin,
      variables: { id: uid(d.a.id) },
    });
    expectNoErrors(listed);
    expect(listed.data!.user.identifiers.edges.map((e: { node: unknown }) => e.node)).toEqual(expect.arrayContaining([{ identifierValue: '005B', mergeSlot: 0 }, { identifierValue: '005A', mergeSlot: 1 }]));

    const written = await gql(
      `mutation ($input: UpsertIdentifierInput!) { upsertIdentifier(input: $input) { __typename ... on Error { code message } } }`,
      { asUser: d.admin, variables: { input: { organizationId: d.org.id, userId: uid(d.a.id), sourceKey: 'crm', identifierKey: 'owner_id', identifierValue: '005C', discoveryMethod: 'MANUAL' } } },
    );
    expectNoErrors(written);
    const after = await prisma.identifier.findMany({ where: { organizationId: d.org.id }, orderBy: { mergeSlot: 'asc' } });
    expect(after.map((r) => [r.id, r.identifierValue, r.mergeSlot])).toEqual([[d.bOwner.id, '005C', 0], [d.aOwner.id, '005A', 1]]);
  });

  // MERGED (the default here) moves the survivor's own value out of slot 0, so unmerge must
  // free slot 0 before that value returns to it.
  it.each([
    ['SURVIVOR', (d: Awaited<ReturnType<typeof twoHolders>>) => [[d.aOwner.id, 0], [d.bOwner.id, 1]]],
    ['MERGED', (d: Awaited<ReturnType<typeof twoHolders>>) => [[d.bOwner.id, 0], [d.aOwner.id, 1]]],
  ] as const)('keeping the %s side in slot 0, unmerge restores every row exactly', async (keep, slots) => {
    const d = await twoHolders();
    const before = await identifierRows([d.a.id, d.b.id]);
    const choices = [{ key: `identifier:${d.org.id}:${d.crm.id}:owner_id`, keep }];
    const merged = await gql(MERGE, { asUser: d.admin, variables: { input: { survivorId: uid(d.a.id), mergedId: uid(d.b.id), choices } } });
    expect(merged.data!.mergeUsers.__typename).toBe('MergeUsersSuccess');
    const rows = await prisma.identifier.findMany({ where: { organizationId: d.org.id }, orderBy: { mergeSlot: 'asc' } });
    expect(rows.map((r) => [r.id, r.mergeSlot])).toEqual(slots(d));

    const undone = await gql(UNMERGE, { asUser: d.admin, variables: { input: { mergeId: merged.data!.mergeUsers.merge.id } } });
    expect(undone.data!.unmergeUser.__typename).toBe('UnmergeUserSuccess');
    expect(await identifierRows([d.a.id, d.b.id])).toEqual(before);
  });

  it('property: no value is lost, every value resolves to the survivor, and unmerge is an exact round trip', async () => {
    const keys = ['owner_id', 'email', 'member_id'];
    const holding = fc.uniqueArray(fc.record({ key: fc.constantFrom(...keys), source: fc.constantFrom(0, 1) }), {
      selector: (h) => `${h.source}:${h.key}`,
      maxLength: 6,
    });
    await fc.assert(
      fc.asyncProperty(holding, holding, holding, fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }), async (aHeld, bHeld, cHeld, keepMerged) => {
        const org = await anOrganization();
        const admin = await aUser();
        await aMember(org.id, admin.id, { role: 'ORGANIZATION_ADMIN' });
        const sources = [await aSource(org.id, { key: `s0-${org.id.slice(0, 8)}` }), await aSource(org.id, { key: `s1-${org.id.slice(0, 8)}` })];
        const [a, b, c] = [await aUser(), await aUser(), await aUser()];
        const values: { source: string; key: string; value: string }[] = [];
        for (const [user, held] of [[a, aHeld], [b, bHeld], [c, cHeld]] as const) {
          await aMember(org.id, user.id);
          for (const h of held) {
            const value = `${h.key}-${user.id.slice(0, 8)}`;
            await anIdentifier(org.id, user.id, sources[h.source]!.id, { identifierKey: h.key, identifierValue: value });
            values.push({ source: sources[h.source]!.key, key: h.key, value });
          }
        }
        // c merged into a first, so a may already hold values beside each other.
        const first = await gql(MERGE, { asUser: admin, variables: { input: { survivorId: uid(a.id), mergedId: uid(c.id) } } });
        expect(first.data!.mergeUsers.__typename).toBe('MergeUsersSuccess');
        const before = await identifierRows([a.id, b.id, c.id]);
        const conflicts = bHeld.filter((h) => aHeld.some((x) => x.key === h.key && x.source === h.source) || cHeld.some((x) => x.key === h.key && x.source === h.source));
        const choices = conflicts.map((h, i) => ({
          key: `identifier:${org.id}:${sources[h.source]!.id}:${h.key}`,
          keep: keepMerged[i] ? 'MERGED' : 'SURVIVOR',
        }));
        const merged = await gql(MERGE, { asUser: admin, variables: { input: { survivorId: uid(a.id), mergedId: uid(b.id), choices } } });
        expect(merged.data!.mergeUsers.__typename).toBe('MergeUsersSuccess');

        const now = await prisma.identifier.findMany({ where: { organizationId: org.id } });
        expect(now.length).toBe(values.length);
        expect(now.every((i) => i.userId === a.id)).toBe(true);
        // Exactly one value of each source and key answers writes.
        const zeros = now.filter((i) => i.mergeSlot === 0).map((i) => `${i.sourceId}:${i.identifierKey}`);
        expect(new Set(zeros).size).toBe(new Set(now.map((i) => `${i.sourceId}:${i.identifierKey}`)).size);
        expect(zeros.length).toBe(new Set(zeros).size);
        if (values.length) {
          const inputs = values.map((v) => ({ identifier: { source: v.source, identifierKey: v.key, identifierValue: v.value } }));
          const resolved = await gql(RESOLVE, { asUser: admin, variables: { org: org.id, inputs } });
          expectNoErrors(resolved);
          expect(resolved.data!.resolveMany).toEqual(values.map(() => ({ user: { id: uid(a.id) } })));
        }

        const undone = await gql(UNMERGE, { asUser: admin, variables: { input: { mergeId: merged.data!.mergeUsers.merge.id } } });
        expect(undone.data!.unmergeUser.__typename).toBe('UnmergeUserSuccess');
        expect(await identifierRows([a.id, b.id, c.id])).toEqual(before);
      }),
      { numRuns: 12 },
    );
  });
});

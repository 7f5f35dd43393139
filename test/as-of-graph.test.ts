import { encodeGlobalID } from '@pothos/plugin-relay';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { expectErrorCode, expectNoErrors, gql, type GqlOptions } from './helpers/app.ts';
import { aMember, anApiKey, anIdentifier, anOrganization, aSource, aUser } from './helpers/factories.ts';
import { momentNow } from './helpers/moments.ts';

// graph and explainLink as of a past moment: the links that held then, from where the
// start was then; the present read as of now answers what the present read does.

const GRAPH = `query ($from: ID!, $asOf: DateTime) {
  graph(from: $from, depth: 3, asOf: $asOf) { nodes { id type label } edges { kind from to value } truncated }
}`;
const EXPLAIN = `query ($a: ID!, $b: ID!, $asOf: DateTime) { explainLink(a: $a, b: $b, asOf: $asOf) { length steps { kind from to } } }`;
const MERGE = `mutation ($input: MergeUsersInput!) { mergeUsers(input: $input) { __typename } }`;

const userGid = (id: string) => encodeGlobalID('User', id);

async function tenant() {
  const org = await anOrganization();
  const crm = await aSource(org.id, { key: 'crm' });
  const admin = await aUser();
  await aMember(org.id, admin.id, { role: 'ORGANIZATION_ADMIN' });
  const [p1, p2] = [await aUser(), await aUser()];
  for (const p of [p1, p2]) await aMember(org.id, p.id);
  await anIdentifier(org.id, p1.id, crm.id, { identifierKey: 'owner_id', identifierValue: 'A-1' });
  return { org, crm, admin, p1, p2, as: { asUser: admin, organizationId: org.id } as GqlOptions };
}

interface Drawn {
  nodes: { id: string; type: string; label: string }[];
  edges: { kind: string; from: string; to: string; value: string | null }[];
  truncated: boolean;
}
const sorted = <T>(list: T[]) => [...list].sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)));

describe('graph and explainLink as of a past moment', () => {
  it('answer the links that held then, before, between and after changes, and now as the present does', async () => {
    const d = await tenant();
    const explain = async (asOf?: Date) => {
      const r = await gql(EXPLAIN, { ...d.as, variables: { a: userGid(d.p1.id), b: userGid(d.p2.id), asOf: asOf?.toISOString() } });
      expectNoErrors(r);
      return r.data!.explainLink;
    };
    const graph = async (asOf?: Date): Promise<Drawn> => {
      const r = await gql(GRAPH, { ...d.as, variables: { from: userGid(d.p1.id), asOf: asOf?.toISOString() } });
      expectNoErrors(r);
      const g = r.data!.graph as Drawn;
      return { nodes: sorted(g.nodes), edges: sorted(g.edges), truncated: g.truncated };
    };
    const apart = await momentNow();
    const shared = await anIdentifier(d.org.id, d.p2.id, d.crm.id, { identifierKey: 'alt_id', identifierValue: 'A-1' });
    const linked = await momentNow();
    const deleted = await gql(`mutation ($id: ID!) { deleteIdentifier(input: { id: $id }) { __typename } }`, {
      ...d.as,
      variables: { id: encodeGlobalID('Identifier', shared.id) },
    });
    expectNoErrors(deleted);
    const apartAgain = await momentNow();

    expect(await explain(apart)).toBeNull();
    expect(await explain(linked)).toMatchObject({ length: 3, steps: [{ kind: 'OWNS_IDENTIFIER' }, { kind: 'SHARES_VALUE' }, { kind: 'OWNS_IDENTIFIER' }] });
    expect(await explain(apartAgain)).toBeNull();
    expect(await explain()).toBeNull();

    const then = await graph(linked);
    expect(then.nodes.map((n) => n.id)).toContain(userGid(d.p2.id));
    expect(then.edges.some((e) => e.kind === 'SHARES_VALUE' && e.value === 'A-1')).toBe(true);
    expect((await graph(apart)).nodes.map((n) => n.id)).not.toContain(userGid(d.p2.id));
    // The past's reads and the present's are one: as of now, the graph is the present's.
    expect(await graph(await momentNow())).toEqual(await graph());
  });

  it('starts a merged-away user from itself before the merge and from the survivor after it', async () => {
    const d = await tenant();
    const before = await momentNow();
    const m = await gql(MERGE, { ...d.as, variables: { input: { survivorId: d.p1.id, mergedId: d.p2.id } } });
    expect(m.data!.mergeUsers.__typename).toBe('MergeUsersSuccess');
    const after = await momentNow();
    const startAt = async (asOf: Date) => {
      const r = await gql(GRAPH, { ...d.as, variables: { from: userGid(d.p2.id), asOf: asOf.toISOString() } });
      expectNoErrors(r);
      return r.data!.graph.nodes[0].id;
    };
    expect(await startAt(before)).toBe(userGid(d.p2.id));
    expect(await startAt(after)).toBe(userGid(d.p1.id));
  });

  it("refuses moments outside the history, and never walks another organization's past", async () => {
    const a = await tenant();
    const b = await tenant();
    const then = await momentNow();
    const early = await gql(GRAPH, { ...a.as, variables: { from: userGid(a.p1.id), asOf: new Date(Date.now() - 86_400_000 * 400).toISOString() } });
    expectErrorCode(early, 'BAD_USER_INPUT');
    expect(early.errors![0]!.message).toMatch(/history horizon/);
    const future = await gql(EXPLAIN, { ...a.as, variables: { a: userGid(a.p1.id), b: userGid(a.p2.id), asOf: new Date(Date.now() + 60_000).toISOString() } });
    expectErrorCode(future, 'BAD_USER_INPUT');
    // B's people, asked for in A, are not there then either; asking in B is refused.
    const inA = await gql(GRAPH, { ...a.as, variables: { from: userGid(b.p1.id), asOf: then.toISOString() } });
    expectNoErrors(inA);
    expect(inA.data!.graph).toBeNull();
    const inB = await gql(GRAPH, { asUser: a.admin, organizationId: b.org.id, variables: { from: userGid(b.p1.id), asOf: then.toISOString() } });
    expectErrorCode(inB, 'FORBIDDEN');
    // Nothing of B is reached from A's people, even through a value both hold.
    await anIdentifier(b.org.id, b.p1.id, b.crm.id, { identifierKey: 'alt_id', identifierValue: 'A-1' });
    const later = await momentNow();
    const walked = await gql(GRAPH, { ...a.as, variables: { from: userGid(a.p1.id), asOf: later.toISOString() } });
    expectNoErrors(walked);
    expect(walked.data!.graph.nodes.map((n: { id: string }) => n.id)).not.toContain(userGid(b.p1.id));
    expect(await prisma.identifier.count({ where: { organizationId: b.org.id } })).toBe(2);
  });
});

describe('node and nodes as of a past moment', () => {
  const NODE = `query ($id: ID!, $asOf: DateTime) { node(id: $id, asOf: $asOf) { id ... on Identifier { identifierValue } ... on Organization { name } ... on User { email } } }`;

  it('answer each object as it was, null where it was not, and the survivor of a merge from then on', async () => {
    const d = await tenant();
    const held = await anIdentifier(d.org.id, d.p1.id, d.crm.id, { identifierKey: 'alt_id', identifierValue: 'old' });
    const first = await momentNow();
    await prisma.identifier.update({ where: { id: held.id }, data: { identifierValue: 'new', normalizedValue: 'new' } });
    await prisma.organization.update({ where: { id: d.org.id }, data: { name: 'Renamed' } });
    const second = await momentNow();
    const gone = await gql(`mutation ($id: ID!) { deleteIdentifier(input: { id: $id }) { __typename } }`, { ...d.as, variables: { id: encodeGlobalID('Identifier', held.id) } });
    expectNoErrors(gone);
    const m = await gql(MERGE, { ...d.as, variables: { input: { survivorId: d.p1.id, mergedId: d.p2.id } } });
    expect(m.data!.mergeUsers.__typename).toBe('MergeUsersSuccess');
    const third = await momentNow();

    const node = async (id: string, asOf?: Date) => {
      const r = await gql(NODE, { ...d.as, variables: { id, asOf: asOf?.toISOString() } });
      expectNoErrors(r);
      return r.data!.node;
    };
    const identifierId = encodeGlobalID('Identifier', held.id);
    expect(await node(identifierId, first)).toEqual({ id: identifierId, identifierValue: 'old' });
    expect(await node(identifierId, second)).toEqual({ id: identifierId, identifierValue: 'new' });
    expect(await node(identifierId, third)).toBeNull();
    expect(await node(identifierId)).toBeNull();
    const orgId = encodeGlobalID('Organization', d.org.id);
    expect((await node(orgId, first)).name).not.toBe('Renamed');
    expect((await node(orgId, second)).name).toBe('Renamed');
    expect(await node(userGid(d.p2.id), second)).toEqual({ id: userGid(d.p2.id), email: d.p2.email });
    expect(await node(userGid(d.p2.id), third)).toEqual({ id: userGid(d.p1.id), email: d.p1.email });

    const list = await gql(`query ($ids: [ID!]!, $asOf: DateTime) { nodes(ids: $ids, asOf: $asOf) { id } }`, {
      ...d.as,
      variables: { ids: [identifierId, userGid(d.p2.id), orgId], asOf: first.toISOString() },
    });
    expectNoErrors(list);
    expect(list.data!.nodes).toEqual([{ id: identifierId }, { id: userGid(d.p2.id) }, { id: orgId }]);
  });

  it("refuses what it cannot read then, and never shows another organization's past", async () => {
    const a = await tenant();
    const b = await tenant();
    const secret = await anIdentifier(b.org.id, b.p1.id, b.crm.id, { identifierKey: 'alt_id', identifierValue: 'secret' });
    const then = await momentNow();
    const foreign = await gql(NODE, { ...a.as, variables: { id: encodeGlobalID('Identifier', secret.id), asOf: then.toISOString() } });
    expectNoErrors(foreign);
    expect(foreign.data!.node).toBeNull();
    const foreignOrg = await gql(NODE, { ...a.as, variables: { id: encodeGlobalID('Organization', b.org.id), asOf: then.toISOString() } });
    expectNoErrors(foreignOrg);
    expect(foreignOrg.data!.node).toBeNull();
    // A source and a membership are read as they were (their versions), another
    // organization's are null; an API key, which keeps no versions, is refused as of a moment.
    await prisma.integrationSource.update({ where: { id: a.crm.id }, data: { name: 'Renamed CRM' } });
    const SOURCE = `query ($id: ID!, $asOf: DateTime) { node(id: $id, asOf: $asOf) { id ... on IntegrationSource { key name } } }`;
    const source = await gql(SOURCE, { ...a.as, variables: { id: encodeGlobalID('IntegrationSource', a.crm.id), asOf: then.toISOString() } });
    expectNoErrors(source);
    expect(source.data!.node).toEqual({ id: encodeGlobalID('IntegrationSource', a.crm.id), key: 'crm', name: a.crm.name });
    const foreignSource = await gql(SOURCE, { ...a.as, variables: { id: encodeGlobalID('IntegrationSource', b.crm.id), asOf: then.toISOString() } });
    expectNoErrors(foreignSource);
    expect(foreignSource.data!.node).toBeNull();
    const MEMBER = `query ($id: ID!, $asOf: DateTime) { node(id: $id, asOf: $asOf) { id ... on Member { role } } }`;
    const member = await prisma.member.findFirstOrThrow({ where: { organizationId: a.org.id, userId: a.p1.id } });
    await prisma.member.update({ where: { id: member.id }, data: { role: 'ORGANIZATION_ADMIN' } });
    const membership = await gql(MEMBER, { ...a.as, variables: { id: encodeGlobalID('Member', member.id), asOf: then.toISOString() } });
    expectNoErrors(membership);
    expect(membership.data!.node).toEqual({ id: encodeGlobalID('Member', member.id), role: 'ANALYST' });
    const foreignMember = await prisma.member.findFirstOrThrow({ where: { organizationId: b.org.id, userId: b.p1.id } });
    const foreignMembership = await gql(MEMBER, { ...a.as, variables: { id: encodeGlobalID('Member', foreignMember.id), asOf: then.toISOString() } });
    expectNoErrors(foreignMembership);
    expect(foreignMembership.data!.node).toBeNull();
    const key = await anApiKey(a.org.id, randomBytes(32).toString('hex'));
    const apiKey = await gql(NODE, { ...a.as, variables: { id: encodeGlobalID('ApiKey', key.id), asOf: then.toISOString() } });
    expectErrorCode(apiKey, 'BAD_USER_INPUT');
    expect(apiKey.errors![0]!.message).toMatch(/ApiKey is not available as of a past moment/);
    const among = await gql(`query ($asOf: DateTime) { node(id: "${encodeGlobalID('Organization', a.org.id)}", asOf: $asOf) { id } viewer { id } }`, {
      ...a.as,
      variables: { asOf: then.toISOString() },
    });
    // Beside other root fields, as alone.
    expectNoErrors(among);
    expect(among.data!.node).toEqual({ id: encodeGlobalID('Organization', a.org.id) });
    expect(among.data!.viewer).toEqual({ id: expect.any(String) });
    const many = await gql(`query ($asOf: DateTime) { nodes(ids: ["${encodeGlobalID('Organization', a.org.id)}", "${encodeGlobalID('Organization', b.org.id)}"], asOf: $asOf) { id ... on Organization { name } } viewer { id } }`, {
      ...a.as,
      variables: { asOf: then.toISOString() },
    });
    expectNoErrors(many);
    expect(many.data!.nodes).toEqual([{ id: encodeGlobalID('Organization', a.org.id), name: expect.any(String) }, null]);
  });
});

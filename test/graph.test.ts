import { describe, expect, it } from 'vitest';
import { expectErrorCode, expectNoErrors, globalId, gql } from './helpers/app.ts';
import { aMember, anIdentifier, anIdentity, aSource, aTenantWithMember, aUser } from './helpers/factories.ts';
import { withSqlLog } from './helpers/sql-count.ts';

const GRAPH = `query ($from: ID!, $depth: Int, $min: Float, $max: Int) {
  graph(from: $from, depth: $depth, minConfidence: $min, maxNodes: $max) {
    truncated
    nodes { id type label depth }
    edges { kind from to confidence discoveryMethod sourceId linkedBy value }
  }
}`;

// Ada owns a Salesforce owner id; a Slack identifier of Grace carries the same value
// (an LLM guessed it, with low confidence); Ada is linked to an Okta identity.
async function world() {
  const { organization, user: analyst } = await aTenantWithMember();
  const sf = await aSource(organization.id, { key: 'salesforce' });
  const slack = await aSource(organization.id, { key: 'slack' });
  const ada = await aUser({ name: 'Ada' });
  const grace = await aUser({ name: 'Grace' });
  await aMember(organization.id, ada.id);
  await aMember(organization.id, grace.id);
  const owner = await anIdentifier(organization.id, ada.id, sf.id, { identifierKey: 'owner_id', identifierValue: 'shared-1', confidenceScore: 0.9 });
  const guess = await anIdentifier(organization.id, grace.id, slack.id, { identifierKey: 'member_id', identifierValue: 'shared-1', confidenceScore: 0.3, discoveryMethod: 'LLM_DISCOVERY' });
  const identity = await anIdentity(organization.id, { name: 'Ada at Okta', userId: ada.id });
  return { organization, analyst, sf, slack, ada, grace, owner, guess, identity };
}

describe('graph', () => {
  it('walks from a user through identifiers, identities and shared values with each edge\'s evidence', async () => {
    const w = await world();
    const result = await gql(GRAPH, { asUser: w.analyst, organizationId: w.organization.id, variables: { from: globalId('User', w.ada.id), depth: 3 } });
    expectNoErrors(result);
    const g = result.data!.graph;
    expect(g.truncated).toBe(false);
    const ids = g.nodes.map((n: { id: string }) => n.id);
    expect(ids[0]).toBe(globalId('User', w.ada.id));
    expect(ids).toEqual(
      expect.arrayContaining([globalId('Identifier', w.owner.id), globalId('Identifier', w.guess.id), globalId('User', w.grace.id), globalId('Identity', w.identity.id), globalId('Organization', w.organization.id)]),
    );
    const shares = g.edges.find((e: { kind: string }) => e.kind === 'SHARES_VALUE');
    expect(shares).toMatchObject({ value: 'shared-1', confidence: 0.3, discoveryMethod: 'LLM_DISCOVERY', sourceId: globalId('IntegrationSource', w.slack.id) });
    expect(g.edges.find((e: { kind: string }) => e.kind === 'IDENTITY_LINK')).toMatchObject({ linkedBy: 'MANUAL', to: globalId('Identity', w.identity.id) });
    expect(g.nodes.find((n: { id: string }) => n.id === globalId('User', w.grace.id))).toMatchObject({ type: 'USER', label: 'Grace', depth: 3 });
  });

  it('stops at the depth asked, leaves out evidence under minConfidence and reports truncation at the node cap', async () => {
    const w = await world();
    const ask = (variables: object) => gql(GRAPH, { asUser: w.analyst, organizationId: w.organization.id, variables: { from: globalId('User', w.ada.id), ...variables } });
    const one = (await ask({ depth: 1 })).data!.graph;
    expect(one.nodes.map((n: { type: string }) => n.type).sort()).toEqual(['IDENTIFIER', 'IDENTITY', 'ORGANIZATION', 'USER']);
    const confident = (await ask({ depth: 3, min: 0.5 })).data!.graph;
    expect(confident.nodes.some((n: { id: string }) => n.id === globalId('User', w.grace.id))).toBe(false);
    const capped = (await ask({ depth: 3, max: 2 })).data!.graph;
    expect(capped.nodes).toHaveLength(2);
    expect(capped.truncated).toBe(true);
  });

  it('costs the same number of SQL statements per level for a wide neighbourhood as for a narrow one', async () => {
    const w = await world();
    const narrow = await withSqlLog(() => gql(GRAPH, { asUser: w.analyst, organizationId: w.organization.id, variables: { from: globalId('User', w.ada.id), depth: 2 } }));
    for (let i = 0; i < 30; i++) await anIdentifier(w.organization.id, w.ada.id, w.sf.id, { identifierKey: `k${i}`, identifierValue: `v${i}` });
    const wide = await withSqlLog(() => gql(GRAPH, { asUser: w.analyst, organizationId: w.organization.id, variables: { from: globalId('User', w.ada.id), depth: 2 } }));
    expect(wide.result.data!.graph.nodes.length).toBeGreaterThan(30);
    expect(wide.statements.length).toBe(narrow.statements.length);
  });

  it('answers null for a start in another organization and BAD_USER_INPUT for a bad depth or id', async () => {
    const w = await world();
    const other = await world();
    const foreign = await gql(GRAPH, { asUser: w.analyst, organizationId: w.organization.id, variables: { from: globalId('User', other.ada.id) } });
    expect(foreign.data?.graph).toBeNull();
    expectErrorCode(await gql(GRAPH, { asUser: w.analyst, organizationId: w.organization.id, variables: { from: globalId('User', w.ada.id), depth: 4 } }), 'BAD_USER_INPUT');
    expectErrorCode(await gql(GRAPH, { asUser: w.analyst, organizationId: w.organization.id, variables: { from: 'nonsense' } }), 'BAD_USER_INPUT');
    expectErrorCode(await gql(GRAPH, { asUser: other.analyst, organizationId: w.organization.id, variables: { from: globalId('User', w.ada.id) } }), 'FORBIDDEN');
  });
});

describe('explainLink', () => {
  const EXPLAIN = `query ($a: ID!, $b: ID!) { explainLink(a: $a, b: $b) { length steps { kind from to value confidence } } }`;

  it('explains how two people are connected, step by step, with the shared value', async () => {
    const w = await world();
    const result = await gql(EXPLAIN, { asUser: w.analyst, organizationId: w.organization.id, variables: { a: globalId('User', w.ada.id), b: globalId('User', w.grace.id) } });
    expectNoErrors(result);
    const x = result.data!.explainLink;
    expect(x.length).toBe(3);
    expect(x.steps.map((s: { kind: string }) => s.kind)).toEqual(['OWNS_IDENTIFIER', 'SHARES_VALUE', 'OWNS_IDENTIFIER']);
    expect(x.steps[1].value).toBe('shared-1');
  });

  it('answers null when nothing connects the two (a shared organization is not evidence)', async () => {
    const w = await world();
    const loner = await aUser();
    await aMember(w.organization.id, loner.id);
    const result = await gql(EXPLAIN, { asUser: w.analyst, organizationId: w.organization.id, variables: { a: globalId('User', w.ada.id), b: globalId('User', loner.id) } });
    expectNoErrors(result);
    expect(result.data?.explainLink).toBeNull();
  });
});

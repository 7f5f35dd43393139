import { decodeGlobalID, encodeGlobalID } from '@pothos/plugin-relay';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isPlan } from './helpers/engine.ts';
import { prisma } from '../src/db.ts';
import { expectNoErrors, gql, type GqlOptions } from './helpers/app.ts';
import { aMember, anIdentity, aSource, aTenantWithMember, aUser } from './helpers/factories.ts';
import { momentNow } from './helpers/moments.ts';
import { withSqlLog } from './helpers/sql-count.ts';

// resolveMany and nodes as of a past moment answer a list with one statement whatever its
// length; each position is what resolve or node as of that moment answers for it.

const UPSERT = `mutation ($input: UpsertIdentifierInput!) { upsertIdentifier(input: $input) { __typename ... on UpsertIdentifierSuccess { identifier { id } } } }`;
const RESOLVE = `query ($input: ResolveInput!, $asOf: DateTime) { resolve(input: $input, asOf: $asOf) { __typename user { id email } } }`;
const RESOLVE_MANY = `query ($inputs: [ResolveInput!]!, $asOf: DateTime) { resolveMany(inputs: $inputs, asOf: $asOf) { __typename user { id email } } }`;
const SELECTION = `__typename id ... on User { email } ... on Identifier { identifierValue } ... on Organization { name } ... on Identity { name }`;
const NODE = `query ($id: ID!, $asOf: DateTime) { node(id: $id, asOf: $asOf) { ${SELECTION} } }`;
const NODES = `query ($ids: [ID!]!, $asOf: DateTime) { nodes(ids: $ids, asOf: $asOf) { ${SELECTION} } }`;
const MERGE = `mutation ($input: MergeUsersInput!) { mergeUsers(input: $input) { __typename } }`;
// Every statement the engine compiles starts so.

async function world() {
  const { organization: org, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
  await prisma.organization.update({ where: { id: org.id }, data: { defaultPhoneRegion: 'US' } });
  await aSource(org.id, { key: 'crm' });
  const [ada, bob, cy] = [await aUser(), await aUser(), await aUser()];
  for (const p of [ada, bob, cy]) await aMember(org.id, p.id);
  const as = { asUser: admin, organizationId: org.id } as GqlOptions;
  const write = async (userId: string, identifierKey: string, identifierValue: string, valueKind?: string) => {
    const r = await gql(UPSERT, { ...as, variables: { input: { userId, sourceKey: 'crm', identifierKey, identifierValue, valueKind, discoveryMethod: 'MANUAL' } } });
    expectNoErrors(r);
    return decodeGlobalID(r.data!.upsertIdentifier.identifier.id as string).id;
  };
  const ids = {
    phone: await write(ada.id, 'phone', '+1 415 555 0142'),
    // The same value held as written by bob and as a phone number by ada: read as written first.
    asPhone: await write(ada.id, 'contact', '415-555-0199', 'PHONE'),
    asWritten: await write(bob.id, 'contact', '415-555-0199'),
    sharedA: await write(ada.id, 'owner_id', 'shared'),
    sharedB: await write(bob.id, 'owner_id', 'shared'),
    cy: await write(cy.id, 'owner_id', 'c-1'),
  };
  const identity = await anIdentity(org.id, { name: 'Then', userId: cy.id });
  return { org, as, ada, bob, cy, ids, identity };
}

const identifier = (identifierKey: string, identifierValue: string) => ({ identifier: { sourceKey: 'crm', identifierKey, identifierValue } });

describe('lists as of a past moment', () => {
  it('resolveMany answers each key as resolve does one by one, in order, with repeats, misses, ambiguous values and phone numbers written two ways', async () => {
    const w = await world();
    const then = await momentNow();
    // The present differs from then.
    await prisma.identifier.deleteMany({ where: { id: { in: [w.ids.cy, w.ids.asWritten] } } });
    const inputs = [
      identifier('phone', '(415) 555-0142'),
      identifier('phone', '+14155550142'),
      identifier('contact', '415-555-0199'),
      identifier('owner_id', 'shared'),
      identifier('owner_id', 'c-1'),
      identifier('owner_id', 'missing'),
      identifier('owner_id', 'c-1'),
      identifier('phone', '(415) 555-0142'),
      identifier('contact', '(415) 555-0199'),
    ];
    const many = await gql(RESOLVE_MANY, { ...w.as, variables: { inputs, asOf: then.toISOString() } });
    expectNoErrors(many);
    const one = [];
    for (const input of inputs) {
      const r = await gql(RESOLVE, { ...w.as, variables: { input, asOf: then.toISOString() } });
      expectNoErrors(r);
      one.push(r.data!.resolve);
    }
    expect(many.data!.resolveMany).toEqual(one);
    const user = (u: { id: string; email: string }) => ({ __typename: 'Resolution', user: { id: encodeGlobalID('User', u.id), email: u.email } });
    expect(one).toEqual([user(w.ada), user(w.ada), user(w.bob), { __typename: 'Resolution', user: null }, user(w.cy), null, user(w.cy), user(w.ada), user(w.ada)]);
    // Now, bob's value as written is gone: the same key finds ada's phone number.
    const now = await gql(RESOLVE_MANY, { ...w.as, variables: { inputs: inputs.slice(2, 5), asOf: (await momentNow()).toISOString() } });
    expectNoErrors(now);
    expect(now.data!.resolveMany).toEqual([user(w.ada), { __typename: 'Resolution', user: null }, null]);
  });

  it('nodes answers each id as node does one by one, in order, whatever its type, a merged-away user by where it led then', async () => {
    const w = await world();
    const before = await momentNow();
    const merged = await gql(MERGE, { ...w.as, variables: { input: { survivorId: w.ada.id, mergedId: w.bob.id } } });
    expect(merged.data!.mergeUsers.__typename).toBe('MergeUsersSuccess');
    await prisma.identity.update({ where: { id: w.identity.id }, data: { name: 'Now' } });
    await prisma.organization.update({ where: { id: w.org.id }, data: { name: 'Renamed' } });
    const after = await momentNow();
    await prisma.identifier.delete({ where: { id: w.ids.cy } });
    const ids = [
      encodeGlobalID('User', w.bob.id),
      encodeGlobalID('Identifier', w.ids.cy),
      encodeGlobalID('Organization', w.org.id),
      encodeGlobalID('Identity', w.identity.id),
      encodeGlobalID('Identifier', randomUUID()),
      encodeGlobalID('User', w.bob.id),
      'not an id',
      encodeGlobalID('User', w.cy.id),
      encodeGlobalID('Identifier', w.ids.cy),
    ];
    for (const asOf of [before, after, await momentNow()]) {
      const list = await gql(NODES, { ...w.as, variables: { ids, asOf: asOf.toISOString() } });
      expectNoErrors(list);
      const one = [];
      for (const id of ids) {
        const r = await gql(NODE, { ...w.as, variables: { id, asOf: asOf.toISOString() } });
        expectNoErrors(r);
        one.push(r.data!.node);
      }
      expect(list.data!.nodes).toEqual(one);
      // Bob's id led to bob before the merge and to ada after it.
      expect(one[0].email).toBe(asOf === before ? w.bob.email : w.ada.email);
      expect(one[3].name).toBe(asOf === before ? 'Then' : 'Now');
      expect(one[4]).toBeNull();
      expect(one[6]).toBeNull();
    }
  });

  it('answer a list of any length with the same statements as a list of one', async () => {
    const w = await world();
    const then = (await momentNow()).toISOString();
    // The credential read once before counting: a token the server has not seen adds its own statement.
    await gql('{ __typename }', w.as);
    const count = async (query: string, variables: Record<string, unknown>) => {
      const { result, statements } = await withSqlLog(() => gql(query, { ...w.as, variables: { ...variables, asOf: then } }));
      expectNoErrors(result);
      // Whether the request read its credential again depends on what the server still
      // remembers of it (a token's facts expire), not on the list: left out.
      const read = statements.filter((s) => !/^SELECT u\."id" AS "id", u\."is_system_admin"/.test(s));
      return { all: read.length, plans: read.filter(isPlan).length };
    };
    const keys = [identifier('phone', '(415) 555-0142'), identifier('contact', '415-555-0199'), identifier('owner_id', 'shared'), identifier('owner_id', 'missing')];
    const oneKey = await count(RESOLVE_MANY, { inputs: keys.slice(0, 1) });
    expect(oneKey.plans).toBe(1);
    expect(await count(RESOLVE_MANY, { inputs: [...keys, ...keys, ...keys] })).toEqual(oneKey);
    const nodes = [encodeGlobalID('User', w.ada.id), encodeGlobalID('Identifier', w.ids.cy), encodeGlobalID('Identity', w.identity.id), encodeGlobalID('User', w.bob.id)];
    const oneNode = await count(NODES, { ids: nodes.slice(0, 1) });
    expect(oneNode.plans).toBe(1);
    expect(await count(NODES, { ids: [...nodes, ...nodes, ...nodes] })).toEqual(oneNode);
  });
});

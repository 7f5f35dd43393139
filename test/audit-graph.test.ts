import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runImport } from '../scripts/import.ts';
import { prisma } from '../src/db.ts';
import { tableName } from '../src/modules/shared/sql-names.ts';
import { eventsDuring } from './helpers/audit.ts';
import { openChangeStream } from '../src/modules/audit/bus.ts';
import { expectNoErrors, globalId, gql } from './helpers/app.ts';
import { anApiKey, anIdentifier, anIdentity, aSource, aTenantWithMember, aUser, aMember } from './helpers/factories.ts';
import { withSqlLog } from './helpers/sql-count.ts';

// History of the graph's own objects: identifiers, identities (with their properties
// and links) and API keys record an event per changed object in the transaction of the
// change, with only the changed fields; writes that change nothing and writes that fail
// record nothing.

async function anApiKeyWithSecret(organizationId: string) {
  const secret = `igk_${randomBytes(32).toString('base64url')}`;
  const key = await anApiKey(organizationId, createHash('sha256').update(secret).digest('hex'), { role: 'ANALYST' });
  return { key, headers: { 'x-api-key': secret } };
}

const UPSERT_IDENTIFIER = `mutation ($input: UpsertIdentifierInput!) {
  upsertIdentifier(input: $input) { __typename ... on UpsertIdentifierSuccess { identifier { id } } ... on Error { code } }
}`;
const UPSERT_IDENTIFIERS = `mutation ($input: UpsertIdentifiersInput!) {
  upsertIdentifiers(input: $input) {
    __typename
    ... on UpsertIdentifiersSuccess { createdCount updatedCount unchangedCount results { identifier { id } } }
    ... on Error { code }
  }
}`;
const UPDATE_IDENTIFIER = `mutation ($input: UpdateIdentifierInput!) {
  updateIdentifier(input: $input) { __typename ... on Error { code } }
}`;
const DELETE_IDENTIFIER = `mutation ($input: DeleteIdentifierInput!) {
  deleteIdentifier(input: $input) { __typename ... on Error { code } }
}`;

async function aGraphTenant() {
  const { organization, user: analyst } = await aTenantWithMember('ANALYST');
  const crm = await aSource(organization.id, { key: 'crm' });
  const person = await aUser();
  await aMember(organization.id, person.id, { role: 'ANALYST', state: 'ACTIVE' });
  return { organization, analyst, crm, person };
}

describe('identifier history', () => {
  it('upsertIdentifier records CREATE, then an UPDATE of only the changed fields, then nothing when unchanged', async () => {
    const { organization, crm, person } = await aGraphTenant();
    const { key, headers } = await anApiKeyWithSecret(organization.id);
    const input = {
      organizationId: organization.id,
      userId: person.id,
      sourceKey: 'crm',
      identifierKey: 'owner_id',
      identifierValue: '005A',
      discoveryMethod: 'MCP_TOOL',
      confidenceScore: 0.7,
      discoveryMetadata: { tool: 'crm.lookup' },
    };
    const created = await eventsDuring(() => gql(UPSERT_IDENTIFIER, { headers, variables: { input } }));
    expectNoErrors(created.result);
    const row = await prisma.identifier.findFirstOrThrow({ where: { organizationId: organization.id, userId: person.id } });
    expect(created.events).toHaveLength(1);
    expect(created.events[0]).toMatchObject({
      actorType: 'API_KEY',
      actorApiKeyId: key.id,
      organizationId: organization.id,
      entityType: 'Identifier',
      entityId: row.id,
      action: 'CREATE',
      discoveryMethod: 'MCP_TOOL',
    });
    expect(created.events[0]!.changes).toEqual({
      userId: { before: null, after: person.id },
      sourceId: { before: null, after: crm.id },
      identifierKey: { before: null, after: 'owner_id' },
      identifierValue: { before: null, after: '005A' },
      discoveryMethod: { before: null, after: 'MCP_TOOL' },
      confidenceScore: { before: null, after: 0.7 },
      discoveryMetadata: { before: null, after: { tool: 'crm.lookup' } },
      valueKind: { before: null, after: 'OTHER' },
    });

    const updated = await eventsDuring(() =>
      gql(UPSERT_IDENTIFIER, { headers, variables: { input: { ...input, identifierValue: '005B', confidenceScore: 0.9 } } }),
    );
    expectNoErrors(updated.result);
    expect(updated.events).toHaveLength(1);
    expect(updated.events[0]).toMatchObject({ action: 'UPDATE', entityId: row.id });
    expect(updated.events[0]!.changes).toEqual({
      identifierValue: { before: '005A', after: '005B' },
      confidenceScore: { before: 0.7, after: 0.9 },
    });

    const same = await eventsDuring(() =>
      gql(UPSERT_IDENTIFIER, { headers, variables: { input: { ...input, identifierValue: '005B', confidenceScore: 0.9 } } }),
    );
    expectNoErrors(same.result);
    expect(same.events).toEqual([]);
  });

  it('upsertIdentifiers records one event per created or changed item in the same statement as the write', async () => {
    const { organization, analyst, crm, person } = await aGraphTenant();
    const changed = await anIdentifier(organization.id, person.id, crm.id, { identifierKey: 'a', identifierValue: 'old' });
    await anIdentifier(organization.id, person.id, crm.id, { identifierKey: 'b', identifierValue: 'same' });
    const item = (identifierKey: string, identifierValue: string) => ({
      userId: person.id,
      sourceId: crm.id,
      identifierKey,
      identifierValue,
      discoveryMethod: 'MANUAL',
    });
    const items = [item('a', 'new'), item('b', 'same'), item('c', 'fresh')];
    const { result: logged, events } = await eventsDuring(() =>
      withSqlLog(() => gql(UPSERT_IDENTIFIERS, { asUser: analyst, variables: { input: { organizationId: organization.id, items } } })),
    );
    expectNoErrors(logged.result);
    expect(logged.result.data?.upsertIdentifiers).toMatchObject({ createdCount: 1, updatedCount: 1, unchangedCount: 1 });
    expect(events.map((e) => e.action).sort()).toEqual(['CREATE', 'UPDATE']);
    const update = events.find((e) => e.action === 'UPDATE')!;
    expect(update.entityId).toBe(changed.id);
    expect(update.changes).toEqual({ identifierValue: { before: 'old', after: 'new' } });
    expect(events.find((e) => e.action === 'CREATE')!.changes).toMatchObject({
      identifierKey: { before: null, after: 'c' },
      identifierValue: { before: null, after: 'fresh' },
    });
    // The write, its events and their notification are one statement: none of them is a
    // separate INSERT INTO audit_events.
    const inserts = (model: 'AuditEvent' | 'Identifier') => (s: string) => s.includes(`INSERT INTO ${tableName(model)}`);
    expect(logged.statements.filter(inserts('AuditEvent'))).toHaveLength(1);
    expect(logged.statements.filter(inserts('Identifier'))).toHaveLength(1);
    expect(inserts('AuditEvent')(logged.statements.find(inserts('Identifier'))!)).toBe(true);
  });

  it('a bulk upsert refused for one bad item writes neither identifiers nor events', async () => {
    const { organization, analyst, crm, person } = await aGraphTenant();
    const items = [
      { userId: person.id, sourceId: crm.id, identifierKey: 'a', identifierValue: 'x', discoveryMethod: 'MANUAL' },
      { userId: person.id, sourceId: crm.id, identifierKey: 'b', identifierValue: 'y', discoveryMethod: 'MANUAL', confidenceScore: 2 },
    ];
    const { result, events } = await eventsDuring(() =>
      gql(UPSERT_IDENTIFIERS, { asUser: analyst, variables: { input: { organizationId: organization.id, items } } }),
    );
    expect(result.data?.upsertIdentifiers.__typename).toBe('ValidationError');
    expect(events).toEqual([]);
    expect(await prisma.identifier.count({ where: { organizationId: organization.id } })).toBe(0);
  });

  it('updateIdentifier records the fields it changed; deleteIdentifier records every value it removed', async () => {
    const { organization, analyst, crm, person } = await aGraphTenant();
    const row = await anIdentifier(organization.id, person.id, crm.id, { identifierKey: 'k', identifierValue: 'v', confidenceScore: 0.5 });
    const id = globalId('Identifier', row.id);
    const updated = await eventsDuring(() =>
      gql(UPDATE_IDENTIFIER, { asUser: analyst, variables: { input: { id, confidenceScore: null, discoveryMethod: 'LLM_DISCOVERY' } } }),
    );
    expect(updated.result.data?.updateIdentifier.__typename).toBe('UpdateIdentifierSuccess');
    expect(updated.events).toHaveLength(1);
    expect(updated.events[0]).toMatchObject({ action: 'UPDATE', entityType: 'Identifier', entityId: row.id, actorUserId: analyst.id });
    expect(updated.events[0]!.changes).toEqual({
      confidenceScore: { before: 0.5, after: null },
      discoveryMethod: { before: 'MANUAL', after: 'LLM_DISCOVERY' },
    });

    const deleted = await eventsDuring(() => gql(DELETE_IDENTIFIER, { asUser: analyst, variables: { input: { id } } }));
    expect(deleted.result.data?.deleteIdentifier.__typename).toBe('DeleteIdentifierSuccess');
    expect(deleted.events).toHaveLength(1);
    expect(deleted.events[0]).toMatchObject({ action: 'DELETE', entityId: row.id, organizationId: organization.id });
    expect(deleted.events[0]!.changes).toMatchObject({
      identifierKey: { before: 'k', after: null },
      identifierValue: { before: 'v', after: null },
      discoveryMethod: { before: 'LLM_DISCOVERY', after: null },
    });

    const again = await eventsDuring(() => gql(DELETE_IDENTIFIER, { asUser: analyst, variables: { input: { id } } }));
    expect(again.result.data?.deleteIdentifier.__typename).toBe('NotFoundError');
    expect(again.events).toEqual([]);
  });

  it('history of an identifier lists its changes newest first', async () => {
    const { organization, analyst, person } = await aGraphTenant();
    const input = { organizationId: organization.id, userId: person.id, sourceKey: 'crm', identifierKey: 'k', discoveryMethod: 'MANUAL' };
    for (const identifierValue of ['1', '2', '3']) {
      expectNoErrors(await gql(UPSERT_IDENTIFIER, { asUser: analyst, variables: { input: { ...input, identifierValue } } }));
    }
    const row = await prisma.identifier.findFirstOrThrow({ where: { organizationId: organization.id } });
    const read = await gql(
      `query ($id: ID!) { node(id: $id) { ... on Identifier { history { totalCount edges { node { action changes } } } } } }`,
      { asUser: analyst, variables: { id: globalId('Identifier', row.id) } },
    );
    expectNoErrors(read);
    const history = read.data?.node.history;
    expect(history.totalCount).toBe(3);
    expect(history.edges.map((e: { node: { action: string; changes: any } }) => [e.node.action, e.node.changes.identifierValue.after])).toEqual([
      ['UPDATE', '3'],
      ['UPDATE', '2'],
      ['CREATE', '1'],
    ]);
  });

  it('the import records its writes with the system as actor', async () => {
    const { organization, person } = await aGraphTenant();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'igs-import-audit-'));
    try {
      const file = path.join(dir, 'lines.ndjson');
      await writeFile(
        file,
        [
          { kind: 'identifier', userId: person.id, sourceKey: 'crm', identifierKey: 'k1', identifierValue: 'v1', discoveryMethod: 'MANUAL' },
          { kind: 'identity', identifierKey: 'acct-1', identityType: 'ORG', name: 'Acme' },
        ]
          .map((l) => JSON.stringify(l))
          .join('\n'),
      );
      const { result: summary, events } = await eventsDuring(() => runImport({ file, organizationSlug: organization.slug }));
      expect(summary.rejected).toEqual([]);
      expect(events.map((e) => [e.entityType, e.action, e.actorType])).toEqual(
        expect.arrayContaining([
          ['Identifier', 'CREATE', 'SYSTEM'],
          ['Identity', 'CREATE', 'SYSTEM'],
        ]),
      );
      expect(events).toHaveLength(2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

const UPSERT_IDENTITY = `mutation ($input: UpsertIdentityInput!) {
  upsertIdentity(input: $input) { __typename ... on UpsertIdentitySuccess { identity { id } } ... on Error { code } }
}`;
const CREATE_IDENTITY = `mutation ($input: CreateIdentityInput!) {
  createIdentity(input: $input) { __typename ... on Error { code } }
}`;
const UPDATE_IDENTITY = `mutation ($input: UpdateIdentityInput!) {
  updateIdentity(input: $input) { __typename ... on Error { code } }
}`;
const DELETE_IDENTITY = `mutation ($input: DeleteIdentityInput!) {
  deleteIdentity(input: $input) { __typename ... on Error { code } }
}`;
const UPSERT_PROPERTIES = `mutation ($input: UpsertIdentityPropertiesInput!) {
  upsertIdentityProperties(input: $input) { __typename ... on Error { code } }
}`;
const DELETE_PROPERTIES = `mutation ($input: DeleteIdentityPropertiesInput!) {
  deleteIdentityProperties(input: $input) { __typename ... on Error { code } }
}`;
const LINK = `mutation ($input: LinkIdentityInput!) { linkIdentity(input: $input) { __typename ... on Error { code } } }`;
const UNLINK = `mutation ($input: UnlinkIdentityInput!) { unlinkIdentity(input: $input) { __typename ... on Error { code } } }`;

describe('identity history', () => {
  it('upsertIdentity records CREATE with its properties, then UPDATE of the changed fields and properties only', async () => {
    const { organization, analyst } = await aGraphTenant();
    const input = {
      organizationId: organization.id,
      identifierKey: 'acme',
      identityType: 'ORG',
      name: 'Acme',
      email: 'Team@Acme.example',
      properties: [
        { key: 'tier', type: 'STRING', value: 'gold' },
        { key: 'seats', type: 'NUMBER', value: 10 },
      ],
    };
    const created = await eventsDuring(() => gql(UPSERT_IDENTITY, { asUser: analyst, variables: { input } }));
    expectNoErrors(created.result);
    const row = await prisma.identity.findFirstOrThrow({ where: { organizationId: organization.id, identifierKey: 'acme' } });
    expect(created.events).toHaveLength(1);
    expect(created.events[0]).toMatchObject({ action: 'CREATE', entityType: 'Identity', entityId: row.id, actorUserId: analyst.id });
    expect(created.events[0]!.changes).toEqual({
      identifierKey: { before: null, after: 'acme' },
      identityType: { before: null, after: 'ORG' },
      name: { before: null, after: 'Acme' },
      email: { before: null, after: 'team@acme.example' },
      externalEmailVerified: { before: null, after: false },
      'properties.tier': { before: null, after: { type: 'STRING', value: 'gold' } },
      'properties.seats': { before: null, after: { type: 'NUMBER', value: 10 } },
    });

    const updated = await eventsDuring(() =>
      gql(UPSERT_IDENTITY, {
        asUser: analyst,
        variables: { input: { ...input, name: 'Acme Inc', properties: [{ key: 'tier', type: 'STRING', value: 'platinum' }, { key: 'seats', type: 'NUMBER', value: 10 }] } },
      }),
    );
    expectNoErrors(updated.result);
    expect(updated.events).toHaveLength(1);
    expect(updated.events[0]!.changes).toEqual({
      name: { before: 'Acme', after: 'Acme Inc' },
      'properties.tier': { before: { type: 'STRING', value: 'gold' }, after: { type: 'STRING', value: 'platinum' } },
    });

    const propertiesOnly = await eventsDuring(() =>
      gql(UPSERT_IDENTITY, {
        asUser: analyst,
        variables: { input: { ...input, name: 'Acme Inc', properties: [{ key: 'seats', type: 'NUMBER', value: 11 }] } },
      }),
    );
    expect(propertiesOnly.events.map((e) => [e.action, e.changes])).toEqual([
      ['UPDATE', { 'properties.seats': { before: { type: 'NUMBER', value: 10 }, after: { type: 'NUMBER', value: 11 } } }],
    ]);

    const same = await eventsDuring(() =>
      gql(UPSERT_IDENTITY, { asUser: analyst, variables: { input: { ...input, name: 'Acme Inc', properties: [] } } }),
    );
    expectNoErrors(same.result);
    expect(same.events).toEqual([]);
  });

  it('a create refused with CONFLICT records nothing', async () => {
    const { organization, analyst } = await aGraphTenant();
    await anIdentity(organization.id, { identifierKey: 'taken' });
    const { result, events } = await eventsDuring(() =>
      gql(CREATE_IDENTITY, {
        asUser: analyst,
        variables: { input: { organizationId: organization.id, identifierKey: 'taken', identityType: 'OTHER', name: 'X' } },
      }),
    );
    expect(result.data?.createIdentity.__typename).toBe('ConflictError');
    expect(events).toEqual([]);
  });

  it('property changes, links, updates and the deletion each record what they changed', async () => {
    const { organization, person } = await aGraphTenant();
    const admin = (await aTenantWithMember('ORGANIZATION_ADMIN')).user;
    await aMember(organization.id, admin.id, { role: 'ORGANIZATION_ADMIN', state: 'ACTIVE' });
    const row = await anIdentity(organization.id, { identifierKey: 'p', name: 'P', identityType: 'USER' });
    const id = globalId('Identity', row.id);
    const as = { asUser: admin, organizationId: organization.id };

    const props = await eventsDuring(() =>
      gql(UPSERT_PROPERTIES, { ...as, variables: { input: { identityId: id, properties: [{ key: 'vip', type: 'BOOLEAN', value: true }] } } }),
    );
    expect(props.result.data?.upsertIdentityProperties.__typename).toBe('UpsertIdentityPropertiesSuccess');
    expect(props.events.map((e) => [e.action, e.changes])).toEqual([
      ['UPDATE', { 'properties.vip': { before: null, after: { type: 'BOOLEAN', value: true } } }],
    ]);

    const link = await eventsDuring(() => gql(LINK, { ...as, variables: { input: { identityId: id, userId: person.id } } }));
    expect(link.result.data?.linkIdentity.__typename).toBe('LinkIdentitySuccess');
    expect(link.events.map((e) => [e.action, e.changes])).toEqual([
      ['UPDATE', { userId: { before: null, after: person.id }, linkedBy: { before: null, after: 'MANUAL' } }],
    ]);

    const unlink = await eventsDuring(() => gql(UNLINK, { ...as, variables: { input: { identityId: id } } }));
    expect(unlink.result.data?.unlinkIdentity.__typename).toBe('UnlinkIdentitySuccess');
    expect(unlink.events.map((e) => e.changes)).toEqual([{ userId: { before: person.id, after: null }, linkedBy: { before: 'MANUAL', after: null } }]);

    const update = await eventsDuring(() => gql(UPDATE_IDENTITY, { ...as, variables: { input: { id, name: 'Q', projectId: 'x' } } }));
    expect(update.result.data?.updateIdentity.__typename).toBe('UpdateIdentitySuccess');
    expect(update.events.map((e) => e.changes)).toEqual([{ name: { before: 'P', after: 'Q' }, projectId: { before: null, after: 'x' } }]);

    const removeProp = await eventsDuring(() =>
      gql(DELETE_PROPERTIES, { ...as, variables: { input: { identityId: id, keys: ['vip', 'absent'] } } }),
    );
    expect(removeProp.events.map((e) => e.changes)).toEqual([{ 'properties.vip': { before: { type: 'BOOLEAN', value: true }, after: null } }]);
    const removeNothing = await eventsDuring(() => gql(DELETE_PROPERTIES, { ...as, variables: { input: { identityId: id, keys: ['vip'] } } }));
    expect(removeNothing.events).toEqual([]);

    await gql(UPSERT_PROPERTIES, { ...as, variables: { input: { identityId: id, properties: [{ key: 'seats', type: 'NUMBER', value: 3 }] } } });
    const deleted = await eventsDuring(() => gql(DELETE_IDENTITY, { ...as, variables: { input: { id } } }));
    expect(deleted.result.data?.deleteIdentity.__typename).toBe('DeleteIdentitySuccess');
    expect(deleted.events).toHaveLength(1);
    expect(deleted.events[0]).toMatchObject({ action: 'DELETE', entityId: row.id, organizationId: organization.id });
    expect(deleted.events[0]!.changes).toMatchObject({
      identifierKey: { before: 'p', after: null },
      name: { before: 'Q', after: null },
      'properties.seats': { before: { type: 'NUMBER', value: 3 }, after: null },
    });
  });
});

const CREATE_API_KEY = `mutation ($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { __typename ... on CreateApiKeySuccess { secret apiKey { id } } ... on Error { code } }
}`;
const REVOKE_API_KEY = `mutation ($input: RevokeApiKeyInput!) { revokeApiKey(input: $input) { __typename ... on Error { code } } }`;

describe('API key history', () => {
  it('records the creation and the revocation of a key, never its secret or the secret hash', async () => {
    const { organization, user: admin } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const created = await eventsDuring(() =>
      gql(CREATE_API_KEY, { asUser: admin, variables: { input: { organizationId: organization.id, name: 'discovery job', role: 'ANALYST' } } }),
    );
    expectNoErrors(created.result);
    const { secret, apiKey } = created.result.data?.createApiKey as { secret: string; apiKey: { id: string } };
    const row = await prisma.apiKey.findFirstOrThrow({ where: { organizationId: organization.id } });
    expect(globalId('ApiKey', row.id)).toBe(apiKey.id);
    expect(created.events).toHaveLength(1);
    expect(created.events[0]).toMatchObject({ action: 'CREATE', entityType: 'ApiKey', entityId: row.id, actorUserId: admin.id });
    expect(created.events[0]!.changes).toEqual({
      name: { before: null, after: 'discovery job' },
      role: { before: null, after: 'ANALYST' },
      prefix: { before: null, after: row.prefix },
    });

    const revoked = await eventsDuring(() => gql(REVOKE_API_KEY, { asUser: admin, variables: { input: { id: apiKey.id } } }));
    expect(revoked.result.data?.revokeApiKey.__typename).toBe('RevokeApiKeySuccess');
    const after = await prisma.apiKey.findUniqueOrThrow({ where: { id: row.id } });
    expect(revoked.events.map((e) => [e.action, e.changes])).toEqual([
      ['REVOKE', { revokedAt: { before: null, after: after.revokedAt!.toISOString() } }],
    ]);
    const twice = await eventsDuring(() => gql(REVOKE_API_KEY, { asUser: admin, variables: { input: { id: apiKey.id } } }));
    expect(twice.result.data?.revokeApiKey.__typename).toBe('RevokeApiKeySuccess');
    expect(twice.events).toEqual([]);

    const everything = JSON.stringify(await prisma.auditEvent.findMany());
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain(row.secretHash);
  });
});

describe('filters by actor', () => {
  it('Organization.auditEvents narrows to one API key, one user or one kind of actor', async () => {
    const { organization, analyst, person } = await aGraphTenant();
    const { key, headers } = await anApiKeyWithSecret(organization.id);
    const input = { organizationId: organization.id, userId: person.id, sourceKey: 'crm', discoveryMethod: 'MCP_TOOL' };
    expectNoErrors(await gql(UPSERT_IDENTIFIER, { headers, variables: { input: { ...input, identifierKey: 'by-key', identifierValue: '1' } } }));
    expectNoErrors(await gql(UPSERT_IDENTIFIER, { asUser: analyst, variables: { input: { ...input, identifierKey: 'by-user', identifierValue: '2' } } }));
    const query = `query ($id: ID!, $filter: AuditEventFilter) {
      node(id: $id) { ... on Organization { auditEvents(filter: $filter) { totalCount edges { node { actorType changes } } } } }
    }`;
    const keys = async (filter: Record<string, unknown>) => {
      const r = await gql(query, { asUser: analyst, variables: { id: globalId('Organization', organization.id), filter } });
      expectNoErrors(r);
      return r.data?.node.auditEvents.edges.map((e: { node: { changes: any } }) => e.node.changes.identifierKey.after);
    };
    expect(await keys({ actorApiKeyId: globalId('ApiKey', key.id) })).toEqual(['by-key']);
    expect(await keys({ actorType: 'API_KEY' })).toEqual(['by-key']);
    expect(await keys({ actorUserId: globalId('User', analyst.id) })).toEqual(['by-user']);
    expect(await keys({ actorType: 'USER', actorApiKeyId: globalId('ApiKey', key.id) })).toEqual([]);
    expect(await keys({ actorApiKeyId: globalId('User', analyst.id) })).toEqual([]);
  });
});

describe('change streams', () => {
  it('end with an error instead of holding more events than the cap for a subscriber that does not read', async () => {
    const { organization, analyst, person } = await aGraphTenant();
    let delivered = 0;
    const stream = await openChangeStream(organization.id, async (ids) => ((delivered += ids.length), ids), 2);
    try {
      const input = { organizationId: organization.id, userId: person.id, sourceKey: 'crm', discoveryMethod: 'MANUAL', identifierValue: 'v' };
      for (const identifierKey of ['a', 'b', 'c']) {
        expectNoErrors(await gql(UPSERT_IDENTIFIER, { asUser: analyst, variables: { input: { ...input, identifierKey } } }));
      }
      // Nothing read yet: once the third event is delivered, the buffer of two overflows.
      for (let i = 0; i < 100 && delivered < 3; i++) await new Promise((r) => setTimeout(r, 50));
      expect(delivered).toBe(3);
      await new Promise((r) => setTimeout(r, 10));
      await expect(stream.next()).rejects.toThrow(/More than 2 changes waited/);
      expect(await stream.next()).toEqual({ value: undefined, done: true });
    } finally {
      await stream.return?.();
    }
  });
});

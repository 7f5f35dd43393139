import type { GraphQLObjectType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { readScopes } from '../src/modules/shared/engine/fields.ts';
import { schema } from '../src/schema.ts';

// A connection's auth scopes are read by the engine from the Pothos field itself, so
// the rule of who may read it is written once. What it cannot read is refused.

describe('auth scopes read by the engine', () => {
  it('reads a scope over the organization the row names, and refuses every other form', () => {
    expect(readScopes((o: { id: string }) => ({ orgRead: o.id }), 'id')).toBe('read');
    expect(readScopes((s: { organizationId: string }) => ({ orgAdmin: s.organizationId }), 'organizationId')).toBe('admin');
    // Another column than the one naming the row's organization.
    expect(readScopes((s: { id: string }) => ({ orgRead: s.id }), 'organizationId')).toBe('unreadable');
    // Another scope, two scopes, static scopes, or a scope read from the context.
    expect(readScopes((o: { id: string }) => ({ authenticated: o.id }), 'id')).toBe('unreadable');
    expect(readScopes((o: { id: string }) => ({ orgRead: o.id, orgAdmin: o.id }), 'id')).toBe('unreadable');
    expect(readScopes({ authenticated: true }, 'id')).toBe('unreadable');
    expect(readScopes((_o: unknown, _a: unknown, ctx: { organizationId: string }) => ({ orgRead: ctx.organizationId }), 'id')).toBe('unreadable');
  });

  it("finds what each organization connection asks: reading it, or administering it for keys, webhooks and deleted items", () => {
    const organization = schema.getType('Organization') as GraphQLObjectType;
    const levels = Object.fromEntries(
      ['members', 'identifiers', 'identities', 'sources', 'auditEvents', 'linkSuggestions', 'apiKeys', 'webhookEndpoints', 'deletedItems'].map((name) => {
        const scopes = (organization.getFields()[name]!.extensions as { pothosOptions?: { authScopes?: unknown } }).pothosOptions?.authScopes;
        return [name, readScopes(scopes, 'id')];
      }),
    );
    expect(levels).toEqual({
      members: 'read', identifiers: 'read', identities: 'read', sources: 'read', auditEvents: 'read', linkSuggestions: 'read',
      apiKeys: 'admin', webhookEndpoints: 'admin', deletedItems: 'admin',
    });
  });
});

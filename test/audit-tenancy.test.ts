import { afterEach, describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { setPlannedReads } from '../src/modules/shared/engine/index.ts';
import { globalId, gql, tokenFor } from './helpers/app.ts';
import { aMember, anOrganization, aUser } from './helpers/factories.ts';

// Audit trails are read under the rule of the organization they belong to, on both
// databases (the embedded one has no row-level security) and on both read paths: a
// suspended member reaching their organization through their own membership does not
// read its trail, and a user's history lists no event of an organization the viewer
// may not read.

afterEach(() => setPlannedReads(true));

async function world() {
  const org = await anOrganization();
  const other = await anOrganization();
  const viewer = await aUser();
  await aMember(org.id, viewer.id, { role: 'ANALYST' });
  // A member of both organizations, suspended in the other one.
  await aMember(other.id, viewer.id, { role: 'ORGANIZATION_ADMIN', state: 'SUSPENDED' });
  const person = await aUser();
  await aMember(org.id, person.id);
  await aMember(other.id, person.id);
  const event = (organizationId: string | null, action: string) =>
    prisma.auditEvent.create({ data: { organizationId, actorType: 'SYSTEM', entityType: 'User', entityId: person.id, action: action as never, changes: {} } });
  await event(null, 'CREATE');
  await event(org.id, 'MERGE');
  await event(other.id, 'MERGE');
  await prisma.auditEvent.create({ data: { organizationId: other.id, actorType: 'SYSTEM', entityType: 'Organization', entityId: other.id, action: 'UPDATE', changes: {} } });
  return { org, other, person, as: { token: await tokenFor(viewer.authSubject!) } };
}

describe('audit trails and tenancy', () => {
  for (const planned of [true, false]) {
    it(`${planned ? 'compiled' : 'general'} path: no trail of an organization the viewer may not read, through any object`, async () => {
      setPlannedReads(planned);
      const { org, other, person, as } = await world();
      const memberships = await gql(`{ viewer { memberships { state organization { id auditEvents(first: 10) { totalCount edges { node { action } } } } } } }`, as);
      const byOrganization = new Map(
        (memberships.data?.viewer?.memberships ?? []).map((m: { organization: { id: string; auditEvents: { totalCount: number } | null } }) => [m.organization.id, m.organization.auditEvents]),
      );
      // The suspended membership's organization: its trail is refused.
      expect(byOrganization.get(globalId('Organization', other.id))).toBeNull();
      expect(memberships.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
      expect(byOrganization.get(globalId('Organization', org.id))).not.toBeNull();

      const history = await gql(`{ node(id: "${globalId('User', person.id)}") { ... on User { history(first: 10) { totalCount edges { node { action } } } } } }`, as);
      expect(history.errors).toBeUndefined();
      const actions = history.data!.node.history.edges.map((e: { node: { action: string } }) => e.node.action).sort();
      // The event without an organization and the one of the organization the viewer reads.
      expect(actions).toEqual(['CREATE', 'MERGE']);
      expect(history.data!.node.history.totalCount).toBe(2);
    });
  }
});

import type { Access } from '../../context.ts';
import { ConflictError, forbidden, NotFoundError, ValidationError } from '../../errors.ts';
import type { Identity, LinkedBy } from '../../generated/prisma/client.ts';
import { throwProblems } from '../shared/bulk.ts';
import { loadMembers, loadSources, sourceRef, userRef } from '../shared/inputs.ts';
import { requireOrganizationOf } from '../shared/tenant.ts';
import { Issues } from '../shared/validate.ts';
import { auditedChange } from '../shared/audited.ts';
import { AUDITED_IDENTITY, identityFor } from './change.ts';
import { providerOf, type IdentityRow } from './check.ts';
import { clashPaths } from './conflicts.ts';
import { prepareIdentities } from './prepare.ts';
import { writeIdentities } from './write.ts';

// Links between identities and users made by an admin, a provisioning sync or a
// member's own provider account (the rules are in service.ts).

export interface LinkIdentityInput {
  identityId: string;
  userId: string;
  linkedBy?: LinkedBy | null;
}

/** The member of the organization a link names, or NOT_FOUND. */
async function memberFor(organizationId: string, rawId: string, path: string) {
  const issues = new Issues();
  const ref = userRef(issues, 'input.', rawId, undefined);
  issues.throwIfAny();
  const member = (await loadMembers(organizationId, [ref!])).get(`id:${ref!.id}`);
  if (!member) throw new NotFoundError('User', `${path}: no member of the organization matches.`, path);
  return member;
}

/**
 * Links an identity to a member (ORGANIZATION_ADMIN): MANUAL by default, SCIM for a
 * provisioning sync. CONFLICT when it is linked to someone else: unlink it first.
 */
export async function linkIdentity(access: Access, input: LinkIdentityInput): Promise<Identity> {
  const current = await identityFor(access, input.identityId, 'input.identityId', 'admin');
  const linkedBy = input.linkedBy ?? 'MANUAL';
  if (linkedBy === 'AUTO') throw ValidationError.field('input.linkedBy', 'must be MANUAL or SCIM: only the server links AUTO');
  const member = await memberFor(current.organizationId, input.userId, 'input.userId');
  if (current.userId && current.userId !== member.id) {
    throw new ConflictError(['input.identityId'], 'The identity is linked to another user; unlink it first.');
  }
  if (current.userId === member.id && current.linkedBy === linkedBy) return current;
  return auditedChange(access.viewer, AUDITED_IDENTITY, current.id, async (tx, before) => {
    if (before.userId && before.userId !== member.id) {
      throw new ConflictError(['input.identityId'], 'The identity is linked to another user; unlink it first.');
    }
    return tx.identity.update({ where: { id: current.id }, data: { userId: member.id, linkedBy, linkedAt: new Date() } });
  });
}

/** Removes an identity's link to its user (ORGANIZATION_ADMIN); nothing to do when it has none. */
export async function unlinkIdentity(access: Access, input: { identityId: string }): Promise<Identity> {
  const current = await identityFor(access, input.identityId, 'input.identityId', 'admin');
  if (!current.userId) return current;
  return auditedChange(access.viewer, AUDITED_IDENTITY, current.id, (tx) =>
    tx.identity.update({ where: { id: current.id }, data: { userId: null, linkedBy: null, linkedAt: null } }),
  );
}

export interface CreateUserIdentityInput {
  organizationId?: string | null;
  userId: string;
  sourceId?: string | null;
  sourceKey?: string | null;
  externalId: string;
  externalUsername?: string | null;
  externalEmail?: string | null;
  externalEmailVerified?: boolean | null;
  externalDisplayName?: string | null;
  lastSyncedAt?: Date | string | null;
  identifierKey?: string | null;
  name?: string | null;
  linkedBy?: LinkedBy | null;
}

/**
 * Creates a member's account at an identity provider, linked to them: AUTO when the
 * provider verified the account's email and it is the member's (write access),
 * otherwise MANUAL or SCIM as `linkedBy` says, which only an ORGANIZATION_ADMIN may do.
 * The identity is a USER named after the account, keyed `<source key>:<externalId>`
 * unless the input says otherwise.
 */
export async function createUserIdentity(access: Access, input: CreateUserIdentityInput): Promise<Identity> {
  const issues = new Issues();
  const organizationId = await requireOrganizationOf(access, issues, 'input.organizationId', input.organizationId);
  if (input.linkedBy === 'AUTO') issues.add('input.linkedBy', 'must be MANUAL or SCIM: the server decides when a link is AUTO');
  const ref = sourceRef(issues, 'input.', input.sourceId, input.sourceKey);
  issues.throwIfAny();
  const member = await memberFor(organizationId, input.userId, 'input.userId');
  const source = providerOf(await loadSources(organizationId, [ref!]), ref!, 'input.');
  if (!('kind' in source)) throw source;
  const display = [input.externalDisplayName, input.externalUsername, input.externalEmail, input.externalId]
    .find((v): v is string => typeof v === 'string' && v.trim().length > 0)
    ?.trim()
    .slice(0, 200);
  const fields = {
    identifierKey: input.identifierKey ?? `${source.key}:${input.externalId}`,
    identityType: 'USER',
    name: input.name ?? display,
    sourceId: source.id,
    externalId: input.externalId,
    externalUsername: input.externalUsername,
    externalEmail: input.externalEmail,
    externalEmailVerified: input.externalEmailVerified,
    externalDisplayName: input.externalDisplayName,
    lastSyncedAt: input.lastSyncedAt,
  };
  const pathOf = () => 'input.';
  // Clashes are reported on what the caller wrote: a key derived from the account is the account.
  const paths = clashPaths(pathOf, [input], input.identifierKey == null);
  const { rows, problems } = await prepareIdentities(organizationId, [fields], pathOf, { create: true, paths });
  throwProblems(problems);
  const row = rows[0]!;
  const auto = row.linkedBy === 'AUTO' && row.userId === member.id;
  if (!auto && !(await access.can(organizationId, 'admin'))) {
    throw forbidden("Only an ORGANIZATION_ADMIN can link an account unless the provider verified that its email is the user's.");
  }
  const linked: IdentityRow = { ...row, userId: member.id, linkedBy: auto ? 'AUTO' : (input.linkedBy ?? 'MANUAL') };
  const [result] = await writeIdentities(organizationId, [linked], pathOf, access.viewer, { create: true, paths });
  return result!.identity;
}

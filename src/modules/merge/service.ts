import { asSystem } from '../../db/scope.ts';
import type { Access } from '../../context.ts';
import { prisma } from '../../db.ts';
import { matches } from '../shared/engine/index.ts';
import { readableWhere } from '../shared/rules.ts';
import { type MergeChoice, type MergePlan, planMerge } from './plan.ts';
import { loadSnapshot } from './rows.ts';
import { checkMergeable, mergeParties, type MergeResult, runMerge } from './run.ts';

// Merging duplicate users, and undoing it. No GraphQL here.
//
// A merge moves everything of the merged user to the survivor (memberships,
// identifiers, identity links) in one transaction with a constant number of
// statements, and leaves the merged user as a tombstone pointing to the survivor.
// Everything it changed or deleted is kept in `merges` as it was before (and as the
// merge left it), so an unmerge restores the very same rows, ids and values; an
// unmerge refuses (MergeChangedError) when any of those rows changed since, so no
// later change is ever silently overwritten.
//
// plan.ts decides, rows.ts reads, run.ts merges, unmerge.ts undoes, events.ts records.

export type { MergeChoice, MergeConflict, MergePlan, MergeSide } from './plan.ts';
export { mergeParties, type MergeParties, type MergeResult, runMerge } from './run.ts';
export { unmergeUser } from './unmerge.ts';

/** What would change, without writing: the plan on the current rows. */
export async function previewMerge(access: Access, input: { survivorId: string; mergedId: string; choices?: readonly MergeChoice[] | null }) {
  const parties = await mergeParties(access, input);
  // A merge spans every organization of both users, which the checks below authorize.
  const snapshot = await asSystem(() => loadSnapshot(prisma, parties.survivorId, parties.mergedId, false));
  const plan = planMerge(snapshot, parties.survivorId, parties.mergedId, input.choices ?? []);
  checkMergeable(access, parties, snapshot, plan);
  return plan;
}

export interface MergeUsersInput {
  survivorId: string;
  mergedId: string;
  choices?: readonly MergeChoice[] | null;
}

/** Merges `mergedId` into `survivorId` (ORGANIZATION_ADMIN of every organization either touches). */
export async function mergeUsers(access: Access, input: MergeUsersInput): Promise<MergeResult> {
  const parties = await mergeParties(access, input);
  // It writes in every organization of both users, which mergeParties authorized.
  return asSystem(() => prisma.$transaction((tx) => runMerge(tx, access, parties, input.choices ?? [])));
}

// The rows a preview names, loaded when the response asks for them. The plan was
// checked against the viewer when it was made, so these read without filters.

const inOrder = <T extends { id: string }>(rows: T[], ids: string[]) => ids.flatMap((id) => rows.filter((r) => r.id === id));

/** The survivor or the merged user of a preview. */
export const previewUser = (plan: MergePlan, side: 'survivor' | 'merged') =>
  prisma.user.findUniqueOrThrow({ where: { id: side === 'survivor' ? plan.survivorId : plan.mergedId } });

/** Every organization a preview touches, by id. */
export const previewOrganizations = (plan: MergePlan) =>
  prisma.organization.findMany({ where: { id: { in: plan.organizationIds } }, orderBy: { id: 'asc' } });

/** The survivor's profile changes, by GraphQL field name. */
export const previewProfileChanges = (plan: MergePlan) =>
  Object.fromEntries(Object.entries(plan.profile).map(([column, v]) => [column.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()), v]));

/** Memberships of a preview (moved or removed), in the plan's order. */
export const previewMembers = async (ids: string[]) => inOrder(await prisma.member.findMany({ where: { id: { in: ids } } }), ids);

/** Identifiers of a preview (moved or removed), in the plan's order. */
export const previewIdentifiers = async (ids: string[]) => inOrder(await prisma.identifier.findMany({ where: { id: { in: ids } } }), ids);

/** Identities a preview relinks, in the plan's order. */
export const previewIdentities = async (ids: string[]) => inOrder(await prisma.identity.findMany({ where: { id: { in: ids } } }), ids);

/** Merges that touched an organization of `readable` (the organizations the viewer may read), or none at all. */
export const readableMergesOf = (readable: string[] | 'all') =>
  readable === 'all' ? {} : { OR: [{ organizationIds: { hasSome: readable } }, { organizationIds: { isEmpty: true } }] };

/**
 * The parts of a merge (its conflicts, an unmerge's drift) the viewer may see, given the
 * organizations they may read: those of no organization, and those of organizations
 * they may read. Applied here to loaded parts and rendered in SQL by the read engine.
 */
export const readablePartsWhere = (readable: string[] | 'all') => (readable === 'all' ? {} : { OR: [{ organizationId: null }, readableWhere(readable)] });

/** The organizations of `ids` the viewer may read (readableWhere, over each id). */
export async function readableOf(access: Access, ids: string[]): Promise<string[]> {
  const where = readableWhere(await access.readableOrganizationIds());
  return ids.filter((organizationId) => matches({ organizationId }, where));
}

/** The parts of a merge the viewer may see (readablePartsWhere). */
export async function readableParts<P extends { organizationId?: string | null }>(access: Access, parts: P[]): Promise<P[]> {
  const where = readablePartsWhere(await access.readableOrganizationIds());
  return parts.filter((p) => matches({ organizationId: p.organizationId || null }, where));
}

import { decodeGlobalID } from '@pothos/plugin-relay';
import { Prisma, prisma } from '../../db.ts';
import { checkedMoment } from '../shared/as-of.ts';
import { rowsAt } from '../shared/engine/datamodel.ts';
import type { Access } from '../../context.ts';
import { requireOrganizationAccess } from '../shared/authorize.ts';
import { organizationOf } from '../shared/tenant.ts';
import { Issues } from '../shared/validate.ts';
import { isUuid } from '../shared/visibility.ts';
import { redirectsOf } from '../user/tombstones.ts';
import { identifiersById, identitiesById, usersById } from './reads.ts';
import { type Graph, type GraphEdge, type GraphNodeType, shortestPath, walk } from './traverse.ts';

// The graph and explainLink of one organization, now or as of a past moment: where a
// walk starts, its limits, and the path between two objects.

export const MAX_NODES = 1000;

interface Start {
  type: GraphNodeType;
  id: string;
  label: string;
}

/** The user in the organization (a member then); a merged user leads to the user it was merged into then. */
async function userStart(organizationId: string, id: string, asOf: Date | null): Promise<Start | null> {
  const inOrganization = async (userId: string) => {
    const [found] = await prisma.$queryRaw<{ id: string }[]>`
      SELECT m.user_id::text AS id FROM ${Prisma.raw(rowsAt('Member', asOf))} m
      WHERE m.user_id = ${userId}::uuid AND m.organization_id = ${organizationId}::uuid`;
    const [u] = found ? await usersById([userId], asOf) : [];
    return u ? { type: 'USER' as const, id: u.id, label: u.name ?? u.email } : null;
  };
  const found = await inOrganization(id);
  if (found) return found;
  // Only a miss costs more: a tombstone's id starts from its survivor.
  const survivor = asOf ? (await usersById([id], asOf))[0]?.mergedIntoId : (await redirectsOf([id])).get(id);
  return survivor ? inOrganization(survivor) : null;
}

/** The starting object of a walk: a user, identity or identifier of the organization (then); null when there is none. */
export async function startOf(organizationId: string, globalId: string, path: string, asOf: Date | null): Promise<Start | null> {
  const issues = new Issues();
  let decoded: { typename: string; id: string } | null = null;
  try {
    decoded = decodeGlobalID(globalId);
  } catch {
    decoded = null;
  }
  if (!decoded || !['User', 'Identity', 'Identifier'].includes(decoded.typename) || !isUuid(decoded.id)) {
    issues.add(path, 'must be the global id of a User, an Identity or an Identifier');
    issues.throwIfAny();
  }
  const { typename, id } = decoded!;
  if (typename === 'User') return userStart(organizationId, id, asOf);
  if (typename === 'Identity') {
    const [d] = await identitiesById(organizationId, [id], asOf);
    return d ? { type: 'IDENTITY', id: d.id, label: d.name } : null;
  }
  const [i] = await identifiersById(organizationId, [id], asOf);
  return i ? { type: 'IDENTIFIER', id: i.id, label: `${i.identifierKey}=${i.identifierValue}` } : null;
}

export interface GraphArgs {
  from: string;
  depth?: number | null;
  minConfidence?: number | null;
  maxNodes?: number | null;
  asOf?: Date | null;
}

/** The neighbourhood of `from`, checked; null when the start is not in the organization (then). */
export async function graphOf(organizationId: string, args: GraphArgs): Promise<Graph | null> {
  const issues = new Issues();
  const depth = args.depth ?? 1;
  if (depth < 1 || depth > 3) issues.add('depth', 'must be 1, 2 or 3');
  const maxNodes = args.maxNodes ?? 200;
  if (maxNodes < 1 || maxNodes > MAX_NODES) issues.add('maxNodes', `must be 1 to ${MAX_NODES}`);
  if (args.minConfidence != null && (args.minConfidence < 0 || args.minConfidence > 1)) issues.add('minConfidence', 'must be between 0 and 1');
  issues.throwIfAny();
  const asOf = args.asOf ? await checkedMoment(organizationId, args.asOf) : null;
  const start = await startOf(organizationId, args.from, 'from', asOf);
  if (!start) return null;
  return walk(start, { organizationId, depth, minConfidence: args.minConfidence ?? null, maxNodes, asOf });
}

/** The shortest chain of evidence from `a` to `b` (each step from the previous one's end); null when none is found. */
export async function explainLinkOf(organizationId: string, args: { a: string; b: string; asOf?: Date | null }): Promise<{ steps: GraphEdge[] } | null> {
  const asOf = args.asOf ? await checkedMoment(organizationId, args.asOf) : null;
  const [a, b] = await Promise.all([startOf(organizationId, args.a, 'a', asOf), startOf(organizationId, args.b, 'b', asOf)]);
  if (!a || !b) return null;
  const target = `${b.type}:${b.id}`;
  if (`${a.type}:${a.id}` === target) return { steps: [] };
  const graph = await walk(a, { organizationId, depth: 6, minConfidence: null, maxNodes: 5000, target, asOf });
  const steps = shortestPath(graph, `${a.type}:${a.id}`, target);
  return steps ? { steps } : null;
}

/** The organization a graph read acts in, once the viewer may read it. */
export async function readableOrganization(access: Access, organizationId: string | null | undefined): Promise<string> {
  const issues = new Issues();
  const id = organizationOf(access, issues, 'organizationId', organizationId);
  issues.throwIfAny();
  await requireOrganizationAccess(access, id!, 'read');
  return id!;
}


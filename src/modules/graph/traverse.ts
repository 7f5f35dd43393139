import { prisma } from '../../db.ts';
import type { DiscoveryMethod, LinkedBy } from '../../generated/prisma/client.ts';
import { linkedHolders, linked, meetsMinimum } from '../matching/links.ts';
import { identifiersById, identifiersOfUsers, identitiesById, identitiesOfUsers, membershipsOf, usersById } from './reads.ts';

// The neighbourhood of a person in one organization, now or as it was at a past moment,
// as nodes and edges with their evidence; which values link two nodes is the matching module's rule
// (matching/links.ts), as for candidates and suggestions. Each level of the breadth-first walk costs a fixed number of statements
// (batched over the whole frontier), whatever its size.

export type GraphNodeType = 'USER' | 'IDENTITY' | 'IDENTIFIER' | 'ORGANIZATION';
export type GraphEdgeKind = 'MEMBERSHIP' | 'OWNS_IDENTIFIER' | 'IDENTITY_LINK' | 'SHARES_VALUE';

export interface GraphNode {
  key: string; // `${type}:${uuid}`
  type: GraphNodeType;
  id: string;
  label: string;
  depth: number;
}

export interface GraphEdge {
  kind: GraphEdgeKind;
  from: string;
  to: string;
  confidence: number | null;
  discoveryMethod: DiscoveryMethod | null;
  sourceId: string | null;
  linkedBy: LinkedBy | null;
  at: Date | null;
  /** The shared value, for SHARES_VALUE edges. */
  value: string | null;
}

export interface Graph {
  nodes: GraphNode[];
  edges: GraphEdge[];
  truncated: boolean;
}

export interface WalkOptions {
  organizationId: string;
  depth: number;
  minConfidence: number | null;
  maxNodes: number;
  /** Stop as soon as this node key is reached (explainLink). */
  target?: string;
  /** Walk the graph as it was at this past moment. */
  asOf?: Date | null;
}

const nodeKey = (type: GraphNodeType, id: string) => `${type}:${id}`;

export async function walk(start: { type: GraphNodeType; id: string; label: string }, opts: WalkOptions): Promise<Graph> {
  const nodes = new Map<string, GraphNode>();
  const edges = new Map<string, GraphEdge>();
  let truncated = false;
  const startNode: GraphNode = { key: nodeKey(start.type, start.id), ...start, depth: 0 };
  nodes.set(startNode.key, startNode);
  let frontier: GraphNode[] = [startNode];

  const addNode = (type: GraphNodeType, id: string, label: string, depth: number): GraphNode | null => {
    const key = nodeKey(type, id);
    const found = nodes.get(key);
    if (found) return found;
    if (nodes.size >= opts.maxNodes) {
      truncated = true;
      return null;
    }
    const node = { key, type, id, label, depth };
    nodes.set(key, node);
    return node;
  };
  const addEdge = (edge: Omit<GraphEdge, 'value'> & { value?: string | null }) => {
    const [a, b] = edge.kind === 'SHARES_VALUE' && edge.from > edge.to ? [edge.to, edge.from] : [edge.from, edge.to];
    const key = `${edge.kind}:${a}:${b}`;
    if (!edges.has(key)) edges.set(key, { ...edge, from: a, to: b, value: edge.value ?? null });
  };

  for (let depth = 1; depth <= opts.depth && frontier.length; depth++) {
    if (opts.target && nodes.has(opts.target)) break;
    const users = frontier.filter((n) => n.type === 'USER').map((n) => n.id);
    const identifierIds = frontier.filter((n) => n.type === 'IDENTIFIER').map((n) => n.id);
    const identityIds = frontier.filter((n) => n.type === 'IDENTITY').map((n) => n.id);
    const next: GraphNode[] = [];
    const reach = (node: GraphNode | null) => {
      if (node && node.depth === depth && !next.includes(node)) next.push(node);
    };
    const org = opts.organizationId;

    // What the frontier's identifiers and identities are, and the values its nodes hold (matching/links.ts).
    const at = opts.asOf ?? null;
    const [frontierIdentifiers, frontierIdentities, { own: frontierHeld, holders }, ownedIdentifiers, linkedIdentities, memberships] = await Promise.all([
      identifiersById(org, identifierIds, at),
      identitiesById(org, identityIds, at),
      linkedHolders(prisma, org, { userIds: users, identifierIds, identityIds, asOf: at }),
      identifiersOfUsers(org, users, at),
      identitiesOfUsers(org, users, at),
      membershipsOf(org, users, at),
    ]);
    const ownerIds = new Set<string>([...frontierIdentifiers.map((i) => i.userId), ...frontierIdentities.flatMap((d) => (d.userId ? [d.userId] : []))]);
    // Owners who are not members of the organization (they left it, keeping their rows
    // there) are not shown, as users are to its readers anywhere (rules.ts, visibleUsersWhere)
    // and as value holders are (matching/links.ts).
    const [owners, ownerMemberships] = await Promise.all([usersById([...ownerIds], at), membershipsOf(org, [...ownerIds], at)]);
    const members = new Set(ownerMemberships.map((m) => m.userId));

    for (const m of memberships) {
      const orgNode = addNode('ORGANIZATION', m.organizationId, m.organizationName, depth);
      if (!orgNode) continue;
      addEdge({ kind: 'MEMBERSHIP', from: nodeKey('USER', m.userId), to: orgNode.key, confidence: 1, discoveryMethod: null, sourceId: null, linkedBy: null, at: m.createdAt });
      reach(orgNode);
    }
    for (const i of ownedIdentifiers) {
      if (!meetsMinimum(i.confidenceScore, opts.minConfidence)) continue;
      const n = addNode('IDENTIFIER', i.id, `${i.identifierKey}=${i.identifierValue}`, depth);
      if (!n) continue;
      addEdge({ kind: 'OWNS_IDENTIFIER', from: nodeKey('USER', i.userId), to: n.key, confidence: i.confidenceScore, discoveryMethod: i.discoveryMethod, sourceId: i.sourceId, linkedBy: null, at: i.updatedAt });
      reach(n);
    }
    for (const d of linkedIdentities) {
      const n = addNode('IDENTITY', d.id, d.name, depth);
      if (!n) continue;
      addEdge({ kind: 'IDENTITY_LINK', from: nodeKey('USER', d.userId!), to: n.key, confidence: 1, discoveryMethod: null, sourceId: d.sourceId, linkedBy: d.linkedBy, at: d.linkedAt });
      reach(n);
    }
    const userById = new Map(owners.filter((u) => members.has(u.id)).map((u) => [u.id, u]));
    for (const i of frontierIdentifiers) {
      const u = userById.get(i.userId);
      const n = u && addNode('USER', u.id, u.name ?? u.email, depth);
      if (!n) continue;
      addEdge({ kind: 'OWNS_IDENTIFIER', from: n.key, to: nodeKey('IDENTIFIER', i.id), confidence: i.confidenceScore, discoveryMethod: i.discoveryMethod, sourceId: i.sourceId, linkedBy: null, at: i.updatedAt });
      reach(n);
    }
    for (const d of frontierIdentities) {
      const u = d.userId ? userById.get(d.userId) : undefined;
      const n = u && addNode('USER', u.id, u.name ?? u.email, depth);
      if (!n) continue;
      addEdge({ kind: 'IDENTITY_LINK', from: n.key, to: nodeKey('IDENTITY', d.id), confidence: 1, discoveryMethod: null, sourceId: d.sourceId, linkedBy: d.linkedBy, at: d.linkedAt });
      reach(n);
    }
    // "Shares a value with": between the frontier's nodes and every other holder of one of their values.
    for (const f of frontierHeld) {
      for (const h of holders) {
        if (!linked(f, h) || !meetsMinimum(h.confidence, opts.minConfidence)) continue;
        const n = addNode(h.type, h.id, h.label, depth);
        if (!n) continue;
        addEdge({ kind: 'SHARES_VALUE', from: nodeKey(f.type, f.id), to: n.key, confidence: h.confidence, discoveryMethod: h.discoveryMethod, sourceId: h.sourceId, linkedBy: h.linkedBy, at: h.at, value: h.value });
        reach(n);
      }
    }
    frontier = next.filter((n) => n.type !== 'ORGANIZATION');
  }
  return { nodes: [...nodes.values()], edges: [...edges.values()], truncated };
}

/** The shortest chain of edges from `from` to `to` in a walked graph, each oriented the way it is walked, or null. */
export function shortestPath(graph: Graph, from: string, to: string): GraphEdge[] | null {
  const adjacency = new Map<string, GraphEdge[]>();
  for (const e of graph.edges) {
    for (const end of [e.from, e.to]) {
      const list = adjacency.get(end) ?? [];
      list.push(e);
      adjacency.set(end, list);
    }
  }
  const previous = new Map<string, GraphEdge | null>([[from, null]]);
  const queue = [from];
  while (queue.length) {
    const at = queue.shift()!;
    if (at === to) break;
    for (const e of adjacency.get(at) ?? []) {
      const next = e.from === at ? e.to : e.from;
      if (next.startsWith('ORGANIZATION:') && next !== to) continue; // never a bridge between people
      if (!previous.has(next)) {
        previous.set(next, e);
        queue.push(next);
      }
    }
  }
  if (!previous.has(to)) return null;
  // Each step as walked: its `from` is the previous step's `to`.
  const path: GraphEdge[] = [];
  for (let at = to; at !== from; ) {
    const e = previous.get(at)!;
    const back = e.to === at ? e.from : e.to;
    path.unshift({ ...e, from: back, to: at });
    at = back;
  }
  return path;
}

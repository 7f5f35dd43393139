import { prisma } from '../../db.ts';
import type { DiscoveryMethod, Identifier, Identity, LinkedBy, User } from '../../generated/prisma/client.ts';

// The neighbourhood of a person in one organization, as nodes and edges with their
// evidence. Each level of the breadth-first walk costs a fixed number of statements
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
}

const nodeKey = (type: GraphNodeType, id: string) => `${type}:${id}`;
const passes = (min: number | null, score: number | null) => min === null || (score ?? 1) >= min;

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

    // What the frontier's identifiers and identities are: their values lead on.
    const [frontierIdentifiers, frontierIdentities] = await Promise.all([
      identifierIds.length ? prisma.identifier.findMany({ where: { id: { in: identifierIds }, organizationId: org } }) : ([] as Identifier[]),
      identityIds.length ? prisma.identity.findMany({ where: { id: { in: identityIds }, organizationId: org } }) : ([] as Identity[]),
    ]);
    const values = new Set<string>();
    for (const i of frontierIdentifiers) values.add(i.identifierValue);
    for (const d of frontierIdentities) {
      if (d.email) values.add(d.email);
      if (d.externalId) values.add(d.externalId);
      if (d.externalEmail) values.add(d.externalEmail);
    }
    const ownerIds = new Set<string>([...frontierIdentifiers.map((i) => i.userId), ...frontierIdentities.flatMap((d) => (d.userId ? [d.userId] : []))]);

    const [ownedIdentifiers, linkedIdentities, memberships, sameValueIdentifiers, sameValueIdentities, owners] = await Promise.all([
      users.length ? prisma.identifier.findMany({ where: { userId: { in: users }, organizationId: org }, orderBy: { createdAt: 'asc' } }) : [],
      users.length ? prisma.identity.findMany({ where: { userId: { in: users }, organizationId: org }, orderBy: { createdAt: 'asc' } }) : [],
      users.length
        ? prisma.member.findMany({ where: { userId: { in: users }, organizationId: org }, include: { organization: { select: { id: true, name: true } } } })
        : [],
      values.size ? prisma.identifier.findMany({ where: { organizationId: org, identifierValue: { in: [...values] } }, orderBy: { createdAt: 'asc' } }) : [],
      values.size
        ? prisma.identity.findMany({
            where: {
              organizationId: org,
              OR: [{ email: { in: [...values].map((v) => v.toLowerCase()) } }, { externalId: { in: [...values] } }, { externalEmail: { in: [...values] } }],
            },
          })
        : [],
      ownerIds.size ? prisma.user.findMany({ where: { id: { in: [...ownerIds] } } }) : ([] as User[]),
    ]);

    for (const m of memberships) {
      const orgNode = addNode('ORGANIZATION', m.organizationId, m.organization.name, depth);
      if (!orgNode) continue;
      addEdge({ kind: 'MEMBERSHIP', from: nodeKey('USER', m.userId), to: orgNode.key, confidence: 1, discoveryMethod: null, sourceId: null, linkedBy: null, at: m.createdAt });
      reach(orgNode);
    }
    for (const i of ownedIdentifiers) {
      if (!passes(opts.minConfidence, i.confidenceScore)) continue;
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
    const userById = new Map(owners.map((u) => [u.id, u]));
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
    // "Shares a value with": between the frontier's identifiers/identities and others holding the same value.
    const holders = [...frontierIdentifiers.map((i) => ({ key: nodeKey('IDENTIFIER', i.id), values: [i.identifierValue] })), ...frontierIdentities.map((d) => ({ key: nodeKey('IDENTITY', d.id), values: [d.email, d.externalId, d.externalEmail].filter((v): v is string => !!v) }))];
    for (const other of sameValueIdentifiers) {
      if (!passes(opts.minConfidence, other.confidenceScore)) continue;
      const otherKey = nodeKey('IDENTIFIER', other.id);
      for (const h of holders) {
        if (h.key === otherKey || !h.values.some((v) => v === other.identifierValue || v.toLowerCase() === other.identifierValue.toLowerCase())) continue;
        const n = addNode('IDENTIFIER', other.id, `${other.identifierKey}=${other.identifierValue}`, depth);
        if (!n) continue;
        addEdge({ kind: 'SHARES_VALUE', from: h.key, to: n.key, confidence: other.confidenceScore, discoveryMethod: other.discoveryMethod, sourceId: other.sourceId, linkedBy: null, at: other.updatedAt, value: other.identifierValue });
        reach(n);
      }
    }
    for (const other of sameValueIdentities) {
      const otherKey = nodeKey('IDENTITY', other.id);
      const otherValues = [other.email, other.externalId, other.externalEmail].filter((v): v is string => !!v).map((v) => v.toLowerCase());
      for (const h of holders) {
        const shared = h.values.find((v) => otherValues.includes(v.toLowerCase()));
        if (h.key === otherKey || !shared) continue;
        const n = addNode('IDENTITY', other.id, other.name, depth);
        if (!n) continue;
        addEdge({ kind: 'SHARES_VALUE', from: h.key, to: n.key, confidence: null, discoveryMethod: null, sourceId: other.sourceId, linkedBy: other.linkedBy, at: other.updatedAt, value: shared });
        reach(n);
      }
    }
    frontier = next.filter((n) => n.type !== 'ORGANIZATION');
  }
  return { nodes: [...nodes.values()], edges: [...edges.values()], truncated };
}

/** The shortest chain of edges from `from` to `to` in a walked graph, or null. */
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
  const path: GraphEdge[] = [];
  for (let at = to; at !== from; ) {
    const e = previous.get(at)!;
    path.unshift(e);
    at = e.from === at ? e.to : e.from;
  }
  return path;
}

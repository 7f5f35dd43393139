// The scenarios' inputs, drawn deterministically from the seeded database, and each
// peer's request for them: this server and the SQL floor take the operations of
// bench/operations (the floor reads only the operation name and variables), PostGraphile
// those of bench/operations/postgraphile, Join Monster those of bench/operations/joinmonster. Normalisers turn every peer's answer into one
// JSON shape, so answers are compared before anything is timed.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { BenchJwt } from './jwt.ts';
import type { PeerName } from './peers.ts';

const OPS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'operations');
const op = (file: string) => readFileSync(path.join(OPS, file), 'utf8');

export type ScenarioName =
  | 'resolve'
  | 'members50'
  | 'members100'
  | 'node'
  | 'upsert'
  | 'entities'
  | 'page'
  | 'page2'
  | 'identity'
  | 'identifiers'
  | 'resolveFragment'
  | 'mixed';

export interface BenchRequest {
  organizationId: string;
  token: string;
  /** The JSON body; an upsert's holds CONFIDENCE placeholders, replaced per request. */
  body: string;
}

export const CONFIDENCE_PLACEHOLDER = '"__CONFIDENCE__"';

export interface Workload {
  /** Requests per scenario and peer; absent when the peer has no equivalent. */
  requests: Record<Exclude<ScenarioName, 'mixed'>, Partial<Record<PeerName, BenchRequest[]>>>;
}

interface Member {
  organization_id: string;
  user_id: string;
}

const gid = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString('base64');
const pgNodeId = (type: string, id: string) => Buffer.from(JSON.stringify([type, id])).toString('base64');

/** A deterministic pseudo-random sequence (mulberry32). */
export function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function buildWorkload(url: string, jwt: BenchJwt, opts: { samples: number; upsertOrganizations: number }): Promise<Workload> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // The viewer of each organization: its oldest ORGANIZATION_ADMIN (else oldest member).
    const viewers = (
      await client.query<{ organization_id: string; auth_subject: string }>(
        `SELECT DISTINCT ON (m.organization_id) m.organization_id, u.auth_subject FROM members m JOIN users u ON u.id = m.user_id
         WHERE m.state = 'ACTIVE' ORDER BY m.organization_id, (m.role = 'ORGANIZATION_ADMIN') DESC, m.created_at, m.id`,
      )
    ).rows;
    const tokens = new Map<string, string>();
    for (const v of viewers) tokens.set(v.organization_id, await jwt.sign(v.auth_subject));
    const orgs = [...tokens.keys()].sort();
    const random = rng(9);
    const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)]!;
    const req = (organizationId: string, body: object): BenchRequest => ({ organizationId, token: tokens.get(organizationId)!, body: JSON.stringify(body) });

    const identifiers = (
      await client.query<{ organization_id: string; source: string; identifier_key: string; identifier_value: string }>(
        `SELECT i.organization_id, s.key AS source, i.identifier_key, i.identifier_value FROM identifiers i
         JOIN integration_sources s ON s.id = i.source_id
         WHERE i.identifier_key IN ('owner_id', 'employee_id', 'member_id', 'user_email', 'subject')
         ORDER BY md5(i.id::text) LIMIT $1`,
        [opts.samples],
      )
    ).rows.filter((r) => tokens.has(r.organization_id));
    const members = (
      await client.query<Member>('SELECT organization_id, user_id FROM members ORDER BY md5(id::text) LIMIT $1', [Math.max(opts.samples, 2000)])
    ).rows.filter((r) => tokens.has(r.organization_id));
    const membersByOrg = new Map<string, string[]>();
    for (const m of members) membersByOrg.set(m.organization_id, [...(membersByOrg.get(m.organization_id) ?? []), m.user_id]);

    const resolveOp = op('resolve.graphql');
    const resolvePg = op('postgraphile/resolve.graphql');
    const resolve = {
      this: identifiers.map((i) => req(i.organization_id, { operationName: 'BenchResolve', query: resolveOp, variables: { source: i.source, identifierKey: i.identifier_key, identifierValue: i.identifier_value } })),
      postgraphile: identifiers.map((i) =>
        req(i.organization_id, { operationName: 'BenchResolve', query: resolvePg, variables: { organizationId: i.organization_id, source: i.source, identifierKey: i.identifier_key, identifierValue: i.identifier_value } }),
      ),
      joinmonster: identifiers.map((i) =>
        req(i.organization_id, { operationName: 'BenchResolve', query: op('joinmonster/resolve.graphql'), variables: { source: i.source, identifierKey: i.identifier_key, identifierValue: i.identifier_value } }),
      ),
    };
    const membersPage = (first: number) => ({
      this: orgs.map((o) => req(o, { operationName: 'BenchMembers', query: op('members.graphql'), variables: { organizationId: o, first } })),
      postgraphile: orgs.map((o) => req(o, { operationName: 'BenchMembers', query: op('postgraphile/members.graphql'), variables: { organizationId: o, first } })),
      joinmonster: orgs.map((o) => req(o, { operationName: 'BenchMembers', query: op('joinmonster/members.graphql'), variables: { organizationId: o, first } })),
    });
    const node = {
      this: members.map((m) => req(m.organization_id, { operationName: 'BenchNode', query: op('node.graphql'), variables: { id: gid('User', m.user_id) } })),
      postgraphile: members.map((m) => req(m.organization_id, { operationName: 'BenchNode', query: op('postgraphile/node.graphql'), variables: { id: pgNodeId('User', m.user_id) } })),
    };
    // The frontend shapes (scenarios 7 to 10): paging, an identity, a filtered list, fragments.
    const page = {
      this: orgs.map((o) => req(o, { operationName: 'BenchPage', query: op('page.graphql'), variables: { organizationId: o, first: 50 } })),
      postgraphile: orgs.map((o) => req(o, { operationName: 'BenchPage', query: op('postgraphile/page.graphql'), variables: { organizationId: o, first: 50 } })),
      joinmonster: orgs.map((o) => req(o, { operationName: 'BenchPage', query: op('joinmonster/page.graphql'), variables: { organizationId: o, first: 50 } })),
    };
    const identityRows = (
      await client.query<{ organization_id: string; id: string }>(
        `SELECT organization_id, id FROM identities WHERE EXISTS (SELECT 1 FROM identity_properties p WHERE p.identity_id = identities.id)
         ORDER BY md5(id::text) LIMIT $1`,
        [opts.samples],
      )
    ).rows.filter((r) => tokens.has(r.organization_id));
    const identity = {
      this: identityRows.map((d) => req(d.organization_id, { operationName: 'BenchIdentity', query: op('identity.graphql'), variables: { id: gid('Identity', d.id) } })),
      postgraphile: identityRows.map((d) => req(d.organization_id, { operationName: 'BenchIdentity', query: op('postgraphile/identity.graphql'), variables: { rowId: d.id } })),
    };
    const identifiersPage = orgs.map((o, i) =>
      req(o, { operationName: 'BenchIdentifiers', query: op('identifiers.graphql'), variables: { organizationId: o, sourceKey: ['salesforce', 'slack', 'okta'][i % 3], minConfidence: 0.5 } }),
    );
    const fragmentOp = op('resolve-fragment.graphql');
    const fragmentPg = op('postgraphile/resolve-fragment.graphql');
    const resolveFragment = {
      this: identifiers.map((i) => req(i.organization_id, { operationName: 'BenchResolveFragment', query: fragmentOp, variables: { source: i.source, identifierKey: i.identifier_key, identifierValue: i.identifier_value } })),
      postgraphile: identifiers.map((i) =>
        req(i.organization_id, { operationName: 'BenchResolveFragment', query: fragmentPg, variables: { organizationId: i.organization_id, source: i.source, identifierKey: i.identifier_key, identifierValue: i.identifier_value } }),
      ),
    };

    const entityOrgs = [...membersByOrg.entries()].filter(([, ids]) => ids.length >= 5).map(([o]) => o);
    const entities = Array.from({ length: Math.min(200, opts.samples) }, () => {
      const o = pick(entityOrgs);
      const ids = membersByOrg.get(o)!;
      const representations = Array.from({ length: 100 }, (_, i) => ({ __typename: 'User', id: gid('User', ids[i % ids.length]!) }));
      return req(o, { operationName: 'BenchEntities', query: op('entities.graphql'), variables: { representations } });
    });

    // Every identifier of an organization (1,000 at any scale) with a new confidence
    // score per request: each item is an update of an existing row.
    const upsertOrgs = orgs.filter((_, i) => i % Math.max(1, Math.floor(orgs.length / opts.upsertOrganizations)) === 0).slice(0, opts.upsertOrganizations);
    const upsert: BenchRequest[] = [];
    for (const o of upsertOrgs) {
      const rows = (
        await client.query<{ user_id: string; source: string; identifier_key: string; identifier_value: string }>(
          `SELECT i.user_id, s.key AS source, i.identifier_key, i.identifier_value FROM identifiers i JOIN integration_sources s ON s.id = i.source_id
           WHERE i.organization_id = $1 AND i.identifier_key IN ('owner_id', 'employee_id', 'member_id', 'user_email', 'subject')
           ORDER BY i.user_id, s.key, i.identifier_key LIMIT 1000`,
          [o],
        )
      ).rows;
      const items = rows.map((r) => ({
        userId: r.user_id,
        sourceKey: r.source,
        identifierKey: r.identifier_key,
        identifierValue: r.identifier_value,
        discoveryMethod: 'MCP_TOOL',
        confidenceScore: '__CONFIDENCE__',
      }));
      upsert.push(req(o, { operationName: 'BenchUpsertIdentifiers', query: op('upsert.graphql'), variables: { organizationId: o, items } }));
    }
    // PostGraphile under the row-level policies takes PostGraphile's requests.
    const rls = <T extends { this: BenchRequest[]; postgraphile: BenchRequest[] }>(x: T) => ({ ...x, floor: x.this, 'postgraphile-rls': x.postgraphile });
    return {
      requests: {
        resolve: rls(resolve),
        members50: rls(membersPage(50)),
        members100: rls(membersPage(100)),
        node: { this: node.this, floor: node.this, postgraphile: node.postgraphile },
        upsert: { this: upsert, floor: upsert },
        entities: { this: entities, floor: entities },
        page: rls(page),
        // Built once the peers run, from each peer's own end cursor of the first page (secondPages).
        page2: {},
        identity: { ...identity, floor: identity.this },
        identifiers: { this: identifiersPage, floor: identifiersPage },
        resolveFragment: { ...resolveFragment, floor: resolveFragment.this },
      },
    };
  } finally {
    await client.end();
  }
}

/**
 * The second page of each first-page request, after the end cursor the peer itself gave
 * (`send` asks it): cursors are each peer's own. The floor takes this server's.
 */
export async function secondPages(first: Partial<Record<PeerName, BenchRequest[]>>, send: (peer: PeerName, r: BenchRequest) => Promise<Json>) {
  const out: Partial<Record<PeerName, BenchRequest[]>> = {};
  for (const peer of ['this', 'postgraphile', 'postgraphile-rls', 'joinmonster'] as const) {
    const list = first[peer];
    if (!list) continue;
    out[peer] = [];
    for (const r of list.slice(0, 200)) {
      const d = (await send(peer, r))?.data;
      const info = peer.startsWith('postgraphile') ? d?.organizationByRowId?.membersByOrganizationId?.pageInfo : d?.organization?.members?.pageInfo;
      if (!info?.endCursor) throw new Error(`No end cursor from ${peer} for the first page of ${r.organizationId}`);
      const body = JSON.parse(r.body);
      out[peer].push({ ...r, body: JSON.stringify({ ...body, variables: { ...body.variables, after: info.endCursor } }) });
    }
  }
  if (out.this) out.floor = out.this;
  return out;
}

/** The body with its placeholders replaced by one fresh confidence score. */
export function concreteBody(r: BenchRequest, random: () => number = Math.random): string {
  return r.body.includes(CONFIDENCE_PLACEHOLDER) ? r.body.replaceAll(CONFIDENCE_PLACEHOLDER, (0.0001 + random() * 0.9998).toFixed(4)) : r.body;
}

// ---- normalising answers -------------------------------------------------------------

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
const uuidOfGid = (id: string) => Buffer.from(id, 'base64').toString('utf8').replace(/^User:/, '');

/** One shape for every peer's answer of one scenario, or an error description. */
export function normalise(scenario: Exclude<ScenarioName, 'mixed'>, peer: PeerName, json: Json): unknown {
  if (json?.errors) return { errors: json.errors.map((e: Json) => e.message) };
  const d = json?.data;
  const pgl = peer === 'postgraphile' || peer === 'postgraphile-rls';
  // Join Monster's ids are the UUIDs and its lists plain lists (bench/peers/joinmonster.mjs).
  const jm = peer === 'joinmonster';
  const userId = (id: string) => (jm ? id : uuidOfGid(id));
  const identifiersOf = (u: Json) => (jm ? u.identifiers : u.identifiers.edges.map((e: Json) => e.node));
  switch (scenario) {
    case 'resolve': {
      if (pgl) {
        const u = d.allIntegrationSources.nodes[0]?.identifiersByOrganizationIdAndSourceId.nodes[0]?.userByUserId;
        if (!u) return null;
        return {
          id: u.rowId,
          email: u.email,
          name: u.name,
          memberships: u.membersByUserId.nodes.map((m: Json) => ({ role: m.role, organization: m.organizationByOrganizationId.name })),
          identifiers: u.identifiersByUserId.nodes.map((i: Json) => ({ key: i.identifierKey, value: i.identifierValue, source: i.integrationSourceByOrganizationIdAndSourceId.key })),
        };
      }
      const u = jm ? d.resolveUser : d.resolve?.user;
      if (!u) return null;
      return {
        id: userId(u.id),
        email: u.email,
        name: u.name,
        memberships: u.memberships.map((m: Json) => ({ role: m.role, organization: m.organization.name })),
        identifiers: identifiersOf(u).map((i: Json) => ({ key: i.identifierKey, value: i.identifierValue, source: i.source.key })),
      };
    }
    case 'members50':
    case 'members100': {
      if (pgl) {
        return d.organizationByRowId.membersByOrganizationId.nodes.map((m: Json) => ({
          role: m.role,
          user: { id: m.userByUserId.rowId, email: m.userByUserId.email, name: m.userByUserId.name, identifiers: m.userByUserId.identifiersByUserId.nodes.map((i: Json) => [i.identifierKey, i.identifierValue]) },
        }));
      }
      return d.organization.members.edges.map(({ node: m }: Json) => ({
        role: m.role,
        user: { id: userId(m.user.id), email: m.user.email, name: m.user.name, identifiers: identifiersOf(m.user).map((i: Json) => [i.identifierKey, i.identifierValue]) },
      }));
    }
    case 'node': {
      const n = d.node;
      if (!n) return null;
      return { id: pgl ? n.rowId : uuidOfGid(n.id), email: n.email, name: n.name };
    }
    case 'page':
    case 'page2': {
      const c = pgl ? d.organizationByRowId.membersByOrganizationId : d.organization.members;
      const edges = c.edges as Json[];
      // Cursors are each peer's own: they must be there, and the end cursor the last edge's.
      const cursorsHold = edges.every((e) => typeof e.cursor === 'string' && e.cursor.length > 0) && c.pageInfo.endCursor === edges.at(-1)?.cursor;
      const items = edges.map(({ node: m }: Json) => {
        const u = pgl ? m.userByUserId : m.user;
        const identifiers = pgl ? u.identifiersByUserId.nodes : identifiersOf(u);
        return { role: m.role, user: { id: pgl ? u.rowId : userId(u.id), email: u.email, name: u.name, identifiers: identifiers.map((i: Json) => [i.identifierKey, i.identifierValue]) } };
      });
      return { totalCount: c.totalCount, hasNextPage: c.pageInfo.hasNextPage, cursorsHold, items };
    }
    case 'identity': {
      const n = pgl ? d.identityByRowId : d.node;
      if (!n) return null;
      const user = pgl ? n.userByUserId : n.user;
      const source = pgl ? n.integrationSourceByOrganizationIdAndSourceId : n.source;
      const properties = pgl ? n.identityPropertiesByOrganizationIdAndIdentityId.nodes : n.properties;
      return {
        id: pgl ? n.rowId : Buffer.from(n.id, 'base64').toString('utf8').replace(/^Identity:/, ''),
        name: n.name,
        email: n.email,
        identityType: n.identityType,
        externalId: n.externalId,
        source: source?.key ?? null,
        user: user ? { id: pgl ? user.rowId : uuidOfGid(user.id), email: user.email } : null,
        properties: properties.map((p: Json) => [p.key, p.value]),
      };
    }
    case 'identifiers': {
      const c = d.organization.identifiers;
      return {
        totalCount: c.totalCount,
        hasNextPage: c.pageInfo.hasNextPage,
        items: c.edges.map(({ node: i }: Json) => [i.identifierKey, i.identifierValue, i.confidenceScore, uuidOfGid(i.user.id)]),
      };
    }
    case 'resolveFragment':
      return normalise('resolve', peer, json);
    case 'entities':
      return d._entities.map((e: Json) => (e ? { id: uuidOfGid(e.id), email: e.email, name: e.name } : null));
    case 'upsert': {
      const r = d.upsertIdentifiers;
      return { typename: r.__typename, created: r.createdCount, updated: r.updatedCount, unchanged: r.unchangedCount };
    }
  }
}

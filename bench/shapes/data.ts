// The seeded rows the generated operations name, per organization, and the cursors of
// earlier pages, asked of the server itself (cursors are its own).
import pg from 'pg';
import { gid, type OrgData } from './generate.ts';

/** The organizations whose benchmark viewer (its oldest admin, else its oldest member) administers it. */
export async function administered(url: string): Promise<Set<string>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const rows = (await client.query(`SELECT DISTINCT organization_id AS id FROM members WHERE role = 'ORGANIZATION_ADMIN' AND state = 'ACTIVE'`)).rows;
    return new Set(rows.map((r) => r.id as string));
  } finally {
    await client.end();
  }
}

/** The organizations' members, identifiers, identities and sources (a few of each, in a stable order). */
export async function readOrganizations(url: string, ids: string[], admins: Set<string>): Promise<OrgData[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const out: OrgData[] = [];
    for (const id of ids) {
      const members = (
        await client.query(
          `SELECT m.id, m.user_id AS "userId", u.email, u.name FROM members m JOIN users u ON u.id = m.user_id
           WHERE m.organization_id = $1 AND m.state = 'ACTIVE' ORDER BY m.id LIMIT 20`,
          [id],
        )
      ).rows;
      const identifiers = (
        await client.query(
          `SELECT i.id, i.user_id AS "userId", s.key AS source, s.id AS "sourceId", i.identifier_key AS key, i.identifier_value AS value
           FROM identifiers i JOIN integration_sources s ON s.id = i.source_id WHERE i.organization_id = $1 ORDER BY i.id LIMIT 20`,
          [id],
        )
      ).rows;
      const identities = (
        await client.query(
          `SELECT d.id, d.identifier_key AS key, d.email, d.phone_number AS phone, d.external_id AS "externalId", s.key AS "sourceKey", d.user_id AS "userId", d.name
           FROM identities d LEFT JOIN integration_sources s ON s.id = d.source_id WHERE d.organization_id = $1 ORDER BY d.id LIMIT 20`,
          [id],
        )
      ).rows;
      const sources = (await client.query('SELECT id, key FROM integration_sources WHERE organization_id = $1 ORDER BY key', [id])).rows;
      out.push({ id, admin: admins.has(id), members, identifiers, identities, sources, cursors: {} });
    }
    return out;
  } finally {
    await client.end();
  }
}

export type Ask = (org: OrgData, query: string, variables?: Record<string, unknown>) => Promise<{ data?: any; errors?: unknown[] }>; // eslint-disable-line @typescript-eslint/no-explicit-any

const PAGES = ['members', 'identifiers', 'identities', 'sources', 'linkSuggestions'];
const USER_PAGES = ['identifiers', 'identities'];

/** The cursors of a first page of each connection of the organization and of its first members' users. */
export async function readCursors(orgs: OrgData[], ask: Ask): Promise<void> {
  const page = (f: string) => `${f}(first: 8) { edges { cursor } }`;
  for (const org of orgs) {
    const users = org.members.slice(0, 3).map((m) => gid('User', m.userId));
    const query = `query Cursors($id: ID!, $users: [ID!]!) {
      organization(id: $id) { ${PAGES.map(page).join(' ')} }
      nodes(ids: $users) { id ... on User { ${USER_PAGES.map(page).join(' ')} } }
    }`;
    const answer = await ask(org, query, { id: org.id, users });
    if (answer.errors) throw new Error(`Cursors of ${org.id}: ${JSON.stringify(answer.errors).slice(0, 500)}`);
    const take = (parent: string, obj: Record<string, { edges: { cursor: string }[] }>, fields: string[]) => {
      for (const f of fields) {
        const cursors = obj?.[f]?.edges.map((e) => e.cursor) ?? [];
        if (cursors.length) org.cursors[`${parent}.${f}`] = cursors;
      }
    };
    take('org', answer.data.organization, PAGES);
    for (const u of answer.data.nodes) if (u) take(u.id, u, USER_PAGES);
  }
}

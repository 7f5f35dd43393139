import { readdirSync, readFileSync } from 'node:fs';
import { buildSchema, parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import type { Block, Report } from '../bench/report.ts';
import { evaluateTargets, markdownReport } from '../bench/report.ts';
import { generateOperations, LIMITS, measureText, type OrgData } from '../bench/shapes/generate.ts';
import { concreteBody, normalise } from '../bench/workload.ts';

// The benchmark itself never runs in tests; these check what it relies on: its
// operations are valid against the current schema, every peer's answer normalises to
// one shape, and the targets are judged as the issue states them.

const uuid = '0a791842-f52a-0acf-bb3a-783378c066b8';
const gid = Buffer.from(`User:${uuid}`).toString('base64');

describe('benchmark', () => {
  it("this server's scenario operations are valid against schema.graphql", () => {
    const schema = buildSchema(readFileSync('schema.graphql', 'utf8'));
    const files = readdirSync('bench/operations').filter((f) => f.endsWith('.graphql'));
    expect(files.sort()).toEqual([
      'entities.graphql', 'identifiers.graphql', 'identity.graphql', 'members.graphql', 'node.graphql', 'page.graphql',
      'resolve-fragment.graphql', 'resolve.graphql', 'upsert.graphql',
    ]);
    for (const f of files) {
      expect(validate(schema, parse(readFileSync(`bench/operations/${f}`, 'utf8'))).map((e) => `${f}: ${e.message}`)).toEqual([]);
    }
  });

  it('normalises the answers of this server and PostGraphile to one shape', () => {
    const ours = {
      data: {
        resolve: {
          user: {
            id: gid,
            email: 'user5@example.com',
            name: 'User 5',
            memberships: [{ role: 'ANALYST', organization: { name: 'Organization 6' } }],
            identifiers: { edges: [{ node: { identifierKey: 'owner_id', identifierValue: '005', source: { key: 'salesforce' } } }] },
          },
        },
      },
    };
    const theirs = {
      data: {
        allIntegrationSources: {
          nodes: [
            {
              identifiersByOrganizationIdAndSourceId: {
                nodes: [
                  {
                    userByUserId: {
                      rowId: uuid,
                      email: 'user5@example.com',
                      name: 'User 5',
                      membersByUserId: { nodes: [{ role: 'ANALYST', organizationByOrganizationId: { name: 'Organization 6' } }] },
                      identifiersByUserId: { nodes: [{ identifierKey: 'owner_id', identifierValue: '005', integrationSourceByOrganizationIdAndSourceId: { key: 'salesforce' } }] },
                    },
                  },
                ],
              },
            },
          ],
        },
      },
    };
    expect(normalise('resolve', 'this', ours)).toEqual(normalise('resolve', 'postgraphile', theirs));
    expect(normalise('resolve', 'this', ours)).toMatchObject({ id: uuid });
    // PostGraphile under the row-level policies answers in PostGraphile's shape.
    expect(normalise('resolve', 'postgraphile-rls', theirs)).toEqual(normalise('resolve', 'this', ours));
    expect(normalise('node', 'this', { data: { node: { id: gid, email: 'a', name: 'b' } } })).toEqual(
      normalise('node', 'postgraphile', { data: { node: { id: 'x', rowId: uuid, email: 'a', name: 'b' } } }),
    );
    expect(normalise('node', 'floor', { errors: [{ message: 'Forbidden' }] })).toEqual({ errors: ['Forbidden'] });
  });

  it("normalises Join Monster's answers (UUID ids, plain lists) to this server's shape", () => {
    const identifier = { identifierKey: 'owner_id', identifierValue: '005' };
    const user = { email: 'user5@example.com', name: 'User 5' };
    const ours = {
      data: {
        organization: {
          members: {
            totalCount: 120,
            pageInfo: { hasNextPage: true, endCursor: 'b' },
            edges: [{ cursor: 'a', node: { role: 'ANALYST', user: { ...user, id: gid, identifiers: { edges: [{ node: identifier }] } } } }, { cursor: 'b', node: { role: 'OWNER', user: { ...user, id: gid, identifiers: { edges: [] } } } }],
          },
        },
      },
    };
    const theirs = {
      data: {
        organization: {
          members: {
            totalCount: 120,
            pageInfo: { hasNextPage: true, endCursor: 'YXJyYXljb25uZWN0aW9uOjE=' },
            edges: [
              { cursor: 'YXJyYXljb25uZWN0aW9uOjA=', node: { role: 'ANALYST', user: { ...user, id: uuid, identifiers: [identifier] } } },
              { cursor: 'YXJyYXljb25uZWN0aW9uOjE=', node: { role: 'OWNER', user: { ...user, id: uuid, identifiers: [] } } },
            ],
          },
        },
      },
    };
    expect(normalise('page', 'joinmonster', theirs)).toEqual(normalise('page', 'this', ours));
    expect(normalise('page', 'joinmonster', theirs)).toMatchObject({ cursorsHold: true, totalCount: 120 });
    expect(normalise('members50', 'joinmonster', theirs)).toEqual(normalise('members50', 'this', ours));
    // A different identifier is a different answer.
    theirs.data.organization.members.edges[0]!.node.user.identifiers = [{ ...identifier, identifierValue: '006' }];
    expect(normalise('members50', 'joinmonster', theirs)).not.toEqual(normalise('members50', 'this', ours));
    const resolved = { ...user, memberships: [{ role: 'ANALYST', organization: { name: 'Organization 6' } }] };
    const source = { source: { key: 'salesforce' } };
    expect(normalise('resolve', 'joinmonster', { data: { resolveUser: { ...resolved, id: uuid, identifiers: [{ ...identifier, ...source }] } } })).toEqual(
      normalise('resolve', 'this', { data: { resolve: { user: { ...resolved, id: gid, identifiers: { edges: [{ node: { ...identifier, ...source } }] } } } } }),
    );
    expect(normalise('resolve', 'joinmonster', { data: { resolveUser: null } })).toBeNull();
  });

  it('gives each upsert request fresh confidence scores', () => {
    const r = { organizationId: uuid, token: 't', body: JSON.stringify({ variables: { items: [{ confidenceScore: '__CONFIDENCE__' }, { confidenceScore: '__CONFIDENCE__' }] } }) };
    const score = JSON.parse(concreteBody(r, () => 0.5)).variables.items[0].confidenceScore;
    expect(score).toBeCloseTo(0.5, 3);
    expect(concreteBody({ ...r, body: '{"a":1}' })).toBe('{"a":1}');
  });

  it('judges the targets as ratios of one run', () => {
    const block = (scenario: Block['scenario'], peer: Block['peer'], connections: number, rps: number, p50Ms: number): Block => ({
      scenario,
      peer,
      connections,
      rep: 1,
      requests: rps,
      durationS: 1,
      rps,
      p50Ms,
      p90Ms: p50Ms,
      p99Ms: p50Ms,
      failures: 0,
      generator: 'wrk',
      statementsPerRequest: 1,
      peerCpuMsPerRequest: 1,
      pgCpuMsPerRequest: 1,
      rssMiB: 100,
      topStatements: [],
    });
    const blocks: Block[] = [];
    for (const s of ['resolve', 'members50', 'members100'] as const) {
      blocks.push(block(s, 'this', 32, 3000, 1), block(s, 'postgraphile', 32, 2000, 1), block(s, 'floor', 32, 5000, 1));
      blocks.push(block(s, 'this', 1, 500, 1.5), block(s, 'floor', 1, 900, 1));
    }
    blocks.push(block('upsert', 'this', 1, 10, 30), block('upsert', 'floor', 1, 20, 20));
    // A frontend shape: p50 within 1.5× the floor's; one PostGraphile cannot answer has no target against it.
    blocks.push(block('identity', 'this', 32, 3000, 1), block('identity', 'postgraphile', 32, 1000, 1), block('identity', 'floor', 32, 5000, 1));
    blocks.push(block('identity', 'this', 1, 500, 1.6), block('identity', 'floor', 1, 900, 1));
    blocks.push(block('identifiers', 'this', 32, 3000, 1), block('identifiers', 'floor', 32, 5000, 1));
    blocks.push(block('identifiers', 'this', 1, 500, 1.4), block('identifiers', 'floor', 1, 900, 1));
    const report: Report = {
      when: '2026-01-01T00:00:00Z',
      machine: { loadAverage: [1, 1], cpus: 2, cpuModel: 'cpu', memoryGiB: 24, node: 'v20', postgres: '15' },
      settings: { scale: 1, durationS: 1, warmupS: 1, reps: 1, poolSize: 16, levels: [1, 8, 32], generator: 'wrk', quick: false },
      joseVerifyMicros: 100,
      startMs: { this: 1000 },
      checks: [],
      statementCounts: [
        { scenario: 'resolve', peer: 'this', requests: 10, perRequest: 3, top: [] },
        { scenario: 'members50', peer: 'this', requests: 10, perRequest: 4, top: [] },
        { scenario: 'members100', peer: 'this', requests: 10, perRequest: 5, top: [] },
      ],
      coldStart: { serverMs: 300, pgliteMs: 100, runs: 3 },
      blocks,
      targets: [],
    };
    const targets = evaluateTargets(report);
    const byName = (part: string) => targets.filter((t) => t.name.includes(part));
    expect(byName('throughput vs PostGraphile').map((t) => [t.ratio, t.met])).toEqual([[1.5, true], [1.5, true], [1.5, true], [3, true]]);
    expect(byName('identifiers filtered: throughput vs PostGraphile')).toEqual([]);
    expect(byName('throughput vs SQL floor').every((t) => t.ratio === 0.6 && t.met)).toBe(true);
    expect(byName('p50 at 1 connection').map((t) => [t.ratio, t.met])).toEqual([[1.5, true], [1.5, true], [1.5, true], [1.6, false], [1.4, true]]);
    expect(byName('resolve: SQL statements')[0]).toMatchObject({ ratio: 3, met: true });
    // 5 statements for a page of 100 against 4 for 50: over the limit, and not constant.
    expect(byName('members: SQL statements')[0]).toMatchObject({ ratio: 5, met: false });
    // Against the floor that records the same audit events, the limit is 1.3.
    expect(byName('upsert')[0]).toMatchObject({ ratio: 1.5, met: false });
    expect(byName('cold start')[0]).toMatchObject({ ratio: 3, met: false });
    report.targets = targets;
    expect(markdownReport(report)).toContain('| 2. members, page of 50 | 32 | PostGraphile | 2000 |');
  });

  it('bench:shapes draws valid operations within the limits, the same for the same seed', () => {
    const schema = buildSchema(readFileSync('schema.graphql', 'utf8'));
    const u = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
    const org = (admin: boolean): OrgData => ({
      id: u(admin ? 1 : 2),
      admin,
      members: [1, 2].map((i) => ({ id: u(10 + i), userId: u(20 + i), email: `user${i}@example.com`, name: `User ${i}` })),
      identifiers: [{ id: u(30), userId: u(21), source: 'slack', sourceId: u(40), key: 'member_id', value: 'U1' }],
      identities: [{ id: u(50), key: 'identity-3', email: 'identity3@example.com', phone: '+15550000004', externalId: 'okta-3', sourceKey: 'okta', userId: null, name: 'Identity 3' }],
      sources: [{ id: u(40), key: 'slack' }],
      cursors: { 'org.members': ['c1'] },
    });
    const ops = generateOperations(schema, [org(true), org(false)], 120, 7);
    for (const op of ops) {
      expect(validate(schema, parse(op.query)).map((e) => `${op.query}: ${e.message}`)).toEqual([]);
      const m = measureText(op.query);
      expect(m.depth).toBeLessThanOrEqual(LIMITS.depth);
      expect(m.directives).toBeLessThanOrEqual(LIMITS.directives);
      // An analyst is never asked what only an admin may read.
      if (op.organizationId === u(2)) expect(op.query).not.toMatch(/apiKeys|webhookEndpoints|deletedItems/);
    }
    expect(new Set(ops.flatMap((o) => o.roots)).size).toBe(9);
    expect(generateOperations(schema, [org(true), org(false)], 120, 7)).toEqual(ops);
  });
});

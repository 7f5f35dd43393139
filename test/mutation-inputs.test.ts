import { encodeGlobalID } from '@pothos/plugin-relay';
import type { Arbitrary } from 'fast-check';
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  isUnionType,
  type GraphQLField,
  type GraphQLInputType,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { schema } from '../src/schema.ts';
import { gql } from './helpers/app.ts';
import { aMember, aSource, anOrganization, aUser } from './helpers/factories.ts';
import { fc } from './helpers/property-runs.ts';

// Every mutation of the built schema, over generated input: arbitrary strings, numbers
// and JSON in every field, ids of real objects among random ones. Each call succeeds,
// or answers its typed error result, or BAD_USER_INPUT with a path; never any other
// code, and a call that does not succeed leaves every table as it was. The mutations
// and their input shapes come from the schema, so a new mutation is covered as is.

const RUNS_PER_MUTATION = Number(process.env.FC_RUNS ?? 6);

const NUL = '\u0000';
const junkText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('', ' ', NUL, `a${NUL}b`, 'x'.repeat(2000), 'ada@example.com', 'crm', 'owner_id', 'MANUAL', '+15555550100', '2026-01-01T00:00:00Z'),
);
const junkNumber = fc.oneof(
  fc.integer({ min: -5, max: 200 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, 1, 0.5, -1, 2 ** 31, 1e308),
);
const junkJson: Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom({ [`k${NUL}`]: 1 }, { a: [`x${NUL}`] }, JSON.parse(`${'{"a":'.repeat(40)}1${'}'.repeat(40)}`), { big: 'y'.repeat(17_000) }),
);

/** Generates values of a GraphQL input type; `ids` are global ids and UUIDs of real objects. */
function valuesOf(type: GraphQLInputType, ids: string[], depth = 0): Arbitrary<unknown> {
  if (isNonNullType(type)) return valuesOf(type.ofType, ids, depth);
  if (isListType(type)) return fc.array(valuesOf(type.ofType, ids, depth + 1), { maxLength: depth > 2 ? 1 : 3 });
  if (isEnumType(type)) return fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...type.getValues().map((v) => v.name)) }, { weight: 1, arbitrary: junkText });
  if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields());
    const shape = Object.fromEntries(fields.map((f) => [f.name, valuesOf(f.type, ids, depth + 1)]));
    const required = fields.filter((f) => isNonNullType(f.type)).map((f) => f.name);
    // Required fields are always there (one left out is a coercion error, covered by
    // the nulls of optional ones); optional ones come and go.
    return fc.record(shape, { requiredKeys: required });
  }
  if (isScalarType(type)) {
    switch (type.name) {
      case 'ID':
        return fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...ids) }, { weight: 1, arbitrary: junkText }, { weight: 1, arbitrary: fc.uuid() });
      case 'String':
        return junkText;
      case 'Int':
        return fc.integer({ min: -5, max: 2000 });
      case 'Float':
        return junkNumber;
      case 'Boolean':
        return fc.boolean();
      case 'DateTime':
        return fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), junkText);
      case 'JSON':
      case 'JSONObject':
        return junkJson;
      default:
        throw new Error(`No generator for the scalar ${type.name}: add one here.`);
    }
  }
  throw new Error(`No generator for ${String(type)}`);
}

/** A selection that tells success from each typed error. */
function selectionOf(field: GraphQLField<unknown, unknown>): string {
  const type = getNamedType(field.type);
  if (isUnionType(type)) {
    const errors = type.getTypes().filter((t) => t.getInterfaces().some((i) => i.name === 'Error'));
    const issues = errors.some((t) => t.name === 'ValidationError') ? '... on ValidationError { issues { path message } }' : '';
    return `{ __typename ${errors.length ? '... on Error { code message }' : ''} ${issues} }`;
  }
  return isObjectType(type) ? '{ __typename }' : '';
}

/** Every table's rows, as one fingerprint per table: equal exactly when nothing was written. */
async function snapshot(): Promise<Record<string, string>> {
  const tables = await prisma.$queryRawUnsafe<{ name: string }[]>(
    "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> '_prisma_migrations' ORDER BY 1",
  );
  const sql = tables.map((t) => `SELECT '${t.name}' AS name, count(*)::int AS n, md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS h FROM "${t.name}" x`).join(' UNION ALL ');
  const rows = await prisma.$queryRawUnsafe<{ name: string; n: number; h: string }[]>(sql);
  return Object.fromEntries(rows.map((r) => [r.name, `${r.n}:${r.h}`]));
}

/** A tenant whose objects the generated ids may name, and a system admin who may call anything. */
async function world() {
  const organization = await anOrganization();
  const admin = await aUser({ isSystemAdmin: true });
  const member = await aUser();
  await aMember(organization.id, member.id, { role: 'ORGANIZATION_ADMIN' });
  const source = await aSource(organization.id, { key: 'crm' });
  const ids = [
    encodeGlobalID('Organization', organization.id),
    organization.id,
    encodeGlobalID('User', member.id),
    member.id,
    encodeGlobalID('IntegrationSource', source.id),
  ];
  return { organization, admin, ids };
}

const mutations = Object.values(schema.getMutationType()!.getFields());

describe('every mutation over generated input', () => {
  it('finds the mutations in the schema', () => {
    expect(mutations.length).toBeGreaterThan(20);
  });

  for (const field of mutations) {
    it(`${field.name}: succeeds, or a typed error, or BAD_USER_INPUT with a path; refused calls write nothing`, async () => {
      const { admin, ids } = await world();
      const variables = field.args.map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
      const args = field.args.map((a) => `${a.name}: $${a.name}`).join(', ');
      const document = `mutation${variables ? `(${variables})` : ''} { ${field.name}${args ? `(${args})` : ''} ${selectionOf(field)} }`;
      const argValues = fc.record(Object.fromEntries(field.args.map((a) => [a.name, valuesOf(a.type, ids)])));
      await fc.assert(
        fc.asyncProperty(argValues, async (values) => {
          const before = await snapshot();
          // No X-Organization-ID: an operation naming another organization than the header is
          // refused as TENANT_MISMATCH, a refusal of the request rather than of its input.
          const result = await gql(document, { variables: values, asUser: admin });
          const payload = result.data?.[field.name] as { __typename?: string; code?: string; issues?: { path: string }[] } | null | undefined;
          const seen = JSON.stringify({ values, result }).slice(0, 2000);
          if (result.errors?.length) {
            for (const error of result.errors) {
              expect(error.extensions?.code, seen).toBe('BAD_USER_INPUT');
              const details = error.extensions?.details as { path?: string }[] | undefined;
              const path = details?.[0]?.path ?? /(\$\w+|at "[^"]+")/.exec(error.message)?.[0];
              expect(path, `a BAD_USER_INPUT without a path: ${seen}`).toBeTruthy();
            }
          } else if (payload?.code) {
            // One of the mutation's own typed errors, which the schema declares.
            if (payload.__typename === 'ValidationError') expect(payload.issues?.[0]?.path, seen).toBeTruthy();
          } else {
            return; // succeeded
          }
          expect(await snapshot(), seen).toEqual(before);
        }),
        { numRuns: RUNS_PER_MUTATION },
      );
    }, 120_000);
  }
});

import { describe, expect, it } from 'vitest';
import { prisma } from '../src/db.ts';
import { columnName, namedStatement, rowKeys, scalarFields, selectList, sqlNames, table, tableName } from '../src/modules/shared/sql-names.ts';
import { anIdentifier, aSource, aTenantWithMember } from './helpers/factories.ts';

// Raw statements name tables and columns through the Prisma datamodel, which honours
// @map and @@map: these pin what it gives, and that a row read with it has the shape
// Prisma's own queries give.

describe('SQL names from the Prisma datamodel', () => {
  it('follow @@map for tables and @map for columns', () => {
    expect(tableName('IntegrationSource')).toBe('"integration_sources"');
    expect(columnName('Identifier', 'identifierKey')).toBe('"identifier_key"');
    expect(columnName('Identifier', 'id')).toBe('"id"');
    expect(selectList('Identifier', ['id', 'userId'], 'i').sql).toBe('i."id" AS "id", i."user_id" AS "userId"');
  });

  it('list the scalar fields of a model, not its relations', () => {
    const fields = scalarFields('Member');
    expect(fields).toEqual(['id', 'organizationId', 'userId', 'role', 'state', 'createdAt', 'updatedAt']);
  });

  it('build a named statement\'s text once, on its first use', () => {
    let built = 0;
    const byEmail = namedStatement('sql_names_test', () => {
      built += 1;
      return `SELECT ${columnName('User', 'isSystemAdmin')} FROM ${tableName('User')} WHERE email = $1`;
    });
    expect(built).toBe(0);
    expect(byEmail()).toBe(byEmail());
    expect(built).toBe(1);
    expect(byEmail()).toEqual({ name: 'sql_names_test', text: 'SELECT "is_system_admin" FROM "users" WHERE email = $1' });
  });

  it('give a model\'s table and columns as SQL, built once', async () => {
    const names = sqlNames('IdentityProperty');
    expect(names()).toBe(names());
    expect(names().$table.sql).toBe('"identity_properties"');
    expect(names().identityId.sql).toBe('"identity_id"');
    expect(names().key.sql).toBe('"key"');
    const { $table, identityId } = names();
    expect(Object.keys(names())).toEqual(['$table', ...scalarFields('IdentityProperty')]);
    const rows = await prisma.$queryRaw<{ n: number }[]>`SELECT count(${identityId})::int AS n FROM ${$table} p`;
    expect(rows).toEqual([{ n: 0 }]);
  });

  it('key a row as to_jsonb gives it by column, built once', async () => {
    const keys = rowKeys('Identifier');
    expect(keys()).toBe(keys());
    expect(keys().identifierKey).toBe('identifier_key');
    const { organization, user } = await aTenantWithMember();
    const source = await aSource(organization.id);
    await anIdentifier(organization.id, user.id, source.id, { identifierKey: 'login' });
    const [row] = await prisma.$queryRaw<{ row: Record<string, unknown> }[]>`SELECT to_jsonb(i) AS row FROM ${table('Identifier')} i`;
    expect(row!.row[keys().identifierKey]).toBe('login');
  });

  it('refuse a field the model does not have', () => {
    expect(() => columnName('User', 'memberships' as never)).toThrow(/no scalar field memberships/);
  });

  it('read a row as Prisma reads it', async () => {
    const { organization, user } = await aTenantWithMember();
    const source = await aSource(organization.id);
    const identifier = await anIdentifier(organization.id, user.id, source.id, { confidenceScore: 0.5 });
    const [row] = await prisma.$queryRaw<Record<string, unknown>[]>`
      SELECT ${selectList('Identifier', scalarFields('Identifier'))} FROM ${table('Identifier')} WHERE id = ${identifier.id}::uuid`;
    expect(row).toEqual(await prisma.identifier.findUniqueOrThrow({ where: { id: identifier.id } }));
  });
});

import { Prisma, prisma } from '../../db.ts';
import type { Identifier, Identity, Member, User } from '../../generated/prisma/client.ts';
import { rowsAt } from '../shared/engine/datamodel.ts';
import { column, type FieldOf, scalarFields, selectList } from '../shared/sql-names.ts';

// The rows a walk of the graph reads, as they are now or as they were at a past moment
// (`asOf`): the same statements either way, over the table or over its versions valid
// then (engine/datamodel.ts rowsAt). Each is batched over a whole frontier.

type Model = 'Identifier' | 'Identity' | 'User' | 'Member';
const rows = (m: Model, asOf: Date | null) => Prisma.raw(`${rowsAt(m, asOf)} x`);

/** Rows of `m` in the organization whose `field` is one of `ids`, oldest first. */
function byField<M extends 'Identifier' | 'Identity', R>(m: M, field: FieldOf<M>, organizationId: string, ids: string[], asOf: Date | null): Promise<R[]> {
  if (!ids.length) return Promise.resolve([]);
  return prisma.$queryRaw<R[]>`
    SELECT ${selectList(m, scalarFields(m), 'x')} FROM ${rows(m, asOf)}
    WHERE ${column(m, field, 'x')} = ANY(${ids}::uuid[]) AND ${column(m, 'organizationId', 'x')} = ${organizationId}::uuid
    ORDER BY ${column(m, 'createdAt', 'x')}, x.id`;
}

export const identifiersById = (org: string, ids: string[], asOf: Date | null) => byField<'Identifier', Identifier>('Identifier', 'id', org, ids, asOf);
export const identifiersOfUsers = (org: string, userIds: string[], asOf: Date | null) => byField<'Identifier', Identifier>('Identifier', 'userId', org, userIds, asOf);
export const identitiesById = (org: string, ids: string[], asOf: Date | null) => byField<'Identity', Identity>('Identity', 'id', org, ids, asOf);
export const identitiesOfUsers = (org: string, userIds: string[], asOf: Date | null) => byField<'Identity', Identity>('Identity', 'userId', org, userIds, asOf);

/** Users by id. */
export function usersById(ids: string[], asOf: Date | null): Promise<User[]> {
  if (!ids.length) return Promise.resolve([]);
  return prisma.$queryRaw<User[]>`SELECT ${selectList('User', scalarFields('User'), 'x')} FROM ${rows('User', asOf)} WHERE x.id = ANY(${ids}::uuid[])`;
}

/** The memberships of these users in the organization, with its name. */
export function membershipsOf(organizationId: string, userIds: string[], asOf: Date | null): Promise<(Member & { organizationName: string })[]> {
  if (!userIds.length) return Promise.resolve([]);
  return prisma.$queryRaw<(Member & { organizationName: string })[]>`
    SELECT ${selectList('Member', scalarFields('Member'), 'x')}, o.name AS "organizationName"
    FROM ${rows('Member', asOf)} JOIN ${Prisma.raw(rowsAt('Organization', asOf))} o ON o.id = ${column('Member', 'organizationId', 'x')}
    WHERE ${column('Member', 'userId', 'x')} = ANY(${userIds}::uuid[]) AND ${column('Member', 'organizationId', 'x')} = ${organizationId}::uuid`;
}

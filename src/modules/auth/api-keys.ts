import { createHash, randomBytes } from 'node:crypto';
import type { Access, CredentialCheck, Viewer } from '../../context.ts';
import { Prisma, prisma, sql } from '../../db.ts';
import { deleteRows, keepDeleted } from '../deletion/store.ts';
import { text } from '../shared/inputs.ts';
import { forbidden, NotFoundError } from '../../errors.ts';
import type { ApiKey, MemberRole } from '../../generated/prisma/client.ts';
import { recordAudit } from '../audit/service.ts';
import { auditedChange, auditEvent, type Audited } from '../shared/audited.ts';
import { requireOrganizationAccess } from '../shared/authorize.ts';
import { columnName, namedStatement, selectList, tableName, type FieldOf } from '../shared/sql-names.ts';
import { Issues, prismaErrorCode } from '../shared/validate.ts';

// Organization API keys: credentials for machine clients (MCP tools, discovery jobs),
// bound to one organization with a role. The key is shown once, when created; the
// database keeps only its SHA-256 and a display prefix. No GraphQL here.

/** Every key starts with this, so it is recognisable in a header, a log line or a leaked file. */
export const API_KEY_PREFIX = 'igk_';
const API_KEY = /^igk_[A-Za-z0-9_-]{43}$/;
const DISPLAY_PREFIX_LENGTH = API_KEY_PREFIX.length + 8;
/** lastUsedAt is written at most this often per key, so busy keys do not write on every request. */
const LAST_USED_RESOLUTION_MS = 60_000;

/** Keys' audit events: the fields they record, never the secret or the secret's hash. */
const AUDITED_API_KEY: Audited<ApiKey> = {
  model: 'ApiKey',
  entityType: 'ApiKey',
  fields: ['name', 'role', 'prefix', 'revokedAt'],
  find: (tx, id) => tx.apiKey.findUnique({ where: { id } }),
  organizationOf: (row) => row.organizationId,
};

/** Roles a key may hold: SYSTEM_ADMIN belongs to people, and reaches beyond one organization. */
export const API_KEY_ROLES = ['ORGANIZATION_ADMIN', 'ANALYST'] as const satisfies readonly MemberRole[];
export type ApiKeyRole = (typeof API_KEY_ROLES)[number];

export const looksLikeApiKey = (credential: string) => credential.startsWith(API_KEY_PREFIX);

export const hashApiKey = (key: string) => createHash('sha256').update(key).digest('hex');

export function generateApiKey() {
  const secret = `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { secret, prefix: secret.slice(0, DISPLAY_PREFIX_LENGTH), secretHash: hashApiKey(secret) };
}

interface ApiKeyRow {
  id: string;
  organizationId: string;
  role: MemberRole;
  revoked: boolean;
  lastUsedMs: number | null;
}

/** A key's facts by the hash of its secret; given its parameter's placeholder, as it also runs inside compiled reads (CredentialCheck). */
function apiKeyByHash(hash: string): string {
  const k = (f: FieldOf<'ApiKey'>) => columnName('ApiKey', f);
  return `SELECT ${selectList('ApiKey', ['id', 'organizationId']).sql}, ${k('role')}::text AS role, ${k('revokedAt')} IS NOT NULL AS revoked,
          (extract(epoch FROM ${k('lastUsedAt')}) * 1000)::float8 AS "lastUsedMs"
   FROM ${tableName('ApiKey')} WHERE ${k('secretHash')} = ${hash}`;
}

// Every request with an API key not in memory runs this.
const API_KEY_BY_HASH = namedStatement('api_key_by_hash', () => apiKeyByHash('$1'));

/** An API key's viewer, how to check it later, and until when it may be remembered: its lastUsedAt is due then (authenticate.ts). */
export interface ApiKeyViewer {
  viewer: Viewer;
  check: CredentialCheck;
  rememberUntil: number;
}

/** The viewer an API key signs in, or null for a malformed, unknown or revoked key. */
export async function viewerForApiKey(key: string): Promise<ApiKeyViewer | null> {
  if (!API_KEY.test(key)) return null;
  const hash = hashApiKey(key);
  const [row] = await sql<ApiKeyRow>(API_KEY_BY_HASH(), [hash]);
  if (!row || row.revoked) return null;
  const now = Date.now();
  let lastUsedMs = row.lastUsedMs;
  if (lastUsedMs === null || now - lastUsedMs >= LAST_USED_RESOLUTION_MS) {
    await prisma.apiKey.updateMany({ where: { id: row.id, revokedAt: null }, data: { lastUsedAt: new Date(now) } });
    lastUsedMs = now;
  }
  const { lastUsedMs: _, ...facts } = row;
  return {
    viewer: {
      kind: 'apiKey',
      apiKeyId: row.id,
      organizationId: row.organizationId,
      role: row.role,
      boundOrganizationId: row.organizationId,
    },
    check: { facts: (p) => apiKeyByHash(p(hash, 'text')), expected: facts },
    rememberUntil: lastUsedMs + LAST_USED_RESOLUTION_MS,
  };
}

export interface CreateApiKeyInput {
  /** Global id or UUID; defaults to the organization the request is narrowed to. */
  organizationId?: string | null;
  name: string;
  role?: ApiKeyRole | null;
}

/**
 * The organization a key is created in: the one the input names, else the one the
 * request names in X-Organization-ID. Undefined, with an issue, when neither does.
 */
function organizationOf(access: Access, issues: Issues, value: string | null | undefined): string | undefined {
  if (value != null) return issues.id('input.organizationId', value, 'Organization') ?? undefined;
  const scoped = access.organizationFor(null);
  if (!scoped) issues.add('input.organizationId', 'is required unless X-Organization-ID names the organization');
  return scoped ?? undefined;
}

/** Creates a key (ORGANIZATION_ADMIN of the organization); the secret is returned here and never again. */
export async function createApiKey(access: Access, input: CreateApiKeyInput) {
  const issues = new Issues();
  const organizationId = organizationOf(access, issues, input.organizationId);
  const name = issues.text('input.name', input.name, 200, { required: true });
  const role = input.role ?? 'ANALYST';
  if (!API_KEY_ROLES.includes(role)) issues.add('input.role', `must be one of ${API_KEY_ROLES.join(', ')}`);
  issues.throwIfAny();
  await requireOrganizationAccess(access, organizationId!, 'admin');
  const { secret, prefix, secretHash } = generateApiKey();
  const viewer = access.viewer;
  try {
    const apiKey = await prisma.$transaction(async (tx) => {
      const created = await tx.apiKey.create({
        data: {
          organizationId: organizationId!,
          name: name!,
          role,
          prefix,
          secretHash,
          createdById: viewer.kind === 'user' ? viewer.userId : null,
        },
      });
      await recordAudit(tx, viewer, [auditEvent(AUDITED_API_KEY, 'CREATE', null, created)]);
      return created;
    });
    return { apiKey, secret };
  } catch (err) {
    // Only a system admin gets here for an organization that does not exist.
    if (prismaErrorCode(err) === 'P2003') throw new NotFoundError('Organization');
    throw err;
  }
}

/**
 * Revokes a key (ORGANIZATION_ADMIN of its organization); revoking a revoked key
 * changes nothing. A key the viewer cannot see, in another organization or nowhere,
 * is NOT_FOUND.
 */
export async function revokeApiKey(access: Access, input: { id: string }) {
  const issues = new Issues();
  const id = issues.id('input.id', input.id, 'ApiKey');
  issues.throwIfAny();
  const key = await prisma.apiKey.findUnique({ where: { id: id! }, select: { organizationId: true } });
  // Outside the viewer's organizations a key is indistinguishable from no key.
  if (!key || !(await access.can(key.organizationId, 'read'))) throw new NotFoundError('ApiKey');
  if (!(await access.can(key.organizationId, 'admin'))) throw forbidden();
  return auditedChange(
    access.viewer,
    AUDITED_API_KEY,
    id!,
    async (tx, before) => (before.revokedAt ? before : tx.apiKey.update({ where: { id: id! }, data: { revokedAt: new Date() } })),
    { action: 'REVOKE' },
  );
}

/**
 * Deletes an API key of an organization the viewer administers: it stops authenticating
 * at once, and an admin can restore it (restoreApiKey, the same secret working again)
 * until the organization's retention runs out.
 */
export async function deleteApiKey(access: Access, input: { id: string; reason?: string | null }): Promise<string> {
  const issues = new Issues();
  const id = issues.id('input.id', input.id, 'ApiKey');
  const reason = text(issues, 'input.reason', input.reason, 1000);
  issues.throwIfAny();
  const key = await prisma.apiKey.findUnique({ where: { id: id! }, select: { organizationId: true } });
  if (!key || !(await access.can(key.organizationId, 'read'))) throw new NotFoundError('ApiKey');
  if (!(await access.can(key.organizationId, 'admin'))) throw forbidden();
  await auditedChange(access.viewer, AUDITED_API_KEY, id!, async (tx, before) => {
    const rows = await deleteRows(tx, 'api_keys', Prisma.sql`${Prisma.raw(columnName('ApiKey', 'id'))} = ${id!}::uuid`);
    const label = `${before.name} (${before.prefix}…)`;
    await keepDeleted(tx, access.viewer, { organizationId: before.organizationId, entityType: 'ApiKey', entityId: id!, rows: { api_keys: rows }, label, reason });
    return null;
  });
  return id!;
}

import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { jwtVerify, SignJWT } from 'jose';
import type { AuthSettings, Config } from '../../config.ts';
import { folderHolder } from '../../db/folder-lock.ts';
import type { PrismaClient } from '../../db.ts';
import { ANONYMOUS } from '../../context.ts';
import type { MemberRole } from '../../generated/prisma/client.ts';
import { type AuditInput, recordAudit } from '../audit/service.ts';
import { AUDITED_MEMBER } from '../member/service.ts';
import { AUDITED_ORGANIZATION } from '../organization/service.ts';
import { auditEvent } from '../shared/audited.ts';
import { AUDITED_USER } from '../user/service.ts';
import { MAX_EMAIL_LENGTH, normaliseEmail } from '../shared/validate.ts';
import { UUID_RE } from '../shared/visibility.ts';

// Development sign-in: an HS256 secret kept in the data folder (so the server and
// `npm run token` agree on it, and tokens survive restarts), the user, organization
// and membership a development token needs, and the token itself. Nothing here runs
// in production.

/** Beside the embedded database's folder: `./data/dev-jwt-secret` by default. */
export const devSecretFile = (config: Config) => path.join(path.dirname(config.pgliteDataDir), 'dev-jwt-secret');

/**
 * The development HS256 secret: JWT_SECRET when set, otherwise the one in the data
 * folder, generated there on first use. `generated` says whether this call made it.
 */
export async function developmentSecret(config: Config): Promise<{ secret: string; file: string | null; generated: boolean }> {
  if (config.env === 'production') throw new Error('development tokens are not available in production');
  if (config.auth.jwtSecret) return { secret: config.auth.jwtSecret, file: null, generated: false };
  const file = devSecretFile(config);
  const existing = await readFile(file, 'utf8').catch(() => null);
  if (existing?.trim()) return { secret: existing.trim(), file, generated: false };
  await mkdir(path.dirname(file), { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  try {
    await writeFile(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    return { secret, file, generated: true };
  } catch {
    // Another process wrote it first.
    return { secret: (await readFile(file, 'utf8')).trim(), file, generated: false };
  }
}

export interface DevGrant {
  email: string;
  /** Slug (created when missing) or id of the organization. */
  organization: string;
  /** Set the membership to this role (and ACTIVE); when absent an existing membership is left as it is. */
  role?: MemberRole | undefined;
  systemAdmin?: boolean | undefined;
  name?: string | undefined;
  /** The id of the user when this creates them (the demo data names its users). */
  userId?: string | undefined;
}

export interface DevMembership {
  user: { id: string; email: string; authSubject: string; name: string | null; isSystemAdmin: boolean };
  organization: { id: string; slug: string };
  /** Null for a system admin without a membership there: a system admin needs none. */
  member: { role: MemberRole; state: string } | null;
}

const SLUG = /^[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?$/;
const ROLES: MemberRole[] = ['SYSTEM_ADMIN', 'ORGANIZATION_ADMIN', 'ANALYST'];

/** Checks a grant's values; returns what is wrong, or null. */
export function devGrantProblem(grant: DevGrant): string | null {
  if (normaliseEmail(grant.email ?? '') === null) return `--email must be an email address of at most ${MAX_EMAIL_LENGTH} characters`;
  if (!UUID_RE.test(grant.organization ?? '') && !SLUG.test(grant.organization ?? '')) {
    return '--org must be an organization id or a slug (lower-case letters, digits, - or _)';
  }
  if (grant.role !== undefined && !ROLES.includes(grant.role)) return `--role must be one of ${ROLES.join(', ')}`;
  if (grant.userId !== undefined && !UUID_RE.test(grant.userId)) return 'userId must be a UUID';
  return null;
}

/**
 * Creates whatever of user, organization and membership is missing (development only),
 * and records each row it creates or changes in the audit trail, as the system (no
 * signed-in user makes these).
 */
export async function ensureDevMembership(prisma: PrismaClient, grant: DevGrant): Promise<DevMembership> {
  const problem = devGrantProblem(grant);
  if (problem) throw new Error(problem);
  const email = normaliseEmail(grant.email)!;
  return prisma.$transaction(async (tx) => {
    const events: AuditInput[] = [];
    const found = await tx.user.findUnique({ where: { email } });
    let user =
      found ??
      (await tx.user.create({
        data: { id: grant.userId, email, authSubject: `dev|${email}`, name: grant.name ?? email.split('@')[0]! },
      }));
    if (!found) events.push(auditEvent(AUDITED_USER, 'CREATE', null, user));
    const changes = {
      ...(user.authSubject ? {} : { authSubject: `dev|${email}` }),
      ...(grant.systemAdmin && !user.isSystemAdmin ? { isSystemAdmin: true } : {}),
    };
    if (Object.keys(changes).length) {
      const before = user;
      user = await tx.user.update({ where: { id: user.id }, data: changes });
      events.push(auditEvent(AUDITED_USER, 'UPDATE', before, user));
    }
    const byId = UUID_RE.test(grant.organization);
    let organization = await tx.organization.findUnique({
      where: byId ? { id: grant.organization.toLowerCase() } : { slug: grant.organization },
    });
    if (!organization && !byId) {
      organization = await tx.organization.create({ data: { slug: grant.organization, name: grant.organization } });
      events.push(auditEvent(AUDITED_ORGANIZATION, 'CREATE', null, organization));
    }
    if (!organization) throw new Error(`no organization has the id ${grant.organization}`);
    const where = { organizationId_userId: { organizationId: organization.id, userId: user.id } };
    // A system admin acts in every organization without a membership, so one is made
    // for them only when a role is asked for: making them its admin unasked would
    // change who counts as the organization's admins.
    const existing = await tx.member.findUnique({ where });
    const member =
      grant.systemAdmin && !grant.role
        ? existing
        : await tx.member.upsert({
            where,
            create: { organizationId: organization.id, userId: user.id, role: grant.role ?? 'ORGANIZATION_ADMIN', state: 'ACTIVE' },
            update: grant.role ? { role: grant.role, state: 'ACTIVE' } : {},
          });
    if (member) events.push(auditEvent(AUDITED_MEMBER, existing ? 'UPDATE' : 'CREATE', existing, member));
    // An UPDATE that changed nothing is skipped by recordAudit.
    await recordAudit(tx, ANONYMOUS, events);
    return {
      user: { id: user.id, email: user.email, authSubject: user.authSubject!, name: user.name, isSystemAdmin: user.isSystemAdmin },
      organization: { id: organization.id, slug: organization.slug },
      member: member && { role: member.role, state: member.state },
    };
  });
}

export interface DevTokenOptions {
  secret: string;
  settings: AuthSettings;
  ttlSeconds: number;
  /** Bind the token to this organization (the organization claim). */
  bindOrganizationId?: string | undefined;
}

/** An HS256 token for a user, with the claims a real identity provider would send. */
export function mintDevToken(user: DevMembership['user'], options: DevTokenOptions): Promise<string> {
  const claims: Record<string, unknown> = { email: user.email, email_verified: true };
  if (user.name) claims.name = user.name;
  if (options.bindOrganizationId) claims[options.settings.organizationClaim] = options.bindOrganizationId;
  let jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(user.authSubject)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + options.ttlSeconds);
  if (options.settings.issuer) jwt = jwt.setIssuer(options.settings.issuer);
  if (options.settings.audience?.length) jwt = jwt.setAudience(options.settings.audience[0]!);
  return jwt.sign(new TextEncoder().encode(options.secret));
}

// While a development server holds the embedded database (one process at a time opens
// its folder, src/db/folder-lock.ts), `npm run token` and `npm run import` ask it to do
// their work instead, through these routes: development only, loopback only, and only
// with a short-lived token signed with the development secret for this audience (which
// no other token carries).

export const DEV_GRANT_PATH = '/dev/grant';
export const DEV_IMPORT_PATH = '/dev/import';
const DEV_GRANT_AUDIENCE = 'identity-graph:dev-grant';

/** The URL of the server holding this embedded database, if one is running. */
export function runningDevServer(config: Config): string | null {
  return folderHolder(config.pgliteDataDir)?.url ?? null;
}

/** Calls a development route of the running server; its answer, or an error with its reason. */
export async function callDevServer<T>(url: string, route: string, secret: string, body: unknown): Promise<T> {
  const response = await fetch(new URL(route, url), {
    method: 'POST',
    headers: { authorization: `Bearer ${await devGrantToken(secret)}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = (await response.json().catch(() => ({ error: `not a development server (${response.status})` }))) as T & { error?: string };
  if (!response.ok) throw new Error(`the server at ${url} answered ${response.status}: ${answer.error}`);
  return answer;
}

export function devGrantToken(secret: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setAudience(DEV_GRANT_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('60s')
    .sign(new TextEncoder().encode(secret));
}

/** Asks the development server at `base` to make the grant (see devGrantHandler). */
export const grantThroughServer = (base: string, secret: string, grant: DevGrant) =>
  callDevServer<DevMembership>(base, DEV_GRANT_PATH, secret, grant);

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/** A development route: `action` runs with the JSON body of an authorised loopback POST. */
export function devRoute(secret: string, action: (body: unknown) => Promise<unknown>) {
  const key = new TextEncoder().encode(secret);
  return async (req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'POST' || !LOOPBACK.has(req.socket.remoteAddress ?? '')) return send(404, { error: 'not found' });
    const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    try {
      await jwtVerify(token ?? '', key, { algorithms: ['HS256'], audience: DEV_GRANT_AUDIENCE, requiredClaims: ['exp'] });
    } catch {
      return send(401, { error: 'a development grant token is required' });
    }
    let body = '';
    for await (const chunk of req) {
      body += chunk;
      if (body.length > 4096) return send(413, { error: 'too large' });
    }
    try {
      return send(200, await action(JSON.parse(body)));
    } catch (err) {
      return send(400, { error: (err as Error).message });
    }
  };
}

/** The `/dev/grant` route of a development server. */
export const devGrantHandler = (prisma: () => PrismaClient, secret: string) =>
  devRoute(secret, (grant) => ensureDevMembership(prisma(), grant as DevGrant));

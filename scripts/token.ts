// Mints a development token for GraphiQL and curl:
//   npm run token -- --email ada@example.com --org acme [--role ANALYST] [--ttl 12h]
// Creates the user, the organization (by slug) and the membership when missing: in
// the database directly, or, while a development server holds the embedded database,
// through that server. Development and test only.
import { parseArgs } from 'node:util';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { loadConfig } from '../src/config.ts';
import { openDatabase, useDatabase } from '../src/db.ts';
import type { MemberRole } from '../src/generated/prisma/client.ts';
import {
  developmentSecret,
  devGrantProblem,
  ensureDevMembership,
  grantThroughServer,
  mintDevToken,
  runningDevServer,
  type DevGrant,
  type DevMembership,
} from '../src/modules/auth/dev.ts';

const USAGE = `usage: npm run token -- --email <email> --org <slug or id> [options]

  --email <email>       the user (created when missing, signs in as dev|<email>)
  --org <slug or id>    the organization (created when a slug is missing)
  --role <role>         ORGANIZATION_ADMIN (default for a new membership), ANALYST or SYSTEM_ADMIN;
                        given, it also sets an existing membership to this role and ACTIVE
  --system-admin        make the user a system admin (no membership is made unless --role is given)
  --name <name>         display name of a new user
  --bind                bind the token to the organization (as an identity provider's organization claim does)
  --ttl <duration>      lifetime: 30m, 12h (default), 7d
  --quiet               print only the token

The token goes to stdout and everything else to stderr: TOKEN=$(npm run -s token -- …)
(-s keeps npm's own banner out of stdout).`;

function seconds(ttl: string): number {
  const m = /^(\d+)([smhd])$/.exec(ttl);
  if (!m) throw new Error('--ttl must look like 30m, 12h or 7d');
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      email: { type: 'string' },
      org: { type: 'string' },
      role: { type: 'string' },
      'system-admin': { type: 'boolean', default: false },
      name: { type: 'string' },
      bind: { type: 'boolean', default: false },
      ttl: { type: 'string', default: '12h' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  const grant: DevGrant = {
    email: values.email ?? '',
    organization: values.org ?? '',
    role: values.role as MemberRole | undefined,
    systemAdmin: values['system-admin'],
    name: values.name,
  };
  const problem = devGrantProblem(grant);
  if (values.help || problem) {
    if (problem && !values.help) console.error(`${problem}\n`);
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  const config = loadConfig();
  if (config.env === 'production') {
    console.error('npm run token makes development tokens; production tokens come from the identity provider.');
    return 2;
  }
  const ttlSeconds = seconds(values.ttl);
  const { secret } = await developmentSecret(config);

  let membership: DevMembership;
  const server = config.databaseUrl ? null : runningDevServer(config);
  if (server) {
    membership = await grantThroughServer(server, secret, grant);
  } else {
    const db = await openDatabase(config, { migrate: !config.databaseUrl });
    // Statements that name tables through the datamodel read it from the process's client.
    useDatabase(db);
    try {
      membership = await ensureDevMembership(db.prisma, grant);
    } finally {
      await db.close();
    }
  }

  const token = await mintDevToken(membership.user, {
    secret,
    settings: config.auth,
    ttlSeconds,
    bindOrganizationId: values.bind ? membership.organization.id : undefined,
  });
  // The token alone goes to stdout, so `TOKEN=$(npm run -s token -- …)` captures it;
  // what a person reads goes to stderr.
  console.log(token);
  if (values.quiet) return 0;
  const endpoint = server ? `${server}/graphql` : `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${config.port}/graphql`;
  const headers = { Authorization: `Bearer ${token}`, 'X-Organization-ID': membership.organization.id };
  const { user, organization, member } = membership;
  const standing = member
    ? `${member.role} of ${organization.slug}${member.state === 'ACTIVE' ? '' : ` (membership ${member.state}: it grants nothing until ACTIVE)`}`
    : `not a member of ${organization.slug} (a system admin acts in every organization)`;
  console.error(
    [
      `Token above for ${user.email}${user.isSystemAdmin ? ' (system admin)' : ''}: ${standing}, valid for ${values.ttl}.`,
      '',
      `GraphiQL (${endpoint}): paste into the Headers tab:`,
      JSON.stringify(headers, null, 2),
      '',
      'curl:',
      `curl ${endpoint} -H 'content-type: application/json' -H 'authorization: Bearer ${token}' \\`,
      `  -H 'x-organization-id: ${organization.id}' -d '{"query":"{ node(id: \\"${encodeGlobalID('Organization', organization.id)}\\") { id ... on Organization { slug name } } }"}'`,
    ].join('\n'),
  );
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error((err as Error).message);
    process.exit(1);
  },
);

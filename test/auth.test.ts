import { generateKeyPair, exportSPKI } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { prisma } from '../src/db.ts';
import { app, appWith, expectErrorCode, expectNoErrors, globalId, gql, TEST_JWT_SECRET } from './helpers/app.ts';
import {
  aSigningKey,
  aToken,
  anUnsignedToken,
  expectRejectedCredential,
  rowCounts,
  UNAUTHENTICATED_MESSAGE,
} from './helpers/auth.ts';
import { aMember, anOrganization, aTenantWithMember, aUser } from './helpers/factories.ts';

// Bearer tokens signed with the development HS256 secret: what is accepted, what is
// refused (always the same UNAUTHENTICATED, writing nothing), and first sign-ins.

const HS = { alg: 'HS256' as const, secret: TEST_JWT_SECRET };

const VIEWER = '{ viewer { id email isSystemAdmin } }';
const CREATE_KEY = `mutation ($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { __typename ... on CreateApiKeySuccess { apiKey { id } } ... on Error { code } }
}`;

/** An organization admin and a write that would succeed with their credential. */
async function anAdminAndAWrite() {
  const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
  const variables = { input: { organizationId: organization.id, name: 'probe' } };
  return { organization, user, variables };
}

describe('HS256 bearer tokens', () => {
  it('signs in the user whose authSubject is the token subject', async () => {
    const { user, variables } = await anAdminAndAWrite();
    const token = await aToken(HS, {}, { subject: user.authSubject! });
    const viewer = await gql(VIEWER, { token });
    expectNoErrors(viewer);
    expect(viewer.data?.viewer).toEqual({ id: globalId('User', user.id), email: user.email, isSystemAdmin: false });
    const write = await gql(CREATE_KEY, { token, variables });
    expect(write.data?.createApiKey.__typename).toBe('CreateApiKeySuccess');
  });

  it('accepts the bearer scheme in any case and a token expired within the clock tolerance', async () => {
    const { user } = await anAdminAndAWrite();
    const token = await aToken(HS, {}, { subject: user.authSubject!, expiresIn: -2 });
    const result = await gql(VIEWER, { headers: { authorization: `bearer ${token}` } });
    expectNoErrors(result);
    expect(result.data?.viewer?.email).toBe(user.email);
  });

  it('answers every bad credential with the same UNAUTHENTICATED and writes nothing', async () => {
    const { user, variables } = await anAdminAndAWrite();
    const sub = user.authSubject!;
    const rsa = await aSigningKey('RS256');
    const { publicKey } = await generateKeyPair('RS256', { extractable: true });
    const publicPem = await exportSPKI(publicKey);
    const good = await aToken(HS, {}, { subject: sub });
    const cases: Record<string, Record<string, string>> = {
      'empty Authorization header': { authorization: '' },
      'another scheme': { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` },
      'Bearer without a token': { authorization: 'Bearer ' },
      'two tokens': { authorization: `Bearer ${good} ${good}` },
      'not a JWT': { authorization: 'Bearer not-a-token' },
      'two segments': { authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0' },
      'garbage segments': { authorization: 'Bearer e30.e30.AAAA' },
      'unparsable header': { authorization: 'Bearer bm90LWpzb24.e30.AAAA' },
      expired: { authorization: `Bearer ${await aToken(HS, {}, { subject: sub, expiresIn: -60 })}` },
      'without exp': { authorization: `Bearer ${await aToken(HS, {}, { subject: sub, expiresIn: null })}` },
      'without sub': { authorization: `Bearer ${await aToken(HS, {}, {})}` },
      'not yet valid': { authorization: `Bearer ${await aToken(HS, { nbf: Math.floor(Date.now() / 1000) + 120 }, { subject: sub })}` },
      'signed with another secret': {
        authorization: `Bearer ${await aToken({ alg: 'HS256', secret: 'another-secret-of-at-least-32-bytes!!' }, {}, { subject: sub })}`,
      },
      'tampered payload': {
        authorization: `Bearer ${good.split('.')[0]}.${Buffer.from(JSON.stringify({ sub: 'someone-else', exp: 9999999999 })).toString('base64url')}.${good.split('.')[2]}`,
      },
      'alg none': { authorization: `Bearer ${anUnsignedToken({ sub, exp: Math.floor(Date.now() / 1000) + 300 })}` },
      'RS256 with no JWKS configured': { authorization: `Bearer ${await aToken(rsa, {}, { subject: sub })}` },
      'HS256 signed with an RSA public key as the secret': {
        authorization: `Bearer ${await aToken({ alg: 'HS256', secret: publicPem }, {}, { subject: sub })}`,
      },
      'HS512 with the right secret': {
        authorization: `Bearer ${await aToken(HS, {}, { subject: sub, header: { alg: 'HS512' } }).catch(() => 'x')}`,
      },
      'unknown subject': { authorization: `Bearer ${await aToken(HS, {}, { subject: 'auth|nobody' })}` },
      'organization claim that is not an id': { authorization: `Bearer ${await aToken(HS, { org_id: 'acme' }, { subject: sub })}` },
      oversized: { authorization: `Bearer ${await aToken(HS, { padding: 'x'.repeat(9000) }, { subject: sub })}` },
      'two Authorization headers (joined)': { authorization: `Bearer ${good}, Bearer ${good}` },
      'two API keys (joined)': { 'x-api-key': 'igk_one, igk_two' },
      'a token and an API key': { authorization: `Bearer ${good}`, 'x-api-key': 'igk_whatever' },
      'X-API-Key holding a JWT': { 'x-api-key': good },
    };
    const before = await rowCounts();
    const answers = new Set<string>();
    for (const [label, headers] of Object.entries(cases)) {
      const result = await gql(CREATE_KEY, { headers, variables });
      expectRejectedCredential(result, label);
      answers.add(JSON.stringify({ status: result.status, errors: result.errors }));
    }
    expect(answers.size).toBe(1);
    expect(await rowCounts()).toEqual(before);
  });

  it('answers a request without credentials UNAUTHENTICATED on anything that needs one, writing nothing', async () => {
    const { variables } = await anAdminAndAWrite();
    const before = await rowCounts();
    const result = await gql(CREATE_KEY, { variables });
    expect(result.status).toBe(401);
    expectErrorCode(result, 'UNAUTHENTICATED');
    expect(result.errors?.[0]?.message).toBe(UNAUTHENTICATED_MESSAGE);
    expect((await gql(VIEWER)).data?.viewer).toBeNull();
    expect(await rowCounts()).toEqual(before);
  });

  it('ignores a token sent in the query string or the body', async () => {
    const { user, variables } = await anAdminAndAWrite();
    const token = await aToken(HS, {}, { subject: user.authSubject! });
    const before = await rowCounts();

    const get = await app.fetch(
      `http://localhost/graphql?query=${encodeURIComponent(VIEWER)}&access_token=${token}&token=${token}&authorization=Bearer%20${token}`,
      { headers: { accept: 'application/json', 'x-graphql-csrf': '1' } },
    );
    expect(await get.json()).toEqual({ data: { viewer: null } });

    const post = await app.fetch(`http://localhost/graphql?access_token=${token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: CREATE_KEY,
        variables: { ...variables, token, access_token: token },
        extensions: { authorization: `Bearer ${token}`, headers: { authorization: `Bearer ${token}` }, access_token: token },
      }),
    });
    const body = (await post.json()) as { errors: { extensions: { code: string } }[] };
    expect(post.status).toBe(401);
    expect(body.errors[0]!.extensions.code).toBe('UNAUTHENTICATED');
    expect(await rowCounts()).toEqual(before);
  });

  it('checks the length of a token before parsing it, with a configurable maximum', async () => {
    const { user } = await anAdminAndAWrite();
    const token = await aToken(HS, { padding: 'x'.repeat(600) }, { subject: user.authSubject! });
    const small = appWith({ JWT_MAX_TOKEN_LENGTH: '512' });
    expectRejectedCredential(await gql(VIEWER, { token, app: small }));
    expectNoErrors(await gql(VIEWER, { token }));
  });

  it('uses the configured clock tolerance for exp', async () => {
    const { user } = await anAdminAndAWrite();
    const token = await aToken(HS, {}, { subject: user.authSubject!, expiresIn: -20 });
    expectRejectedCredential(await gql(VIEWER, { token }));
    const lenient = appWith({ JWT_CLOCK_TOLERANCE_SECONDS: '60' });
    expect((await gql(VIEWER, { token, app: lenient })).data?.viewer?.email).toBe(user.email);
  });

  it('refuses a token issued in the future beyond the clock tolerance', async () => {
    const { user } = await anAdminAndAWrite();
    const sub = user.authSubject!;
    expectRejectedCredential(await gql(VIEWER, { token: await aToken(HS, {}, { subject: sub, issuedIn: 60 }) }));
    // Within the tolerance (a clock a little ahead) it is accepted, and the tolerance is the configured one.
    expectNoErrors(await gql(VIEWER, { token: await aToken(HS, {}, { subject: sub, issuedIn: 3 }) }));
    const lenient = appWith({ JWT_CLOCK_TOLERANCE_SECONDS: '120' });
    const ahead = await aToken(HS, {}, { subject: sub, issuedIn: 60 });
    expect((await gql(VIEWER, { token: ahead, app: lenient })).data?.viewer?.email).toBe(user.email);
  });

  it('keeps accepting a verified token only until its exp', async () => {
    const { user } = await anAdminAndAWrite();
    const token = await aToken(HS, {}, { subject: user.authSubject!, expiresIn: 30 });
    const exp = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).exp as number;
    // Verified once, then taken from the verified tokens on the next request.
    expect((await gql(VIEWER, { token })).data?.viewer?.email).toBe(user.email);
    expect((await gql(VIEWER, { token })).data?.viewer?.email).toBe(user.email);
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      // Past exp and the clock tolerance: refused, although it was accepted before.
      vi.setSystemTime((exp + 60) * 1000);
      expectRejectedCredential(await gql(VIEWER, { token }));
    } finally {
      vi.useRealTimers();
    }
  });

  it('checks issuer and audience when they are configured', async () => {
    const { user } = await anAdminAndAWrite();
    const strict = appWith({ JWT_ISSUER: 'https://id.example.com/', JWT_AUDIENCE: 'identity-graph,other-api' });
    const sub = user.authSubject!;
    const ok = await aToken(HS, {}, { subject: sub, issuer: 'https://id.example.com/', audience: 'other-api' });
    expect((await gql(VIEWER, { token: ok, app: strict })).data?.viewer?.email).toBe(user.email);
    for (const [label, token] of [
      ['wrong issuer', await aToken(HS, {}, { subject: sub, issuer: 'https://evil.example.com/', audience: 'identity-graph' })],
      ['wrong audience', await aToken(HS, {}, { subject: sub, issuer: 'https://id.example.com/', audience: 'someone-else' })],
      ['no issuer', await aToken(HS, {}, { subject: sub, audience: 'identity-graph' })],
      ['no audience', await aToken(HS, {}, { subject: sub, issuer: 'https://id.example.com/' })],
    ] as const) {
      expectRejectedCredential(await gql(VIEWER, { token, app: strict }), label);
    }
  });
});

describe('system admins', () => {
  it('takes isSystemAdmin from the database, never from a claim', async () => {
    const user = await aUser();
    const foreign = await anOrganization();
    const token = await aToken(
      HS,
      { isSystemAdmin: true, is_system_admin: true, roles: ['SYSTEM_ADMIN'], role: 'SYSTEM_ADMIN', 'https://example.com/admin': true },
      { subject: user.authSubject! },
    );
    const query = `query ($id: ID!) { viewer { isSystemAdmin } node(id: $id) { id } }`;
    const variables = { id: globalId('Organization', foreign.id) };
    const claimed = await gql(query, { token, variables });
    expect(claimed.data).toEqual({ viewer: { isSystemAdmin: false }, node: null });

    await prisma.user.update({ where: { id: user.id }, data: { isSystemAdmin: true } });
    const granted = await gql(query, { token, variables });
    expect(granted.data).toEqual({ viewer: { isSystemAdmin: true }, node: { id: variables.id } });
  });
});

describe('first sign-in', () => {
  const claims = (email: string) => ({
    email,
    email_verified: true,
    name: 'Ada Lovelace',
    given_name: 'Ada',
    family_name: 'Lovelace',
    nickname: 'ada',
    picture: 'https://example.com/ada.png',
  });

  it('provisions the user from the standard claims of an unknown subject with a verified email', async () => {
    const token = await aToken(HS, claims('Ada@Example.com'), { subject: 'idp|ada' });
    const result = await gql('{ viewer { email name givenName familyName nickname picture isSystemAdmin } }', { token });
    expectNoErrors(result);
    expect(result.data?.viewer).toEqual({
      email: 'ada@example.com',
      name: 'Ada Lovelace',
      givenName: 'Ada',
      familyName: 'Lovelace',
      nickname: 'ada',
      picture: 'https://example.com/ada.png',
      isSystemAdmin: false,
    });
    expect(await prisma.user.findMany({ select: { authSubject: true } })).toEqual([{ authSubject: 'idp|ada' }]);
  });

  it('links the existing user with that verified email instead of creating another', async () => {
    const existing = await aUser({ email: 'grace@example.com', authSubject: null, name: 'Grace Hopper' });
    const organization = await anOrganization();
    await aMember(organization.id, existing.id, { role: 'ANALYST' });
    const token = await aToken(HS, { ...claims('GRACE@example.com'), name: 'Someone Else' }, { subject: 'idp|grace' });
    const result = await gql('{ viewer { id name } }', { token });
    expect(result.data?.viewer).toEqual({ id: globalId('User', existing.id), name: 'Grace Hopper' });
    expect(await prisma.user.count()).toBe(1);
    expect((await prisma.user.findUniqueOrThrow({ where: { id: existing.id } })).authSubject).toBe('idp|grace');
  });

  it('accepts the invitations of an invited user at the first sign-in: PENDING becomes ACTIVE, SUSPENDED stays', async () => {
    const invited = await aUser({ email: 'invited@example.com', authSubject: null });
    const [a, b] = [await anOrganization(), await anOrganization()];
    await aMember(a.id, invited.id, { state: 'PENDING' });
    await aMember(b.id, invited.id, { state: 'SUSPENDED' });
    const token = await aToken(HS, claims('invited@example.com'), { subject: 'idp|invited' });
    const query = `query ($id: ID!) { node(id: $id) { id } }`;
    expect((await gql(query, { token, variables: { id: globalId('Organization', a.id) } })).data?.node).toEqual({
      id: globalId('Organization', a.id),
    });
    expect((await gql(query, { token, variables: { id: globalId('Organization', b.id) } })).data?.node).toBeNull();
    const states = await prisma.member.findMany({ where: { userId: invited.id }, select: { organizationId: true, state: true } });
    expect(Object.fromEntries(states.map((m) => [m.organizationId, m.state]))).toEqual({ [a.id]: 'ACTIVE', [b.id]: 'SUSPENDED' });
    // The acceptance is in organization a's trail, by the invited user.
    const accepted = await prisma.auditEvent.findMany({ where: { entityType: 'Member', action: 'UPDATE', actorUserId: invited.id } });
    expect(accepted).toEqual([
      expect.objectContaining({ organizationId: a.id, actorType: 'USER', changes: { state: { before: 'PENDING', after: 'ACTIVE' } } }),
    ]);

    // A membership made PENDING later is not accepted by just sending requests.
    const c = await anOrganization();
    await aMember(c.id, invited.id, { state: 'PENDING' });
    expect((await gql(query, { token, variables: { id: globalId('Organization', c.id) } })).data?.node).toBeNull();
    expect((await prisma.member.findFirstOrThrow({ where: { organizationId: c.id } })).state).toBe('PENDING');
  });

  it('provisions one user when many first requests of a subject race', async () => {
    const token = await aToken(HS, claims('race@example.com'), { subject: 'idp|race' });
    const results = await Promise.all(Array.from({ length: 12 }, () => gql('{ viewer { id } }', { token })));
    const ids = new Set(results.map((r) => r.data?.viewer?.id));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toBeTruthy();
    expect(await prisma.user.count()).toBe(1);
  });

  it('refuses, and writes nothing, when the email is unverified, missing, or taken by a user with another subject', async () => {
    await aUser({ email: 'taken@example.com', authSubject: 'idp|owner' });
    const before = await rowCounts();
    const tokens = {
      unverified: await aToken(HS, { ...claims('new@example.com'), email_verified: false }, { subject: 'idp|new' }),
      'verification not stated': await aToken(HS, { email: 'new@example.com' }, { subject: 'idp|new' }),
      'no email': await aToken(HS, { name: 'Nobody', email_verified: true }, { subject: 'idp|new' }),
      'not an email': await aToken(HS, claims('not-an-email'), { subject: 'idp|new' }),
      'email of a user with another subject': await aToken(HS, claims('taken@example.com'), { subject: 'idp|intruder' }),
      'unverified email of an existing user': await aToken(
        HS,
        { ...claims('taken@example.com'), email_verified: false },
        { subject: 'idp|intruder' },
      ),
    };
    for (const [label, token] of Object.entries(tokens)) {
      expectRejectedCredential(await gql(VIEWER, { token }), label);
    }
    expect(await rowCounts()).toEqual(before);
    expect((await prisma.user.findUniqueOrThrow({ where: { email: 'taken@example.com' } })).authSubject).toBe('idp|owner');
  });

  it('refuses unknown subjects when provisioning is turned off', async () => {
    const closed = appWith({ AUTH_PROVISION_USERS: 'false' });
    const token = await aToken(HS, claims('closed@example.com'), { subject: 'idp|closed' });
    expectRejectedCredential(await gql(VIEWER, { token, app: closed }));
    expect(await prisma.user.count()).toBe(0);
  });
});

describe('auth settings', () => {
  const load = (env: Record<string, string>) => () => loadConfig({ NODE_ENV: 'production', ...env });

  it('refuses settings that would weaken verification', () => {
    expect(load({ JWT_SECRET: 'x'.repeat(40) })).toThrow(/JWT_SECRET is for development/);
    expect(load({ JWT_JWKS_URL: 'https://id.example.com/jwks' })).toThrow(/needs JWT_ISSUER and JWT_AUDIENCE/);
    expect(load({ JWT_JWKS_URL: 'http://id.example.com/jwks', JWT_ISSUER: 'i', JWT_AUDIENCE: 'a' })).toThrow(/https/);
    expect(load({ JWT_ALGORITHMS: 'RS256,HS256' })).toThrow(/refused: HS256/);
    expect(load({ JWT_ALGORITHMS: 'none' })).toThrow(/refused: none/);
    expect(() => loadConfig({ NODE_ENV: 'development', JWT_SECRET: 'short' })).toThrow(/at least 32 bytes/);
  });

  it('defaults to RS256, ES256 and EdDSA with a 5 s clock tolerance', () => {
    const { auth } = loadConfig({ NODE_ENV: 'production', JWT_JWKS_URL: 'https://id.example.com/jwks', JWT_ISSUER: 'i', JWT_AUDIENCE: 'a,b' });
    expect(auth).toMatchObject({ algorithms: ['RS256', 'ES256', 'EdDSA'], clockToleranceSeconds: 5, audience: ['a', 'b'], provisionUsers: true });
    expect(auth.types).toBeUndefined();
  });

  it('reads JWT_TYPES as a list of typ values compared without case or application/', () => {
    expect(loadConfig({ NODE_ENV: 'test', JWT_TYPES: 'at+jwt, application/JWT' }).auth.types).toEqual(['at+jwt', 'jwt']);
  });
});

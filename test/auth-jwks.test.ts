import { exportSPKI } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { appWith, expectErrorCode, gql } from './helpers/app.ts';
import { aJwksServer, aSigningKey, aToken, expectRejectedCredential, rowCounts, type JwksServer, type TestKey } from './helpers/auth.ts';
import { aTenantWithMember, aUser } from './helpers/factories.ts';

// Production-style tokens: asymmetric keys published as a JWKS by an identity provider
// (here a loopback HTTP server), with issuer, audience and an algorithm allow-list.

const ISSUER = 'https://id.example.com/';
const AUDIENCE = 'identity-graph';
const VIEWER = '{ viewer { email } }';

let servers: JwksServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function aProvider(keys: TestKey[], env: Record<string, string> = {}) {
  const jwks = await aJwksServer(keys);
  servers.push(jwks);
  // No JWT_SECRET: like production, only the provider's keys verify tokens.
  const app = appWith({ JWT_SECRET: '', JWT_JWKS_URL: jwks.url, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, ...env });
  return { jwks, app };
}

const claimsFor = (sub: string) => ({ subject: sub, issuer: ISSUER, audience: AUDIENCE });

describe('tokens verified with a JWKS', () => {
  it('accepts RS256, ES256 and EdDSA tokens signed with published keys, fetching the JWKS once', async () => {
    const keys = await Promise.all([aSigningKey('RS256'), aSigningKey('ES256'), aSigningKey('EdDSA')]);
    const { jwks, app } = await aProvider(keys);
    const user = await aUser();
    for (const key of keys) {
      const result = await gql(VIEWER, { token: await aToken(key, {}, claimsFor(user.authSubject!)), app });
      expect(result.data?.viewer?.email, key.alg).toBe(user.email);
    }
    expect(jwks.fetches).toBe(1);
  });

  it('requires a typ of JWT_TYPES when it is set, and any typ otherwise', async () => {
    const key = await aSigningKey('ES256');
    const { app } = await aProvider([key], { JWT_TYPES: 'at+jwt' });
    const { app: open } = await aProvider([key]);
    const user = await aUser();
    const withTyp = (typ?: string) => aToken(key, {}, { ...claimsFor(user.authSubject!), header: typ === undefined ? {} : { typ } });
    for (const typ of ['at+jwt', 'application/AT+JWT']) {
      expect((await gql(VIEWER, { token: await withTyp(typ), app })).data?.viewer?.email, typ).toBe(user.email);
    }
    for (const typ of ['JWT', 'id+jwt', undefined]) {
      expectRejectedCredential(await gql(VIEWER, { token: await withTyp(typ), app }), String(typ));
      expect((await gql(VIEWER, { token: await withTyp(typ), app: open })).data?.viewer?.email, String(typ)).toBe(user.email);
    }
  });

  it('follows a key rotation with one refetch, then refuses tokens of the retired key', async () => {
    const old = await aSigningKey('RS256');
    const { jwks, app } = await aProvider([old], { JWT_JWKS_COOLDOWN_MS: '0' });
    const user = await aUser();
    const oldToken = await aToken(old, {}, claimsFor(user.authSubject!));
    expect((await gql(VIEWER, { token: oldToken, app })).data?.viewer?.email).toBe(user.email);
    expect(jwks.fetches).toBe(1);

    const next = await aSigningKey('ES256');
    jwks.publish([next]);
    const newToken = await aToken(next, {}, claimsFor(user.authSubject!));
    expect((await gql(VIEWER, { token: newToken, app })).data?.viewer?.email).toBe(user.email);
    expect(jwks.fetches).toBe(2);
    // The refetched set replaced the old one.
    expectRejectedCredential(await gql(VIEWER, { token: oldToken, app }));
  });

  it('refetches for unknown key ids at most once per cooldown, however many arrive', async () => {
    const published = await aSigningKey('ES256');
    const { jwks, app } = await aProvider([published], { JWT_JWKS_COOLDOWN_MS: '60000' });
    const user = await aUser();
    expect((await gql(VIEWER, { token: await aToken(published, {}, claimsFor(user.authSubject!)), app })).errors).toBeUndefined();
    const before = await rowCounts();
    const forged = await Promise.all(
      Array.from({ length: 25 }, async () => aToken(await aSigningKey('ES256'), {}, claimsFor(user.authSubject!))),
    );
    const results = await Promise.all(forged.map((token) => gql(VIEWER, { token, app })));
    for (const r of results) expectRejectedCredential(r);
    // Within the cooldown after the first fetch, unknown ids trigger no fetch at all.
    expect(jwks.fetches).toBe(1);
    expect(await rowCounts()).toEqual(before);
  });

  it('triggers a single refetch for a burst of unknown key ids once the cooldown has passed', async () => {
    const published = await aSigningKey('ES256');
    const { jwks, app } = await aProvider([published], { JWT_JWKS_COOLDOWN_MS: '300' });
    const user = await aUser();
    await gql(VIEWER, { token: await aToken(published, {}, claimsFor(user.authSubject!)), app });
    await new Promise((r) => setTimeout(r, 350));
    const forged = await Promise.all(
      Array.from({ length: 20 }, async () => aToken(await aSigningKey('ES256'), {}, claimsFor(user.authSubject!))),
    );
    const results = await Promise.all(forged.map((token) => gql(VIEWER, { token, app })));
    for (const r of results) expectRejectedCredential(r);
    expect(jwks.fetches).toBe(2);
  });

  it('refuses algorithm confusion, alg outside the allow-list, wrong issuer or audience, the same way', async () => {
    const rsa = await aSigningKey('RS256');
    const { app } = await aProvider([rsa]);
    const { organization, user } = await aTenantWithMember('ORGANIZATION_ADMIN');
    const sub = user.authSubject!;
    const publicPem = await exportSPKI(rsa.publicKey);
    const rs384 = await aSigningKey('RS384');
    const outsider = await aJwksServer([rs384]);
    servers.push(outsider);
    const tokens: Record<string, string> = {
      'HS256 signed with the published public key (PEM) as secret': await aToken({ alg: 'HS256', secret: publicPem }, {}, claimsFor(sub)),
      'HS256 signed with the published JWK as secret': await aToken({ alg: 'HS256', secret: JSON.stringify(rsa.publicJwk) }, {}, claimsFor(sub)),
      'HS256 with the right kid': await aToken({ alg: 'HS256', secret: publicPem }, {}, { ...claimsFor(sub), header: { kid: rsa.kid } }),
      'RS384, not on the allow-list': await aToken(rs384, {}, claimsFor(sub)),
      'signed by another key with the published kid': await aToken({ ...(await aSigningKey('RS256')), kid: rsa.kid }, {}, claimsFor(sub)),
      'wrong issuer': await aToken(rsa, {}, { ...claimsFor(sub), issuer: 'https://evil.example.com/' }),
      'wrong audience': await aToken(rsa, {}, { ...claimsFor(sub), audience: 'another-api' }),
      expired: await aToken(rsa, {}, { ...claimsFor(sub), expiresIn: -60 }),
    };
    const before = await rowCounts();
    const variables = { input: { organizationId: organization.id, name: 'probe' } };
    const mutation = 'mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { __typename } }';
    const answers = new Set<string>();
    for (const [label, token] of Object.entries(tokens)) {
      const result = await gql(mutation, { token, variables, app });
      expectRejectedCredential(result, label);
      answers.add(JSON.stringify(result.errors));
    }
    expect(answers.size).toBe(1);
    expect(await rowCounts()).toEqual(before);
    // The same credential of the right kind does write.
    const ok = await gql(mutation, { token: await aToken(rsa, {}, claimsFor(sub)), variables, app });
    expect(ok.data?.createApiKey.__typename).toBe('CreateApiKeySuccess');
  });

  it('answers SERVICE_UNAVAILABLE within the fetch timeout when the JWKS cannot be fetched, and keeps using keys it has', async () => {
    const key = await aSigningKey('ES256');
    const { jwks, app } = await aProvider([key], { JWT_JWKS_TIMEOUT_MS: '300', JWT_JWKS_CACHE_MAX_AGE_MS: '1000', JWT_JWKS_COOLDOWN_MS: '0' });
    const user = await aUser();
    const token = await aToken(key, {}, claimsFor(user.authSubject!));

    jwks.hang(true);
    const started = Date.now();
    const down = await gql(VIEWER, { token, app });
    expect(Date.now() - started).toBeLessThan(3000);
    expectErrorCode(down, 'SERVICE_UNAVAILABLE');
    expect(down.errors?.[0]?.message).not.toMatch(/127\.0\.0\.1|jwks/i);

    jwks.hang(false);
    expect((await gql(VIEWER, { token, app })).data?.viewer?.email).toBe(user.email);
    // The cache expires and the provider stops answering: the keys in hand still verify.
    jwks.hang(true);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await gql(VIEWER, { token, app })).data?.viewer?.email).toBe(user.email);
  });
});

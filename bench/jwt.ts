// The one credential check every peer makes: an ES256 bearer JWT (issuer, audience,
// expiry) verified with jose. This server reads the public key from a JWKS over https,
// as in production; the PostGraphile and SQL peers import the same JWKS.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import path from 'node:path';
import { exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT, type JWK } from 'jose';

export const JWT_ISSUER = 'https://bench.identity-graph.test/';
export const JWT_AUDIENCE = 'identity-graph-bench';

export interface BenchJwt {
  jwksUrl: string;
  /** The public key set, as the peers receive it. */
  jwks: { keys: JWK[] };
  /** The self-signed certificate of the JWKS server (NODE_EXTRA_CA_CERTS of this server). */
  caFile: string;
  sign(subject: string): Promise<string>;
  close(): Promise<void>;
}

/** A fresh ES256 key, and an https JWKS endpoint for it on loopback. */
export async function startJwks(workDir: string): Promise<BenchJwt> {
  mkdirSync(workDir, { recursive: true });
  const keyFile = path.join(workDir, 'jwks-tls.key');
  const caFile = path.join(workDir, 'jwks-tls.crt');
  if (!existsSync(caFile)) {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '30',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', caFile,
    ], { stdio: 'pipe' });
  }
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'ES256', use: 'sig' };
  const jwks = { keys: [jwk] };
  const body = JSON.stringify(jwks);
  const server: Server = createServer({ key: readFileSync(keyFile), cert: readFileSync(caFile) }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=3600' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    jwksUrl: `https://127.0.0.1:${port}/.well-known/jwks.json`,
    jwks,
    caFile,
    sign: (subject) =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'ES256', kid: 'bench' })
        .setSubject(subject)
        .setIssuer(JWT_ISSUER)
        .setAudience(JWT_AUDIENCE)
        .setIssuedAt()
        .setExpirationTime('4h')
        .sign(privateKey),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Microseconds one jose verification of such a token takes here (median of batches). */
export async function verifyCostMicros(jwt: BenchJwt, iterations = 5000): Promise<{ es256Micros: number }> {
  const token = await jwt.sign('bench|1');
  const key = await importJWK(jwt.jwks.keys[0]!, 'ES256');
  const opts = { issuer: JWT_ISSUER, audience: JWT_AUDIENCE, algorithms: ['ES256'] };
  for (let i = 0; i < 500; i++) await jwtVerify(token, key, opts);
  const batches: number[] = [];
  const per = Math.max(1, Math.floor(iterations / 5));
  for (let b = 0; b < 5; b++) {
    const t0 = performance.now();
    for (let i = 0; i < per; i++) await jwtVerify(token, key, opts);
    batches.push(((performance.now() - t0) * 1000) / per);
  }
  batches.sort((a, b) => a - b);
  return { es256Micros: +batches[2]!.toFixed(1) };
}

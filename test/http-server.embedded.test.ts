import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_JWT_SECRET } from './helpers/app.ts';
import { aToken } from './helpers/auth.ts';
import { startServer, type ServerProcess } from './helpers/server-process.ts';

// The HTTP server of `npm start` as clients on raw sockets meet it: what fetch cannot
// send (repeated headers), and clients that send slowly or not at all.

let dir: string;
let server: ServerProcess;
let port: number;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'igs-http-'));
  server = await startServer({ PGLITE_DATA_DIR: path.join(dir, 'pglite') });
  port = Number(new URL(server.url).port);
});

afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Sends `text` on a new connection and resolves with everything read until the server closes it. */
function rawExchange(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (d) => (received += d));
    socket.on('error', reject);
    socket.on('close', () => resolve(received));
  });
}

function aPost(headers: string[], query: string): string {
  const body = JSON.stringify({ query });
  return [
    'POST /graphql HTTP/1.1',
    'Host: 127.0.0.1',
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...headers,
    '',
    body,
  ].join('\r\n');
}

/** A token of a user the server provisions at its first sign-in. */
async function aSignedInUser(email: string): Promise<string> {
  const token = await aToken(
    { alg: 'HS256', secret: TEST_JWT_SECRET },
    { email, email_verified: true },
    { subject: `idp|${email}` },
  );
  const response = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: '{ viewer { email } }' }),
  });
  expect(await response.json()).toEqual({ data: { viewer: { email } } });
  return token;
}

describe('repeated credential headers', () => {
  it('refuses two Authorization headers, for two users or for one, as UNAUTHENTICATED', async () => {
    const ada = await aSignedInUser('ada@example.com');
    const bob = await aSignedInUser('bob@example.com');
    const one = await rawExchange(aPost([`Authorization: Bearer ${ada}`], '{ viewer { email } }'));
    expect(one).toMatch(/^HTTP\/1\.1 200 /);
    expect(one).toContain('"email":"ada@example.com"');
    for (const pair of [
      [ada, bob],
      [bob, ada],
      [ada, ada],
    ]) {
      const answer = await rawExchange(aPost(pair.map((t) => `Authorization: Bearer ${t}`), '{ viewer { email } }'));
      expect(answer).toMatch(/^HTTP\/1\.1 401 /);
      expect(answer).toContain('"code":"UNAUTHENTICATED"');
      expect(answer).not.toContain('@example.com');
    }
  });
});

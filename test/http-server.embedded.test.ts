import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { TEST_JWT_SECRET } from './helpers/app.ts';
import { aToken } from './helpers/auth.ts';
import { startServer, type ServerProcess } from './helpers/server-process.ts';
import { aMigratedFolder } from './helpers/migrated-folder.ts';

// The HTTP server of `npm start` as clients on raw sockets meet it: what fetch cannot
// send (repeated headers), and clients that send slowly or not at all.

const HEADERS_TIMEOUT_MS = 500;
const REQUEST_TIMEOUT_MS = 1000;
const KEEP_ALIVE_TIMEOUT_MS = 500;
/** However a connection is held open, the test stops waiting for the server to close it after this. */
const GIVE_UP_MS = 5000;

let dir: string;
let server: ServerProcess;
let port: number;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'igs-http-'));
  server = await startServer({
    PGLITE_DATA_DIR: await aMigratedFolder(path.join(dir, 'pglite')),
    HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
    HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
    HTTP_KEEP_ALIVE_TIMEOUT_MS: String(KEEP_ALIVE_TIMEOUT_MS),
  });
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

describe('the log', () => {
  it('is JSON on every stdout line in development, startup lines included', async () => {
    const lines = server.stdout().split('\n').filter((l) => l.trim());
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
    const messages = lines.map((l) => (JSON.parse(l) as { msg?: string }).msg ?? '');
    expect(messages.some((m) => m.startsWith('Identity graph on'))).toBe(true);
    expect(messages).toContain(`GraphQL and GraphiQL: ${server.url}`);
  });
});

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

interface Held {
  /** Milliseconds from connecting until the server closed the connection (Infinity: it did not within GIVE_UP_MS). */
  closedAfterMs: number;
  /** Milliseconds from the last byte received until the close. */
  idleBeforeCloseMs: number;
  received: string;
}

/**
 * Connects, writes `first`, then one byte of `drip` every 50 ms (if given), and
 * resolves when the server closes the connection, or after GIVE_UP_MS.
 */
function holdOpen(first: string, drip?: string): Promise<Held> {
  return new Promise((resolve) => {
    const started = performance.now();
    let received = '';
    let lastData = started;
    let ticker: NodeJS.Timeout | undefined;
    const socket = connect(port, '127.0.0.1', () => {
      if (first) socket.write(first);
      let i = 0;
      if (drip) ticker = setInterval(() => socket.writable && socket.write(drip[i++ % drip.length]!), 50);
    });
    const giveUp = setTimeout(() => {
      clearInterval(ticker);
      socket.destroy();
      resolve({ closedAfterMs: Infinity, idleBeforeCloseMs: Infinity, received });
    }, GIVE_UP_MS);
    socket.setEncoding('utf8');
    socket.on('data', (d) => {
      received += d;
      lastData = performance.now();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(ticker);
      clearTimeout(giveUp);
      const now = performance.now();
      resolve({ closedAfterMs: now - started, idleBeforeCloseMs: now - lastData, received });
    });
  });
}

describe('slow clients', () => {
  it('closes connections that send their headers a byte at a time, or nothing, at the headers timeout', async () => {
    const held = await Promise.all([
      ...Array.from({ length: 20 }, () => holdOpen('POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\n', 'X-Slow: aaaaaaaa\r\n')),
      holdOpen(''),
    ]);
    for (const h of held) {
      expect(h.closedAfterMs).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
      expect(h.closedAfterMs).toBeLessThan(HEADERS_TIMEOUT_MS + 1500);
    }
    expect(held[0]!.received).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('closes a connection whose body arrives slower than the request timeout allows', async () => {
    const h = await holdOpen(
      'POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n',
      ' ',
    );
    expect(h.closedAfterMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
    expect(h.closedAfterMs).toBeLessThan(REQUEST_TIMEOUT_MS + 1500);
  });

  it('closes an idle keep-alive connection at the keep-alive timeout', async () => {
    const h = await holdOpen(aPost([], '{ __typename }').replace('Connection: close', 'Connection: keep-alive'));
    expect(h.received).toMatch(/^HTTP\/1\.1 200 /);
    expect(h.received).toContain('"__typename":"Query"');
    expect(h.idleBeforeCloseMs).toBeGreaterThanOrEqual(KEEP_ALIVE_TIMEOUT_MS - 50);
    // Well under Node's own 5 s default, with room for a loaded machine's timers.
    expect(h.idleBeforeCloseMs).toBeLessThan(KEEP_ALIVE_TIMEOUT_MS + 3500);
  });
});

describe('HTTP timeout settings', () => {
  it('defaults to 10 s for headers, 30 s for a request and 5 s of keep-alive, and refuses a headers timeout past the request timeout', () => {
    expect(loadConfig({ NODE_ENV: 'production' }).httpTimeouts).toEqual({ headersMs: 10_000, requestMs: 30_000, keepAliveMs: 5000 });
    expect(() => loadConfig({ NODE_ENV: 'test', HTTP_HEADERS_TIMEOUT_MS: '5000', HTTP_REQUEST_TIMEOUT_MS: '1000' })).toThrow(
      /HTTP_HEADERS_TIMEOUT_MS must not exceed HTTP_REQUEST_TIMEOUT_MS/,
    );
  });
});

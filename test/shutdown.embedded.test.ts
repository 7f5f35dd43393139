import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { appWith } from './helpers/app.ts';
import { startServer } from './helpers/server-process.ts';
import { aMigratedFolder } from './helpers/migrated-folder.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('shutdown', () => {
  it('flips readiness to failing as soon as the server stops accepting work', async () => {
    let accepting = true;
    const own = appWith({}, { isAccepting: () => accepting });
    expect((await own.fetch('http://localhost/ready')).status).toBe(200);
    accepting = false;
    expect((await own.fetch('http://localhost/ready')).status).toBe(503);
    expect((await own.fetch('http://localhost/health')).status).toBe(200);
  });

  it('on SIGTERM under load completes every request in flight, closes keep-alive connections and exits 0 within the grace period', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'igs-shutdown-'));
    dirs.push(dir);
    const server = await startServer({ PGLITE_DATA_DIR: await aMigratedFolder(path.join(dir, 'pglite')), SHUTDOWN_GRACE_MS: '10000', SHUTDOWN_DRAIN_MS: '3000' });
    const body = JSON.stringify({ query: `{ ${Array.from({ length: 20 }, (_, i) => `a${i}: __typename`).join(' ')} }` });
    let firstDone!: () => void;
    const first = new Promise<void>((r) => (firstDone = r));
    const requests = Array.from({ length: 60 }, () =>
      fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then(async (res) => {
        firstDone();
        return { status: res.status, body: await res.json() };
      }),
    );
    await first;
    const started = performance.now();
    const exit = server.stop('SIGTERM');
    // During the drain period readiness fails while requests are still answered.
    let ready = 200;
    for (let i = 0; i < 40 && ready === 200; i++) {
      ready = (await fetch(server.url.replace('/graphql', '/ready'))).status;
      if (ready === 200) await new Promise((r) => setTimeout(r, 50));
    }
    expect(ready).toBe(503);
    const results = await Promise.allSettled(requests);
    const code = await exit;
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    for (const r of results) expect(r.status === 'fulfilled' && r.value.status).toBe(200);
    expect(code).toBe(0);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(server.output()).toContain('SIGTERM: finishing in-flight requests');
  }, 90_000);

  it('during the drain answers with Connection: close, so keep-alive clients sending until it ends see no failure', async () => {
    const DRAIN_MS = 4000;
    // The clients stop well before the drain ends: on a loaded machine a request is
    // written a while after the check that sends it, and one written as the listener
    // closes is refused or reset whatever the server does.
    const { exitCode, answers, failures, signalledAt, drainingAt } = await trafficAcrossSigterm(String(DRAIN_MS), DRAIN_MS / 2, 30);
    expect(exitCode).toBe(0);
    expect(failures).toEqual([]);
    // Answered before the signal was sent, so surely before the drain.
    const before = answers.filter((a) => a.answeredAt < signalledAt);
    // Sent once the server had said it was draining.
    const during = answers.filter((a) => a.sentAt > drainingAt);
    expect(before.length).toBeGreaterThan(20);
    expect(during.length).toBeGreaterThan(20);
    expect(before.every((a) => a.connection === 'keep-alive')).toBe(true);
    expect(during.filter((a) => a.connection !== 'close')).toEqual([]);
  }, 90_000);

  it('without a drain period, never closes a kept-alive connection a client may be sending on', async () => {
    const { exitCode, answers, failures, signalledAt } = await trafficAcrossSigterm('0', Infinity);
    expect(exitCode).toBe(0);
    expect(answers.filter((a) => a.sentAt > signalledAt).length).toBeGreaterThan(0);
    // Clients that go on until the listener is gone meet a refused connection, never a
    // reset of one they were reusing.
    expect(failures.filter((f) => f.reused)).toEqual([]);
  }, 90_000);
});

/** Answers the clients have before SIGTERM is sent, whatever the machine's load. */
const ANSWERS_BEFORE_SIGNAL = 30;

/**
 * Eight keep-alive clients send small queries until ANSWERS_BEFORE_SIGNAL are
 * answered, then SIGTERM is sent; they go on until `stopAfterSignalMs` after it, until
 * `enoughWhileDraining` requests sent once the server logged its drain are answered,
 * or until the listener refuses them.
 */
async function trafficAcrossSigterm(drainMs: string, stopAfterSignalMs: number, enoughWhileDraining = Infinity) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'igs-drain-'));
  dirs.push(dir);
  const server = await startServer({ PGLITE_DATA_DIR: await aMigratedFolder(path.join(dir, 'pglite')), SHUTDOWN_DRAIN_MS: drainMs });
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const body = JSON.stringify({ query: '{ __typename }' });
  let signalledAt = Infinity;
  // When the test saw the server's drain line: the server turned to draining before it,
  // however late a loaded machine handled the signal.
  let drainingAt = Infinity;
  const watchDrain = () => {
    if (drainingAt === Infinity && server.output().includes('SIGTERM: finishing in-flight requests')) drainingAt = performance.now();
  };
  server.child.stdout!.on('data', watchDrain);
  server.child.stderr!.on('data', watchDrain);
  const answers: { sentAt: number; answeredAt: number; connection: string | undefined }[] = [];
  const failures: { code: string; reused: boolean; sentAfterSignalMs: number }[] = [];
  const send = () =>
    new Promise<void>((resolve) => {
      const sentAt = performance.now();
      const req = request(server.url, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        res.on('end', () => {
          answers.push({ sentAt, answeredAt: performance.now(), connection: res.headers.connection });
          resolve();
        });
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        failures.push({ code: err.code ?? err.message, reused: req.reusedSocket, sentAfterSignalMs: sentAt - signalledAt });
        resolve();
      });
      req.end(body);
    });
  const sending = () =>
    performance.now() - signalledAt < stopAfterSignalMs &&
    failures.at(-1)?.code !== 'ECONNREFUSED' &&
    answers.filter((a) => a.sentAt > drainingAt).length < enoughWhileDraining;
  const clients = Array.from({ length: 8 }, async () => {
    while (sending()) await send();
  });
  while (answers.length < ANSWERS_BEFORE_SIGNAL && !failures.length) await new Promise((r) => setTimeout(r, 10));
  signalledAt = performance.now();
  const exitCode = await server.stop('SIGTERM');
  await Promise.all(clients);
  agent.destroy();
  return { exitCode, answers, failures: failures.filter((f) => f.code !== 'ECONNREFUSED'), signalledAt, drainingAt };
}

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { appWith } from './helpers/app.ts';
import { startServer } from './helpers/server-process.ts';

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
    const server = await startServer({ PGLITE_DATA_DIR: path.join(dir, 'pglite'), SHUTDOWN_GRACE_MS: '10000', SHUTDOWN_DRAIN_MS: '3000' });
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
});

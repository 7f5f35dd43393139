import http from 'node:http';

// One address in front of several server processes, as a load balancer puts them:
// each request goes to the next server in turn (round robin), streamed both ways so
// subscriptions (server-sent events) pass through.

export interface Proxy {
  url: string;
  /** How many requests each server received. */
  counts: number[];
  close(): Promise<void>;
}

export async function startRoundRobinProxy(targets: string[]): Promise<Proxy> {
  const upstreams = targets.map((t) => new URL(t));
  const agent = new http.Agent({ keepAlive: true });
  const counts = upstreams.map(() => 0);
  let next = 0;
  const server = http.createServer((req, res) => {
    const i = next++ % upstreams.length;
    counts[i]!++;
    const to = upstreams[i]!;
    const forward = http.request(
      { host: to.hostname, port: to.port, path: req.url, method: req.method, headers: { ...req.headers, host: to.host }, agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    res.on('close', () => {
      if (!res.writableFinished) forward.destroy();
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    counts,
    async close() {
      server.closeAllConnections();
      agent.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

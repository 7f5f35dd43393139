import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

// A webhook receiver on loopback, as a customer would write one: it verifies every
// delivery's signature with the standardwebhooks package and keeps what it accepted.

export interface Received {
  id: string;
  body: { type: string; timestamp: string; data: Record<string, any> };
  signatures: string;
}

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  /** Deliveries whose signature did not verify. */
  rejected: string[];
  /** How the n-th request is answered; null leaves it unanswered (the connection hangs). */
  answer: (n: number, req: IncomingMessage) => { status: number; body?: string; headers?: Record<string, string> } | null;
  /** Secrets a signature may verify with (any one). */
  secrets: string[];
  stop(): Promise<void>;
  /** Listens again on the same port after stop(). */
  restart(): Promise<void>;
}

export async function aReceiver(secrets: string[] = [], port = 0): Promise<Receiver> {
  let count = 0;
  let server: Server;
  const r: Receiver = {
    url: '',
    port,
    received: [],
    rejected: [],
    secrets,
    answer: () => ({ status: 204 }),
    stop: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
    restart: () => listen(r.port),
  };
  const listen = (p: number) =>
    new Promise<void>((resolve) => {
      server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const payload = Buffer.concat(chunks).toString('utf8');
          const verified = r.secrets.some((s) => {
            try {
              new Webhook(s).verify(payload, req.headers as Record<string, string>);
              return true;
            } catch {
              return false;
            }
          });
          const id = String(req.headers['webhook-id']);
          const answer = r.answer(++count, req);
          if (!answer) return;
          if (!verified) r.rejected.push(id);
          else if (answer.status >= 200 && answer.status < 300) {
            r.received.push({ id, body: JSON.parse(payload), signatures: String(req.headers['webhook-signature']) });
          }
          res.writeHead(answer.status, answer.headers).end(answer.body ?? '');
        });
      });
      server.listen(p, '127.0.0.1', () => {
        r.port = (server.address() as AddressInfo).port;
        r.url = `http://127.0.0.1:${r.port}/hook`;
        resolve();
      });
    });
  await listen(port);
  return r;
}

/** Waits until `check` holds, polling. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { HttpTimeouts } from './config.ts';

// The HTTP/1.1 server: timeouts for clients that send slowly or not at all, and a
// shutdown that tells keep-alive clients to go before their connections close, so
// none of them sends a request on a connection the server is closing.

export interface HttpServer {
  server: Server;
  /** From now on every response says `Connection: close` and its connection closes after it. */
  drain(): void;
  /** Stops listening once no client holds an idle keep-alive connection, and resolves when every connection is closed. */
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export function createHttpServer(handler: Handler, timeouts: HttpTimeouts): HttpServer {
  let draining = false;
  // Connections that answered a request and may carry the next one: closing one of
  // them could cut a request already on its way (the client sees ECONNRESET).
  const idle = new Set<Socket>();
  const server = createServer(
    {
      // Node keeps only the first of repeated Authorization headers unless duplicates
      // are joined: joined, two credentials are visible, and refused.
      joinDuplicateHeaders: true,
      headersTimeout: timeouts.headersMs,
      requestTimeout: timeouts.requestMs,
      keepAliveTimeout: timeouts.keepAliveMs,
      // Node enforces the two timeouts above on this period (30 s by default, which
      // would let a slow client stay that much longer).
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(timeouts.headersMs / 4))),
    },
    (req, res) => {
      const socket = req.socket;
      idle.delete(socket);
      if (draining) res.setHeader('connection', 'close');
      // Node ends the connection before this runs when the response closes it.
      res.once('finish', () => {
        if (!socket.destroyed && !socket.writableEnded) idle.add(socket);
      });
      handler(req, res);
    },
  );
  server.on('connection', (socket: Socket) => socket.once('close', () => idle.delete(socket)));

  return {
    server,
    drain() {
      draining = true;
    },
    async close() {
      draining = true;
      // A connection idle since before the drain closes when its client uses it once
      // more (answered with Connection: close) or at its keep-alive timeout.
      const until = Date.now() + timeouts.keepAliveMs + 1000;
      while (idle.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

import { expect } from 'vitest';
import { app, tokenFor } from './app.ts';

// Subscriptions over Server-Sent Events, as a browser's EventSource-like client reads them.

export interface SseEvent {
  event?: string;
  data: any;
}

/** Server-sent events of a response body, parsed as they arrive. */
export async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: ?(.*)$/m.exec(block)?.[1];
        const data = block
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.replace(/^data: ?/, ''))
          .join('\n');
        if (event || data) yield { event, data: data ? JSON.parse(data) : null };
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

export const GRAPH_CHANGED = `subscription ($id: ID!) {
  identityGraphChanged(organizationId: $id) { id action entityType entityId actorType actor { id } changes }
}`;

/**
 * Opens the identityGraphChanged subscription of an organization as `authSubject`, on
 * the in-process server or at `url`; resolves when the response has opened.
 */
export async function subscribeToGraphChanges(
  organizationId: string,
  authSubject: string,
  signal: AbortSignal,
  url?: string,
): Promise<Response> {
  const init = {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      authorization: `Bearer ${await tokenFor(authSubject)}`,
    },
    body: JSON.stringify({ query: GRAPH_CHANGED, variables: { id: organizationId } }),
    signal,
  };
  const response = url ? await fetch(url, init) : await app.fetch('http://localhost/graphql', init);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
  return response;
}

/** The next `count` subscription results of a stream (keep-alive and other events skipped). */
export async function nextResults(stream: AsyncGenerator<SseEvent>, count: number): Promise<any[]> {
  const out: any[] = [];
  while (out.length < count) {
    const r = await stream.next();
    if (r.done) throw new Error(`the stream ended after ${out.length} of ${count} results`);
    if (r.value.event === 'next') out.push(r.value.data);
  }
  return out;
}

import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ErrorCode } from '../errors.ts';

const tooLarge = (limit: number) =>
  new GraphQLError(`The request body is larger than ${limit} bytes.`, {
    extensions: { code: ErrorCode.BAD_USER_INPUT, http: { status: 413 } },
  });

/** The whole body, read chunk by chunk and refused as soon as it passes `limit` bytes. */
async function readLimited(body: ReadableStream<Uint8Array>, limit: number): Promise<Buffer> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/**
 * Refuses request bodies over `limit` bytes: at once when Content-Length says so, and
 * while reading otherwise (a chunked body is never buffered past the limit). JSON, the
 * usual body, is parsed here from the counted bytes; any other type a parser accepts
 * (a form, say) is counted the same way and then handed to that parser. This is the
 * server's only body limit: Yoga's own (`maxRequestBodySize`) is off, as it piped every
 * body through a second stream.
 */
export function useBodyLimit(limit: number): Plugin {
  return {
    onRequestParse({ request, requestParser, setRequestParser, fetchAPI }) {
      if (request.method !== 'POST' || !requestParser) return;
      const declared = Number(request.headers.get('content-length'));
      if (declared > limit) throw tooLarge(limit);
      if (!request.body) return;
      const type = request.headers.get('content-type') ?? '';
      if (!type.includes('json')) {
        setRequestParser(async (req) => {
          const bytes = await readLimited(req.body!, limit);
          return requestParser(new fetchAPI.Request(req.url, { method: req.method, headers: req.headers, body: new Uint8Array(bytes) }));
        });
        return;
      }
      setRequestParser(async (req) => {
        const bytes = await readLimited(req.body!, limit);
        try {
          return JSON.parse(bytes.toString('utf8')) as never;
        } catch {
          throw new GraphQLError('The request body is not valid JSON.', {
            extensions: { code: ErrorCode.BAD_USER_INPUT, http: { status: 400 } },
          });
        }
      });
    },
  };
}

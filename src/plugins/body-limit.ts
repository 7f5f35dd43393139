import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ErrorCode } from '../errors.ts';

const tooLarge = (limit: number) =>
  new GraphQLError(`The request body is larger than ${limit} bytes.`, {
    extensions: { code: ErrorCode.BAD_USER_INPUT, http: { status: 413 } },
  });

/**
 * Refuses JSON bodies over `limit` bytes: at once when Content-Length says so, and
 * while reading otherwise (a chunked body is never buffered past the limit).
 */
export function useBodyLimit(limit: number): Plugin {
  return {
    onRequestParse({ request, requestParser, setRequestParser }) {
      if (request.method !== 'POST' || !requestParser) return;
      const declared = Number(request.headers.get('content-length'));
      if (declared > limit) throw tooLarge(limit);
      const type = request.headers.get('content-type') ?? '';
      if (!type.includes('json') || !request.body) return;
      setRequestParser(async (req) => {
        const reader = req.body!.getReader();
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
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          throw new GraphQLError('The request body is not valid JSON.', {
            extensions: { code: ErrorCode.BAD_USER_INPUT, http: { status: 400 } },
          });
        }
        return body as never;
      });
    },
  };
}

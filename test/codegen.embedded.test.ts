import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { generate } from '@graphql-codegen/cli';
import { describe, expect, it } from 'vitest';
import config from '../codegen.ts';

// The typed documents in src/client are generated from schema.graphql and the
// operations in examples/: this fails when they are stale (run
// `npm run codegen`). Generation needs no database, so it runs in one project.

describe('generated client documents', () => {
  it('match what `npm run codegen` would write', async () => {
    const outputs = (await generate({ ...config, silent: true }, false)) as { filename: string; content: string }[];
    expect(outputs.length).toBeGreaterThan(0);
    for (const { filename, content } of outputs) {
      const committed = await readFile(path.resolve(filename), 'utf8').catch(() => '');
      expect(committed, `${filename} is stale: run npm run codegen`).toBe(content);
    }
  }, 60_000);
});

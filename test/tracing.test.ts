import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterAll, describe, expect, it } from 'vitest';
import { startTracing } from '../src/observability/tracing.ts';
import { appWith, globalId, gql } from './helpers/app.ts';
import { aTenantWithMember } from './helpers/factories.ts';

const exporter = new InMemorySpanExporter();
const tracing = startTracing(exporter, 'identity-graph-test');
afterAll(() => tracing.shutdown());

describe('tracing', () => {
  it('records a span per GraphQL operation with the Prisma queries beneath it, and no variables', async () => {
    const traced = appWith({}, { tracing: tracing.plugin });
    const { user } = await aTenantWithMember();
    const secretId = globalId('User', 'private-value');
    const result = await gql('query Traced($id: ID!) { node(id: $id) { id } }', { app: traced, asUser: user, variables: { id: secretId } });
    expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
    await tracing.provider.forceFlush();
    const spans = exporter.getFinishedSpans();
    const names = spans.map((s) => s.name);
    expect(names.some((n) => /Traced/.test(n))).toBe(true);
    expect(names.some((n) => n.startsWith('prisma:'))).toBe(true);
    expect(JSON.stringify(spans.map((s) => s.attributes))).not.toContain(secretId);
  });
});

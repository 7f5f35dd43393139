import { useOpenTelemetry } from '@envelop/opentelemetry';
import type { TracerProvider } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { BatchSpanProcessor, type SpanExporter, type SpanProcessor, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { PrismaInstrumentation } from '@prisma/instrumentation';
import type { Plugin } from 'graphql-yoga';

// OpenTelemetry tracing, on when an OTLP endpoint is configured (the standard
// OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT variables): a span
// per GraphQL operation and phase (envelop plugin) with Prisma's spans for each query
// beneath it. Variables and results are never recorded: they hold personal data.
// The server imports this module only when tracing is on (see tracingEnabled in
// config.ts), so a server without it loads none of OpenTelemetry.

export interface Tracing {
  provider: NodeTracerProvider;
  plugin: Plugin;
  shutdown(): Promise<void>;
}

/** Sets up tracing into `exporter` (the OTLP exporter by default). */
export function startTracing(exporter?: SpanExporter, serviceName = process.env.OTEL_SERVICE_NAME ?? 'identity-graph'): Tracing {
  const processor: SpanProcessor = exporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(new OTLPTraceExporter());
  const provider = new NodeTracerProvider({ spanProcessors: [processor] });
  provider.register();
  const unregister = registerInstrumentations({
    tracerProvider: provider as unknown as TracerProvider,
    instrumentations: [new PrismaInstrumentation()],
  });
  const plugin = useOpenTelemetry(
    { resolvers: false, variables: false, result: false },
    provider as unknown as TracerProvider,
    undefined,
    undefined,
    serviceName,
  ) as unknown as Plugin;
  return {
    provider,
    plugin,
    async shutdown() {
      unregister();
      await provider.shutdown();
    },
  };
}

import { usePrometheus } from '@graphql-yoga/plugin-prometheus';
import type { Plugin } from 'graphql-yoga';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { database } from '../db.ts';
import { engineCounts } from '../modules/shared/engine/index.ts';
import { currentRequest } from '../observability/request-context.ts';

/**
 * Prometheus metrics at /metrics: request counts and durations (per operation),
 * HTTP durations, and errors by code, plus the process's own metrics. Each server
 * instance has its own registry.
 */
export function useMetrics(): Plugin[] {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const errors = new Counter({
    name: 'graphql_errors_total',
    help: 'Errors returned to clients, by extensions.code and operation name.',
    labelNames: ['code', 'operationName'] as const,
    registers: [registry],
  });
  // Reads of root fields the engine compiles: answered by its statement, left to the
  // general path (a selection it does not compile), left to it after the statement
  // failed, or whose statement found the remembered credential changed.
  new Counter({
    name: 'graphql_compiled_reads_total',
    help: 'Reads of root fields the read engine compiles, by field and outcome (compiled, fallback, failed, credentialChanged).',
    labelNames: ['field', 'outcome'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [outcome, counts] of Object.entries(engineCounts)) for (const [field, n] of counts) this.inc({ field, outcome }, n);
    },
  });
  // Read replicas (DATABASE_REPLICA_URLS) as the last check found them.
  new Gauge({
    name: 'database_replica_healthy',
    help: 'Whether a read replica serves reads (1) or is left out (0).',
    labelNames: ['replica'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const r of database?.replicas?.replicas ?? []) this.set({ replica: r.describe }, r.healthy ? 1 : 0);
    },
  });
  new Gauge({
    name: 'database_replica_lag_milliseconds',
    help: 'How far a reachable read replica is behind the primary.',
    labelNames: ['replica'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const r of database?.replicas?.replicas ?? []) if (Number.isFinite(r.lagMs)) this.set({ replica: r.describe }, r.lagMs);
    },
  });
  return [
    usePrometheus({
      endpoint: '/metrics',
      registry,
      // Every metric is named, as the plugin turns on the ones left out. Off: the
      // deprecated-field counter (it walks each operation with type information on
      // every request, the largest cost of all), the request summary (quantiles on
      // every observation, and the duration histogram says the same) and the
      // plugin's error counter (graphql_errors_total below counts errors by code).
      metrics: {
        graphql_envelop_request: true,
        graphql_envelop_request_duration: true,
        graphql_envelop_phase_parse: true,
        graphql_envelop_phase_validate: true,
        graphql_envelop_phase_context: true,
        graphql_envelop_phase_execute: true,
        graphql_envelop_phase_subscribe: true,
        graphql_yoga_http_duration: true,
        graphql_envelop_schema_change: true,
        graphql_envelop_deprecated_field: false,
        graphql_envelop_request_time_summary: false,
        graphql_envelop_error_result: false,
        graphql_envelop_execute_resolver: false,
      },
    }),
    {
      onResultProcess({ result }) {
        for (const r of Array.isArray(result) ? result : [result]) {
          const list = (r as { errors?: { extensions?: { code?: unknown } }[] } | undefined)?.errors ?? [];
          for (const e of list) {
            errors.inc({ code: String(e.extensions?.code ?? 'UNKNOWN'), operationName: currentRequest()?.operationName ?? '' });
          }
        }
      },
    } as Plugin,
  ];
}

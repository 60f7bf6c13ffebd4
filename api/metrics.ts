/**
 * Prometheus metrics of the API (docs/http-contract.md, /metrics): request counts and latency by route pattern (never the
 * raw path, so device ids do not explode the label set), MDM events by type and result and by tenant,
 * and the default Node process metrics.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { EVENT_TYPES } from '../domain/constants';

export interface ApiMetrics {
  registry: Registry;
  httpRequests: Counter<'route' | 'method' | 'status'>;
  httpDuration: Histogram<'route' | 'method' | 'status'>;
  mdmEvents: Counter<'type' | 'result'>;
  /** MDM events of authenticated requests by tenant (the same events as mdmEvents, another cut). */
  tenantEvents: Counter<'tenant' | 'result'>;
  /** `type` label of an event: one of the four types, else `unknown` (bounded cardinality). */
  eventType(value: unknown): string;
}

export function createApiMetrics(registry: Registry = new Registry()): ApiMetrics {
  collectDefaultMetrics({ register: registry });
  const httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by route pattern, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency in seconds, by route pattern, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const mdmEvents = new Counter({
    name: 'mdm_events_total',
    help: 'MDM events received, by type and result (accepted: handed to Temporal; rejected: not)',
    labelNames: ['type', 'result'] as const,
    registers: [registry],
  });
  const tenantEvents = new Counter({
    name: 'mdm_events_by_tenant_total',
    help: 'MDM events received with a valid key, by tenant and result (accepted: handed to Temporal; rejected: not)',
    labelNames: ['tenant', 'result'] as const,
    registers: [registry],
  });
  for (const type of EVENT_TYPES) {
    mdmEvents.inc({ type, result: 'accepted' }, 0);
    mdmEvents.inc({ type, result: 'rejected' }, 0);
  }
  return {
    registry,
    httpRequests,
    httpDuration,
    mdmEvents,
    tenantEvents,
    eventType: (value) => (typeof value === 'string' && (EVENT_TYPES as readonly string[]).includes(value) ? value : 'unknown'),
  };
}

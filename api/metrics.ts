/**
 * Prometheus metrics of the API (docs/http-contract.md, /metrics): request counts and latency by route pattern (never the
 * raw path, so device ids do not explode the label set), MDM events by tenant, type and result, the
 * default Node process metrics, and the tenant gauges read from Postgres at scrape time (api/fleet-metrics.ts).
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { EVENT_TYPES } from '../domain/constants';
import { registerFleetMetrics, type FleetMetricsDeps } from './fleet-metrics';

export interface ApiMetrics {
  registry: Registry;
  httpRequests: Counter<'route' | 'method' | 'status'>;
  httpDuration: Histogram<'route' | 'method' | 'status'>;
  /** By the tenant whose key sent them (only authenticated requests are counted). */
  mdmEvents: Counter<'tenant' | 'type' | 'result'>;
  /** `type` label of an event: one of the four types, else `unknown` (bounded cardinality). */
  eventType(value: unknown): string;
  /** Call before each scrape (the tenant gauges read fresh facts). */
  beginScrape(): void;
}

export function createApiMetrics(registry: Registry = new Registry(), fleet?: FleetMetricsDeps): ApiMetrics {
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
    help: 'MDM events received, by tenant, type and result (accepted: handed to Temporal; rejected: not)',
    labelNames: ['tenant', 'type', 'result'] as const,
    registers: [registry],
  });
  // Series at zero for the configured tenants, so rate() sees them before the first event.
  for (const tenant of fleet?.configuredTenants ?? []) {
    for (const type of EVENT_TYPES) {
      mdmEvents.inc({ tenant, type, result: 'accepted' }, 0);
      mdmEvents.inc({ tenant, type, result: 'rejected' }, 0);
    }
  }
  const fleetMetrics = fleet ? registerFleetMetrics(registry, fleet) : undefined;
  return {
    registry,
    beginScrape: () => fleetMetrics?.beginScrape(),
    httpRequests,
    httpDuration,
    mdmEvents,
    eventType: (value) => (typeof value === 'string' && (EVENT_TYPES as readonly string[]).includes(value) ? value : 'unknown'),
  };
}

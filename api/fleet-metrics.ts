/**
 * Tenant gauges of the API's /metrics, read from Postgres when Prometheus scrapes (docs/http-contract.md,
 * Metrics), with the Microsoft queue's backlog and the dependency checks: what the alert rules of
 * ops/prometheus/alerts.yml watch. One scrape runs each query once (the facts are shared by the
 * metrics that need them), each bounded by the readiness timeout; when Postgres does not answer, the
 * tenant metrics have no samples and acc_dependency_up{dependency="postgres"} is 0.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Db } from '../db';
import {
  driftAttemptCounts,
  knownTenantIds,
  oldestInProgressReports,
  tenantSettingsFacts,
  tenantStateFacts,
  type TenantSettingsFact,
  type TenantStateFact,
} from '../db/fleet-facts';
import type { Client } from '@temporalio/client';
import { checkDependencies, withTimeout } from './dependencies';
import { describeMicrosoftBacklog } from './microsoft-queue';

export interface FleetMetricsDeps {
  db: Db;
  temporal: Client;
  /** The tenants this process serves (always labelled, even before the tenants table lists them). */
  configuredTenants: readonly string[];
  /** Where the worker's task queue is (its Microsoft queue's backlog is reported). */
  temporalQueue: { namespace: string; taskQueue: string };
  timeoutMs: number;
  onError: (what: string, err: unknown) => void;
}

/** What one scrape reads, each at most once. */
interface ScrapeFacts {
  tenants: Promise<string[]>;
  settings: Promise<TenantSettingsFact[]>;
  states: Promise<TenantStateFact[]>;
}

const seconds = (ms: number) => ms / 1000;

export interface FleetMetrics {
  /** Call before each scrape: the next collection reads fresh facts. */
  beginScrape(): void;
}

export function registerFleetMetrics(registry: Registry, deps: FleetMetricsDeps): FleetMetrics {
  let facts: ScrapeFacts | undefined;
  const bounded = <T>(p: Promise<T>) => withTimeout(p, deps.timeoutMs);
  const scrapeFacts = (): ScrapeFacts => {
    if (facts) return facts;
    const tenants = bounded(knownTenantIds(deps.db, deps.configuredTenants));
    facts = {
      tenants,
      settings: tenants.then((t) => bounded(tenantSettingsFacts(deps.db, t))),
      states: tenants.then((t) => bounded(tenantStateFacts(deps.db, t))),
    };
    // Each metric reports its own failure; these copies must not be unhandled.
    for (const p of Object.values(facts)) (p as Promise<unknown>).catch(() => undefined);
    return facts;
  };

  /** A tenant gauge: its samples from `read`, none when the read fails. */
  function tenantGauge(name: string, help: string, read: (f: ScrapeFacts) => Promise<Array<[tenant: string, value: number]>>): void {
    new Gauge({
      name,
      help,
      labelNames: ['tenant'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        try {
          for (const [tenant, value] of await read(scrapeFacts())) this.set({ tenant }, value);
        } catch (err) {
          deps.onError(name, err);
        }
      },
    });
  }

  tenantGauge('acc_tenant_reporting_enabled', 'Whether reporting to Microsoft is on for the tenant (1) or switched off (0)', async (f) =>
    (await f.settings).map((s) => [s.tenantId, s.enabled ? 1 : 0]),
  );
  tenantGauge(
    'acc_tenant_heartbeat_last_timestamp_seconds',
    'When the tenant heartbeat last ended, accepted by Microsoft or not (Unix seconds)',
    async (f) => (await f.settings).flatMap((s) => (s.lastHeartbeatAt === null ? [] : [[s.tenantId, seconds(s.lastHeartbeatAt)]])),
  );
  tenantGauge(
    'acc_tenant_heartbeat_ok',
    'Whether Microsoft accepted the last tenant heartbeat (1) or it failed after its retries (0)',
    async (f) => (await f.settings).flatMap((s) => (s.lastHeartbeatOk === null ? [] : [[s.tenantId, s.lastHeartbeatOk ? 1 : 0]])),
  );
  tenantGauge('acc_tenant_consent_revoked', "Whether the tenant's admin consent was revoked (1) or not (0)", async (f) =>
    (await f.states).map((s) => [s.tenantId, s.consentRevoked ? 1 : 0]),
  );
  tenantGauge(
    'acc_tenant_token_ok',
    'Whether the last access token request for the tenant succeeded (1) or failed (0); no sample before the first one',
    async (f) => (await f.states).flatMap((s) => (s.tokenOk === null ? [] : [[s.tenantId, s.tokenOk ? 1 : 0]])),
  );
  tenantGauge(
    'acc_oldest_in_progress_report_timestamp_seconds',
    'When the oldest report Microsoft has not finished processing was sent, per tenant (Unix seconds); no sample when none is',
    async (f) => (await oldestInProgressReports(deps.db, await f.tenants)).map((r) => [r.tenantId, seconds(r.startedAt)]),
  );

  new Counter({
    name: 'acc_drift_found_total',
    help: "Reports sent because Microsoft's state of a device had drifted from the connector's (timeline rows with trigger drift)",
    labelNames: ['tenant'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      try {
        const tenants = await scrapeFacts().tenants;
        const counts = await bounded(driftAttemptCounts(deps.db, tenants));
        for (const tenant of tenants) this.inc({ tenant }, counts.get(tenant) ?? 0);
      } catch (err) {
        deps.onError('acc_drift_found_total', err);
      }
    },
  });

  new Gauge({
    name: 'acc_microsoft_queue_oldest_task_age_seconds',
    help:
      'How long the oldest activity waiting on the Microsoft task queue (reports and heartbeats of every tenant, ' +
      'held back by the Microsoft budget or by no worker polling) has waited, as the Temporal server counts it; 0 when none waits',
    labelNames: ['task_queue'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      try {
        const b = await describeMicrosoftBacklog(deps.temporal, deps.temporalQueue, (fn) =>
          bounded(deps.temporal.withDeadline(Date.now() + deps.timeoutMs, fn)),
        );
        this.set({ task_queue: b.taskQueue }, b.oldestAgeSeconds);
      } catch (err) {
        deps.onError('acc_microsoft_queue_oldest_task_age_seconds', err);
      }
    },
  });

  new Gauge({
    name: 'acc_dependency_up',
    help: 'Whether the API reaches the dependency (postgres, temporal) within the readiness timeout',
    labelNames: ['dependency'] as const,
    registers: [registry],
    async collect() {
      const checks = await checkDependencies(deps, deps.timeoutMs, deps.onError);
      for (const [dependency, result] of Object.entries(checks)) this.set({ dependency }, result === 'ok' ? 1 : 0);
    },
  });

  return {
    beginScrape: () => {
      facts = undefined;
    },
  };
}

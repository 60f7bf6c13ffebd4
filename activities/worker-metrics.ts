/**
 * The worker's own metrics, served with the Temporal SDK's on WORKER_METRICS_PORT (docs/http-contract.md,
 * Metrics). Every one carries the `tenant` whose work it counts; the alert rules in
 * ops/prometheus/alerts.yml use them. The Temporal exporter names metrics exactly as created, so the
 * counters carry their `_total` suffix here.
 */
import type { ApplicationFailure, MetricMeter } from '@temporalio/common';
import { Runtime } from '@temporalio/worker';

export const WORKER_METRIC_NAMES = {
  throttled: 'acc_microsoft_throttled_total',
  reportsFinished: 'acc_reports_finished_total',
  heartbeatSuccess: 'acc_tenant_heartbeat_last_success_timestamp_seconds',
} as const;

/** Outcomes of a finished report attempt (the `result` label). */
export const REPORT_RESULTS = ['Successful', 'Failed'] as const;

/**
 * The process's meter, not an activity's: an activity's adds its own labels (activity type, task
 * queue…), and a series that first appears at 1 is invisible to rate() and increase().
 */
let current: ReturnType<typeof createWorkerMetrics> | undefined;
export function workerMetrics(): ReturnType<typeof createWorkerMetrics> {
  return (current ??= createWorkerMetrics(Runtime.instance().metricMeter));
}

function createWorkerMetrics(meter: MetricMeter) {
  const throttled = meter.createCounter(
    WORKER_METRIC_NAMES.throttled,
    'calls',
    'Calls to Microsoft it answered with "wait" (HTTP 429, or 503 with Retry-After), by tenant',
  );
  const reportsFinished = meter.createCounter(
    WORKER_METRIC_NAMES.reportsFinished,
    'reports',
    'Report attempts that ended, by tenant and result (Successful or Failed)',
  );
  const heartbeatSuccess = meter.createGauge(
    WORKER_METRIC_NAMES.heartbeatSuccess,
    'float',
    's',
    'Time of the last heartbeat Microsoft accepted, by tenant (since this worker started)',
  );
  return {
    /** A Microsoft call of the tenant failed (a throttled one is counted); gives the failure back, to throw. */
    counted(tenant: string, failure: ApplicationFailure): ApplicationFailure {
      if (failure.type === 'Throttled') throttled.add(1, { tenant });
      return failure;
    },
    reportFinished(tenant: string, result: (typeof REPORT_RESULTS)[number]): void {
      reportsFinished.add(1, { tenant, result });
    },
    heartbeatAccepted(tenant: string, at: string): void {
      heartbeatSuccess.set(Date.parse(at) / 1000, { tenant });
    },
    /** Series at zero for the tenants this worker serves, so rate() and the alert rules see them before the first event. */
    startAtZero(tenants: readonly string[]): void {
      for (const tenant of tenants) {
        throttled.add(0, { tenant });
        for (const result of REPORT_RESULTS) reportsFinished.add(0, { tenant, result });
      }
    },
  };
}

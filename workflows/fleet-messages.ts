/**
 * Inputs, ids and defaults of the fleet workflows (the sweep and the tenant heartbeat), shared by the
 * workflows, their activities, the fleet client and the schedules. No workflow code, no I/O.
 */
import type { ForcedReportTrigger } from './messages';

export const FLEET_SWEEP_WORKFLOW_TYPE = 'fleetSweepWorkflow';
export const TENANT_HEARTBEAT_WORKFLOW_TYPE = 'tenantHeartbeatWorkflow';

/**
 * Every fleet-wide operation runs the same sweep; the kind says why (and is the `operations.kind`).
 * `reconcile` reads each device back from Entra instead of asking it to report: only drift is re-sent.
 */
export const FLEET_KINDS = ['weekly', 'sync', 'enable', 'resync', 'reconcile'] as const;
export type FleetKind = (typeof FLEET_KINDS)[number];

/** The trigger each kind writes in the devices' timelines. */
export const TRIGGER_BY_KIND: Record<FleetKind, ForcedReportTrigger | 'drift'> = {
  weekly: 'weekly',
  sync: 'manual',
  enable: 'enable',
  resync: 'resync',
  reconcile: 'drift',
};

/** The optional filter of a bulk sync (`POST /v1/sync`); retired devices are never swept. */
export interface FleetFilter {
  complianceStatus?: string;
  clientStatusCode?: string;
}

export interface SweepOptions {
  /** Devices per workflow run: the sweep continues-as-new after each page. */
  pageSize?: number;
  /** Signals in flight at once (one batch), and the checkpoint granularity. */
  batchSize?: number;
  /** Devices signalled per second (0: as fast as batches go). Keeps the Microsoft queue's backlog short. */
  devicesPerSecond?: number;
  /** Heartbeat timeout of the page activity: how fast a dead worker's page is retried elsewhere. */
  heartbeatTimeoutMs?: number;
}

export const DEFAULT_SWEEP_OPTIONS: Required<SweepOptions> = {
  pageSize: 1_000,
  batchSize: 50,
  devicesPerSecond: 0,
  heartbeatTimeoutMs: 30_000,
};

/** Carried across continue-as-new: where the sweep stands. */
export interface SweepProgress {
  startedAt: string;
  devicesTotal: number;
  /** Keyset cursor: the last device id handled; null before the first page. */
  after: string | null;
  signalled: number;
  skipped: number;
  pages: number;
}

export interface FleetSweepInput {
  tenantId: string;
  kind: FleetKind;
  filter?: FleetFilter | null;
  /** Absent when a Schedule started the sweep: then derived from the workflow id. */
  operationId?: string;
  /** When the operation was accepted (the operations row's started_at). */
  startedAt?: string;
  options?: SweepOptions;
  /** Absent on the first run. */
  progress?: SweepProgress;
}

export interface FleetSweepResult {
  operationId: string;
  kind: FleetKind;
  devicesTotal: number;
  devicesSignalled: number;
  devicesSkipped: number;
  pages: number;
  finishedAt: string;
}

export interface TenantHeartbeatInput {
  tenantId: string;
  /** The task queue of activities that call Microsoft; default `<this workflow's queue>-microsoft`. */
  microsoftTaskQueue?: string;
  /** Options of the full sweep a Microsoft resync request starts. */
  sweepOptions?: SweepOptions;
}

export interface TenantHeartbeatResult {
  sent: boolean;
  at: string | null;
  resyncTimestamp: string | null;
  /** The resync sweep this heartbeat started, if any. */
  resyncOperationId: string | null;
}

const FLEET_PREFIX = 'fleet:';

/** `fleet:<tenantId>:<operationId>`. */
export function fleetWorkflowId(tenantId: string, operationId: string): string {
  return `${FLEET_PREFIX}${tenantId}:${operationId}`;
}

/**
 * The operation id of a sweep from its workflow id. A Schedule appends `-<time>` to the workflow id of
 * its action (`fleet:<tenantId>:weekly` → `fleet:<tenantId>:weekly-2026-11-30T06:00:00Z`), which makes
 * each scheduled run an operation of its own.
 */
export function operationIdFromWorkflowId(tenantId: string, workflowId: string): string {
  const prefix = `${FLEET_PREFIX}${tenantId}:`;
  return workflowId.startsWith(prefix) ? workflowId.slice(prefix.length) : workflowId;
}

/** The operation id a reconciliation Schedule's runs derive theirs from (`reconcile-<time>`). */
export const RECONCILE_OPERATION_PREFIX = 'reconcile';

/** `heartbeat:<tenantId>` (a Schedule appends the time of each run). */
export function heartbeatWorkflowId(tenantId: string): string {
  return `heartbeat:${tenantId}`;
}

/** The operation a Microsoft resync request starts: one per ResyncTimestamp. */
export function resyncOperationId(resyncTimestamp: string): string {
  return `resync-${resyncTimestamp}`;
}

/** The name of the task queue whose activities call Microsoft (rate-limited by the server). */
export function microsoftTaskQueueOf(taskQueue: string): string {
  return `${taskQueue}-microsoft`;
}

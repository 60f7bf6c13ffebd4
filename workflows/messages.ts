/**
 * The device workflow's messages and their payloads. Imported by the workflow, the API and the
 * sweep activities, so nobody outside workflows/ imports workflow code itself.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ComplianceEvent, InventoryEvent, RegistrationEvent, RetireEvent } from '../domain/events';
import type { DeviceState } from '../domain/device-state';
import type { EntraObservation } from '../domain/drift';
import type { DeviceRecordInput } from '../activities/device-activities';

/**
 * The workflow type every new device run starts as: a new device, a re-enrolment, and every
 * continue-as-new. The type records which code started the run, so a run of this type asks for no
 * patch at all: no marker, no `TemporalChangeVersion` upsert (docs/architecture.md, "Changing the
 * device workflow").
 */
export const DEVICE_WORKFLOW_TYPE = 'deviceComplianceWorkflowV2';
/** The type of runs started before DEVICE_WORKFLOW_TYPE: they ask for their patches one by one. */
export const DEVICE_WORKFLOW_TYPE_V1 = 'deviceComplianceWorkflow';
/** Every type a device run may have, for visibility queries. */
export const DEVICE_WORKFLOW_TYPES: readonly string[] = [DEVICE_WORKFLOW_TYPE_V1, DEVICE_WORKFLOW_TYPE];
/** The same as a visibility-query list: `WorkflowType IN ${DEVICE_WORKFLOW_TYPE_LIST}`. */
export const DEVICE_WORKFLOW_TYPE_LIST = `(${DEVICE_WORKFLOW_TYPES.map((t) => `'${t}'`).join(', ')})`;

export function deviceWorkflowId(tenantId: string, deviceId: string): string {
  return `device:${tenantId}:${deviceId}`;
}

/** Triggers that ask for a report of the current state even when nothing changed. */
export type ForcedReportTrigger = 'weekly' | 'manual' | 'enable' | 'resync';

export interface ReportRequest {
  trigger: ForcedReportTrigger;
  /** The fleet operation that asked (weekly sweep, bulk sync, enable, resync), for idempotency. */
  operationId?: string;
}

export interface DeviceWorkflowOptions {
  /** Waits between polls of an upload's status; the last one repeats. */
  statusPollIntervalsMs?: number[];
  /** Give up polling (status Failed) after this long. */
  statusPollTimeoutMs?: number;
  /** Test hook: continue-as-new after this many applied events, as if Temporal suggested it. */
  continueAsNewAfterEvents?: number;
  /**
   * Continue-as-new, once idle, when the run's history has this many events (default
   * MAX_HISTORY_EVENTS in workflows/device.ts): every cache miss replays the run's whole history.
   */
  maxHistoryEvents?: number;
  /**
   * Task queue of the activities that call Microsoft (rate-limited by the server across all workers);
   * default `<this workflow's task queue>-microsoft`.
   */
  microsoftTaskQueue?: string;
  /**
   * Backoff of calls to Microsoft that fail for a retryable reason, and of the workflow's own retries of
   * a report that must reach Microsoft (default: 1 s doubling up to 5 minutes). Tests shorten it.
   */
  microsoftRetry?: { initialIntervalMs: number; maximumIntervalMs: number };
}

export type InboxItem =
  | { kind: 'event'; event: RegistrationEvent | ComplianceEvent | InventoryEvent | RetireEvent }
  | { kind: 'report'; request: ReportRequest }
  | { kind: 'entra'; observation: EntraObservation };

export interface DeviceWorkflowInput {
  tenantId: string;
  deviceId: string;
  options?: DeviceWorkflowOptions;
  /** Carried across continue-as-new; absent on a device's first run (or a new lifecycle). */
  state?: DeviceState;
  inbox?: InboxItem[];
}

export const registrationSignal = defineSignal<[RegistrationEvent]>('registration');
export const complianceSignal = defineSignal<[ComplianceEvent]>('compliance');
export const inventorySignal = defineSignal<[InventoryEvent]>('inventory');
export const retireSignal = defineSignal<[RetireEvent]>('retire');
/** Fleet operations (weekly sweep, bulk sync, enable, Microsoft resync) ask for a report. */
export const reportSignal = defineSignal<[ReportRequest]>('report');
/** The drift reconciliation tells the device what Entra holds for it (domain/drift.ts decides what follows). */
export const entraObservedSignal = defineSignal<[EntraObservation]>('entraObserved');

/**
 * The worker's read-model sink gave up on a write the workflow handed it (workers/read-model-sink.ts):
 * the workflow writes its current state again through the local activity, with the timeline row
 * the lost write carried, if any.
 */
export interface ReadModelRewrite {
  attempt: DeviceRecordInput['attempt'] | null;
}
export const readModelRewriteSignal = defineSignal<[ReadModelRewrite]>('readModelRewrite');

export interface SyncResult {
  accepted: true;
  deviceId: string;
}
/** An admin's "sync now": an Update so the caller learns at once whether it was accepted. */
export const syncUpdate = defineUpdate<SyncResult, []>('sync');

export const stateQuery = defineQuery<DeviceState>('state');

export const SIGNAL_BY_EVENT_TYPE = {
  registration: registrationSignal,
  compliance: complianceSignal,
  inventory: inventorySignal,
  retire: retireSignal,
} as const;

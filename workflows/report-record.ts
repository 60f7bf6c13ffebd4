/**
 * The read model's rows as the device workflow's state makes them: the device row, the timeline row
 * of a report, and the whole record of a report Microsoft confirmed. Pure (no Temporal, no I/O), so
 * the report activity, which records a success it saw on its first status poll itself, and the
 * workflow, which records every other outcome, build the same rows from the same state.
 */
import type { DeviceRecordInput } from '../activities/device-activities';
import type { ReportTrigger } from '../domain/constants';
import {
  desiredPayload,
  policyOf,
  rememberLookups,
  reportedPolicyOf,
  reportSucceeded,
  startReport,
  type DeviceError,
  type DeviceState,
  type EntraLookups,
  type ReportPayload,
} from '../domain/device-state';
import { driftResolved, type DriftFinding } from '../domain/drift';

export type TimelineRow = NonNullable<DeviceRecordInput['attempt']>;
export type Outcome = TimelineRow['outcome'];

/** The read-model row of the device (db `devices`). */
export function projectionOf(state: DeviceState) {
  const policy = policyOf(state);
  const reported = desiredPayload(state) ?? reportedPolicyOf(state);
  return {
    tenantId: state.tenantId,
    deviceId: state.deviceId,
    platform: state.platform,
    azureDeviceId: state.azureDeviceId,
    clientStatusCode: state.clientStatusCode,
    userPrincipalName: state.userPrincipalName,
    complianceStatus: state.status,
    reportTime: state.reportTime,
    policyAction: policy.policyAction,
    reportedCompliance: reported.complianceStatus,
    managementState: reported.managementState,
    inventory: state.inventory as Record<string, unknown> | null,
    lastAttemptAt: state.lastAttemptAt,
    lastSuccessfulReportAt: state.lastSuccessfulReportAt,
    lastError: state.lastError,
    retiredAt: state.retiredAt,
    graceUntil: state.grace?.until ?? null,
    graceAction: state.grace?.action ?? null,
    version: state.version,
  };
}

/** One row of the report timeline; every row the workflow writes (blocked ones too) is built here. */
export function timelineRow(
  row: {
    key: string;
    at: string;
    trigger: ReportTrigger;
    reported: { complianceStatus: string; managementState: string };
    messageId: string | null;
    /** A drift row: what the reconciliation found different in Entra. */
    drift?: DriftFinding | null;
  },
  outcome: Outcome,
  error: DeviceError | null,
  completedAt: string | null,
): TimelineRow {
  return {
    attemptKey: row.key,
    at: row.at,
    trigger: row.trigger,
    reported: row.reported,
    outcome,
    messageId: row.messageId,
    error,
    completedAt,
    ...(row.drift ? { drift: row.drift } : {}),
  };
}

/** What an upload sent, under which message id, when and why: enough to name its timeline row. */
export interface SentReport {
  messageId: string;
  startedAt: string;
  trigger: ReportTrigger;
  payload: ReportPayload;
  /** The report removes the device's former Azure device id. */
  former: boolean;
  /** The drift this report re-reports for (trigger `drift`). */
  drift: DriftFinding | null;
}

/** The timeline row of a sent report, under its message id. */
export function reportRow(sent: SentReport, outcome: Outcome, error: DeviceError | null, completedAt: string | null): TimelineRow {
  const reported = { complianceStatus: sent.payload.complianceStatus, managementState: sent.payload.managementState };
  return timelineRow(
    { key: sent.messageId, at: sent.startedAt, trigger: sent.trigger, reported, messageId: sent.messageId, drift: sent.drift },
    outcome,
    error,
    completedAt,
  );
}

/** The report has left (the upload answered): what is sent is recorded, and what it looked up kept. */
export function reportStarted(state: DeviceState, sent: SentReport, lookups?: EntraLookups): DeviceState {
  const started = startReport(state, sent.payload, sent.startedAt, sent.former);
  return !sent.former && lookups ? rememberLookups(started, lookups) : started;
}

/** Microsoft confirmed the report: it holds the device's state, and any drift found is resolved. */
export function reportConfirmed(state: DeviceState, sent: SentReport, completedAt: string): DeviceState {
  const next = reportSucceeded(state, sent.payload, completedAt, sent.former);
  return sent.former ? next : driftResolved(next);
}

/**
 * The whole record of a report confirmed on its first status poll, from the state the upload left
 * with: the state after it (one write later) and the write itself. `writeSeq` is the workflow's
 * history length when it scheduled the upload, below that of any write it makes afterwards.
 */
export function successRecord(
  before: DeviceState,
  sent: SentReport,
  lookups: EntraLookups | undefined,
  completedAt: string,
  writeSeq: number,
): { state: DeviceState; write: Required<Pick<DeviceRecordInput, 'projection' | 'writeSeq' | 'attempt'>> } {
  const confirmed = reportConfirmed(reportStarted(before, sent, lookups), sent, completedAt);
  const state = { ...confirmed, version: confirmed.version + 1 };
  return { state, write: { projection: projectionOf(state), writeSeq, attempt: reportRow(sent, 'Successful', null, completedAt) } };
}

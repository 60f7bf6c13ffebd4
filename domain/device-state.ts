/**
 * The device entity's state and every decision the device workflow takes, as pure functions:
 * applying MDM events (with per-kind ordering), what must be reported to Microsoft, and the
 * "Azure Device Details" fields of design.md §2. The workflow only sequences these and runs activities.
 *
 * State is plain JSON (it crosses continue-as-new and is returned by the `state` query).
 */
import type { AzureComplianceStatus, ClientStatusCode, ManagementState, Platform, PolicyAction, ReportedCompliance, ReportTrigger } from './constants';
import type { DeviceEvent, Inventory } from './events';
import { clientStatusError, type DeviceError } from './client-status';
import { isStale, recordApplied, type LastApplied } from './ordering';
import { resolvePolicy } from './policy';

export type { DeviceError };

/** Exactly what one upload tells Microsoft about a device. */
export interface ReportPayload {
  managementState: ManagementState;
  complianceStatus: ReportedCompliance;
  azureDeviceId: string;
  userPrincipalName: string | null;
  platform: Platform | null;
  inventory: Inventory | null;
}

/**
 * What the Microsoft client looked up for the device's last upload: the user's Entra object id, and
 * Entra's name and OS of a device that has sent no inventory. Kept in the state so later reports skip
 * the lookups (a weekly report is then exactly one upload and one status poll, whatever worker runs
 * it); used only while the UPN and the Azure device id are the ones looked up, and forgotten when
 * Microsoft says the user or the device is unknown.
 */
export interface EntraLookups {
  userPrincipalName: string;
  azureDeviceId: string;
  userId: string;
  device?: { displayName: string | null; operatingSystem: string | null };
}

export interface DeviceState {
  tenantId: string;
  deviceId: string;
  /** Version of the read-model row; strictly increases with every projection write. */
  version: number;
  /** Count of report attempts in this lifecycle (names timeline rows deterministically). */
  attempts: number;
  lastApplied: LastApplied;
  platform: Platform | null;
  azureDeviceId: string | null;
  clientStatusCode: ClientStatusCode | null;
  userPrincipalName: string | null;
  actions: PolicyAction[];
  inventory: Inventory | null;
  /** Set once a retire event or the RETIRE action is applied; the lifecycle then ends. */
  retiredAt: string | null;
  /**
   * The payload of the last upload attempt (null when none, or when it must be re-sent whatever
   * happens: after a blocked or skipped report). A change is reported only when what should be
   * reported differs from it (design.md §3 decision 2: coalescing).
   */
  lastAttempted: ReportPayload | null;
  /** How the last attempt ended; restored when the state flips back to what was last sent. */
  attemptResult: { status: AzureComplianceStatus; reportTime: string | null } | null;
  /** The first reason the pending change must be reported, for the timeline. */
  pendingTrigger: ReportTrigger | null;
  /** A report asked for regardless of change (weekly, manual, enable, resync). */
  forced: { trigger: ReportTrigger; operationId?: string } | null;
  /**
   * Fleet operations already taken into account, newest last (bounded): a sweep whose activity is
   * retried after a crash may signal a device twice; the device reports once per operation.
   * Optional because states recorded before it existed lack it.
   */
  recentOperations?: string[];
  /** Optional because states recorded before it existed lack it. */
  entra?: EntraLookups;
  status: AzureComplianceStatus | null;
  reportTime: string | null;
  lastAttemptAt: string | null;
  lastSuccessfulReportAt: string | null;
  lastError: DeviceError | null;
  counters: { eventsApplied: number; eventsStale: number; eventsRefused: number; uploads: number };
}

export function initialState(tenantId: string, deviceId: string, version: number): DeviceState {
  return {
    tenantId,
    deviceId,
    version,
    attempts: 0,
    lastApplied: {},
    platform: null,
    azureDeviceId: null,
    clientStatusCode: null,
    userPrincipalName: null,
    actions: [],
    inventory: null,
    retiredAt: null,
    lastAttempted: null,
    attemptResult: null,
    pendingTrigger: null,
    forced: null,
    recentOperations: [],
    status: null,
    reportTime: null,
    lastAttemptAt: null,
    lastSuccessfulReportAt: null,
    lastError: null,
    counters: { eventsApplied: 0, eventsStale: 0, eventsRefused: 0, uploads: 0 },
  };
}

export function policyOf(state: DeviceState): { policyAction: PolicyAction | null; managementState: ManagementState; complianceStatus: ReportedCompliance } {
  return resolvePolicy(state.actions);
}

/** What should be reported now, or null when the device has no Azure device ID to report for. */
export function desiredPayload(state: DeviceState): ReportPayload | null {
  if (state.clientStatusCode !== 'Success' || state.azureDeviceId === null) return null;
  const policy = state.retiredAt !== null ? resolvePolicy(['RETIRE']) : policyOf(state);
  return {
    managementState: policy.managementState,
    complianceStatus: policy.complianceStatus,
    azureDeviceId: state.azureDeviceId,
    userPrincipalName: state.userPrincipalName,
    platform: state.platform,
    inventory: state.inventory,
  };
}

export function samePayload(a: ReportPayload | null, b: ReportPayload | null): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export type ApplyOutcome = 'applied' | 'stale' | 'refused';

/**
 * Applies one MDM event. An event older than the newest applied of its kind is stale and changes
 * nothing; any event but a registration is refused once the device is retired (a registration for a
 * retired device is a new lifecycle, which the workflow starts itself).
 */
export function applyEvent(state: DeviceState, event: DeviceEvent): { state: DeviceState; outcome: ApplyOutcome } {
  if (state.retiredAt !== null) {
    return { state: bump(state, { eventsRefused: 1 }), outcome: 'refused' };
  }
  if (isStale(state.lastApplied, event.type, event.occurredAt)) {
    return { state: bump(state, { eventsStale: 1 }), outcome: 'stale' };
  }
  const before = desiredPayload(state);
  const next: DeviceState = { ...state, lastApplied: recordApplied(state.lastApplied, event.type, event.occurredAt) };
  switch (event.type) {
    case 'registration':
      next.platform = event.platform;
      next.azureDeviceId = event.azureDeviceId;
      next.clientStatusCode = event.clientStatusCode;
      if (event.userPrincipalName !== undefined) next.userPrincipalName = event.userPrincipalName;
      break;
    case 'compliance':
      next.actions = [...event.actions];
      if (event.actions.includes('RETIRE')) next.retiredAt = event.occurredAt;
      break;
    case 'inventory':
      next.inventory = { ...event.inventory };
      break;
    case 'retire':
      next.retiredAt = event.occurredAt;
      break;
  }
  const trigger: ReportTrigger = next.retiredAt !== null ? 'retire' : event.type;
  const after = desiredPayload(next);
  const becameReportable = before === null && after !== null;
  if (!samePayload(before, after) || becameReportable || event.type === 'retire' || next.retiredAt !== null) {
    next.pendingTrigger = next.retiredAt !== null ? 'retire' : (state.pendingTrigger ?? trigger);
  }
  return { state: bump(refreshStatus(next), { eventsApplied: 1 }), outcome: 'applied' };
}

/** Asks for a report of the current state whatever changed (weekly, manual sync, enable, resync). */
export const RECENT_OPERATIONS_KEPT = 16;

export function requestReport(state: DeviceState, trigger: ReportTrigger, operationId?: string): DeviceState {
  if (state.retiredAt !== null) return state;
  const recent = state.recentOperations ?? [];
  if (operationId !== undefined && recent.includes(operationId)) return state;
  return {
    ...state,
    forced: state.forced ?? { trigger, ...(operationId !== undefined ? { operationId } : {}) },
    ...(operationId !== undefined ? { recentOperations: [...recent, operationId].slice(-RECENT_OPERATIONS_KEPT) } : {}),
  };
}

/**
 * The status fields that follow from the state alone, between reports (design.md §2): no Azure
 * device ID yet → In-progress (nothing can be sent); a client status other than Success → Failed
 * with the client's error; a state not yet confirmed by Microsoft → In-progress, report time null.
 */
function refreshStatus(state: DeviceState): DeviceState {
  if (state.clientStatusCode === null) {
    return { ...state, status: 'In-progress', reportTime: null };
  }
  const clientError = state.clientStatusCode === 'Success' && state.azureDeviceId === null
    ? { code: 'Internal_Error', message: 'The device registered with status Success but without an Azure device ID.', userCanMitigate: false, remediation: 'Ask the MDM to resend the registration with the Azure device ID.' }
    : clientStatusError(state.clientStatusCode);
  if (clientError !== null) {
    return { ...state, status: 'Failed', reportTime: null, lastError: clientError };
  }
  if (state.lastAttempted === null || !samePayload(desiredPayload(state), state.lastAttempted)) {
    return { ...state, status: 'In-progress', reportTime: null };
  }
  // Back to what was last sent: its outcome describes the device again.
  const result = state.attemptResult ?? { status: 'In-progress' as const, reportTime: null };
  return { ...state, status: result.status, reportTime: result.reportTime };
}

export type NextStep =
  | { kind: 'idle' }
  /** Something must be reported but the device has no usable Azure device ID (status already says why). */
  | { kind: 'blocked'; trigger: ReportTrigger; error: DeviceError | null }
  | { kind: 'report'; trigger: ReportTrigger; payload: ReportPayload; operationId?: string };

/** What the workflow must do next, given the state after all pending events were applied. */
export function nextStep(state: DeviceState): NextStep {
  const payload = desiredPayload(state);
  const changed = state.pendingTrigger !== null && !samePayload(payload, state.lastAttempted);
  const trigger = changed ? state.pendingTrigger : state.forced?.trigger ?? null;
  if (trigger === null) return { kind: 'idle' };
  if (payload === null) {
    // Before any registration there is nothing to report yet, and nothing has failed.
    if (state.clientStatusCode === null) return { kind: 'idle' };
    return { kind: 'blocked', trigger, error: state.lastError };
  }
  const operationId = !changed ? state.forced?.operationId : undefined;
  return { kind: 'report', trigger, payload, ...(operationId !== undefined ? { operationId } : {}) };
}

/** A report is starting: record what is sent, so later events are compared against it. */
export function startReport(state: DeviceState, payload: ReportPayload, at: string): DeviceState {
  // Re-reporting an unchanged, confirmed state (weekly, manual) keeps it Successful meanwhile.
  const reconfirming = state.status === 'Successful' && samePayload(payload, state.lastAttempted);
  return {
    ...state,
    lastAttempted: payload,
    attemptResult: reconfirming ? state.attemptResult : { status: 'In-progress', reportTime: null },
    pendingTrigger: null,
    forced: null,
    attempts: state.attempts + 1,
    lastAttemptAt: at,
    status: reconfirming ? 'Successful' : 'In-progress',
    reportTime: reconfirming ? state.reportTime : null,
    counters: { ...state.counters, uploads: state.counters.uploads + 1 },
  };
}

/** The pending request could not be sent (no Azure device ID): drop it, keep the client's error. */
export function blockReport(state: DeviceState): DeviceState {
  return { ...state, lastAttempted: null, attemptResult: null, pendingTrigger: null, forced: null, attempts: state.attempts + 1 };
}

/** Reporting is switched off: nothing is sent; the state is reported once it is switched on again. */
export function skipReport(state: DeviceState): DeviceState {
  return { ...state, lastAttempted: null, attemptResult: null, pendingTrigger: null, forced: null, status: 'In-progress', reportTime: null };
}

/** Microsoft confirmed the report (`Completed`) at `completedAt`. */
export function reportSucceeded(state: DeviceState, payload: ReportPayload, completedAt: string): DeviceState {
  const next: DeviceState = {
    ...state,
    attemptResult: { status: 'Successful', reportTime: completedAt },
    lastSuccessfulReportAt: completedAt,
    lastError: null,
  };
  // A newer state may have arrived meanwhile: then it is what the details describe, not yet reported.
  return refreshStatus(next);
}

/** The report was rejected, or could not be delivered after every retry. */
export function reportFailed(state: DeviceState, error: DeviceError): DeviceState {
  const next: DeviceState = { ...state, attemptResult: { status: 'Failed', reportTime: null }, lastError: error };
  // The user or device may have been deleted and created again under a new id: look it up next time.
  if (error.code === 'UserNotFound' || error.code === 'DeviceNotFound') delete next.entra;
  return samePayload(desiredPayload(state), state.lastAttempted) ? { ...next, status: 'Failed', reportTime: null } : refreshStatus(next);
}

/** The lookups kept for this payload's user and device, if they still apply. */
export function lookupsFor(state: DeviceState, payload: ReportPayload): EntraLookups | undefined {
  const e = state.entra;
  if (!e || payload.userPrincipalName === null) return undefined;
  const sameUser = e.userPrincipalName.toLowerCase() === payload.userPrincipalName.toLowerCase();
  return sameUser && e.azureDeviceId.toLowerCase() === payload.azureDeviceId.toLowerCase() ? e : undefined;
}

/** Keeps what the last upload looked up, for the next reports. */
export function rememberLookups(state: DeviceState, lookups: EntraLookups): DeviceState {
  return { ...state, entra: lookups };
}

/**
 * Task-queue priority of a report's upload (1 runs first, Temporal's default is 3): a changed device
 * state (what Conditional Access acts on) goes ahead of an admin's sync, and both ahead of the
 * re-reports of a fleet sweep, so a weekly sweep of the whole fleet never delays them. The status
 * polls of an upload already sent run at STATUS_POLL_PRIORITY: what was started finishes first.
 */
export const STATUS_POLL_PRIORITY = 1;

export function reportPriority(trigger: ReportTrigger): 1 | 2 | 4 {
  switch (trigger) {
    case 'compliance':
    case 'inventory':
    case 'registration':
    case 'retire':
      return 1;
    case 'manual':
      return 2;
    case 'weekly':
    case 'enable':
    case 'resync':
      return 4;
  }
}

function bump(state: DeviceState, by: Partial<DeviceState['counters']>): DeviceState {
  const c = state.counters;
  return {
    ...state,
    counters: {
      eventsApplied: c.eventsApplied + (by.eventsApplied ?? 0),
      eventsStale: c.eventsStale + (by.eventsStale ?? 0),
      eventsRefused: c.eventsRefused + (by.eventsRefused ?? 0),
      uploads: c.uploads,
    },
  };
}

/** The read-model row of the device (db `devices`), written by the workflow's activity. */
export function projectionOf(state: DeviceState) {
  const policy = policyOf(state);
  const reported = desiredPayload(state);
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
    reportedCompliance: reported?.complianceStatus ?? (state.retiredAt !== null ? 'notCompliant' : policy.complianceStatus),
    managementState: reported?.managementState ?? (state.retiredAt !== null ? 'notManaged' : policy.managementState),
    inventory: state.inventory as Record<string, unknown> | null,
    lastAttemptAt: state.lastAttemptAt,
    lastSuccessfulReportAt: state.lastSuccessfulReportAt,
    lastError: state.lastError,
    retiredAt: state.retiredAt,
    version: state.version,
  };
}

/** One line for the Temporal UI's "current details". */
export function summaryLine(state: DeviceState): string {
  const policy = policyOf(state);
  return [
    `status=${state.status ?? 'none'}`,
    `client=${state.clientStatusCode ?? 'none'}`,
    `action=${policy.policyAction ?? 'none'}`,
    `reported=${state.lastAttempted ? `${state.lastAttempted.managementState}/${state.lastAttempted.complianceStatus}` : 'none'}`,
    `reportTime=${state.reportTime ?? 'none'}`,
    state.retiredAt ? `retiredAt=${state.retiredAt}` : '',
    state.lastError ? `error=${state.lastError.code}` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

/**
 * The device entity's state and every decision the device workflow takes, as pure functions:
 * applying MDM events (ordering per device across lifecycles), what must be reported to Microsoft and
 * to which Azure device ids, and the "Azure Device Details" fields (docs/product-rules.md). The workflow
 * only sequences these and runs activities.
 *
 * State is plain JSON (it crosses continue-as-new and is returned by the `state` query).
 */
import type {
  AzureComplianceStatus,
  ClientStatusCode,
  ManagementState,
  Platform,
  PolicyAction,
  ReportedCompliance,
  ReportTrigger,
} from './constants';
import type { ComplianceEvent, DeviceEvent, Inventory } from './events';
import { clientStatusError, type DeviceError } from './client-status';
import { compareOccurredAt, isStaleInLifecycle, recordApplied, type LastApplied } from './ordering';
import { CLIENT_STATUS_CODES } from './constants';
import { isFailureReason, isRetryableReason } from './failure-reasons';
import type { AzureDrift, DriftFinding } from './drift';
import { graceMs, type Grace, type GraceChange, type GraceContext } from './grace';
import { resolvePolicy, type ReportedState } from './policy';

export type { DeviceError, Grace, GraceChange, GraceContext };

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

/**
 * An Azure device id reported to in the current lifecycle, and the most permissive state Microsoft may
 * still hold for it. Kept so that an id the device no longer uses (its registration changed id or
 * failed) still receives a change to non-compliant and the removal of a retire.
 */
export interface ReportedTarget {
  azureDeviceId: string;
  userPrincipalName: string | null;
  platform: Platform | null;
  inventory: Inventory | null;
  /**
   * Restriction level Microsoft confirmed last (0 managed + compliant, 1 managed + notCompliant,
   * 2 notManaged + notCompliant), or -1 when a sent state may have landed unconfirmed.
   */
  confirmedLevel: number;
}

export interface DeviceState {
  tenantId: string;
  deviceId: string;
  /** Version of the read-model row; strictly increases with every projection write. */
  version: number;
  /** Count of report attempts over the device's whole life (names timeline rows deterministically). */
  attempts: number;
  /** Newest `occurredAt` applied per event kind, over every lifecycle of the device. */
  lastApplied: LastApplied;
  /** The retire that closed the previous lifecycle, and the registration that opened this one. */
  closedAt?: string | null;
  openedAt?: string | null;
  /** 1 for the device's first lifecycle, +1 at every re-enrolment. Optional: older states lack it. */
  lifecycle?: number;
  platform: Platform | null;
  azureDeviceId: string | null;
  clientStatusCode: ClientStatusCode | null;
  userPrincipalName: string | null;
  actions: PolicyAction[];
  inventory: Inventory | null;
  /** Set once a retire event or the RETIRE action is applied; the lifecycle then ends. */
  retiredAt: string | null;
  /**
   * A restrictive action waiting for its grace period to end (domain/grace.ts); Microsoft keeps the
   * state held before it meanwhile. Optional: older states lack it (no grace).
   */
  grace?: Grace | null;
  /**
   * The payload of the last upload attempt to the current target (null when none, or when it must be
   * re-sent whatever happens: after a blocked or skipped report). A change is reported only when what
   * should be reported differs from it (coalescing).
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
  /** Ids reported to in this lifecycle (the current target among them). Optional: older states lack it. */
  targets?: ReportedTarget[];
  /** The last report failed and must be tried again after a backoff (see reportFailed). */
  retry?: { trigger: ReportTrigger; failures: number } | null;
  /** The last upload found reporting switched off: nothing is tried again until something happens. */
  reportingOff?: boolean;
  /** LastUpdateTime of the last upload: strictly increases per device, so an older upload never wins. */
  lastUpdateTime?: string | null;
  /**
   * The drift reconciliation (domain/drift.ts). Optional: states from before it lack them. `azureDrift`:
   * what the last read-back of Entra found and is not resolved yet ('none' once Entra matched or the
   * re-report was confirmed); `pendingDrift`: what differed, for the timeline rows of the re-report
   * (its retries included) until Microsoft confirms the device's state;
   * `deletedInEntra`: Entra no longer has the device, so nothing is sent until the MDM's next event.
   */
  azureDrift?: AzureDrift;
  pendingDrift?: DriftFinding | null;
  deletedInEntra?: { at: string; azureDeviceId: string } | null;
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

export function policyOf(state: DeviceState): {
  policyAction: PolicyAction | null;
  managementState: ManagementState;
  complianceStatus: ReportedCompliance;
} {
  return resolvePolicy(state.actions);
}

/**
 * What is reported for the device's state, whatever the target: the removal once retired; in a grace
 * period, the state held before the action waiting; else the policy in force.
 */
export function reportedPolicyOf(state: DeviceState): ReportedState & { policyAction: PolicyAction | null } {
  if (state.retiredAt !== null) return resolvePolicy(['RETIRE']);
  const policy = policyOf(state);
  return state.grace ? { ...policy, ...state.grace.held } : policy;
}

/** The Azure device id the full state is reported to: the latest registration's, when it succeeded. */
export function currentTarget(state: DeviceState): string | null {
  return state.clientStatusCode === 'Success' ? state.azureDeviceId : null;
}

/** What should be reported now, or null when the device has no Azure device ID to report for. */
export function desiredPayload(state: DeviceState): ReportPayload | null {
  const target = currentTarget(state);
  if (target === null) return null;
  const policy = reportedPolicyOf(state);
  return {
    managementState: policy.managementState,
    complianceStatus: policy.complianceStatus,
    azureDeviceId: target,
    userPrincipalName: state.userPrincipalName,
    platform: state.platform,
    inventory: state.inventory,
  };
}

/** How restrictive a reported state is: 0 managed + compliant, 1 managed + notCompliant, 2 removed. */
export function restrictionLevel(p: { managementState: ManagementState; complianceStatus: ReportedCompliance }): number {
  if (p.managementState === 'notManaged') return 2;
  return p.complianceStatus === 'notCompliant' ? 1 : 0;
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

/**
 * `held`: a registration that opens the device's next lifecycle while the retire of this one still
 * owes Microsoft its removal; the workflow keeps it, and every event after it, until the removal is
 * confirmed.
 */
export type ApplyOutcome = 'applied' | 'stale' | 'refused' | 'held';

/**
 * Applies one MDM event (docs/product-rules.md). An event older than the newest applied of its kind,
 * or older than the retire that closed the previous lifecycle, is stale; so is a retire older than the
 * registration that opened this lifecycle. On a retired device every event but a registration is
 * refused; a registration at or after the retire opens the next lifecycle (re-enrolment).
 */
export function applyEvent(state: DeviceState, event: DeviceEvent, grace?: GraceContext): { state: DeviceState; outcome: ApplyOutcome } {
  if (state.retiredAt !== null) {
    if (event.type !== 'registration') return { state: bump(state, { eventsRefused: 1 }), outcome: 'refused' };
    if (compareOccurredAt(event.occurredAt, state.retiredAt) < 0 || isStaleInLifecycle(state.lastApplied, state, event)) {
      return { state: bump(state, { eventsStale: 1 }), outcome: 'stale' };
    }
    if (owesMicrosoft(state)) return { state, outcome: 'held' };
    return applyEvent(nextLifecycle(state, event.occurredAt), event, grace);
  }
  if (isStaleInLifecycle(state.lastApplied, state, event)) {
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
      next.grace = graceAfter(state, next, event, grace);
      // A RETIRE in its grace has not retired the device yet: it is retired when the grace ends.
      if (event.actions.includes('RETIRE') && next.grace?.action !== 'RETIRE') next.retiredAt = event.occurredAt;
      break;
    case 'inventory':
      next.inventory = { ...event.inventory };
      break;
    case 'retire':
      next.retiredAt = event.occurredAt;
      break;
  }
  // A retire is never held back: its removal is owed at once.
  if (next.retiredAt !== null && next.grace) next.grace = null;
  const trigger: ReportTrigger = next.retiredAt !== null ? 'retire' : event.type;
  const after = desiredPayload(next);
  const becameReportable = before === null && after !== null;
  if (!samePayload(before, after) || becameReportable || event.type === 'retire' || next.retiredAt !== null) {
    next.pendingTrigger = next.retiredAt !== null ? 'retire' : (state.pendingTrigger ?? trigger);
  }
  // Reporting may be on again: the change is tried (the upload finds out).
  if (next.reportingOff) next.reportingOff = false;
  return { state: bump(refreshStatus(next), { eventsApplied: 1 }), outcome: 'applied' };
}

/**
 * The grace after a compliance event (docs/product-rules.md, "Grace periods"). The actions that make
 * the device more restrictive than what Microsoft holds now wait, if every one of them has a grace,
 * until the shortest grace ends, counted from the event's `occurredAt` (the MDM's time: an event
 * delivered late has used up part of its grace). A grace never grows: a later event can only shorten
 * it. Back at or below what Microsoft holds, there is no grace (it is cleared, nothing is reported).
 */
function graceAfter(state: DeviceState, next: DeviceState, event: ComplianceEvent, context: GraceContext | undefined): Grace | null {
  const prior = state.grace ?? null;
  const held = prior?.held ?? pick(reportedPolicyOf(state));
  const policy = policyOf(next);
  if (context === undefined || policy.policyAction === null || restrictionLevel(policy) <= restrictionLevel(held)) return null;
  const raising = next.actions.filter((a) => restrictionLevel(resolvePolicy([a])) > restrictionLevel(held));
  const graces = raising.map((a) => graceMs(context.periods, a));
  if (graces.some((ms) => ms === null)) return null;
  const ends = Date.parse(event.occurredAt) + Math.min(...(graces as number[]));
  const until = prior ? Math.min(ends, Date.parse(prior.until)) : ends;
  if (until <= Date.parse(context.now)) return null;
  const since = prior?.action === policy.policyAction ? prior.since : event.occurredAt;
  return { action: policy.policyAction, since, until: new Date(until).toISOString(), held };
}

function pick(p: ReportedState): ReportedState {
  return { managementState: p.managementState, complianceStatus: p.complianceStatus };
}

/** The grace has run out at `now`: the workflow's durable timer fired, or it found it late. */
export function graceDue(state: DeviceState, now: string): boolean {
  return state.retiredAt === null && !!state.grace && Date.parse(now) >= Date.parse(state.grace.until);
}

/**
 * The grace ended and the action still holds (a less restrictive word would have cleared it): the
 * restrictive state is now owed to Microsoft. A RETIRE in grace retires the device now, dated by
 * the event that put it in force.
 */
export function endGrace(state: DeviceState): DeviceState {
  const grace = state.grace;
  if (!grace || state.retiredAt !== null) return state;
  const next: DeviceState = { ...state, grace: null };
  if (grace.action === 'RETIRE') {
    next.retiredAt = grace.since;
    next.pendingTrigger = 'retire';
  } else {
    next.pendingTrigger = state.pendingTrigger ?? 'grace';
  }
  return refreshStatus(next);
}

/** How the grace changed between two states, for the timeline; null when it did not. */
export function graceChange(before: DeviceState, after: DeviceState): GraceChange | null {
  const was = before.grace ?? null;
  const now = after.grace ?? null;
  if (now !== null && (was === null || was.action !== now.action || was.until !== now.until)) {
    return { phase: 'began', action: now.action, until: now.until };
  }
  if (was === null || now !== null) return null;
  const reported = after.retiredAt !== null || restrictionLevel(reportedPolicyOf(after)) > restrictionLevel(was.held);
  return { phase: reported ? 'ended' : 'cleared', action: was.action, until: was.until };
}

/**
 * The state a re-enrolment starts from: the next lifecycle's fields are empty, while what orders
 * events and names writes over the device's whole life is carried.
 */
function nextLifecycle(retired: DeviceState, openedAt: string): DeviceState {
  const fresh = initialState(retired.tenantId, retired.deviceId, retired.version);
  return {
    ...fresh,
    attempts: retired.attempts,
    lastApplied: retired.lastApplied,
    closedAt: retired.retiredAt,
    openedAt,
    lifecycle: (retired.lifecycle ?? 1) + 1,
    recentOperations: retired.recentOperations ?? [],
    lastUpdateTime: retired.lastUpdateTime ?? null,
    lastSuccessfulReportAt: retired.lastSuccessfulReportAt,
    lastAttemptAt: retired.lastAttemptAt,
    counters: { ...retired.counters },
  };
}

/** Asks for a report of the current state whatever changed (weekly, manual sync, enable, resync). */
export const RECENT_OPERATIONS_KEPT = 16;

export function requestReport(state: DeviceState, trigger: ReportTrigger, operationId?: string): DeviceState {
  // A retired device owes at most its removal, which is retried by itself; asking again wakes it up.
  if (state.retiredAt !== null) return state.reportingOff ? { ...state, reportingOff: false } : state;
  // Gone from Entra: only an admin's sync is sent before the MDM's next event (domain/drift.ts).
  if (state.deletedInEntra && trigger !== 'manual') return state;
  const recent = state.recentOperations ?? [];
  if (operationId !== undefined && recent.includes(operationId)) return state;
  return {
    ...state,
    reportingOff: false,
    forced: state.forced ?? { trigger, ...(operationId !== undefined ? { operationId } : {}) },
    ...(operationId !== undefined ? { recentOperations: [...recent, operationId].slice(-RECENT_OPERATIONS_KEPT) } : {}),
  };
}

const CLIENT_CODES: ReadonlySet<string> = new Set(CLIENT_STATUS_CODES);

/**
 * The status fields that follow from the state alone, between reports (docs/product-rules.md): no
 * Azure device ID yet → In-progress (nothing can be sent); a client status other than Success →
 * Failed with the client's error; a state not yet confirmed by Microsoft → In-progress, report time null.
 */
function refreshStatus(state: DeviceState): DeviceState {
  if (state.clientStatusCode === null) {
    return { ...state, status: 'In-progress', reportTime: null };
  }
  const clientError =
    state.clientStatusCode === 'Success' && state.azureDeviceId === null
      ? {
          code: 'Internal_Error',
          message: 'The device registered with status Success but without an Azure device ID.',
          userCanMitigate: false,
          remediation: 'Ask the MDM to resend the registration with the Azure device ID.',
        }
      : clientStatusError(state.clientStatusCode);
  if (clientError !== null) {
    return { ...state, status: 'Failed', reportTime: null, lastError: clientError };
  }
  // The client's earlier error no longer describes the device once it registered successfully.
  const lastError = state.lastError !== null && CLIENT_CODES.has(state.lastError.code) ? null : state.lastError;
  if (state.lastAttempted === null || !samePayload(desiredPayload(state), state.lastAttempted)) {
    return { ...state, lastError, status: 'In-progress', reportTime: null };
  }
  // Back to what was last sent: its outcome describes the device again.
  const result = state.attemptResult ?? { status: 'In-progress' as const, reportTime: null };
  return { ...state, lastError, status: result.status, reportTime: result.reportTime };
}

export type NextStep =
  | { kind: 'idle' }
  /** Something must be reported but the device has no usable Azure device ID (status already says why). */
  | { kind: 'blocked'; trigger: ReportTrigger; error: DeviceError | null }
  /**
   * `former`: a restrictive state (non-compliant, removal) for an id the device no longer reports its
   * full state to; `retryOf`: how many attempts of this report already failed (the workflow backs off).
   */
  | { kind: 'report'; trigger: ReportTrigger; payload: ReportPayload; operationId?: string; former?: true; retryOf?: number };

/** The restriction level every former target must reach: the removal once retired, else non-compliance. */
function formerLevelOwed(state: DeviceState): number {
  if (state.retiredAt !== null) return 2;
  return restrictionLevel(reportedPolicyOf(state)) >= 1 ? 1 : 0;
}

function formerPayload(t: ReportedTarget, level: number): ReportPayload {
  return {
    managementState: level >= 2 ? 'notManaged' : 'managed',
    complianceStatus: 'notCompliant',
    azureDeviceId: t.azureDeviceId,
    userPrincipalName: t.userPrincipalName,
    platform: t.platform,
    inventory: t.inventory,
  };
}

/** The ids reported to in this lifecycle that are no longer the current target, with what each is owed. */
function formersOwed(state: DeviceState): Array<{ target: ReportedTarget; level: number }> {
  const current = currentTarget(state);
  const level = formerLevelOwed(state);
  if (level === 0) return [];
  return (state.targets ?? []).filter((t) => t.azureDeviceId !== current && t.confirmedLevel < level).map((target) => ({ target, level }));
}

/** The removal of the current target is not confirmed yet. */
function currentRemovalOwed(state: DeviceState): boolean {
  const payload = desiredPayload(state);
  return (
    state.retiredAt !== null &&
    payload !== null &&
    !(samePayload(payload, state.lastAttempted) && state.attemptResult?.status === 'Successful')
  );
}

/**
 * A retired device still owes Microsoft a removal (of its current or a former id). Its lifecycle is
 * over only once every removal is confirmed: until then it retries, however long that takes.
 */
export function owesMicrosoft(state: DeviceState): boolean {
  return state.retiredAt !== null && (currentRemovalOwed(state) || formersOwed(state).length > 0);
}

/** What the workflow must do next, given the state after all pending events were applied. */
export function nextStep(state: DeviceState): NextStep {
  if (state.reportingOff) return { kind: 'idle' };
  const payload = desiredPayload(state);
  const retryOf = state.retry ? { retryOf: state.retry.failures } : {};
  if (payload !== null) {
    if (state.pendingTrigger !== null && !samePayload(payload, state.lastAttempted)) {
      return { kind: 'report', trigger: state.pendingTrigger, payload };
    }
    if (currentRemovalOwed(state)) return { kind: 'report', trigger: 'retire', payload, ...retryOf };
    if (state.retry && samePayload(payload, state.lastAttempted) && state.attemptResult?.status === 'Failed') {
      return { kind: 'report', trigger: state.retry.trigger, payload, ...retryOf };
    }
    if (state.forced) {
      const operationId = state.forced.operationId;
      return { kind: 'report', trigger: state.forced.trigger, payload, ...(operationId !== undefined ? { operationId } : {}) };
    }
  }
  const [owed] = formersOwed(state);
  if (owed) {
    return {
      kind: 'report',
      trigger: state.retiredAt !== null ? 'retire' : 'compliance',
      payload: formerPayload(owed.target, owed.level),
      former: true,
      ...retryOf,
    };
  }
  const trigger = state.pendingTrigger ?? state.forced?.trigger ?? null;
  // Before any registration there is nothing to report yet, and nothing has failed.
  if (payload !== null || trigger === null || state.clientStatusCode === null) return { kind: 'idle' };
  return { kind: 'blocked', trigger, error: state.lastError };
}

/**
 * LastUpdateTime of the next upload: the newest event time, and always after the previous upload's,
 * so Microsoft (which keeps the message with the newest LastUpdateTime) never lets an older one win.
 */
export function nextUpdateTime(state: DeviceState, now: string): string {
  const newest =
    Object.values(state.lastApplied)
      .filter((t): t is string => typeof t === 'string')
      .reduce<string | null>((a, b) => (a === null || compareOccurredAt(b, a) > 0 ? b : a), null) ?? now;
  const previous = state.lastUpdateTime ? Date.parse(state.lastUpdateTime) : Number.NEGATIVE_INFINITY;
  return Date.parse(newest) > previous ? newest : new Date(previous + 1).toISOString();
}

function withTarget(state: DeviceState, payload: ReportPayload, level: (previous: number) => number): ReportedTarget[] {
  const targets = state.targets ?? [];
  const existing = targets.find((t) => t.azureDeviceId === payload.azureDeviceId);
  const record: ReportedTarget = {
    azureDeviceId: payload.azureDeviceId,
    userPrincipalName: payload.userPrincipalName,
    platform: payload.platform,
    inventory: payload.inventory,
    confirmedLevel: level(existing?.confirmedLevel ?? -1),
  };
  // Bounded: a device re-registering under new ids again and again keeps its most recent ones.
  return [...targets.filter((t) => t.azureDeviceId !== payload.azureDeviceId), record].slice(-8);
}

/**
 * An upload is about to leave: from now on it may land at Microsoft, even if it is superseded or its
 * outcome never comes back. Its target counts as reported to (a former id later gets what is owed),
 * and its LastUpdateTime is the device's newest.
 */
export function uploadLeaving(state: DeviceState, payload: ReportPayload, lastUpdateTime: string): DeviceState {
  const sentLevel = restrictionLevel(payload);
  return { ...state, lastUpdateTime, targets: withTarget(state, payload, (previous) => Math.min(previous, sentLevel)) };
}

/** A report is starting: record what is sent, so later events are compared against it. */
export function startReport(state: DeviceState, payload: ReportPayload, at: string, former = false): DeviceState {
  // Until Microsoft confirms it, a less restrictive state than the one confirmed may be what it holds.
  const sentLevel = restrictionLevel(payload);
  const targets = withTarget(state, payload, (previous) => Math.min(previous, sentLevel));
  const counters = { ...state.counters, uploads: state.counters.uploads + 1 };
  if (former) return { ...state, targets, attempts: state.attempts + 1, reportingOff: false, counters };
  // Re-reporting an unchanged, confirmed state (weekly, manual) keeps it Successful meanwhile.
  const reconfirming = state.status === 'Successful' && samePayload(payload, state.lastAttempted);
  return {
    ...state,
    targets,
    lastAttempted: payload,
    attemptResult: reconfirming ? state.attemptResult : { status: 'In-progress', reportTime: null },
    pendingTrigger: null,
    forced: null,
    reportingOff: false,
    attempts: state.attempts + 1,
    lastAttemptAt: at,
    status: reconfirming ? 'Successful' : 'In-progress',
    reportTime: reconfirming ? state.reportTime : null,
    counters,
  };
}

/** The pending request could not be sent (no Azure device ID): drop it, keep the client's error. */
export function blockReport(state: DeviceState): DeviceState {
  return { ...state, lastAttempted: null, attemptResult: null, pendingTrigger: null, forced: null, attempts: state.attempts + 1 };
}

/** Reporting is switched off: nothing is sent; the state is reported once it is switched on again. */
export function skipReport(state: DeviceState): DeviceState {
  return refreshStatus({
    ...state,
    lastAttempted: null,
    attemptResult: null,
    pendingTrigger: null,
    forced: null,
    retry: null,
    reportingOff: true,
  });
}

/** Microsoft confirmed the report (`Completed`) at `completedAt`. */
export function reportSucceeded(state: DeviceState, payload: ReportPayload, completedAt: string, former = false): DeviceState {
  const targets = withTarget(state, payload, () => restrictionLevel(payload));
  if (former) return { ...state, targets, retry: null };
  const next: DeviceState = {
    ...state,
    targets,
    retry: null,
    attemptResult: { status: 'Successful', reportTime: completedAt },
    lastSuccessfulReportAt: completedAt,
    lastError: null,
  };
  // A newer state may have arrived meanwhile: then it is what the details describe, not yet reported.
  return refreshStatus(next);
}

/**
 * The report was rejected, or could not be delivered after every retry of its activity. It is tried
 * again (after a backoff) when the reason may clear by itself, and always when it takes something
 * away — a removal, or non-compliance for an id the device no longer uses — since Microsoft must never
 * stay more permissive than the MDM. Entra not knowing the device completes a removal: nothing is left
 * to remove.
 */
export function reportFailed(
  state: DeviceState,
  error: DeviceError,
  payload: ReportPayload | null = state.lastAttempted,
  former = false,
  trigger: ReportTrigger = payload?.managementState === 'notManaged' ? 'retire' : 'compliance',
): DeviceState {
  const restrictive = payload !== null && (former || payload.managementState === 'notManaged');
  if (restrictive && error.code === 'DeviceNotFound') {
    return reportSucceeded(state, payload!, state.lastAttemptAt ?? '', former);
  }
  const retry =
    restrictive || (isFailureReason(error.code) && isRetryableReason(error.code))
      ? { trigger: state.retry?.trigger ?? trigger, failures: (state.retry?.failures ?? 0) + 1 }
      : null;
  if (former) return { ...state, retry };
  const next: DeviceState = { ...state, retry, attemptResult: { status: 'Failed', reportTime: null }, lastError: error };
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

/**
 * Drift (docs/product-rules.md, Drift): what Entra holds for a device no longer matches what Microsoft
 * last confirmed of the device's report — someone changed the device in Entra, Microsoft lost or let
 * expire its compliance, or the device was deleted in Entra. The reconciliation reads Entra back and
 * hands the device workflow what it saw; these pure rules decide, from the workflow's own state (never
 * from the read model), whether that is drift, and what the workflow does about it.
 */
import { currentTarget, desiredPayload, samePayload, RECENT_OPERATIONS_KEPT, type DeviceState, type ReportPayload } from './device-state';
import { deviceErrorFor } from './failure-reasons';

/** Kinds of drift, most serious first: the first one found is the device's `AzureDrift` search attribute. */
export const DRIFT_KINDS = ['deleted', 'managed', 'compliance', 'expired'] as const;
export type DriftKind = (typeof DRIFT_KINDS)[number];
/** The `AzureDrift` search attribute: the unresolved drift of the last read-back, or 'none'. */
export type AzureDrift = DriftKind | 'none';

/** The properties of an Entra device the reconciliation reads (Graph `$select`). */
export interface EntraDeviceState {
  isCompliant: boolean | null;
  isManaged: boolean | null;
  complianceExpirationDateTime: string | null;
}

/** What the reconciliation read from Entra for one Azure device id. */
export interface EntraObservation {
  operationId: string;
  azureDeviceId: string;
  /** When Entra was read (expiry is judged against it). */
  observedAt: string;
  /** null: Entra has no device with this id. */
  entra: EntraDeviceState | null;
}

export interface DriftDifference {
  kind: DriftKind;
  property: 'device' | 'isManaged' | 'isCompliant' | 'complianceExpirationDateTime';
  /** What the last confirmed report implies Entra holds. */
  expected: string | boolean | null;
  found: string | boolean | null;
}

/** What differed, as the `drift` timeline row shows it. */
export interface DriftFinding {
  operationId: string;
  azureDeviceId: string;
  observedAt: string;
  kinds: DriftKind[];
  differences: DriftDifference[];
}

/**
 * Compares what Microsoft last confirmed with what Entra holds. Expiry matters only for a device
 * reported compliant: an expired verdict makes it non-compliant in Entra, which is the drift; a
 * non-compliant device with an expired verdict is as restrictive as reported.
 */
export function compareWithEntra(
  confirmed: Pick<ReportPayload, 'managementState' | 'complianceStatus'>,
  entra: EntraDeviceState | null,
  observedAt: string,
): DriftDifference[] {
  if (entra === null) return [{ kind: 'deleted', property: 'device', expected: 'present', found: null }];
  const differences: DriftDifference[] = [];
  const managed = confirmed.managementState === 'managed';
  const compliant = confirmed.complianceStatus === 'compliant';
  if (entra.isManaged !== managed) differences.push({ kind: 'managed', property: 'isManaged', expected: managed, found: entra.isManaged });
  if (entra.isCompliant !== compliant) {
    differences.push({ kind: 'compliance', property: 'isCompliant', expected: compliant, found: entra.isCompliant });
  } else if (compliant && entra.complianceExpirationDateTime !== null) {
    const expires = Date.parse(entra.complianceExpirationDateTime);
    if (!Number.isNaN(expires) && expires <= Date.parse(observedAt)) {
      differences.push({
        kind: 'expired',
        property: 'complianceExpirationDateTime',
        expected: `later than ${observedAt}`,
        found: entra.complianceExpirationDateTime,
      });
    }
  }
  return differences.sort((a, b) => DRIFT_KINDS.indexOf(a.kind) - DRIFT_KINDS.indexOf(b.kind));
}

/**
 * The report Microsoft last confirmed, when it is still what the device should hold and nothing else
 * is under way: no report due, in flight, failed or waiting for reporting to come back. Otherwise
 * null: the report under way settles the device anyway, and Entra may rightly differ meanwhile.
 */
export function settledReport(state: DeviceState): ReportPayload | null {
  const last = state.lastAttempted;
  if (last === null || state.attemptResult?.status !== 'Successful') return null;
  if (state.pendingTrigger !== null || state.forced !== null || state.retry || state.reportingOff) return null;
  return samePayload(desiredPayload(state), last) ? last : null;
}

export type ObservationOutcome =
  /** Not about this device's current Azure device id, retired, or this operation was taken already. */
  | 'ignored'
  /** A report is due or under way, or the device is marked deleted: nothing to compare with. */
  | 'unsettled'
  | 'none'
  | 'drift'
  | 'deleted';

/**
 * Applies what the reconciliation read from Entra. Drift asks for a re-report of the current state
 * (trigger `drift`, the device shows In-progress until Microsoft confirms it); a device gone from
 * Entra is marked Failed with `DeletedInEntra` and nothing is sent until the MDM's next event.
 */
export function observeEntra(
  state: DeviceState,
  seen: EntraObservation,
): { state: DeviceState; outcome: ObservationOutcome; finding: DriftFinding | null } {
  const ignored = { state, outcome: 'ignored' as const, finding: null };
  const target = currentTarget(state);
  if (state.retiredAt !== null || target === null || target.toLowerCase() !== seen.azureDeviceId.toLowerCase()) return ignored;
  const recent = state.recentOperations ?? [];
  if (recent.includes(seen.operationId)) return ignored;
  const confirmed = settledReport(state);
  if (confirmed === null || state.deletedInEntra) return { state, outcome: 'unsettled', finding: null };
  const differences = compareWithEntra(confirmed, seen.entra, seen.observedAt);
  if (differences.length === 0) {
    return { state: state.azureDrift === 'none' ? state : { ...state, azureDrift: 'none' }, outcome: 'none', finding: null };
  }
  const finding: DriftFinding = {
    operationId: seen.operationId,
    azureDeviceId: target,
    observedAt: seen.observedAt,
    kinds: differences.map((d) => d.kind),
    differences,
  };
  const taken = { recentOperations: [...recent, seen.operationId].slice(-RECENT_OPERATIONS_KEPT), azureDrift: finding.kinds[0]! };
  if (seen.entra === null) {
    const next: DeviceState = {
      ...state,
      ...taken,
      // Must be sent again whatever happens once the MDM speaks (like a blocked report).
      lastAttempted: null,
      attemptResult: { status: 'Failed', reportTime: null },
      status: 'Failed',
      reportTime: null,
      lastError: deviceErrorFor('DeletedInEntra', `Entra ID no longer has device ${target} (read back at ${seen.observedAt}).`),
      pendingDrift: null,
      deletedInEntra: { at: seen.observedAt, azureDeviceId: target },
    };
    // The device's Entra lookups went with it.
    delete next.entra;
    return { state: next, outcome: 'deleted', finding };
  }
  return {
    state: {
      ...state,
      ...taken,
      forced: { trigger: 'drift', operationId: seen.operationId },
      pendingDrift: finding,
      attemptResult: { status: 'In-progress', reportTime: null },
      status: 'In-progress',
      reportTime: null,
    },
    outcome: 'drift',
    finding,
  };
}

/** The MDM's next event for a device marked deleted in Entra: its state is sent again, whatever changed. */
export function reopenAfterDeletion(state: DeviceState, trigger: DeviceState['pendingTrigger'] & string): DeviceState {
  if (!state.deletedInEntra) return state;
  return { ...state, deletedInEntra: null, azureDrift: 'none', pendingTrigger: state.pendingTrigger ?? trigger };
}

/** Microsoft confirmed the device's current state: whatever drift was found is resolved. */
export function driftResolved(state: DeviceState): DeviceState {
  if (state.azureDrift === undefined || (state.azureDrift === 'none' && !state.deletedInEntra && !state.pendingDrift)) return state;
  return { ...state, azureDrift: 'none', deletedInEntra: null, pendingDrift: null };
}

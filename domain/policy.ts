import { POLICY_ACTIONS, type ManagementState, type PolicyAction, type ReportedCompliance } from './constants';

/** What is reported to Microsoft for a device. */
export interface ReportedState {
  managementState: ManagementState;
  complianceStatus: ReportedCompliance;
}

/**
 * The most restrictive action in force (`RETIRE` > `QUARANTINE` > `BLOCK_APPCONNECT` > `BLOCK_EMAIL` >
 * `SEND_ALERT`), or `null` when none is (`[]`). Duplicates are harmless; values outside the five
 * actions are ignored.
 */
export function mostRestrictiveAction(actions: readonly PolicyAction[]): PolicyAction | null {
  for (const action of POLICY_ACTIONS) {
    if (actions.includes(action)) return action;
  }
  return null;
}

/**
 * What is reported for the action in force (docs/product-rules.md):
 * `RETIRE` → notManaged + notCompliant; `QUARANTINE`, `BLOCK_APPCONNECT`, `BLOCK_EMAIL` →
 * managed + notCompliant; `SEND_ALERT` or no action → managed + compliant.
 * Returns a fresh object on every call.
 */
export function reportedStateFor(action: PolicyAction | null): ReportedState {
  switch (action) {
    case 'RETIRE':
      return { managementState: 'notManaged', complianceStatus: 'notCompliant' };
    case 'QUARANTINE':
    case 'BLOCK_APPCONNECT':
    case 'BLOCK_EMAIL':
      return { managementState: 'managed', complianceStatus: 'notCompliant' };
    case 'SEND_ALERT':
    case null:
      return { managementState: 'managed', complianceStatus: 'compliant' };
  }
}

/** The action in force and what it reports, in one call. */
export function resolvePolicy(actions: readonly PolicyAction[]): ReportedState & { policyAction: PolicyAction | null } {
  const policyAction = mostRestrictiveAction(actions);
  return { policyAction, ...reportedStateFor(policyAction) };
}

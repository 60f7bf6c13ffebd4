/**
 * What the device workflow shows outside itself: the read-model row the API serves (written by its
 * local activity), and the operators' view in Temporal (search attributes and the one-line summary).
 */
import { setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import { desiredPayload, policyOf, reportedPolicyOf, type DeviceState } from '../domain/device-state';
import {
  AzureClientStatusCodeKey,
  AzureDriftKey,
  AzureComplianceStatusKey,
  DeviceIdKey,
  PolicyActionKey,
  RetiredKey,
  TenantIdKey,
} from './search-attributes';

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
    state.grace ? `grace=${state.grace.action} until ${state.grace.until}` : '',
    state.lastError ? `error=${state.lastError.code}` : '',
    state.azureDrift && state.azureDrift !== 'none' ? `drift=${state.azureDrift}` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

/**
 * Keeps the search attributes and the UI's one-line summary current. Search attributes are upserted
 * only when they change: each upsert is an event in the history.
 */
export class OperatorView {
  private publishedKey = '';

  /** The one-line summary only (no history event): the search attributes follow with the next publish. */
  publishDetails(state: DeviceState): void {
    setCurrentDetails(summaryLine(state));
  }

  publish(state: DeviceState): void {
    this.publishDetails(state);
    const values: Array<string | boolean> = [
      state.status ?? 'None',
      state.clientStatusCode ?? 'None',
      policyOf(state).policyAction ?? 'None',
      state.retiredAt !== null,
    ];
    // Only runs that took part in a drift reconciliation carry AzureDrift (older histories replay unchanged).
    if (state.azureDrift !== undefined) values.push(state.azureDrift);
    const key = JSON.stringify(values);
    if (key === this.publishedKey) return;
    this.publishedKey = key;
    upsertSearchAttributes([
      { key: TenantIdKey, value: state.tenantId },
      { key: DeviceIdKey, value: state.deviceId },
      { key: AzureComplianceStatusKey, value: state.status ?? 'None' },
      { key: AzureClientStatusCodeKey, value: state.clientStatusCode ?? 'None' },
      { key: PolicyActionKey, value: policyOf(state).policyAction ?? 'None' },
      { key: RetiredKey, value: state.retiredAt !== null },
      ...(state.azureDrift !== undefined ? [{ key: AzureDriftKey, value: state.azureDrift }] : []),
    ]);
  }
}

/** The device list as CSV (RFC 4180): the API's device details, one row per device. */
import type { DeviceDetails } from './pages/devices';

export const CSV_COLUMNS = [
  'deviceId',
  'platform',
  'userPrincipalName',
  'azureDeviceIdentifier',
  'azureDeviceComplianceStatus',
  'azureClientStatusCode',
  'azureDeviceComplianceReportTime',
  'policyAction',
  'reportedCompliance',
  'managementState',
  'lastAttemptAt',
  'lastSuccessfulReportAt',
  'lastErrorCode',
  'retiredAt',
] as const;

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  let s = String(v);
  // A spreadsheet would run a cell starting with one of these as a formula.
  if (/^[=+@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function devicesCsv(items: DeviceDetails[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const d of items) {
    const row: Record<(typeof CSV_COLUMNS)[number], unknown> = {
      deviceId: d.deviceId,
      platform: d.platform,
      userPrincipalName: d.userPrincipalName,
      azureDeviceIdentifier: d.azureDeviceIdentifier,
      azureDeviceComplianceStatus: d.azureDeviceComplianceStatus,
      azureClientStatusCode: d.azureClientStatusCode,
      azureDeviceComplianceReportTime: d.azureDeviceComplianceReportTime,
      policyAction: d.policyAction,
      reportedCompliance: d.reportedCompliance,
      managementState: d.managementState,
      lastAttemptAt: d.lastAttemptAt,
      lastSuccessfulReportAt: d.lastSuccessfulReportAt,
      lastErrorCode: d.lastError?.code ?? null,
      retiredAt: d.retiredAt,
    };
    lines.push(CSV_COLUMNS.map((k) => cell(row[k])).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

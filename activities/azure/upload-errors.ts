/**
 * An upload message that Intune processed and ended `Failed`: its `ErrorDetail` text classified
 * into a failure reason. The partner API gives no code, only this text.
 */
import type { FailureReason } from '../../domain/failure-reasons';

type UploadFailureReason = Extract<FailureReason, 'DeviceNotFound' | 'UserNotFound' | 'TenantNotProvisioned' | 'UploadRejected'>;

const LABEL: Record<UploadFailureReason, string> = {
  DeviceNotFound: 'Intune rejected the report: the device is not known to Entra ID',
  UserNotFound: 'Intune rejected the report: the user is not known to Entra ID',
  TenantNotProvisioned: 'Intune rejected the report: the tenant is not provisioned for this partner',
  UploadRejected: 'Intune rejected the report',
};

const MISSING = "(?:was\\s+not\\s+found|not\\s+found|does\\s+not\\s+exist|doesn't\\s+exist|is\\s+unknown|not\\s+registered|not\\s+present)";
// "Device '<id>' was not found …", "unknown device …" (not "DeviceId"/"DeviceName" field errors).
const DEVICE_MISSING = new RegExp(`(\\bdevice\\b[^.]*?${MISSING})|(unknown\\s+device\\b)`, 'i');
const USER_MISSING = new RegExp(`(\\buser\\b[^.]*?${MISSING})|(unknown\\s+user\\b)`, 'i');

/** Classifies the `ErrorDetail` of a `Failed` upload message. */
export function describeUploadFailure(errorDetail: string): { reason: UploadFailureReason; message: string } {
  const detail = (errorDetail ?? '').trim();
  const d = detail.search(DEVICE_MISSING);
  const u = detail.search(USER_MISSING);
  let reason: UploadFailureReason = 'UploadRejected';
  if (d >= 0 && (u < 0 || d <= u)) reason = 'DeviceNotFound';
  else if (u >= 0) reason = 'UserNotFound';
  else if (/\btenant\b/i.test(detail) && /(not\s+provisioned|deprovisioned|unprovisioned)/i.test(detail)) reason = 'TenantNotProvisioned';
  return { reason, message: `${LABEL[reason]}${detail ? `: ${detail}` : ''}` };
}

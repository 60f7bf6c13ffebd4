/**
 * What an admin can do about each way a report to Microsoft can fail. The reasons are the closed set
 * the Microsoft client's error mapping produces (activities/azure/errors.ts); unknown ones fall back.
 */
import type { DeviceError } from './device-state';

const GUIDANCE: Record<string, { userCanMitigate: boolean; remediation: string }> = {
  DeviceNotFound: {
    userCanMitigate: true,
    remediation:
      'Entra ID does not know this device ID: have the user register the device again in Microsoft Authenticator, then sync.',
  },
  UserNotFound: {
    userCanMitigate: false,
    remediation: "Check that the user's UPN exists in Entra ID and is licensed for Intune, then sync the device.",
  },
  UserPrincipalNameMissing: {
    userCanMitigate: false,
    remediation: 'The MDM sent no userPrincipalName with the registration: resend the registration with it.',
  },
  InvalidRequest: {
    userCanMitigate: false,
    remediation: 'Microsoft rejected the report as invalid: check the device inventory data and contact support.',
  },
  UploadRejected: {
    userCanMitigate: false,
    remediation: 'Microsoft rejected the report: read the message above, correct the cause, then sync the device.',
  },
  Forbidden: {
    userCanMitigate: false,
    remediation: 'The partner app lacks a permission: grant admin consent again in Entra ID.',
  },
  InvalidCredentials: {
    userCanMitigate: false,
    remediation: 'Check AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (the secret may have expired).',
  },
  TenantNotProvisioned: {
    userCanMitigate: false,
    remediation: 'Add the compliance partner in the Intune admin center and assign the user groups.',
  },
  StatusTimeout: {
    userCanMitigate: false,
    remediation: 'Microsoft did not finish processing the report in time; it is sent again on the next change, sync or weekly report.',
  },
};

const FALLBACK = {
  userCanMitigate: false,
  remediation: 'Microsoft could not be reached after every retry; the report is sent again on the next change, sync or weekly report.',
};

export function azureFailureError(reason: string, message: string): DeviceError {
  return { code: reason, message, ...(GUIDANCE[reason] ?? FALLBACK) };
}

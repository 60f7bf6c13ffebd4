/**
 * Every way a report to Microsoft can fail, in one closed vocabulary. The Microsoft client's error
 * mapping (activities/azure/) produces these and nothing else: an activity's `ApplicationFailure`
 * has the reason as its `type`, so the device workflow reads the reason from what the activity
 * mapped. The workflow adds its own two (`StatusTimeout`, `UserPrincipalNameMissing`).
 *
 * The guidance is a `Record<FailureReason, …>`: adding a reason without its guidance does not
 * compile. What each reason means and how the workflow retries it: docs/product-rules.md.
 */
import type { DeviceError } from './client-status';

export const FAILURE_REASONS = [
  // Retried by the device workflow with backoff.
  'Throttled',
  'Transient',
  'Unauthorized',
  'StatusTimeout',
  // Permanent: the attempt ends as Failed.
  'InvalidCredentials',
  'ConsentRevoked',
  'Forbidden',
  'TenantNotProvisioned',
  'DeviceNotFound',
  'UserNotFound',
  'UserPrincipalNameMissing',
  'InvalidRequest',
  'UploadRejected',
  // Found by the drift reconciliation: nothing is sent until the MDM's next event for the device.
  'DeletedInEntra',
] as const;

export type FailureReason = (typeof FAILURE_REASONS)[number];

export interface FailureGuidance {
  /** Retried with backoff (by Temporal within an attempt, then by the device workflow). */
  retryable: boolean;
  userCanMitigate: boolean;
  remediation: string;
}

const RETRIED =
  'The device workflow sends the report again with backoff until Microsoft confirms it or a newer state of the device supersedes it.';
const ENDED =
  'This attempt ends as Failed: the report is sent again on the next change, sync or weekly report (a retire is sent again until Microsoft confirms it).';

export const FAILURE_GUIDANCE: Readonly<Record<FailureReason, FailureGuidance>> = {
  Throttled: {
    retryable: true,
    userCanMitigate: false,
    remediation: `Microsoft throttled the connector (HTTP 429, or 503 with Retry-After) and asked it to wait. ${RETRIED} Nothing to do unless it lasts: then lower AZURE_MAX_CALLS_PER_SECOND.`,
  },
  Transient: {
    retryable: true,
    userCanMitigate: false,
    remediation: `Microsoft was unavailable or did not answer in time (an HTTP 5xx, a timeout or a network error: the message says which). ${RETRIED} If it lasts, check the Microsoft 365 service health and the network path to Microsoft.`,
  },
  Unauthorized: {
    retryable: true,
    userCanMitigate: false,
    remediation: `Microsoft refused the connector's access token (HTTP 401), even with a freshly issued one. ${RETRIED} If it lasts, check the partner app in Entra ID: its credentials (AZURE_CLIENT_ID, AZURE_CLIENT_SECRET) and its admin consent.`,
  },
  StatusTimeout: {
    retryable: true,
    userCanMitigate: false,
    remediation: `Microsoft accepted the report but had not finished processing it in time. ${RETRIED}`,
  },
  InvalidCredentials: {
    retryable: false,
    userCanMitigate: false,
    remediation: `The identity platform rejected the partner app's credentials or tenant: check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (the secret may have expired). ${ENDED}`,
  },
  ConsentRevoked: {
    retryable: false,
    userCanMitigate: false,
    remediation: `The customer's administrator has not granted the partner app admin consent in this tenant, or took it away (the identity platform answered with a consent error such as AADSTS65001 or AADSTS700016). After a few such answers the tenant goes consent-revoked and nothing more is sent for it; once the administrator grants consent again through the tenant's consent link, the tenant is activated again and every device is reported. ${ENDED}`,
  },
  Forbidden: {
    retryable: false,
    userCanMitigate: false,
    remediation: `The partner app lacks a permission (HTTP 403): grant admin consent again in Entra ID. ${ENDED}`,
  },
  TenantNotProvisioned: {
    retryable: false,
    userCanMitigate: false,
    remediation: `The tenant is not set up for this compliance partner: add the partner in the Intune admin center and assign the user groups. ${ENDED}`,
  },
  DeviceNotFound: {
    retryable: false,
    userCanMitigate: true,
    remediation: `Entra ID does not know this device ID: have the user register the device again in Microsoft Authenticator. ${ENDED}`,
  },
  UserNotFound: {
    retryable: false,
    userCanMitigate: false,
    remediation: `Check that the user's UPN exists in Entra ID and is licensed for Intune, then sync the device. ${ENDED}`,
  },
  UserPrincipalNameMissing: {
    retryable: false,
    userCanMitigate: false,
    remediation: `The MDM sent no userPrincipalName with the registration: resend the registration with it. ${ENDED}`,
  },
  InvalidRequest: {
    retryable: false,
    userCanMitigate: false,
    remediation: `Microsoft rejected the request as invalid: check the device's inventory data and contact support. ${ENDED}`,
  },
  UploadRejected: {
    retryable: false,
    userCanMitigate: false,
    remediation: `Microsoft rejected the report: read the message, correct the cause, then sync the device. ${ENDED}`,
  },
  DeletedInEntra: {
    retryable: false,
    userCanMitigate: true,
    remediation:
      'The device no longer exists in Entra ID (someone deleted it there, or Entra removed it as stale): have the user register the device again in Microsoft Authenticator. The connector sends nothing for it (no weekly report, no resync) until the MDM sends its next event for the device; an admin can still sync it now.',
  },
};

const KNOWN: ReadonlySet<string> = new Set(FAILURE_REASONS);

export function isFailureReason(x: unknown): x is FailureReason {
  return typeof x === 'string' && KNOWN.has(x);
}

export function isRetryableReason(reason: FailureReason): boolean {
  return FAILURE_GUIDANCE[reason].retryable;
}

/** The device's `lastError` for a failed report: the reason as its code, the message, the guidance. */
export function deviceErrorFor(reason: FailureReason, message: string): DeviceError {
  const { userCanMitigate, remediation } = FAILURE_GUIDANCE[reason];
  return { code: reason, message, userCanMitigate, remediation };
}

import type { ClientStatusCode } from './constants';

/**
 * What each "Azure Client Status Code" means, in the words of the seed document (Table 3).
 * These codes come from the MDM client's MSAL call on the device (docs/product-rules.md, Client status codes); Microsoft
 * never returns them to the server.
 */
export const CLIENT_STATUS_DESCRIPTIONS: Readonly<Record<ClientStatusCode, string>> = {
  Success: 'Able to retrieve device ID.',
  Internal_Error: 'An unrecoverable error occurred either within the client or on server side.',
  Workplace_Join_Required: 'Registration of device required. Device user can mitigate this status.',
  Interaction_Required: 'An interactive log-in is required. Device user can mitigate this status.',
  Server_Declined_Scopes: 'Some scopes were not granted access to.',
  Server_Protection_Policies_Required: 'The requested resource is protected by an Intune Conditional Access policy.',
  User_Canceled: 'The device user cancelled the web Auth session by tapping the "Done" or "Cancel" button in the web browser.',
  Account_logged_out: 'Account logged out.',
};

export interface ClientStatusGuidance {
  /** `true` when the device user can fix this status alone (docs/product-rules.md). */
  userCanMitigate: boolean;
  /** What to do, addressed to the admin reading the device details; `''` for `Success`. */
  remediation: string;
}

const GUIDANCE: Readonly<Record<ClientStatusCode, ClientStatusGuidance>> = {
  Success: { userCanMitigate: false, remediation: '' },
  Workplace_Join_Required: {
    userCanMitigate: true,
    remediation:
      'Ask the device user to register the device in Microsoft Authenticator (Settings > Device registration) ' +
      'with their work account, then open the MDM client app again so it can retrieve the Azure device ID.',
  },
  Interaction_Required: {
    userCanMitigate: true,
    remediation:
      'Ask the device user to sign in again with their work account when the MDM client app or Microsoft ' +
      'Authenticator prompts (the session expired, or multi-factor authentication or a Conditional Access ' +
      'policy requires an interactive sign-in).',
  },
  User_Canceled: {
    userCanMitigate: true,
    remediation:
      'Ask the device user to repeat the sign-in from the MDM client app and complete it, instead of tapping ' +
      '"Done" or "Cancel" in the browser window.',
  },
  Account_logged_out: {
    userCanMitigate: true,
    remediation: 'Ask the device user to sign back in to their work account in Microsoft Authenticator and in the MDM ' + 'client app.',
  },
  Internal_Error: {
    userCanMitigate: false,
    remediation:
      'The device user cannot fix this. Contact support with the device ID and the time of the error, and ' +
      'collect the MDM client app and Microsoft Authenticator logs from the device; an admin can also check ' +
      'Microsoft 365 service health for Entra ID and Intune, then have the user retry the registration.',
  },
  Server_Declined_Scopes: {
    userCanMitigate: false,
    remediation:
      'An admin must check in Entra ID (Enterprise applications > the MDM client app > Permissions) that all ' +
      'the API permissions the app requests are granted and that admin consent was given, and that no ' +
      'user-consent policy blocks them; then ask the user to sign in again.',
  },
  Server_Protection_Policies_Required: {
    userCanMitigate: false,
    remediation:
      'An admin must check the Intune app protection policy and Conditional Access policy configuration: a ' +
      'Conditional Access policy requires an app protection policy (or an approved client app) that the MDM ' +
      'client app does not satisfy. Target the app with an Intune app protection policy, or exclude it from ' +
      'that Conditional Access policy.',
  },
};

/** Whether the device user can fix the status, and how (or what the admin must check). */
export function clientStatusGuidance(code: ClientStatusCode): ClientStatusGuidance {
  const guidance = GUIDANCE[code];
  return { userCanMitigate: guidance.userCanMitigate, remediation: guidance.remediation };
}

/** A device's `lastError` (docs/http-contract.md): from its client status or its last failed report. */
export interface DeviceError {
  code: string;
  message: string;
  userCanMitigate: boolean;
  remediation: string;
}

/**
 * The `lastError` of a device whose latest registration carried `code`: `null` for `Success`,
 * otherwise `{ code, message: the seed's description, userCanMitigate, remediation }`.
 */
export function clientStatusError(code: ClientStatusCode): DeviceError | null {
  if (code === 'Success') return null;
  return { code, message: CLIENT_STATUS_DESCRIPTIONS[code], ...clientStatusGuidance(code) };
}

// Wire types of the emulator's control plane, shared by the server and EmulatorControl so the
// connector's tests can import them without pulling in any server code.

export type Service = 'token' | 'graph' | 'intune' | 'control' | 'identity';
export type FaultableService = 'token' | 'graph' | 'intune';

export interface SeedApp {
  clientId: string;
  clientSecret: string;
  /** Application permissions granted by admin consent; defaults to DEFAULT_APP_ROLES. */
  roles?: string[];
  /** PEM certificate(s) accepted for client_assertion (I4), in addition to the secret. */
  certificatePems?: string[];
  /** Reply URLs the admin-consent page may redirect to; any http(s) URL when omitted. */
  redirectUris?: string[];
}

export interface SeedUser {
  id?: string;
  userPrincipalName: string;
  displayName?: string;
}

export interface SeedDevice {
  id?: string;
  deviceId: string;
  displayName?: string;
  operatingSystem?: string;
  operatingSystemVersion?: string;
}

export interface SeedTenant {
  tenantId: string;
  displayName?: string;
  /** Registered and consented in this tenant (as if its admin had granted admin consent). */
  apps?: SeedApp[];
  users?: SeedUser[];
  devices?: SeedDevice[];
}

export interface SeedSpec {
  /** Multi-tenant app registrations consented nowhere yet: admin consent installs them in a tenant. */
  apps?: SeedApp[];
  tenants: SeedTenant[];
}

/** How consent was taken away: the enterprise app deleted, or only its granted permissions removed. */
export type ConsentRevocation = 'service-principal' | 'permissions';

/** What the tenant's administrator answers on the admin-consent page. */
export type ConsentAnswer = 'grant' | 'decline';

export interface FaultSpec {
  match: {
    method?: string;
    /** Tested against the path with its query string, both as received and URL-decoded. */
    pathRegex?: string;
    service?: FaultableService;
    /** true: only sub-requests inside a Graph `$batch`; otherwise only top-level requests. */
    batchItem?: boolean;
  };
  /** Omitted: delay (if any), then answer normally. */
  response?: {
    status: number;
    headers?: Record<string, string>;
    /** An object is sent as JSON; a string is sent verbatim (set Content-Type in headers). */
    body?: unknown;
  };
  /** How many times the fault fires; unlimited (until clearFaults) when omitted. */
  times?: number;
  /** Chance (0..1) that a matching request is faulted; 1 when omitted. */
  probability?: number;
  delayMs?: number;
  /** Answer nothing: the connection is dropped (after delayMs, if any), as a network reset shows itself. */
  reset?: boolean;
}

/** At most `limit` requests in any `windowSeconds` (sliding), per tenant and app. */
export interface RateLimit {
  limit: number;
  windowSeconds: number;
}

export interface EmulatorSettings {
  autoRegister: boolean;
  pollsBeforeTerminal: number;
  tokenLifetimeSeconds: number;
  /** G4: app-only DELETE /devices is 403 per the stored docs unless this is on. */
  allowAppDeviceDelete: boolean;
  /** Microsoft's throttling per service (429 + Retry-After beyond the limit); none when absent. */
  throttle: { graph?: RateLimit | null; intune?: RateLimit | null };
}

export interface JournalEntry {
  /** Real (not emulator-clock) time the request was received, ISO with ms. */
  at: string;
  method: string;
  /** Path with query string, as received. */
  path: string;
  service: Service;
  status: number;
  retryAttempt?: string;
  clientRequestId?: string;
  sdkVersion?: string;
  hasBearer: boolean;
  /**
   * The tenant the request is for: the bearer token's `tid` (Graph, Intune), or the tenant in the
   * path (token endpoint, admin consent); absent when neither names one.
   */
  tenantId?: string;
  /** Parsed JSON or form fields; client_secret and client_assertion are redacted. */
  body?: unknown;
  faulted?: boolean;
  /** The first request on its connection: the client opened a new one (a TLS handshake) for it. */
  newConnection?: true;
}

export interface JournalFilter {
  service?: string;
  tenantId?: string;
  pathIncludes?: string;
  /** ISO time; only entries received at or after it. */
  since?: string;
}

export type MessageStatus = 'Pending' | 'Processing' | 'Completed' | 'Failed';

export interface MessageView {
  messageId: string;
  status: MessageStatus;
  receivedAt: string;
  completedAt: string | null;
  errorDetail: string | null;
  /** Newest LastUpdateTime among the message's entities (for this device, in a device view). */
  lastUpdateTime: string | null;
  entities: unknown[];
}

export interface TenantMessageView extends MessageView {
  /** The first device the message names, or null when it names none. */
  deviceId: string | null;
}

export interface EntraDeviceView {
  deviceId: string;
  id: string;
  operatingSystem: string | null;
  isManaged: boolean | null;
  isCompliant: boolean | null;
  complianceExpirationDateTime: string | null;
  lastCheckInTime: string | null;
  /** The last inventory entity (EntityType 1) applied. */
  inventory: Record<string, unknown> | null;
  messages: MessageView[];
}

export interface ConsentView {
  clientId: string;
  grantedAt: string;
}

export interface RevokedConsentView {
  clientId: string;
  revokedAt: string;
  how: ConsentRevocation;
}

/** What the control plane may change on an Entra device behind the connector's back. */
export interface EntraDevicePatch {
  isCompliant?: boolean | null;
  isManaged?: boolean | null;
  /** ISO-8601, or null. */
  complianceExpirationDateTime?: string | null;
}

export interface TenantView {
  tenantId: string;
  displayName: string | null;
  /** Apps with admin consent in this tenant (their service principals exist). */
  consents: ConsentView[];
  /** Consents taken away and not granted again since. */
  revokedConsents: RevokedConsentView[];
  consentAnswer: ConsentAnswer;
  /** 0 never provisioned, 1 provisioned, 2 deprovisioned. */
  provisioned: 0 | 1 | 2;
  policies: unknown[];
  assignments: unknown[];
  lastHeartbeatAt: string | null;
  heartbeats: number;
  resyncTimestamp: string | null;
}

export interface ClockView {
  offsetSeconds: number;
  now: string;
}

/**
 * Closed vocabularies of the domain (docs/http-contract.md, docs/product-rules.md).
 *
 * No imports: this file is safe for Temporal workflow code, the API and the database layer alike.
 */

/** Compliance-policy actions, **most restrictive first** (docs/product-rules.md: the most restrictive one applies). */
export const POLICY_ACTIONS = ['RETIRE', 'QUARANTINE', 'BLOCK_APPCONNECT', 'BLOCK_EMAIL', 'SEND_ALERT'] as const;
export type PolicyAction = (typeof POLICY_ACTIONS)[number];

/** "Azure Client Status Code" values, in the order of the contract (docs/product-rules.md, Client status codes). */
export const CLIENT_STATUS_CODES = [
  'Success',
  'Internal_Error',
  'Workplace_Join_Required',
  'Interaction_Required',
  'Server_Declined_Scopes',
  'Server_Protection_Policies_Required',
  'User_Canceled',
  'Account_logged_out',
] as const;
export type ClientStatusCode = (typeof CLIENT_STATUS_CODES)[number];

export const PLATFORMS = ['iOS', 'Android'] as const;
export type Platform = (typeof PLATFORMS)[number];

/** The `type` of an MDM event. */
export const EVENT_TYPES = ['registration', 'compliance', 'inventory', 'retire'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** `inventory.ownership`. */
export const OWNERSHIPS = ['corporate', 'personal'] as const;
export type Ownership = (typeof OWNERSHIPS)[number];

/** "Azure Device Compliance Status" (docs/product-rules.md); `null` is represented outside this set. */
export const COMPLIANCE_STATUSES = ['In-progress', 'Successful', 'Failed'] as const;
export type AzureComplianceStatus = (typeof COMPLIANCE_STATUSES)[number];

/** What is reported to Microsoft (docs/product-rules.md, the policy table). */
export const MANAGEMENT_STATES = ['managed', 'notManaged'] as const;
export type ManagementState = (typeof MANAGEMENT_STATES)[number];
export const REPORTED_COMPLIANCE_VALUES = ['compliant', 'notCompliant'] as const;
export type ReportedCompliance = (typeof REPORTED_COMPLIANCE_VALUES)[number];

/** Why a report attempt was made (the `trigger` of the report timeline, docs/http-contract.md). */
// 'resync' extends the contract's list: a report Microsoft asked for through the tenant heartbeat.
// 'drift': Entra no longer held what Microsoft last confirmed (the reconciliation, docs/product-rules.md).
// 'grace': a grace period began, ended (the report that follows) or was cleared (domain/grace.ts).
export const REPORT_TRIGGERS = [
  'compliance',
  'inventory',
  'registration',
  'weekly',
  'manual',
  'retire',
  'enable',
  'resync',
  'drift',
  'grace',
] as const;
export type ReportTrigger = (typeof REPORT_TRIGGERS)[number];

/** `deviceId` rules (docs/http-contract.md): 1 to 128 characters of `A-Z a-z 0-9 . _ : -`. */
export const DEVICE_ID_MAX_LENGTH = 128;
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** At most this many events in one `POST /v1/events` (docs/http-contract.md). */
export const MAX_BATCH_EVENTS = 1000;

/**
 * Default of MAX_CLOCK_SKEW: an event whose `occurredAt` is further than this ahead of the server's
 * clock is refused. Kept short: a future-dated event would make every correctly timed one after it
 * look stale (ordering is by `occurredAt`) until the server's clock passes it.
 */
export const DEFAULT_MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

export function isPolicyAction(value: unknown): value is PolicyAction {
  return typeof value === 'string' && (POLICY_ACTIONS as readonly string[]).includes(value);
}

export function isClientStatusCode(value: unknown): value is ClientStatusCode {
  return typeof value === 'string' && (CLIENT_STATUS_CODES as readonly string[]).includes(value);
}

export function isDeviceId(value: unknown): value is string {
  return typeof value === 'string' && DEVICE_ID_PATTERN.test(value);
}

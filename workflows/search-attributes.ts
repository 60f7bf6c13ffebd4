import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Search attributes the device workflows keep current, so operators can find devices in the
 * Temporal UI (`AzureComplianceStatus='Failed'`). They must be registered on the server: the dev
 * server gets them from DEV_SERVER_SEARCH_ATTRIBUTES; production clusters with
 * `temporal operator search-attribute create` (see README).
 */
export const DeviceIdKey = defineSearchAttributeKey('DeviceId', SearchAttributeType.KEYWORD);
export const TenantIdKey = defineSearchAttributeKey('TenantId', SearchAttributeType.KEYWORD);
export const AzureComplianceStatusKey = defineSearchAttributeKey('AzureComplianceStatus', SearchAttributeType.KEYWORD);
export const AzureClientStatusCodeKey = defineSearchAttributeKey('AzureClientStatusCode', SearchAttributeType.KEYWORD);
export const PolicyActionKey = defineSearchAttributeKey('PolicyAction', SearchAttributeType.KEYWORD);
export const RetiredKey = defineSearchAttributeKey('Retired', SearchAttributeType.BOOL);
/** What the last drift reconciliation found and is not resolved yet: compliance, managed, expired, deleted or none. */
export const AzureDriftKey = defineSearchAttributeKey('AzureDrift', SearchAttributeType.KEYWORD);

export const ALL_SEARCH_ATTRIBUTE_KEYS = [
  DeviceIdKey,
  TenantIdKey,
  AzureComplianceStatusKey,
  AzureClientStatusCodeKey,
  PolicyActionKey,
  RetiredKey,
  AzureDriftKey,
] as const;

/** `Name=Type` pairs as `temporal server start-dev --search-attribute` and `operator` expect them. */
export const SEARCH_ATTRIBUTE_CLI_ARGS: string[] = ALL_SEARCH_ATTRIBUTE_KEYS.map(
  (k) => `${k.name}=${k.type === SearchAttributeType.BOOL ? 'Bool' : 'Keyword'}`,
);

/**
 * The MDM's events (docs/http-contract.md) as plain TypeScript types, with no zod import, so that
 * Temporal workflow code can use them. `event-schemas.ts` validates them and asserts at compile time
 * that its inferred types are exactly these.
 */
import type { ClientStatusCode, Ownership, Platform, PolicyAction } from './constants';

export type RegistrationEvent = {
  type: 'registration';
  /** ISO 8601 with a zone (`Z` or `±hh:mm`). */
  occurredAt: string;
  platform: Platform;
  /** A GUID, or `null` when the client could not retrieve it; always a GUID with `Success`. */
  azureDeviceId: string | null;
  clientStatusCode: ClientStatusCode;
  userPrincipalName?: string;
};

export type ComplianceEvent = {
  type: 'compliance';
  occurredAt: string;
  /** The actions in force; `[]` means no policy is violated. */
  actions: PolicyAction[];
};

export type Inventory = {
  deviceName: string;
  os: string;
  osVersion: string;
  model?: string;
  manufacturer?: string;
  serialNumber?: string;
  imei?: string;
  ownership?: Ownership;
};

export type InventoryEvent = {
  type: 'inventory';
  occurredAt: string;
  inventory: Inventory;
};

export type RetireEvent = {
  type: 'retire';
  occurredAt: string;
};

export type DeviceEvent = RegistrationEvent | ComplianceEvent | InventoryEvent | RetireEvent;

/** One item of `POST /v1/events`: an event plus the device it is about. */
export type BatchEventItem = DeviceEvent & { deviceId: string };

/**
 * The pure domain, zod-free: safe to import from Temporal workflow code.
 * Validation (zod) lives in `./event-schemas` and `./validation`, imported directly by the API.
 */
export * from './constants';
export * from './policy';
export * from './client-status';
export * from './failure-reasons';
export * from './ordering';
export type { BatchEventItem, ComplianceEvent, DeviceEvent, Inventory, InventoryEvent, RegistrationEvent, RetireEvent } from './events';

/**
 * The `Content` of a DataUploadMessages PUT (P4 of docs/microsoft-protocol.md): an inventory entity
 * (EntityType 1) and a compliance entity (EntityType 4). Pure: no I/O.
 */

export interface DeviceUpload {
  /** GUID chosen by the caller (deterministic in the workflow) so a retried PUT is idempotent. */
  messageId: string;
  /** Entra deviceId (GUID). */
  azureDeviceId: string;
  /** Resolved to the Entra user object id (cached per tenant+UPN) unless `userId` is given. */
  userPrincipalName: string;
  /** The user's Entra object id when the caller already knows it (skips the Graph lookup). */
  userId?: string;
  /** Entra's name and OS of the device when the caller already knows them (used without inventory). */
  knownDevice?: KnownDevice;
  managementState: 'managed' | 'notManaged';
  complianceStatus: 'compliant' | 'notCompliant';
  inventory: { deviceName: string; os: string; osVersion: string; [k: string]: unknown } | null;
  platform: 'iOS' | 'Android' | null;
  /** ISO. */
  lastCheckInTime: string;
  /** ISO; orders messages at Microsoft (the state's newest occurredAt). */
  lastUpdateTime: string;
}

export const ENTITY_TYPE_INVENTORY = 1;
export const ENTITY_TYPE_COMPLIANCE = 4;

export interface InventoryEntity {
  EntityType: 1;
  TenantId: string;
  DeviceId: string;
  DeviceName: string;
  UserId: string;
  DeviceManagementState: 'managed' | 'notManaged';
  LastCheckInTime: string;
  LastUpdateTime: string;
  Os: string;
  OsVersion: string;
  EasIds: string[];
  State: 0;
  Model?: string;
  Manufacturer?: string;
  SerialNumber?: string;
}

export interface ComplianceEntity {
  EntityType: 4;
  TenantId: string;
  DeviceId: string;
  UserId: string;
  LastUpdateTime: string;
  complianceStatus: 'compliant' | 'notCompliant';
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(s: string): boolean {
  return GUID.test(s);
}

/** Optional extra inventory keys we forward when the MDM gave them (Microsoft ignores unknown keys). */
const EXTRA_INVENTORY_KEYS: Array<[source: string[], target: 'Model' | 'Manufacturer' | 'SerialNumber']> = [
  [['model', 'Model'], 'Model'],
  [['manufacturer', 'Manufacturer'], 'Manufacturer'],
  [['serialNumber', 'SerialNumber', 'serial'], 'SerialNumber'],
];

/** What Entra already knows about a device, used when the MDM has sent no inventory yet. */
export interface KnownDevice {
  displayName?: string | null;
  operatingSystem?: string | null;
}

/**
 * Builds the two entities for a device.
 *
 * When the MDM has sent no inventory yet (`inventory: null`) the inventory entity is still sent,
 * because it carries the management state, filled from what is known:
 * - `DeviceName`: the name Entra already has for the device (`known.displayName`, so we never
 *   overwrite it with a made-up one), else the Azure device id;
 * - `Os`: the platform (`iOS`/`Android`), else Entra's `operatingSystem`, else `Unknown`;
 * - `OsVersion`: empty.
 * (Microsoft requires DeviceName and Os to be non-empty strings; OsVersion may be empty.)
 */
export function buildUploadEntities(
  tenantId: string,
  userId: string,
  u: DeviceUpload,
  known: KnownDevice = {},
): [InventoryEntity, ComplianceEntity] {
  const nonEmpty = (...xs: Array<string | null | undefined>): string | undefined =>
    xs.find((x): x is string => typeof x === 'string' && x.trim() !== '');
  const inventory: InventoryEntity = {
    EntityType: ENTITY_TYPE_INVENTORY,
    TenantId: tenantId,
    DeviceId: u.azureDeviceId,
    DeviceName: nonEmpty(u.inventory?.deviceName, known.displayName) ?? u.azureDeviceId,
    UserId: userId,
    DeviceManagementState: u.managementState,
    LastCheckInTime: u.lastCheckInTime,
    LastUpdateTime: u.lastUpdateTime,
    Os: nonEmpty(u.inventory?.os, u.platform, known.operatingSystem) ?? 'Unknown',
    OsVersion: u.inventory?.osVersion ?? '',
    EasIds: [],
    State: 0,
  };
  if (u.inventory) {
    for (const [sources, target] of EXTRA_INVENTORY_KEYS) {
      for (const s of sources) {
        const v = u.inventory[s];
        if (typeof v === 'string' && v !== '') {
          inventory[target] = v;
          break;
        }
      }
    }
  }
  const compliance: ComplianceEntity = {
    EntityType: ENTITY_TYPE_COMPLIANCE,
    TenantId: tenantId,
    DeviceId: u.azureDeviceId,
    UserId: userId,
    LastUpdateTime: u.lastUpdateTime,
    complianceStatus: u.complianceStatus,
  };
  return [inventory, compliance];
}

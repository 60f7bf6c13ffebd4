// Device data upload messages (P4/P5): envelope parsing, entity validation and the effect of a
// Completed message on the Entra device. Every failure text names its culprit so the connector can
// show it on the device.
import { isRecord } from './http';
import { findDevice, findUser, type Device, type EmulatorState, type Tenant, type UploadMessage } from './state';

export interface UploadEnvelope {
  tenantId: string;
  uploadTime: string;
  entities: Record<string, unknown>[];
  /** What makes a retried PUT the same message; UploadTime is left out because a retransmission
   *  legitimately carries a new send time. */
  identity: string;
}

const INVENTORY = 1;
const COMPLIANCE = 4;

function validDate(v: unknown): v is string {
  return typeof v === 'string' && v !== '' && !Number.isNaN(Date.parse(v));
}

/** Structural problems are a 400 at PUT time; entity-level problems fail the message later. */
export function parseEnvelope(body: unknown): UploadEnvelope | string {
  if (!isRecord(body)) return 'The request body must be a JSON object with TenantId, UploadTime and Content.';
  if (typeof body.TenantId !== 'string' || body.TenantId === '') return "The request body is missing 'TenantId'.";
  if (!validDate(body.UploadTime)) return "'UploadTime' must be an ISO-8601 date-time string.";
  if (typeof body.Content !== 'string') return "'Content' must be a string holding a JSON array of entities.";
  let content: unknown;
  try {
    content = JSON.parse(body.Content);
  } catch {
    return "'Content' is not valid JSON.";
  }
  if (!Array.isArray(content) || content.length === 0) return "'Content' must be a non-empty JSON array of entities.";
  if (!content.every(isRecord)) return "Every element of 'Content' must be a JSON object.";
  return {
    tenantId: body.TenantId,
    uploadTime: body.UploadTime,
    entities: content,
    identity: JSON.stringify([body.TenantId.toLowerCase(), body.Content]),
  };
}

function describe(i: number, e: Record<string, unknown>): string {
  return `Entity ${i} (EntityType ${JSON.stringify(e.EntityType)}, DeviceId '${String(e.DeviceId)}')`;
}

function requireString(e: Record<string, unknown>, field: string): string | undefined {
  return typeof e[field] === 'string' && e[field] !== '' ? undefined : `required field '${field}' is missing or not a non-empty string`;
}

function requireEnum(e: Record<string, unknown>, field: string, allowed: string[]): string | undefined {
  if (e[field] === undefined) return `required field '${field}' is missing`;
  return allowed.includes(e[field] as string)
    ? undefined
    : `invalid value ${JSON.stringify(e[field])} for '${field}' (expected ${allowed.map((a) => `'${a}'`).join(' or ')})`;
}

/** The entities of a P4 upload (docs/microsoft-protocol.md); unknown extra fields are accepted and ignored. */
export function validateEntity(e: Record<string, unknown>, messageTenantId: string): string | undefined {
  if (e.EntityType !== INVENTORY && e.EntityType !== COMPLIANCE)
    return `unsupported EntityType ${JSON.stringify(e.EntityType)} (expected 1 or 4)`;
  for (const field of ['TenantId', 'DeviceId', 'UserId']) {
    const problem = requireString(e, field);
    if (problem) return problem;
  }
  if ((e.TenantId as string).toLowerCase() !== messageTenantId.toLowerCase()) {
    return `TenantId '${String(e.TenantId)}' does not match the message TenantId '${messageTenantId}'`;
  }
  if (!validDate(e.LastUpdateTime)) return "required field 'LastUpdateTime' is missing or not an ISO-8601 date-time";
  if (e.EntityType === COMPLIANCE) return requireEnum(e, 'complianceStatus', ['compliant', 'notCompliant']);
  const state = requireEnum(e, 'DeviceManagementState', ['managed', 'notManaged']);
  if (state) return state;
  if (!validDate(e.LastCheckInTime)) return "required field 'LastCheckInTime' is missing or not an ISO-8601 date-time";
  for (const field of ['DeviceName', 'Os']) {
    const problem = requireString(e, field);
    if (problem) return problem;
  }
  if (typeof e.OsVersion !== 'string') return "required field 'OsVersion' is missing or not a string";
  if (!Array.isArray(e.EasIds)) return "required field 'EasIds' is missing or not an array (it may be empty)";
  if (!Number.isInteger(e.State)) return "required field 'State' is missing or not an integer";
  return undefined;
}

/** Decides a message's outcome against the tenant as it is now and, when Completed, applies it. */
export function finishMessage(state: EmulatorState, tenant: Tenant, msg: UploadMessage): void {
  const outcome = evaluate(state, tenant, msg);
  msg.status = outcome === undefined ? 'Completed' : 'Failed';
  msg.errorDetail = outcome ?? null;
  msg.completedAt = state.now().toISOString();
  if (outcome === undefined) for (const e of msg.entities) applyEntity(findDevice(tenant, e.DeviceId as string)!, e, state.now());
}

function evaluate(state: EmulatorState, tenant: Tenant, msg: UploadMessage): string | undefined {
  if (tenant.provisioned !== 1) {
    return `Tenant '${tenant.tenantId}' is not provisioned for partner compliance (PartnerTenants Provisioned is ${tenant.provisioned}, expected 1).`;
  }
  for (const [i, e] of msg.entities.entries()) {
    const problem = validateEntity(e, tenant.tenantId);
    if (problem) return `${describe(i, e)}: ${problem}.`;
  }
  const autoRegister = state.settings.autoRegister;
  for (const e of msg.entities) {
    const deviceId = e.DeviceId as string;
    // A device deleted through the control plane stays deleted, autoRegister or not.
    if (!findDevice(tenant, deviceId) && (!autoRegister || tenant.deletedDeviceIds.has(deviceId.toLowerCase())))
      return `Device '${deviceId}' was not found in tenant '${tenant.tenantId}'.`;
    const userId = e.UserId as string;
    if (!findUser(tenant, userId) && !autoRegister) return `User '${userId}' was not found in tenant '${tenant.tenantId}'.`;
  }
  // autoRegister: everything the message names exists from first sight, so a demo fleet works unseeded.
  for (const e of msg.entities) {
    if (!findDevice(tenant, e.DeviceId as string)) {
      const d = state.newDevice(tenant, e.DeviceId as string);
      if (typeof e.DeviceName === 'string') d.displayName = e.DeviceName;
      if (typeof e.Os === 'string') d.operatingSystem = e.Os;
    }
    if (!findUser(tenant, e.UserId as string)) state.newUser(tenant, `${String(e.UserId)}@autoregistered.invalid`, e.UserId as string);
  }
  return undefined;
}

/** How long Entra trusts a partner's compliance verdict (inferred; the same as a PATCH of isCompliant). */
export const COMPLIANCE_VALIDITY_MS = 7 * 24 * 3600 * 1000;

/** Ordering by LastUpdateTime: an entity older than the one already applied changes nothing. */
function applyEntity(d: Device, e: Record<string, unknown>, now: Date): void {
  const at = Date.parse(e.LastUpdateTime as string);
  if (e.EntityType === INVENTORY) {
    if (d.inventoryUpdatedAt !== null && at < d.inventoryUpdatedAt) return;
    d.inventoryUpdatedAt = at;
    d.isManaged = e.DeviceManagementState === 'managed';
    d.lastCheckInTime = e.LastCheckInTime as string;
    d.inventory = { ...e };
    d.displayName = e.DeviceName as string;
    d.operatingSystem = e.Os as string;
    d.operatingSystemVersion = e.OsVersion as string;
  } else {
    if (d.complianceUpdatedAt !== null && at < d.complianceUpdatedAt) return;
    d.complianceUpdatedAt = at;
    d.isCompliant = e.complianceStatus === 'compliant';
    d.complianceExpirationDateTime = new Date(now.getTime() + COMPLIANCE_VALIDITY_MS).toISOString();
  }
}

/** The newest LastUpdateTime among the given entities, as sent. */
export function newestUpdateTime(entities: Record<string, unknown>[]): string | null {
  let best: string | null = null;
  for (const e of entities) {
    const t = e.LastUpdateTime;
    if (validDate(t) && (best === null || Date.parse(t) > Date.parse(best))) best = t;
  }
  return best;
}

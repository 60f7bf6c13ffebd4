/**
 * The queries of the worker's side of the tenant registry (migration 005_tenants): what onboarding,
 * offboarding and consent containment read and write. One function per query.
 */
import type { Knex } from 'knex';
import { TENANT_STATES } from './migrations/005_tenants';
import type { Db } from './index';

export type TenantState = (typeof TENANT_STATES)[number];

/** What the worker needs of a tenant's registry row. */
export interface TenantRecord {
  tenantId: string;
  displayName: string;
  state: TenantState;
  stateReason: string | null;
  revokedAt: string | null;
  /** The tenant's own weekly cron; null: the default. */
  weeklyCron: string | null;
}

type Queryable = Db | Knex.Transaction;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type DbRow = Record<string, any>;

function toRecord(r: DbRow): TenantRecord {
  return {
    tenantId: r.tenant_id,
    displayName: r.display_name,
    state: r.state,
    stateReason: r.state_reason,
    revokedAt: r.revoked_at === null ? null : new Date(r.revoked_at).toISOString(),
    weeklyCron: r.weekly_cron,
  };
}

export async function getTenantRecord(db: Queryable, tenantId: string): Promise<TenantRecord | null> {
  const r = await db('tenants').where({ tenant_id: tenantId }).first();
  return r ? toRecord(r) : null;
}

/** Keyset page of the tenants in one of `states`, by tenant id. */
export async function listTenantRecords(db: Db, states: readonly TenantState[], limit: number, after?: string): Promise<TenantRecord[]> {
  const q = db('tenants').whereIn('state', states).orderBy('tenant_id', 'asc').limit(limit);
  if (after !== undefined) q.where('tenant_id', '>', after);
  return (await q).map(toRecord);
}

/** The tenant's state only (null: not in the registry), read before Microsoft calls. */
export async function getTenantState(db: Db, tenantId: string): Promise<TenantState | null> {
  const r = await db('tenants').select('state').where({ tenant_id: tenantId }).first();
  return r ? (r.state as TenantState) : null;
}

/**
 * The tenant is `active`: activated now, its consent failures forgotten, its reason cleared. Only
 * from `consented` or `consent-revoked` (an onboarding never revives a tenant being offboarded).
 * Returns false when the tenant was in neither.
 */
export async function activateTenant(db: Db, tenantId: string): Promise<boolean> {
  const n = await db('tenants')
    .where({ tenant_id: tenantId })
    .whereIn('state', ['consented', 'consent-revoked', 'active'])
    .update({
      state: 'active',
      state_reason: null,
      activated_at: db.fn.now(),
      revoked_at: null,
      consent_failures: 0,
      updated_at: db.fn.now(),
    });
  return n === 1;
}

/** Why the tenant stays where it is (an activation that failed), in plain words. */
export async function setTenantReason(db: Db, tenantId: string, reason: string | null): Promise<void> {
  await db('tenants').where({ tenant_id: tenantId }).update({ state_reason: reason, updated_at: db.fn.now() });
}

/** An `active` tenant whose consent is gone goes `consent-revoked` with `reason`; false when it was not active. */
export async function revokeTenantConsent(db: Db, tenantId: string, reason: string): Promise<boolean> {
  const n = await db('tenants')
    .where({ tenant_id: tenantId, state: 'active' })
    .update({ state: 'consent-revoked', state_reason: reason, revoked_at: db.fn.now(), updated_at: db.fn.now() });
  return n === 1;
}

/** One more consent failure of the tenant; returns the count (0 when the tenant is not in the registry). */
export async function countTenantConsentFailure(db: Db, tenantId: string): Promise<number> {
  const [r] = await db('tenants').where({ tenant_id: tenantId }).increment('consent_failures', 1).returning('consent_failures');
  return r ? Number(r.consent_failures) : 0;
}

/** A worker reached Microsoft for the tenant with a token: healthy, and consent failures start again from 0. */
export async function recordTokenOk(db: Db, tenantId: string): Promise<void> {
  await db('tenants')
    .where({ tenant_id: tenantId })
    .update({ token_ok: true, token_error: null, token_checked_at: db.fn.now(), consent_failures: 0 });
}

/** The identity platform refused the tenant's token: `error` says why (never a secret). */
export async function recordTokenFailure(db: Db, tenantId: string, error: string): Promise<void> {
  await db('tenants').where({ tenant_id: tenantId }).update({ token_ok: false, token_error: error, token_checked_at: db.fn.now() });
}

/** Microsoft throttled a call of the tenant. */
export async function recordTenantThrottled(db: Db, tenantId: string): Promise<void> {
  await db('tenants').where({ tenant_id: tenantId }).update({ last_throttled_at: db.fn.now() });
}

/** The tenant leaves: `offboarding` from any other state. */
export async function markTenantOffboarding(db: Db, tenantId: string): Promise<void> {
  await db('tenants')
    .where({ tenant_id: tenantId })
    .whereNot({ state: 'offboarding' })
    .update({ state: 'offboarding', state_reason: null, updated_at: db.fn.now() });
}

/** The offboarding's record, written unless the API wrote it already (same operation id). */
export async function ensureOffboardingRecord(
  db: Db,
  o: { tenantId: string; operationId: string; reportNotManaged: boolean },
): Promise<void> {
  await db.transaction(async (trx) => {
    const existing = await trx('tenant_offboardings').where({ operation_id: o.operationId }).first();
    if (existing) return;
    const tenant = await trx('tenants').select('display_name').where({ tenant_id: o.tenantId }).first();
    await trx('tenant_offboardings').insert({
      tenant_id: o.tenantId,
      display_name: tenant?.display_name ?? o.tenantId,
      operation_id: o.operationId,
      report_not_managed: o.reportNotManaged,
    });
  });
}

/**
 * Devices of the tenant Microsoft has not yet confirmed as leaving: not retired, or retired with the
 * removal unconfirmed. A device without an Azure device ID has nothing at Microsoft to remove.
 */
export async function countDevicesAwaitingRemoval(db: Db, tenantId: string): Promise<number> {
  const [r] = await db('devices')
    .where({ tenant_id: tenantId })
    .whereNotNull('azure_device_id')
    .andWhere((q) => q.whereNull('retired_at').orWhereNot({ compliance_status: 'Successful' }).orWhereNull('compliance_status'))
    .count<{ count: string }[]>({ count: '*' });
  return Number(r?.count ?? 0);
}

/** Devices of the tenant retired and confirmed by Microsoft (reported `notManaged`). */
export async function countDevicesRemoved(db: Db, tenantId: string): Promise<number> {
  const [r] = await db('devices')
    .where({ tenant_id: tenantId, compliance_status: 'Successful' })
    .whereNotNull('retired_at')
    .count<{ count: string }[]>({ count: '*' });
  return Number(r?.count ?? 0);
}

/** Every device id of the tenant, retired or not (keyset page). */
export async function listTenantDeviceIds(db: Db, tenantId: string, limit: number, after?: string): Promise<string[]> {
  const q = db('devices').select('device_id').where({ tenant_id: tenantId }).orderBy('device_id', 'asc').limit(limit);
  if (after !== undefined) q.where('device_id', '>', after);
  return (await q).map((r: { device_id: string }) => r.device_id);
}

/** Tables holding a tenant's data, children first; the registry row goes last. */
const TENANT_DATA_TABLES = ['report_attempts', 'devices', 'operations', 'audit_log', 'settings', 'consent_requests', 'tenant_api_keys'] as const;

/**
 * Removes every row of the tenant (then the tenant itself) in one transaction, and completes its
 * offboarding record. Idempotent: a repeat removes nothing more and keeps the first completion.
 */
export async function removeTenantRows(
  db: Db,
  tenantId: string,
  completion: { operationId: string; devicesReported: number | null },
): Promise<{ devicesRemoved: number }> {
  return db.transaction(async (trx) => {
    let devicesRemoved = 0;
    for (const table of TENANT_DATA_TABLES) {
      const n = await trx(table).where({ tenant_id: tenantId }).del();
      if (table === 'devices') devicesRemoved = n;
    }
    await trx('tenants').where({ tenant_id: tenantId }).del();
    await trx('tenant_offboardings')
      .where({ operation_id: completion.operationId })
      .whereNull('completed_at')
      .update({ completed_at: trx.fn.now(), devices_reported: completion.devicesReported, devices_removed: devicesRemoved });
    return { devicesRemoved };
  });
}

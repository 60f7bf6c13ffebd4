/**
 * The queries of the worker's side of the tenant lifecycle that the registry (db/tenants.ts) does
 * not have: a healthy token that also forgets the consent failures counted so far, and the
 * offboarding's view of the tenant's devices. One function per query.
 */
import type { Db } from './index';

/** A worker reached Microsoft for the tenant with a token: healthy, and consent failures start again from 0. */
export async function recordTokenOk(db: Db, tenantId: string): Promise<void> {
  await db('tenants')
    .where({ tenant_id: tenantId })
    .update({ token_ok: true, token_error: null, token_checked_at: db.fn.now(), consent_failures: 0 });
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

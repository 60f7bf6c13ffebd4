/**
 * Devices written straight into the read model, shaped like reported ones (inventory, a successful
 * report, a timeline row), for the benchmarks that only read or page: the read path and the sweep's
 * paging at fleet scale. Not a substitute for the event path: no workflow exists for them.
 */
import type { Db } from '../../db';

const CHUNK = 5_000;

/** Inserts `count` reported devices `dev-<n>` (n zero-padded) for `tenantId`; returns their ids. */
export async function seedReportedDevices(db: Db, tenantId: string, count: number, prefix = 'dev-'): Promise<string[]> {
  const width = String(Math.max(0, count - 1)).length;
  const ids = Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(width, '0')}`);
  await db('settings').insert({ tenant_id: tenantId, enabled: true }).onConflict('tenant_id').ignore();
  for (let from = 0; from < count; from += CHUNK) {
    // generate_series keeps a million rows a few statements, not a million round trips.
    await db.raw(
      `insert into devices (tenant_id, device_id, platform, azure_device_id, client_status_code, user_principal_name,
         compliance_status, report_time, policy_action, reported_compliance, management_state, inventory,
         last_attempt_at, last_successful_report_at, version)
       select ?, ? || lpad(n::text, ?, '0'), 'iOS', md5(n::text)::uuid::text, 'Success', 'user' || n || '@example.com',
         'Successful', now(), null, 'compliant', 'managed',
         jsonb_build_object('deviceName', 'iPhone ' || n, 'os', 'iOS', 'osVersion', '17.4.1', 'model', 'iPhone15,2',
           'manufacturer', 'Apple', 'serialNumber', 'F2L' || n, 'ownership', 'corporate'),
         now(), now(), 1
       from generate_series(?::int, ?::int) as n`,
      [tenantId, prefix, width, from, Math.min(count, from + CHUNK) - 1],
    );
  }
  await db.raw('analyze devices');
  return ids;
}

/**
 * Reads of the admin console beyond the API's own (db/data.ts): the fleet's counts, the device list
 * with search and a sort by last report, the timeline's last hour, and the recent fleet operations.
 */
import type { Knex } from 'knex';
import { toDeviceRow, type DeviceRow } from './data';
import type { Db } from './index';

export interface DeviceCountRow {
  complianceStatus: string | null;
  clientStatusCode: string | null;
  policyAction: string | null;
  retired: boolean;
  count: number;
}

/** Devices grouped by status, client status code, policy action and retirement: the overview's charts. */
export async function deviceCounts(db: Db, tenantId: string): Promise<DeviceCountRow[]> {
  const rows = await db('devices')
    .select('compliance_status', 'client_status_code', 'policy_action', db.raw('(retired_at is not null) as retired'))
    .count<Array<Record<string, string | boolean | null>>>({ count: '*' })
    .where({ tenant_id: tenantId })
    .groupByRaw('1, 2, 3, 4');
  return rows.map((r) => ({
    complianceStatus: r.compliance_status as string | null,
    clientStatusCode: r.client_status_code as string | null,
    policyAction: r.policy_action as string | null,
    retired: r.retired === true,
    count: Number(r.count),
  }));
}

/** The console's device filter: the API's filters, the policy action (`none` for no action), and a search. */
export interface ConsoleDeviceFilter {
  complianceStatus?: string;
  clientStatusCode?: string;
  policyAction?: string;
  retired?: boolean;
  /** Part of a device id, an Azure device id or a user principal name (case-insensitive). */
  search?: string;
}

export type DeviceSort = 'deviceId' | 'lastReport';

/** Where the previous page ended: its last device, and its report time when sorting by last report. */
export interface DevicePageAfter {
  deviceId: string;
  reportTime: string | null;
}

const escapeLike = (s: string): string => s.replace(/[\\%_]/g, (ch) => `\\${ch}`);

function applyConsoleFilter(q: Knex.QueryBuilder, f: ConsoleDeviceFilter): void {
  if (f.complianceStatus !== undefined) q.andWhere('compliance_status', f.complianceStatus);
  if (f.clientStatusCode !== undefined) q.andWhere('client_status_code', f.clientStatusCode);
  if (f.policyAction === 'none') q.whereNull('policy_action');
  else if (f.policyAction !== undefined) q.andWhere('policy_action', f.policyAction);
  if (f.retired === true) q.whereNotNull('retired_at');
  if (f.retired === false) q.whereNull('retired_at');
  if (f.search !== undefined && f.search !== '') {
    const pattern = `%${escapeLike(f.search)}%`;
    q.andWhere((w) => {
      w.whereILike('device_id', pattern).orWhereILike('azure_device_id', pattern).orWhereILike('user_principal_name', pattern);
    });
  }
}

/**
 * One keyset page of devices: by device id (as the API lists them), or by last report, newest first,
 * devices never reported last.
 */
export async function searchDevices(
  db: Db,
  tenantId: string,
  filter: ConsoleDeviceFilter,
  sort: DeviceSort,
  limit: number,
  after?: DevicePageAfter,
): Promise<DeviceRow[]> {
  const q = db('devices').select('*').where({ tenant_id: tenantId }).limit(limit);
  applyConsoleFilter(q, filter);
  if (sort === 'deviceId') {
    q.orderBy('device_id', 'asc');
    if (after) q.andWhere('device_id', '>', after.deviceId);
  } else {
    q.orderByRaw('report_time desc nulls last, device_id asc');
    if (after && after.reportTime !== null) {
      const t = after.reportTime;
      q.andWhere((w) => {
        w.where('report_time', '<', t)
          .orWhere((x) => x.where('report_time', t).andWhere('device_id', '>', after.deviceId))
          .orWhereNull('report_time');
      });
    } else if (after) {
      q.whereNull('report_time').andWhere('device_id', '>', after.deviceId);
    }
  }
  return (await q).map(toDeviceRow);
}

export interface TimelineHour {
  attempts: number;
  failed: number;
  /** Attempts that ended on Microsoft's throttling after every retry. */
  throttled: number;
  /** Attempts refused for the partner app's credentials or permissions (the token). */
  credentialFailures: number;
}

/** The tenant's report attempts since `since`, the overview's integration health. */
export async function timelineSince(db: Db, tenantId: string, since: string): Promise<TimelineHour> {
  const [r] = await db('report_attempts')
    .where({ tenant_id: tenantId })
    .andWhere('at', '>=', since)
    .select(
      db.raw('count(*)::int as attempts'),
      db.raw("count(*) filter (where outcome = 'Failed')::int as failed"),
      db.raw("count(*) filter (where error->>'code' = 'Throttled')::int as throttled"),
      db.raw(
        "count(*) filter (where error->>'code' in ('InvalidCredentials', 'Unauthorized', 'Forbidden', 'TenantNotProvisioned'))::int as credential_failures",
      ),
    );
  const row = r as { attempts: number; failed: number; throttled: number; credential_failures: number };
  return { attempts: row.attempts, failed: row.failed, throttled: row.throttled, credentialFailures: row.credential_failures };
}

export interface OperationSummary {
  operationId: string;
  kind: string;
  filter: Record<string, string> | null;
  startedAt: string;
  finishedAt: string | null;
  devicesTotal: number | null;
  devicesSignalled: number;
  devicesSkipped: number;
}

/** The tenant's newest fleet operations (bulk re-reports, weekly reports, enables, resyncs), newest first. */
export async function recentOperations(db: Db, tenantId: string, limit: number, kind?: string): Promise<OperationSummary[]> {
  const q = db('operations')
    .select('operation_id', 'kind', 'filter', 'started_at', 'finished_at', 'devices_total', 'devices_signalled', 'devices_skipped')
    .where({ tenant_id: tenantId })
    .orderBy([
      { column: 'started_at', order: 'desc' },
      { column: 'operation_id', order: 'asc' },
    ])
    .limit(limit);
  if (kind !== undefined) q.andWhere({ kind });
  const rows = await q;
  return rows.map((r: Record<string, unknown>) => ({
    operationId: r.operation_id as string,
    kind: r.kind as string,
    filter: r.filter as Record<string, string> | null,
    startedAt: new Date(r.started_at as Date).toISOString(),
    finishedAt: r.finished_at === null ? null : new Date(r.finished_at as Date).toISOString(),
    devicesTotal: r.devices_total as number | null,
    devicesSignalled: Number(r.devices_signalled),
    devicesSkipped: Number(r.devices_skipped),
  }));
}

/**
 * Every query of the read model, one function each (docs/architecture.md). Devices and the
 * report timeline are written only by activities of the device's workflow; the API only reads.
 */
import type { Knex } from 'knex';
import type { DeviceError } from '../domain/client-status';
import type { GracePeriods } from '../domain/grace';
import { pooledQuery, type Db } from './index';

/** The device row as the workflow projects it (camelCase, ISO strings). */
export interface DeviceProjection {
  tenantId: string;
  deviceId: string;
  platform: string | null;
  azureDeviceId: string | null;
  clientStatusCode: string | null;
  userPrincipalName: string | null;
  complianceStatus: string | null;
  reportTime: string | null;
  policyAction: string | null;
  reportedCompliance: string | null;
  managementState: string | null;
  inventory: Record<string, unknown> | null;
  lastAttemptAt: string | null;
  lastSuccessfulReportAt: string | null;
  lastError: DeviceError | null;
  retiredAt: string | null;
  /** When the grace of the action waiting ends, and that action; null unless in grace. Optional: older projections lack them. */
  graceUntil?: string | null;
  graceAction?: string | null;
  version: number;
}

export interface DeviceRow extends DeviceProjection {
  createdAt: string;
  updatedAt: string;
}

// Rows come back from knex untyped; the to*() mappers below are the typed boundary.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type DbRow = Record<string, any>;

/** What `Date.prototype.toISOString` gives for a year 1–9999: the form every timestamp is served in. */
const ISO_UTC_MILLIS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** A timestamp column as an ISO string (null stays null); one Postgres already formatted is kept as it is. */
export const iso = (v: Date | string | null | undefined): string | null =>
  v === null || v === undefined ? null : v instanceof Date ? v.toISOString() : ISO_UTC_MILLIS.test(v) ? v : new Date(v).toISOString();

/**
 * A timestamptz column formatted by Postgres exactly as `toISOString` formats it (UTC, milliseconds:
 * the columns keep no more), whatever the session's TimeZone and DateStyle. The device read then
 * makes no `Date` per timestamp in the API, whose one thread is what a busy read path saturates
 * (docs/benchmarks.md, "Read path, seventh round").
 */
const isoInSql = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as ${column}`;

export function toDeviceRow(r: DbRow): DeviceRow {
  return {
    tenantId: r.tenant_id,
    deviceId: r.device_id,
    platform: r.platform,
    azureDeviceId: r.azure_device_id,
    clientStatusCode: r.client_status_code,
    userPrincipalName: r.user_principal_name,
    complianceStatus: r.compliance_status,
    reportTime: iso(r.report_time),
    policyAction: r.policy_action,
    reportedCompliance: r.reported_compliance,
    managementState: r.management_state,
    inventory: r.inventory,
    lastAttemptAt: iso(r.last_attempt_at),
    lastSuccessfulReportAt: iso(r.last_successful_report_at),
    lastError: r.last_error,
    retiredAt: iso(r.retired_at),
    graceUntil: iso(r.grace_until ?? null),
    graceAction: r.grace_action ?? null,
    version: Number(r.version),
    createdAt: iso(r.created_at)!,
    updatedAt: iso(r.updated_at)!,
  };
}

/**
 * The device row's columns the workflow projects (DeviceProjection), in the order of
 * deviceWriteValues; the timestamps among them are read back formatted (isoInSql).
 */
const PROJECTED_COLUMNS = [
  'tenant_id',
  'device_id',
  'platform',
  'azure_device_id',
  'client_status_code',
  'user_principal_name',
  'compliance_status',
  'report_time',
  'policy_action',
  'reported_compliance',
  'management_state',
  'inventory',
  'last_attempt_at',
  'last_successful_report_at',
  'last_error',
  'retired_at',
  'grace_until',
  'grace_action',
  'version',
] as const;
const PROJECTED_TIMESTAMPS: ReadonlySet<string> = new Set([
  'report_time',
  'last_attempt_at',
  'last_successful_report_at',
  'retired_at',
  'grace_until',
]);

/** The columns a write sets (with `updated_at`, which Postgres stamps), in parameter order. */
const DEVICE_WRITE_COLUMNS = [...PROJECTED_COLUMNS, 'write_seq'] as const;

function deviceWriteValues(p: DeviceProjection, writeSeq: number): unknown[] {
  return [
    p.tenantId,
    p.deviceId,
    p.platform,
    p.azureDeviceId,
    p.clientStatusCode,
    p.userPrincipalName,
    p.complianceStatus,
    p.reportTime,
    p.policyAction,
    p.reportedCompliance,
    p.managementState,
    p.inventory === null ? null : JSON.stringify(p.inventory),
    p.lastAttemptAt,
    p.lastSuccessfulReportAt,
    p.lastError === null ? null : JSON.stringify(p.lastError),
    p.retiredAt,
    p.graceUntil ?? null,
    p.graceAction ?? null,
    p.version,
    writeSeq,
  ];
}

/** What an update replaces: every written column but the key, and the stamp. */
const DEVICE_UPDATED_COLUMNS = [...DEVICE_WRITE_COLUMNS.filter((c) => c !== 'tenant_id' && c !== 'device_id'), 'updated_at'];

/**
 * A write wins over the row when its (version, writeSeq) is greater: the version orders the device
 * workflow's writes, and within one version the write sequence (the workflow's history length) lets
 * the write of a workflow task retried after a timeout replace the write of the attempt Temporal
 * discarded, while a late write of that discarded attempt never replaces the retry's.
 */
const DEVICE_UPSERT = `insert into devices (${DEVICE_WRITE_COLUMNS.join(', ')}, updated_at)
  values (${DEVICE_WRITE_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')}, now())
  on conflict (tenant_id, device_id) do update set ${DEVICE_UPDATED_COLUMNS.map((c) => `${c} = excluded.${c}`).join(', ')}
  where (devices.version, devices.write_seq) < (excluded.version, excluded.write_seq)
  returning version`;

/**
 * Writes the device row unless a newer version is already there. Returns false when the write was
 * stale (a late activity retry must never overwrite what a newer one wrote).
 */
export async function upsertDeviceProjection(db: Db, p: DeviceProjection, writeSeq = 0): Promise<boolean> {
  return (await pooledQuery(db, DEVICE_UPSERT, deviceWriteValues(p, writeSeq), 'device-write')).length === 1;
}

/** A report attempt of the timeline, as the device workflow records it. */
export type AttemptRecord = Omit<ReportAttempt, 'tenantId' | 'deviceId' | 'error'> & { error: object | null };

/**
 * The device row and, with it, one timeline row, in one statement (so one round trip, atomic): the
 * attempt is written only when the device row was (a stale version writes neither).
 *
 * Both writes are statements each pooled connection prepares once (pooledQuery), with no query
 * building: every report writes through them, twice (docs/benchmarks.md, "Preloaded workflow
 * modules, fewer promises, and the read-model write prepared").
 */
export async function writeDeviceRecord(db: Db, p: DeviceProjection, writeSeq: number, attempt?: AttemptRecord): Promise<boolean> {
  if (!attempt) return upsertDeviceProjection(db, p, writeSeq);
  const row = attemptRow({ ...attempt, tenantId: p.tenantId, deviceId: p.deviceId });
  const values = [...deviceWriteValues(p, writeSeq), ...ATTEMPT_COLUMNS.map((c) => row[c])];
  const [applied] = await pooledQuery(db, DEVICE_AND_ATTEMPT_UPSERT, values, 'device-and-attempt-write');
  return Number((applied as { applied: number }).applied) === 1;
}

/**
 * The columns `toDeviceRow` reads, named so that a prepared statement survives an added column; the
 * timestamps come formatted.
 */
const DEVICE_ROW_COLUMNS = [
  ...PROJECTED_COLUMNS.map((c) => (PROJECTED_TIMESTAMPS.has(c) ? isoInSql(c) : c)),
  isoInSql('created_at'),
  isoInSql('updated_at'),
].join(', ');
const DEVICE_BY_ID = `select ${DEVICE_ROW_COLUMNS} from devices where tenant_id = $1 and device_id = $2 limit 1`;

export async function getDevice(db: Db, tenantId: string, deviceId: string): Promise<DeviceRow | null> {
  // Every admin GET of a device: straight on a pooled pg connection (knex's query building and
  // runner were a tenth of its cost), as a statement each connection prepares once.
  const rows = await pooledQuery(db, DEVICE_BY_ID, [tenantId, deviceId], 'device-by-id');
  return rows[0] ? toDeviceRow(rows[0]) : null;
}

export interface DeviceFilter {
  complianceStatus?: string;
  clientStatusCode?: string;
  retired?: boolean;
  /** Registered with status Success and an Azure device id: what Entra can be asked about. */
  inEntra?: true;
}

function applyFilter(q: Knex.QueryBuilder, filter: DeviceFilter): void {
  if (filter.inEntra) q.andWhere('client_status_code', 'Success').whereNotNull('azure_device_id');
  if (filter.complianceStatus !== undefined) q.andWhere('compliance_status', filter.complianceStatus);
  if (filter.clientStatusCode !== undefined) q.andWhere('client_status_code', filter.clientStatusCode);
  if (filter.retired === true) q.whereNotNull('retired_at');
  if (filter.retired === false) q.whereNull('retired_at');
}

/** Keyset page ordered by device id; `after` is the last device id of the previous page. */
export async function listDevices(db: Db, tenantId: string, filter: DeviceFilter, limit: number, after?: string): Promise<DeviceRow[]> {
  const q = db('devices').where({ tenant_id: tenantId }).orderBy('device_id', 'asc').limit(limit);
  applyFilter(q, filter);
  if (after !== undefined) q.andWhere('device_id', '>', after);
  return (await q).map(toDeviceRow);
}

/** Device ids only, for fleet sweeps: cheap keyset pages over the (tenant, device_id) index. */
export async function listDeviceIdsPage(db: Db, tenantId: string, filter: DeviceFilter, limit: number, after?: string): Promise<string[]> {
  const q = db('devices').select('device_id').where({ tenant_id: tenantId }).orderBy('device_id', 'asc').limit(limit);
  applyFilter(q, filter);
  if (after !== undefined) q.andWhere('device_id', '>', after);
  return (await q).map((r: { device_id: string }) => r.device_id);
}

/**
 * Device ids with the Azure device id the read model last saw, for the drift reconciliation. The
 * Azure device id is only where to look in Entra: the device workflow checks it is still its own.
 */
export async function listEntraTargetsPage(
  db: Db,
  tenantId: string,
  filter: DeviceFilter,
  limit: number,
  after?: string,
): Promise<Array<{ deviceId: string; azureDeviceId: string }>> {
  const q = db('devices').select('device_id', 'azure_device_id').where({ tenant_id: tenantId }).orderBy('device_id', 'asc').limit(limit);
  applyFilter(q, { ...filter, inEntra: true });
  if (after !== undefined) q.andWhere('device_id', '>', after);
  return (await q).map((r: { device_id: string; azure_device_id: string }) => ({
    deviceId: r.device_id,
    azureDeviceId: r.azure_device_id,
  }));
}

/** What a drift reconciliation found, from the `drift` timeline rows its devices wrote. */
export async function countDriftFound(
  db: Db,
  tenantId: string,
  operationId: string,
): Promise<{ driftFound: number; deletedInEntra: number }> {
  const [r] = await db('report_attempts')
    .where({ tenant_id: tenantId, trigger: 'drift' })
    .andWhereRaw("drift->>'operationId' = ?", [operationId])
    .select(
      db.raw('count(distinct device_id)::int as drift_found'),
      db.raw("count(distinct device_id) filter (where jsonb_exists(drift->'kinds', 'deleted'))::int as deleted"),
    );
  return { driftFound: Number(r?.drift_found ?? 0), deletedInEntra: Number(r?.deleted ?? 0) };
}

export async function countDevices(db: Db, tenantId: string, filter: DeviceFilter): Promise<number> {
  const q = db('devices').where({ tenant_id: tenantId }).count<{ count: string }[]>({ count: '*' });
  applyFilter(q, filter);
  const [r] = await q;
  return Number(r?.count ?? 0);
}

export interface ReportAttempt {
  tenantId: string;
  deviceId: string;
  attemptKey: string;
  at: string;
  trigger: string;
  reported: { complianceStatus: string; managementState: string };
  outcome: 'In-progress' | 'Successful' | 'Failed';
  messageId: string | null;
  error: Record<string, unknown> | null;
  completedAt: string | null;
  /** Trigger `drift` only: what the reconciliation found different in Entra (domain/drift.ts). */
  drift?: object | null;
  /** Set on a row that records a grace period's change rather than an upload (domain/grace.ts). */
  grace?: { phase: string; action: string; until: string } | null;
}

/** The columns of a timeline row with their Postgres types, the ones that identify it, and the ones its outcome updates. */
const ATTEMPT_COLUMN_TYPES = {
  tenant_id: 'text',
  device_id: 'text',
  attempt_key: 'text',
  at: 'timestamptz',
  trigger: 'text',
  reported: 'jsonb',
  outcome: 'text',
  message_id: 'text',
  error: 'jsonb',
  completed_at: 'timestamptz',
  drift: 'jsonb',
  grace: 'jsonb',
} as const;
type AttemptColumn = keyof typeof ATTEMPT_COLUMN_TYPES;
const ATTEMPT_COLUMNS = Object.keys(ATTEMPT_COLUMN_TYPES) as AttemptColumn[];
const ATTEMPT_KEY_COLUMNS: AttemptColumn[] = ['tenant_id', 'device_id', 'attempt_key'];
const ATTEMPT_OUTCOME_COLUMNS: AttemptColumn[] = ['outcome', 'message_id', 'error', 'completed_at'];

/**
 * writeDeviceRecord's statement: the device row's upsert, then the timeline row's, which is written
 * only if the device row was (its parameters follow the device's).
 */
const DEVICE_AND_ATTEMPT_UPSERT = `with device as (${DEVICE_UPSERT}),
attempt as (
  insert into report_attempts (${ATTEMPT_COLUMNS.join(', ')})
  select ${ATTEMPT_COLUMNS.map((c, i) => `$${DEVICE_WRITE_COLUMNS.length + i + 1}::${ATTEMPT_COLUMN_TYPES[c]}`).join(', ')}
  where exists (select 1 from device)
  on conflict (${ATTEMPT_KEY_COLUMNS.join(', ')})
  do update set ${ATTEMPT_OUTCOME_COLUMNS.map((c) => `${c} = excluded.${c}`).join(', ')}
)
select count(*)::int as applied from device`;

function attemptRow(a: AttemptRecord & Pick<ReportAttempt, 'tenantId' | 'deviceId'>): Record<AttemptColumn, string | null> {
  return {
    tenant_id: a.tenantId,
    device_id: a.deviceId,
    attempt_key: a.attemptKey,
    at: a.at,
    trigger: a.trigger,
    reported: JSON.stringify(a.reported),
    outcome: a.outcome,
    message_id: a.messageId,
    error: a.error === null ? null : JSON.stringify(a.error),
    completed_at: a.completedAt,
    drift: a.drift ? JSON.stringify(a.drift) : null,
    grace: a.grace ? JSON.stringify(a.grace) : null,
  };
}

/** Inserts the attempt, or updates it when the workflow reports its outcome (same attempt key). */
export async function upsertReportAttempt(db: Db, a: ReportAttempt): Promise<void> {
  await db('report_attempts').insert(attemptRow(a)).onConflict(ATTEMPT_KEY_COLUMNS).merge(ATTEMPT_OUTCOME_COLUMNS);
}

export async function listReportAttempts(db: Db, tenantId: string, deviceId: string, limit: number): Promise<ReportAttempt[]> {
  const rows = await db('report_attempts')
    .where({ tenant_id: tenantId, device_id: deviceId })
    .orderBy([
      { column: 'at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .limit(limit);
  return rows.map((r: DbRow) => ({
    tenantId: r.tenant_id,
    deviceId: r.device_id,
    attemptKey: r.attempt_key,
    at: iso(r.at)!,
    trigger: r.trigger,
    reported: r.reported,
    outcome: r.outcome,
    messageId: r.message_id,
    error: r.error,
    completedAt: iso(r.completed_at),
    drift: r.drift ?? null,
    grace: r.grace ?? null,
  }));
}

export interface Settings {
  tenantId: string;
  enabled: boolean;
  weeklyReportPaused: boolean;
  lastHeartbeatAt: string | null;
  lastHeartbeatResult: Record<string, unknown> | null;
  lastResyncHandled: string | null;
  /** The drift reconciliation's Schedule: paused, and its cron (null: the default, daily). */
  reconciliationPaused: boolean;
  reconciliationCron: string | null;
  /** ISO 8601 durations per policy action (domain/grace.ts); `{}`: no grace. */
  gracePeriods: GracePeriods;
  updatedAt: string;
}

function toSettings(r: DbRow): Settings {
  return {
    tenantId: r.tenant_id,
    enabled: r.enabled,
    weeklyReportPaused: r.weekly_report_paused,
    lastHeartbeatAt: iso(r.last_heartbeat_at),
    lastHeartbeatResult: r.last_heartbeat_result,
    lastResyncHandled: r.last_resync_handled,
    reconciliationPaused: r.reconciliation_paused ?? false,
    reconciliationCron: r.reconciliation_cron ?? null,
    gracePeriods: r.grace_periods ?? {},
    updatedAt: iso(r.updated_at)!,
  };
}

/** Creates the tenant's settings row, with the column defaults, unless it exists. */
async function ensureSettingsRow(db: Db | Knex.Transaction, tenantId: string): Promise<void> {
  await db('settings').insert({ tenant_id: tenantId }).onConflict('tenant_id').ignore();
}

/** Settings of a tenant, created with the defaults on first read. */
export async function getSettings(db: Db, tenantId: string, defaults: { enabled: boolean } = { enabled: true }): Promise<Settings> {
  // Read first: this runs before every upload and on every admin read; the insert happens once.
  const existing = await db('settings').where({ tenant_id: tenantId }).first();
  if (existing) return toSettings(existing);
  await db('settings').insert({ tenant_id: tenantId, enabled: defaults.enabled }).onConflict('tenant_id').ignore();
  return toSettings(await db('settings').where({ tenant_id: tenantId }).first());
}

/**
 * Whether reporting is on for a tenant, read before every upload. A `true` is trusted for
 * `trustOnMs` (switching the feature off takes effect within that long); a `false` is read again
 * every time, so a report asked for right after switching it on is never skipped on a stale answer.
 */
export interface ReportingEnabledReader {
  (tenantId: string): Promise<boolean>;
  /** True while a `true` read is trusted: the caller needs no read (nor its timeout guard) at all. */
  freshOn(tenantId: string): boolean;
}

export function reportingEnabledReader(db: Db, trustOnMs = 1_000): ReportingEnabledReader {
  const onUntil = new Map<string, number>();
  const freshOn = (tenantId: string): boolean => {
    const until = onUntil.get(tenantId);
    return until !== undefined && Date.now() < until;
  };
  const read = async (tenantId: string): Promise<boolean> => {
    if (freshOn(tenantId)) return true;
    const { enabled } = await getSettings(db, tenantId);
    if (enabled) onUntil.set(tenantId, Date.now() + trustOnMs);
    else onUntil.delete(tenantId);
    return enabled;
  };
  return Object.assign(read, { freshOn });
}

/**
 * A tenant's grace periods, read by the device workflow when an action that may have a grace
 * arrives. Kept for `trustMs` per tenant (a change takes effect within that long). When Postgres
 * cannot be read the answer is `{}`, no grace: the restrictive state is reported at once (fail safe).
 */
export function gracePeriodsReader(
  db: Db,
  onError: (err: unknown) => void = () => {},
  trustMs = 5_000,
): (tenantId: string) => Promise<GracePeriods> {
  const cache = new Map<string, { periods: GracePeriods; until: number }>();
  return async (tenantId) => {
    const hit = cache.get(tenantId);
    if (hit !== undefined && Date.now() < hit.until) return hit.periods;
    try {
      const row = await db('settings').select('grace_periods').where({ tenant_id: tenantId }).first();
      const periods: GracePeriods = row?.grace_periods ?? {};
      cache.set(tenantId, { periods, until: Date.now() + trustMs });
      return periods;
    } catch (err) {
      onError(err);
      return {};
    }
  };
}

export async function updateSettings(
  db: Db,
  tenantId: string,
  patch: Partial<Pick<Settings, 'enabled' | 'weeklyReportPaused' | 'reconciliationPaused' | 'reconciliationCron' | 'gracePeriods'>>,
): Promise<{ before: Settings; after: Settings }> {
  return db.transaction(async (trx) => {
    await ensureSettingsRow(trx, tenantId);
    const before = toSettings(await trx('settings').where({ tenant_id: tenantId }).forUpdate().first());
    const update: Record<string, unknown> = { updated_at: trx.fn.now() };
    if (patch.enabled !== undefined) update.enabled = patch.enabled;
    if (patch.weeklyReportPaused !== undefined) update.weekly_report_paused = patch.weeklyReportPaused;
    if (patch.reconciliationPaused !== undefined) update.reconciliation_paused = patch.reconciliationPaused;
    if (patch.reconciliationCron !== undefined) update.reconciliation_cron = patch.reconciliationCron;
    if (patch.gracePeriods !== undefined) update.grace_periods = JSON.stringify(patch.gracePeriods);
    const [r] = await trx('settings').where({ tenant_id: tenantId }).update(update).returning('*');
    return { before, after: toSettings(r) };
  });
}

export async function recordHeartbeat(db: Db, tenantId: string, at: string, result: Record<string, unknown>): Promise<void> {
  await ensureSettingsRow(db, tenantId);
  await db('settings')
    .where({ tenant_id: tenantId })
    .update({ last_heartbeat_at: at, last_heartbeat_result: JSON.stringify(result) });
}

/** Marks a Microsoft resync request handled; true only for the first caller with a newer timestamp. */
export async function claimResync(db: Db, tenantId: string, resyncTimestamp: string): Promise<boolean> {
  await ensureSettingsRow(db, tenantId);
  const n = await db('settings')
    .where({ tenant_id: tenantId })
    .andWhere((q) => q.whereNull('last_resync_handled').orWhereRaw('last_resync_handled::timestamptz < ?::timestamptz', [resyncTimestamp]))
    .update({ last_resync_handled: resyncTimestamp });
  return n === 1;
}

export interface Operation {
  operationId: string;
  tenantId: string;
  kind: string;
  filter: DeviceFilter | null;
  startedAt: string;
  finishedAt: string | null;
  devicesTotal: number | null;
  devicesSignalled: number;
  devicesSkipped: number;
}

function toOperation(r: DbRow): Operation {
  return {
    operationId: r.operation_id,
    tenantId: r.tenant_id,
    kind: r.kind,
    filter: r.filter,
    startedAt: iso(r.started_at)!,
    finishedAt: iso(r.finished_at),
    devicesTotal: r.devices_total,
    devicesSignalled: r.devices_signalled,
    devicesSkipped: Number(r.devices_skipped ?? 0),
  };
}

export async function createOperation(
  db: Db,
  op: Pick<Operation, 'operationId' | 'tenantId' | 'kind' | 'filter' | 'startedAt'>,
): Promise<void> {
  await db('operations')
    .insert({
      operation_id: op.operationId,
      tenant_id: op.tenantId,
      kind: op.kind,
      filter: op.filter === null ? null : JSON.stringify(op.filter),
      started_at: op.startedAt,
    })
    .onConflict('operation_id')
    .ignore();
}

export async function updateOperationProgress(
  db: Db,
  operationId: string,
  progress: { devicesTotal?: number; devicesSignalled?: number; finishedAt?: string },
): Promise<void> {
  const update: Record<string, unknown> = {};
  if (progress.devicesTotal !== undefined) update.devices_total = progress.devicesTotal;
  if (progress.devicesSignalled !== undefined) update.devices_signalled = progress.devicesSignalled;
  if (progress.finishedAt !== undefined) update.finished_at = progress.finishedAt;
  if (Object.keys(update).length > 0) await db('operations').where({ operation_id: operationId }).update(update);
}

export async function getOperation(db: Db, tenantId: string, operationId: string): Promise<Operation | null> {
  const r = await db('operations').where({ operation_id: operationId, tenant_id: tenantId }).first();
  return r ? toOperation(r) : null;
}

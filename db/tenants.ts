/**
 * The tenant registry (migration 005_tenants; docs/architecture.md, "Tenants"): each customer's Entra
 * tenant, where it stands in onboarding, its API keys (SHA-256 digests only), the `state` of each
 * admin-consent link, and the record kept of an offboarded tenant. One function per query.
 */
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { iso } from './data';
import { TENANT_STATES } from './migrations/005_tenants';
import type { Db } from './index';

export { TENANT_STATES };
export type TenantState = (typeof TENANT_STATES)[number];
export type TenantKeyRole = 'mdm' | 'admin';

export interface Tenant {
  tenantId: string;
  displayName: string;
  state: TenantState;
  /** Why the tenant is in its state, in plain words; null when there is nothing to say. */
  stateReason: string | null;
  createdAt: string;
  consentedAt: string | null;
  activatedAt: string | null;
  revokedAt: string | null;
  /** The tenant's own weekly cron; null: the default spread over the week's first hours. */
  weeklyCron: string | null;
  tokenOk: boolean | null;
  tokenCheckedAt: string | null;
  tokenError: string | null;
  consentFailures: number;
  lastThrottledAt: string | null;
  updatedAt: string;
}

// Rows come back from knex untyped; toTenant() is the typed boundary.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type DbRow = Record<string, any>;
type Queryable = Db | Knex.Transaction;

function toTenant(r: DbRow): Tenant {
  return {
    tenantId: r.tenant_id,
    displayName: r.display_name,
    state: r.state,
    stateReason: r.state_reason,
    createdAt: iso(r.created_at)!,
    consentedAt: iso(r.consented_at),
    activatedAt: iso(r.activated_at),
    revokedAt: iso(r.revoked_at),
    weeklyCron: r.weekly_cron,
    tokenOk: r.token_ok,
    tokenCheckedAt: iso(r.token_checked_at),
    tokenError: r.token_error,
    consentFailures: Number(r.consent_failures ?? 0),
    lastThrottledAt: iso(r.last_throttled_at),
    updatedAt: iso(r.updated_at)!,
  };
}

/** How an API key is stored and looked up: the hex SHA-256 of the key (the key itself is never stored). */
export function apiKeyDigest(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export interface NewTenantKey {
  digest: string;
  role: TenantKeyRole;
}

export interface NewTenant {
  tenantId: string;
  displayName: string;
  keys: readonly NewTenantKey[];
  /** The `state` parameter of the admin-consent link issued with it. */
  consentState: string;
}

/**
 * Registers a tenant `pending-consent` with its keys and its consent request, in one transaction.
 * Returns null (and writes nothing) when the tenant is already registered.
 */
export async function createTenant(db: Db, t: NewTenant): Promise<Tenant | null> {
  return db.transaction(async (trx) => {
    const [row] = await trx('tenants')
      .insert({ tenant_id: t.tenantId, display_name: t.displayName, state: 'pending-consent' })
      .onConflict('tenant_id')
      .ignore()
      .returning('*');
    if (!row) return null;
    await insertKeys(trx, t.tenantId, t.keys);
    await trx('consent_requests').insert({ state: t.consentState, tenant_id: t.tenantId });
    await trx('settings').insert({ tenant_id: t.tenantId }).onConflict('tenant_id').ignore();
    return toTenant(row);
  });
}

/** The registry's name of the tenant AZURE_TENANT_ID configures. */
export const SINGLE_TENANT_DISPLAY_NAME = 'Configured tenant (AZURE_TENANT_ID)';

/**
 * Registers a tenant that needs no consent flow (the single tenant of AZURE_TENANT_ID) as `active`,
 * unless it is registered already, whatever its state then: a restart never undoes a revoked consent.
 * Idempotent; returns the tenant as it stands.
 */
export async function ensureActiveTenant(db: Db, tenantId: string, displayName: string): Promise<Tenant> {
  await db('tenants')
    .insert({ tenant_id: tenantId, display_name: displayName, state: 'active', consented_at: db.fn.now(), activated_at: db.fn.now() })
    .onConflict('tenant_id')
    .ignore();
  return (await getTenant(db, tenantId))!;
}

export async function getTenant(db: Queryable, tenantId: string): Promise<Tenant | null> {
  const r = await db('tenants').where({ tenant_id: tenantId }).first();
  return r ? toTenant(r) : null;
}

/** Keyset page ordered by tenant id; `after` is the last tenant id of the previous page. */
export async function listTenants(db: Db, limit: number, after?: string, states?: readonly TenantState[]): Promise<Tenant[]> {
  const q = db('tenants').orderBy('tenant_id', 'asc').limit(limit);
  if (after !== undefined) q.where('tenant_id', '>', after);
  if (states !== undefined) q.whereIn('state', states);
  return (await q).map(toTenant);
}

/** The timestamp column each state stamps when a tenant enters it. */
const STAMPED_ON_ENTRY: Partial<Record<TenantState, string>> = {
  consented: 'consented_at',
  active: 'activated_at',
  'consent-revoked': 'revoked_at',
};

/**
 * Moves a tenant to `state` (stamping consented_at / activated_at / revoked_at), only from one of
 * `from` when given. Returns the tenant after the change, or null when it does not exist or was in
 * none of `from` (nothing changed).
 */
export async function setTenantState(
  db: Queryable,
  tenantId: string,
  state: TenantState,
  opts: { reason?: string | null; from?: readonly TenantState[] } = {},
): Promise<Tenant | null> {
  const update: Record<string, unknown> = { state, state_reason: opts.reason ?? null, updated_at: db.fn.now() };
  const stamp = STAMPED_ON_ENTRY[state];
  if (stamp !== undefined) update[stamp] = db.fn.now();
  if (state === 'active') {
    update.consent_failures = 0;
    update.revoked_at = null;
  }
  const q = db('tenants').where({ tenant_id: tenantId });
  if (opts.from !== undefined) q.whereIn('state', opts.from);
  const [r] = await q.update(update).returning('*');
  return r ? toTenant(r) : null;
}

/** The registry's own settings of a tenant (the others are in `settings`, db/data.ts). */
export async function updateTenant(
  db: Queryable,
  tenantId: string,
  patch: { displayName?: string; weeklyCron?: string | null },
): Promise<Tenant | null> {
  const update: Record<string, unknown> = { updated_at: db.fn.now() };
  if (patch.displayName !== undefined) update.display_name = patch.displayName;
  if (patch.weeklyCron !== undefined) update.weekly_cron = patch.weeklyCron;
  const [r] = await db('tenants').where({ tenant_id: tenantId }).update(update).returning('*');
  return r ? toTenant(r) : null;
}

/** Token health as a worker just saw it (a token acquired, or refused with `error`). */
export async function recordTokenHealth(db: Db, tenantId: string, health: { ok: boolean; error: string | null }): Promise<void> {
  await db('tenants')
    .where({ tenant_id: tenantId })
    .update({ token_ok: health.ok, token_error: health.error, token_checked_at: db.fn.now() });
}

/** Microsoft throttled a call of this tenant. */
export async function recordThrottled(db: Db, tenantId: string): Promise<void> {
  await db('tenants').where({ tenant_id: tenantId }).update({ last_throttled_at: db.fn.now() });
}

/** Counts one more consent failure of the tenant; returns the count (0 when the tenant does not exist). */
export async function countConsentFailure(db: Db, tenantId: string): Promise<number> {
  const [r] = await db('tenants').where({ tenant_id: tenantId }).increment('consent_failures', 1).returning('consent_failures');
  return r ? Number(r.consent_failures) : 0;
}

// ---- API keys -------------------------------------------------------------------------------------------

async function insertKeys(trx: Queryable, tenantId: string, keys: readonly NewTenantKey[]): Promise<void> {
  if (keys.length === 0) return;
  await trx('tenant_api_keys').insert(keys.map((k) => ({ key_digest: k.digest, tenant_id: tenantId, role: k.role })));
}

export interface TenantKeyBinding {
  tenantId: string;
  role: TenantKeyRole;
  /** Where the key's tenant stands (an offboarding tenant's keys no longer work). */
  tenantState: TenantState;
}

/** The tenant and role of a key digest, or null when no live key has it (unknown or revoked). */
export async function findTenantKey(db: Db, digest: string): Promise<TenantKeyBinding | null> {
  const r = await db('tenant_api_keys as k')
    .join('tenants as t', 't.tenant_id', 'k.tenant_id')
    .select('k.tenant_id', 'k.role', 't.state')
    .where({ 'k.key_digest': digest })
    .whereNull('k.revoked_at')
    .first();
  return r ? { tenantId: r.tenant_id, role: r.role, tenantState: r.state } : null;
}

/**
 * Replaces the tenant's live keys by `keys` in one transaction (the old ones are kept, revoked).
 * Returns the digests revoked, so callers can drop them from any cache; null when the tenant does not exist.
 */
export async function rotateTenantKeys(db: Db, tenantId: string, keys: readonly NewTenantKey[]): Promise<string[] | null> {
  return db.transaction(async (trx) => {
    const tenant = await trx('tenants').select('tenant_id').where({ tenant_id: tenantId }).forUpdate().first();
    if (!tenant) return null;
    const revoked = await trx('tenant_api_keys')
      .where({ tenant_id: tenantId })
      .whereNull('revoked_at')
      .update({ revoked_at: trx.fn.now() })
      .returning('key_digest');
    await insertKeys(trx, tenantId, keys);
    return revoked.map((r: { key_digest: string }) => r.key_digest);
  });
}

// ---- Consent requests -----------------------------------------------------------------------------------

export async function createConsentRequest(db: Db, tenantId: string, state: string): Promise<void> {
  await db('consent_requests').insert({ state, tenant_id: tenantId });
}

export interface ConsentRequest {
  state: string;
  tenantId: string;
  issuedAt: string;
  usedAt: string | null;
}

/** A consent request by its `state`, used or not; null when that state was never issued. */
export async function getConsentRequest(db: Db, state: string): Promise<ConsentRequest | null> {
  const r = await db('consent_requests').where({ state }).first();
  return r ? { state: r.state, tenantId: r.tenant_id, issuedAt: iso(r.issued_at)!, usedAt: iso(r.used_at) } : null;
}

export type ConsentAcceptance =
  | { outcome: 'consented'; tenant: Tenant; before: Pick<Tenant, 'state' | 'stateReason'> }
  | { outcome: 'unknown' | 'replayed' | 'offboarding' };

/**
 * Uses a consent request's `state`, once, and moves its tenant to `consented`, in one transaction:
 * the first caller wins; a later one gets `replayed` (two concurrent callbacks cannot both win); a
 * state never issued `unknown`; an offboarding tenant is left alone. `before` lets a caller undo it.
 */
export async function acceptConsent(db: Db, state: string): Promise<ConsentAcceptance> {
  return db.transaction(async (trx) => {
    const request = await trx('consent_requests').where({ state }).forUpdate().first();
    if (!request) return { outcome: 'unknown' as const };
    if (request.used_at !== null) return { outcome: 'replayed' as const };
    const before = await trx('tenants').where({ tenant_id: request.tenant_id }).forUpdate().first();
    if (!before || before.state === 'offboarding') return { outcome: 'offboarding' as const };
    await trx('consent_requests').where({ state }).update({ used_at: trx.fn.now() });
    const tenant = (await setTenantState(trx, request.tenant_id, 'consented'))!;
    return { outcome: 'consented' as const, tenant, before: { state: before.state, stateReason: before.state_reason } };
  });
}

/** Undoes acceptConsent (what followed it failed): the state is usable again and the tenant back where it was. */
export async function undoConsent(db: Db, state: string, tenantId: string, before: Pick<Tenant, 'state' | 'stateReason'>): Promise<void> {
  await db.transaction(async (trx) => {
    await trx('consent_requests').where({ state }).update({ used_at: null });
    await setTenantState(trx, tenantId, before.state, { reason: before.stateReason, from: ['consented'] });
  });
}

/** Why the tenant stays where it is (e.g. its admin declined consent), without changing its state. */
export async function setTenantStateReason(db: Db, tenantId: string, reason: string | null): Promise<void> {
  await db('tenants').where({ tenant_id: tenantId }).update({ state_reason: reason, updated_at: db.fn.now() });
}

// ---- What the operator sees of a tenant -------------------------------------------------------------------

export interface TenantDeviceCounts {
  total: number;
  Successful: number;
  Failed: number;
  'In-progress': number;
}

/** Device counts by compliance status of each tenant (tenants without devices are absent). */
export async function countDevicesByTenant(db: Db, tenantIds: readonly string[]): Promise<Map<string, TenantDeviceCounts>> {
  const out = new Map<string, TenantDeviceCounts>();
  if (tenantIds.length === 0) return out;
  const rows = await db('devices')
    .select('tenant_id', 'compliance_status')
    .count<{ tenant_id: string; compliance_status: string | null; count: string }[]>({ count: '*' })
    .whereIn('tenant_id', tenantIds)
    .groupBy('tenant_id', 'compliance_status');
  for (const r of rows) {
    const counts = out.get(r.tenant_id) ?? { total: 0, Successful: 0, Failed: 0, 'In-progress': 0 };
    const n = Number(r.count);
    counts.total += n;
    if (r.compliance_status === 'Successful' || r.compliance_status === 'Failed' || r.compliance_status === 'In-progress') {
      counts[r.compliance_status] += n;
    }
    out.set(r.tenant_id, counts);
  }
  return out;
}

export interface TenantSettingsSummary {
  enabled: boolean;
  weeklyReportPaused: boolean;
  lastHeartbeatAt: string | null;
}

/** The settings each tenant has in `settings` (tenants without a row yet are absent: the defaults apply). */
export async function settingsByTenant(db: Db, tenantIds: readonly string[]): Promise<Map<string, TenantSettingsSummary>> {
  const out = new Map<string, TenantSettingsSummary>();
  if (tenantIds.length === 0) return out;
  const rows = await db('settings')
    .select('tenant_id', 'enabled', 'weekly_report_paused', 'last_heartbeat_at')
    .whereIn('tenant_id', tenantIds);
  for (const r of rows) {
    out.set(r.tenant_id, { enabled: r.enabled, weeklyReportPaused: r.weekly_report_paused, lastHeartbeatAt: iso(r.last_heartbeat_at) });
  }
  return out;
}

export interface WeeklyReportRun {
  operationId: string;
  startedAt: string;
  finishedAt: string | null;
}

/** The newest weekly report of each tenant (tenants that never had one are absent). */
export async function lastWeeklyReports(db: Db, tenantIds: readonly string[]): Promise<Map<string, WeeklyReportRun>> {
  const out = new Map<string, WeeklyReportRun>();
  if (tenantIds.length === 0) return out;
  const rows = await db('operations')
    .distinctOn('tenant_id')
    .select('tenant_id', 'operation_id', 'started_at', 'finished_at')
    .whereIn('tenant_id', tenantIds)
    .andWhere({ kind: 'weekly' })
    .orderBy([{ column: 'tenant_id' }, { column: 'started_at', order: 'desc' }]);
  for (const r of rows)
    out.set(r.tenant_id, { operationId: r.operation_id, startedAt: iso(r.started_at)!, finishedAt: iso(r.finished_at) });
  return out;
}

// ---- Offboarding ----------------------------------------------------------------------------------------

export interface TenantOffboarding {
  tenantId: string;
  displayName: string;
  operationId: string;
  reportNotManaged: boolean;
  requestedAt: string;
  completedAt: string | null;
  devicesReported: number | null;
  devicesRemoved: number | null;
}

function toOffboarding(r: DbRow): TenantOffboarding {
  return {
    tenantId: r.tenant_id,
    displayName: r.display_name,
    operationId: r.operation_id,
    reportNotManaged: r.report_not_managed,
    requestedAt: iso(r.requested_at)!,
    completedAt: iso(r.completed_at),
    devicesReported: r.devices_reported === null ? null : Number(r.devices_reported),
    devicesRemoved: r.devices_removed === null ? null : Number(r.devices_removed),
  };
}

/**
 * Starts an offboarding: the tenant goes `offboarding` and its record is written, in one transaction.
 * Returns null when the tenant does not exist or is already offboarding (nothing changed); `before`
 * lets a caller undo it.
 */
export async function beginOffboarding(
  db: Db,
  o: { tenantId: string; operationId: string; reportNotManaged: boolean },
): Promise<{ record: TenantOffboarding; before: Pick<Tenant, 'state' | 'stateReason'> } | null> {
  return db.transaction(async (trx) => {
    const before = await trx('tenants').where({ tenant_id: o.tenantId }).forUpdate().first();
    if (!before || before.state === 'offboarding') return null;
    await setTenantState(trx, o.tenantId, 'offboarding');
    const [r] = await trx('tenant_offboardings')
      .insert({
        tenant_id: o.tenantId,
        display_name: before.display_name,
        operation_id: o.operationId,
        report_not_managed: o.reportNotManaged,
      })
      .returning('*');
    return { record: toOffboarding(r), before: { state: before.state, stateReason: before.state_reason } };
  });
}

/** Undoes beginOffboarding (starting the workflow failed): the record goes and the tenant is back in `state`. */
export async function undoOffboarding(
  db: Db,
  operationId: string,
  tenantId: string,
  before: Pick<Tenant, 'state' | 'stateReason'>,
): Promise<void> {
  await db.transaction(async (trx) => {
    await trx('tenant_offboardings').where({ operation_id: operationId }).whereNull('completed_at').del();
    await setTenantState(trx, tenantId, before.state, { reason: before.stateReason, from: ['offboarding'] });
  });
}

export async function getOffboarding(db: Db, operationId: string): Promise<TenantOffboarding | null> {
  const r = await db('tenant_offboardings').where({ operation_id: operationId }).first();
  return r ? toOffboarding(r) : null;
}

/** The tenant's offboardings, newest first (the record outlives the tenant). */
export async function listOffboardings(db: Db, tenantId: string): Promise<TenantOffboarding[]> {
  const rows = await db('tenant_offboardings').where({ tenant_id: tenantId }).orderBy('id', 'desc');
  return rows.map(toOffboarding);
}

/** Tables holding a tenant's data, children first (the registry's own rows go last). */
const TENANT_DATA_TABLES = [
  'report_attempts',
  'devices',
  'operations',
  'audit_log',
  'settings',
  'consent_requests',
  'tenant_api_keys',
] as const;

/**
 * Removes every row of the tenant (devices, timeline, operations, audit, settings, keys, consent
 * requests, then the tenant itself) in one transaction, and completes its offboarding record.
 * Idempotent: a repeat removes nothing more and keeps the first completion. Returns the devices removed.
 */
export async function removeTenantData(
  db: Db,
  tenantId: string,
  completion?: { operationId: string; devicesReported: number | null },
): Promise<{ devicesRemoved: number }> {
  return db.transaction(async (trx) => {
    let devicesRemoved = 0;
    for (const table of TENANT_DATA_TABLES) {
      const n = await trx(table).where({ tenant_id: tenantId }).del();
      if (table === 'devices') devicesRemoved = n;
    }
    await trx('tenants').where({ tenant_id: tenantId }).del();
    if (completion) {
      await trx('tenant_offboardings')
        .where({ operation_id: completion.operationId })
        .whereNull('completed_at')
        .update({ completed_at: trx.fn.now(), devices_reported: completion.devicesReported, devices_removed: devicesRemoved });
    }
    return { devicesRemoved };
  });
}

/**
 * The queries behind the API's tenant gauges on /metrics (api/fleet-metrics.ts), one cheap statement
 * each, read at scrape time. Every one is limited to known tenants, so the `tenant` label never takes
 * an id nobody configured (bounded cardinality).
 */
import type { Db } from './index';

/** The configured tenants and every row of the tenants table. */
export async function knownTenantIds(db: Db, configured: readonly string[]): Promise<string[]> {
  const rows = await db('tenants').select<Array<{ tenant_id: string }>>('tenant_id');
  return [...new Set([...configured, ...rows.map((r) => r.tenant_id)])].sort();
}

export interface TenantSettingsFact {
  tenantId: string;
  enabled: boolean;
  /** When the last heartbeat was recorded, accepted or not (ms since the epoch). */
  lastHeartbeatAt: number | null;
  /** Whether Microsoft accepted that heartbeat. */
  lastHeartbeatOk: boolean | null;
}

export async function tenantSettingsFacts(db: Db, tenants: readonly string[]): Promise<TenantSettingsFact[]> {
  const rows = await db('settings')
    .whereIn('tenant_id', tenants)
    .select('tenant_id', 'enabled', 'last_heartbeat_at', db.raw("(last_heartbeat_result->>'ok')::boolean as ok"));
  return rows.map((r: { tenant_id: string; enabled: boolean; last_heartbeat_at: Date | null; ok: boolean | null }) => ({
    tenantId: r.tenant_id,
    enabled: r.enabled,
    lastHeartbeatAt: r.last_heartbeat_at === null ? null : new Date(r.last_heartbeat_at).getTime(),
    lastHeartbeatOk: r.last_heartbeat_at === null ? null : r.ok === true,
  }));
}

export interface TenantStateFact {
  tenantId: string;
  consentRevoked: boolean;
  /** tenants.token_ok: null until the connector first tried to get a token for the tenant. */
  tokenOk: boolean | null;
}

/** Consent and token state from the tenants table. */
export async function tenantStateFacts(db: Db, tenants: readonly string[]): Promise<TenantStateFact[]> {
  const rows = await db('tenants').whereIn('tenant_id', tenants).select('tenant_id', 'state', 'token_ok');
  return rows.map((r: { tenant_id: string; state: string; token_ok: boolean | null }) => ({
    tenantId: r.tenant_id,
    consentRevoked: r.state === 'consent-revoked',
    tokenOk: r.token_ok,
  }));
}

/**
 * The start (ms since the epoch) of the oldest report Microsoft has not finished processing, per
 * tenant: devices whose latest report is In-progress (devices_tenant_status_idx).
 */
export async function oldestInProgressReports(db: Db, tenants: readonly string[]): Promise<Array<{ tenantId: string; startedAt: number }>> {
  const rows = await db('devices')
    .whereIn('tenant_id', tenants)
    .where('compliance_status', 'In-progress')
    .whereNull('retired_at')
    .groupBy('tenant_id')
    .select('tenant_id', db.raw('min(last_attempt_at) as started_at'));
  return rows
    .filter((r: { started_at: Date | null }) => r.started_at !== null)
    .map((r: { tenant_id: string; started_at: Date }) => ({ tenantId: r.tenant_id, startedAt: new Date(r.started_at).getTime() }));
}

/** Timeline rows of drift reports per tenant (the partial index report_attempts_drift_idx). */
export async function driftAttemptCounts(db: Db, tenants: readonly string[]): Promise<Map<string, number>> {
  const rows = await db('report_attempts')
    .whereIn('tenant_id', tenants)
    .where('trigger', 'drift')
    .groupBy('tenant_id')
    .select('tenant_id', db.raw('count(*)::int as n'));
  return new Map(rows.map((r: { tenant_id: string; n: number }) => [r.tenant_id, r.n]));
}

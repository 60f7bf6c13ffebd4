/**
 * Each tenant's two Temporal Schedules (docs/architecture.md): the weekly report (a fleet sweep of
 * kind `weekly`) and the tenant heartbeat (P6). The single tenant of AZURE_TENANT_ID keeps the
 * Schedule ids and WEEKLY_REPORT_CRON it always had; every other tenant's Schedules carry its id
 * and, unless it has a cron of its own, run weekly at a time spread over Monday's first hours from
 * a hash of its id. Created at activation and at every worker start (every `active` tenant),
 * deleted at offboarding.
 *
 * Pitfalls handled here: `create` throws when the Schedule exists (so: create, else update); overlap
 * is set explicitly to SKIP (a sweep still running when the next one is due is not doubled); the
 * catch-up window is explicit (what runs after an outage of the Temporal server).
 */
import { createHash } from 'node:crypto';
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptions,
} from '@temporalio/client';
import type { Config } from '../config';
import type { Db } from '../db';
import { getSettings } from '../db/data';
import { getTenant, listTenants } from '../db/tenants';
import { TenantIdKey } from '../workflows/search-attributes';
import { reconciliationScheduleId, upsertReconciliationSchedule } from './reconciliation-schedule';
import {
  DEFAULT_SWEEP_OPTIONS,
  FLEET_SWEEP_WORKFLOW_TYPE,
  TENANT_HEARTBEAT_WORKFLOW_TYPE,
  fleetWorkflowId,
  heartbeatWorkflowId,
  type FleetSweepInput,
  type SweepOptions,
  type TenantHeartbeatInput,
} from '../workflows/fleet-messages';

export const WEEKLY_REPORT_SCHEDULE_ID = 'weekly-azure-compliance-report';
export const TENANT_HEARTBEAT_SCHEDULE_ID = 'azure-tenant-heartbeat';

/**
 * The Schedule ids of a tenant: the single tenant (AZURE_TENANT_ID, or any tenant when no
 * credentials are configured) keeps the plain ids; any other tenant's carry its id.
 */
export function tenantScheduleIds(tenantId: string, envTenantId: string | undefined): { weekly: string; heartbeat: string } {
  if (isEnvTenant(tenantId, envTenantId)) return { weekly: WEEKLY_REPORT_SCHEDULE_ID, heartbeat: TENANT_HEARTBEAT_SCHEDULE_ID };
  return { weekly: `${WEEKLY_REPORT_SCHEDULE_ID}:${tenantId}`, heartbeat: `${TENANT_HEARTBEAT_SCHEDULE_ID}:${tenantId}` };
}

function isEnvTenant(tenantId: string, envTenantId: string | undefined): boolean {
  return envTenantId === undefined || envTenantId.toLowerCase() === tenantId.toLowerCase();
}

/** Minutes of Monday (UTC) over which tenants without a cron of their own are spread: 00:00 to 11:59. */
const SPREAD_MINUTES = 12 * 60;

/**
 * A tenant's default weekly cron: a minute of Monday's first twelve hours (UTC) picked by a hash of
 * its id, so a thousand tenants do not all sweep at once; the same tenant always gets the same time.
 */
export function spreadWeeklyCron(tenantId: string): string {
  const slot = createHash('sha256').update(tenantId.toLowerCase()).digest().readUInt32BE(0) % SPREAD_MINUTES;
  return `${slot % 60} ${Math.floor(slot / 60)} * * 1`;
}

/** The weekly cron of a tenant: its own, else WEEKLY_REPORT_CRON for the single tenant, else the spread default. */
export function weeklyCronOf(tenantId: string, ownCron: string | null, envTenantId: string | undefined, weeklyReportCron: string): string {
  if (ownCron) return ownCron;
  return isEnvTenant(tenantId, envTenantId) ? weeklyReportCron : spreadWeeklyCron(tenantId);
}

/** A weekly report missed by an outage still runs if the server is back within a day. */
export const WEEKLY_REPORT_CATCHUP_WINDOW = '1 day';
/** A missed heartbeat is worth sending only shortly after its time; the next one follows within the hour. */
export const TENANT_HEARTBEAT_CATCHUP_WINDOW = '10 minutes';

/** Sweep options from the configuration (pacing follows the Microsoft rate limit). */
export function sweepOptionsFrom(config: Readonly<Config>): SweepOptions {
  return { ...DEFAULT_SWEEP_OPTIONS, devicesPerSecond: config.sweepDevicesPerSecond };
}

export interface EnsureSchedulesOptions {
  /** Whether the weekly report starts paused; default: `settings.weekly_report_paused` from `db`. */
  weeklyPaused?: boolean;
  /** Sweep options baked into both actions; default from the configuration. */
  sweepOptions?: SweepOptions;
}

export type UpsertOutcome = 'created' | 'updated';

/**
 * Creates or updates the tenant's three Schedules (weekly report, heartbeat, drift reconciliation) from the configuration. The weekly report is
 * paused or not as the tenant's settings say. Safe to run at every start, from any number of workers.
 */
export async function ensureSchedules(
  temporal: Client,
  config: Readonly<Config>,
  tenantId: string,
  db: Db | null,
  opts: EnsureSchedulesOptions = {},
): Promise<{ weekly: UpsertOutcome; heartbeat: UpsertOutcome; reconciliation: UpsertOutcome }> {
  const settings = db ? await getSettings(db, tenantId) : null;
  const weeklyPaused = opts.weeklyPaused ?? settings?.weeklyReportPaused ?? false;
  const sweepOptions = opts.sweepOptions ?? sweepOptionsFrom(config);
  const taskQueue = config.temporal.taskQueue;
  const ids = tenantScheduleIds(tenantId, config.azure?.tenantId);
  const ownCron = db ? ((await getTenant(db, tenantId))?.weeklyCron ?? null) : null;
  const weeklyCron = weeklyCronOf(tenantId, ownCron, config.azure?.tenantId, config.weeklyReportCron);
  // Every run of either Schedule is found by the tenant in the Temporal UI.
  const typedSearchAttributes = [{ key: TenantIdKey, value: tenantId }];

  const weeklyInput: FleetSweepInput = { tenantId, kind: 'weekly', filter: null, options: sweepOptions };
  const weekly = await upsertSchedule(temporal, {
    scheduleId: ids.weekly,
    spec: { cronExpressions: [weeklyCron] },
    action: {
      type: 'startWorkflow',
      workflowType: FLEET_SWEEP_WORKFLOW_TYPE,
      // The Schedule appends the time of each run: every run is an operation of its own.
      workflowId: fleetWorkflowId(tenantId, 'weekly'),
      taskQueue,
      args: [weeklyInput],
      typedSearchAttributes,
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: WEEKLY_REPORT_CATCHUP_WINDOW },
    state: {
      paused: weeklyPaused,
      note: weeklyPaused ? 'paused in the settings (weeklyReport.paused)' : `weekly report, cron "${weeklyCron}" (UTC)`,
    },
  });

  const heartbeatInput: TenantHeartbeatInput = { tenantId, sweepOptions };
  const heartbeat = await upsertSchedule(temporal, {
    scheduleId: ids.heartbeat,
    spec: { cronExpressions: [config.heartbeatCron] },
    action: {
      type: 'startWorkflow',
      workflowType: TENANT_HEARTBEAT_WORKFLOW_TYPE,
      workflowId: heartbeatWorkflowId(tenantId),
      taskQueue,
      args: [heartbeatInput],
      workflowExecutionTimeout: '30 minutes',
      typedSearchAttributes,
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: TENANT_HEARTBEAT_CATCHUP_WINDOW },
    state: { paused: false, note: `tenant heartbeat, cron "${config.heartbeatCron}" (UTC)` },
  });
  const reconciliation = await upsertReconciliationSchedule(
    temporal,
    config,
    tenantId,
    settings ?? { reconciliationPaused: false, reconciliationCron: null },
    { sweepOptions },
  );
  return { weekly, heartbeat, reconciliation };
}

/** Deletes every Schedule of a tenant (offboarding); a Schedule already gone is fine. */
export async function deleteTenantSchedules(temporal: Client, config: Readonly<Config>, tenantId: string): Promise<void> {
  const ids = tenantScheduleIds(tenantId, config.azure?.tenantId);
  for (const id of [ids.weekly, ids.heartbeat, reconciliationScheduleId(tenantId)]) {
    try {
      await temporal.schedule.getHandle(id).delete();
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    }
  }
}

/**
 * At worker start: the Schedules of every `active` tenant, created or updated (the single tenant's
 * too, when it is registered). Returns how many tenants were handled.
 */
export async function ensureSchedulesOfActiveTenants(temporal: Client, config: Readonly<Config>, db: Db): Promise<number> {
  let handled = 0;
  let after: string | undefined;
  for (;;) {
    const page = await listTenants(db, 100, after, ['active']);
    for (const t of page) await ensureSchedules(temporal, config, t.tenantId, db);
    handled += page.length;
    if (page.length < 100) return handled;
    after = page[page.length - 1]!.tenantId;
  }
}

/** `create`, or `update` when the Schedule exists: spec, action, policies and paused state are replaced. */
export async function upsertSchedule(temporal: Client, options: ScheduleOptions): Promise<UpsertOutcome> {
  try {
    await temporal.schedule.create(options);
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await temporal.schedule.getHandle(options.scheduleId).update((prev) => ({
    ...prev,
    spec: options.spec,
    action: options.action,
    policies: options.policies ?? prev.policies,
    state: { ...prev.state, paused: options.state?.paused ?? prev.state.paused, note: options.state?.note ?? prev.state.note },
  }));
  return 'updated';
}

/**
 * The tenant's two Temporal Schedules, created or updated at every worker start
 * (docs/architecture.md): the weekly report (a fleet sweep of kind `weekly`) and the tenant heartbeat (P6).
 *
 * Pitfalls handled here: `create` throws when the Schedule exists (so: create, else update); overlap
 * is set explicitly to SKIP (a sweep still running when the next one is due is not doubled); the
 * catch-up window is explicit (what runs after an outage of the Temporal server).
 */
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import type { Config } from '../config';
import type { Db } from '../db';
import { getSettings } from '../db/data';
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
 * Creates or updates both Schedules for the tenant from the configuration. The weekly report is
 * paused or not as the tenant's settings say. Safe to run at every start, from any number of workers.
 */
export async function ensureSchedules(
  temporal: Client,
  config: Readonly<Config>,
  tenantId: string,
  db: Db | null,
  opts: EnsureSchedulesOptions = {},
): Promise<{ weekly: UpsertOutcome; heartbeat: UpsertOutcome }> {
  const weeklyPaused = opts.weeklyPaused ?? (db ? (await getSettings(db, tenantId)).weeklyReportPaused : false);
  const sweepOptions = opts.sweepOptions ?? sweepOptionsFrom(config);
  const taskQueue = config.temporal.taskQueue;

  const weeklyInput: FleetSweepInput = { tenantId, kind: 'weekly', filter: null, options: sweepOptions };
  const weekly = await upsertSchedule(temporal, {
    scheduleId: WEEKLY_REPORT_SCHEDULE_ID,
    spec: { cronExpressions: [config.weeklyReportCron] },
    action: {
      type: 'startWorkflow',
      workflowType: FLEET_SWEEP_WORKFLOW_TYPE,
      // The Schedule appends the time of each run: every run is an operation of its own.
      workflowId: fleetWorkflowId(tenantId, 'weekly'),
      taskQueue,
      args: [weeklyInput],
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: WEEKLY_REPORT_CATCHUP_WINDOW },
    state: {
      paused: weeklyPaused,
      note: weeklyPaused ? 'paused in the settings (weeklyReport.paused)' : `weekly report, cron "${config.weeklyReportCron}" (UTC)`,
    },
  });

  const heartbeatInput: TenantHeartbeatInput = { tenantId, sweepOptions };
  const heartbeat = await upsertSchedule(temporal, {
    scheduleId: TENANT_HEARTBEAT_SCHEDULE_ID,
    spec: { cronExpressions: [config.heartbeatCron] },
    action: {
      type: 'startWorkflow',
      workflowType: TENANT_HEARTBEAT_WORKFLOW_TYPE,
      workflowId: heartbeatWorkflowId(tenantId),
      taskQueue,
      args: [heartbeatInput],
      workflowExecutionTimeout: '30 minutes',
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: TENANT_HEARTBEAT_CATCHUP_WINDOW },
    state: { paused: false, note: `tenant heartbeat, cron "${config.heartbeatCron}" (UTC)` },
  });
  return { weekly, heartbeat };
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

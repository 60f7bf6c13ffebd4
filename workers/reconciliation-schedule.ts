/**
 * The tenant's drift reconciliation Schedule, `drift-reconciliation:<tenantId>` (docs/architecture.md,
 * Drift reconciliation): a fleet sweep of kind `reconcile`, daily by default at a time spread from the
 * tenant id so tenants do not all read Entra at once, paused or on another cron as the tenant's
 * settings say. Self-contained, so whatever creates a tenant can call it for that tenant.
 */
import { createHash } from 'node:crypto';
import { ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Settings } from '../db/data';
import {
  FLEET_SWEEP_WORKFLOW_TYPE,
  RECONCILE_OPERATION_PREFIX,
  fleetWorkflowId,
  type FleetSweepInput,
  type SweepOptions,
} from '../workflows/fleet-messages';
import { TenantIdKey } from '../workflows/search-attributes';
import { sweepOptionsFrom, upsertSchedule, type UpsertOutcome } from './schedules';

/** A reconciliation missed by an outage still runs if the server is back within this long; the next one is a day away. */
export const RECONCILIATION_CATCHUP_WINDOW = '6 hours';

export function reconciliationScheduleId(tenantId: string): string {
  return `drift-reconciliation:${tenantId}`;
}

/** Daily, at a minute and hour taken from the tenant id: the same for a tenant on every start, different across tenants. */
export function defaultReconciliationCron(tenantId: string): string {
  const h = createHash('sha256').update(tenantId).digest();
  return `${h.readUInt16BE(0) % 60} ${h.readUInt16BE(2) % 24} * * *`;
}

/** The cron the Schedule runs on: the tenant's own, else the default. */
export function reconciliationCron(tenantId: string, settings: Pick<Settings, 'reconciliationCron'>): string {
  return settings.reconciliationCron ?? defaultReconciliationCron(tenantId);
}

/**
 * Creates or updates the tenant's reconciliation Schedule from its settings (at worker start, and on
 * PUT /v1/settings). Overlap SKIP: a reconciliation still running when the next is due is not doubled.
 */
export async function upsertReconciliationSchedule(
  temporal: Client,
  config: Readonly<Config>,
  tenantId: string,
  settings: Pick<Settings, 'reconciliationPaused' | 'reconciliationCron'>,
  opts: { sweepOptions?: SweepOptions } = {},
): Promise<UpsertOutcome> {
  const cron = reconciliationCron(tenantId, settings);
  const input: FleetSweepInput = { tenantId, kind: 'reconcile', filter: null, options: opts.sweepOptions ?? sweepOptionsFrom(config) };
  return upsertSchedule(temporal, {
    scheduleId: reconciliationScheduleId(tenantId),
    spec: { cronExpressions: [cron] },
    action: {
      type: 'startWorkflow',
      workflowType: FLEET_SWEEP_WORKFLOW_TYPE,
      // The Schedule appends the time of each run: every run is an operation of its own.
      workflowId: fleetWorkflowId(tenantId, RECONCILE_OPERATION_PREFIX),
      taskQueue: config.temporal.taskQueue,
      args: [input],
      typedSearchAttributes: [{ key: TenantIdKey, value: tenantId }],
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: RECONCILIATION_CATCHUP_WINDOW },
    state: {
      paused: settings.reconciliationPaused,
      note: settings.reconciliationPaused
        ? 'paused in the settings (reconciliation.paused)'
        : `drift reconciliation, cron "${cron}" (UTC)${settings.reconciliationCron === null ? ', the default' : ''}`,
    },
  });
}

/**
 * Starting fleet operations and steering the weekly Schedule, for the API (POST /v1/sync, PUT
 * /v1/settings) and for the heartbeat's resync. Every fleet-wide operation is the same sweep workflow
 * (workflows/fleet-sweep.ts), id `fleet:<tenantId>:<operationId>`, with a row in `operations`.
 */
import { randomUUID } from 'node:crypto';
import { ScheduleNotFoundError, WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import type { Config } from '../config';
import { createDb, type Db } from '../db';
import { createOperation } from '../db/data';
import {
  FLEET_SWEEP_WORKFLOW_TYPE,
  fleetWorkflowId,
  type FleetFilter,
  type FleetKind,
  type FleetSweepInput,
  type SweepOptions,
} from '../workflows/fleet-messages';
import { TenantIdKey } from '../workflows/search-attributes';
import { sweepOptionsFrom, tenantScheduleIds, weeklyCronOf } from './schedules';
import { upsertReconciliationSchedule } from './reconciliation-schedule';

export interface StartSweepRequest {
  tenantId: string;
  kind: FleetKind;
  filter: FleetFilter | null;
  operationId: string;
  startedAt: string;
  taskQueue: string;
  options?: SweepOptions;
}

/**
 * Starts the sweep workflow of an operation, then records the operation row (the workflow's first
 * activity records it too, so a row lost between the two still appears). Idempotent for one
 * operation id: a sweep already started (or finished) under that id is left alone.
 */
export async function startSweep(
  temporal: Client,
  db: Db | null,
  req: StartSweepRequest,
): Promise<{ operationId: string; alreadyStarted: boolean }> {
  const input: FleetSweepInput = {
    tenantId: req.tenantId,
    kind: req.kind,
    filter: req.filter,
    operationId: req.operationId,
    startedAt: req.startedAt,
    ...(req.options ? { options: req.options } : {}),
  };
  let alreadyStarted = false;
  try {
    await temporal.workflow.start(FLEET_SWEEP_WORKFLOW_TYPE, {
      workflowId: fleetWorkflowId(req.tenantId, req.operationId),
      taskQueue: req.taskQueue,
      args: [input],
      // One sweep per operation id, ever (within the namespace's retention).
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      typedSearchAttributes: [{ key: TenantIdKey, value: req.tenantId }],
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    alreadyStarted = true;
  }
  if (db) {
    await createOperation(db, {
      operationId: req.operationId,
      tenantId: req.tenantId,
      kind: req.kind,
      filter: req.filter,
      startedAt: req.startedAt,
    });
  }
  return { operationId: req.operationId, alreadyStarted };
}

export interface FleetClient {
  /** Starts an operation over the devices of `tenantId` (default: the client's configured tenant) only. */
  start(kind: FleetKind, filter: FleetFilter | null, tenantId?: string): Promise<{ operationId: string }>;
}

/**
 * The API's handle on fleet operations, for any tenant. Pass `db` (the API's pool) so the operation row
 * exists when `start` returns; without it a small pool is opened from DATABASE_URL on first use.
 */
export function createFleetClient(
  temporal: Client,
  config: Readonly<Config>,
  configuredTenantId: string,
  deps: { db?: Db; options?: SweepOptions } = {},
): FleetClient {
  let db: Db | null | undefined = deps.db;
  const dbNow = (): Db | null => {
    if (db === undefined) db = config.databaseUrl ? createDb(config.databaseUrl, { min: 0, max: 2 }) : null;
    return db;
  };
  return {
    async start(kind, filter, tenantId = configuredTenantId) {
      const operationId = `${kind}-${randomUUID()}`;
      const cleanFilter = filter && Object.keys(filter).length > 0 ? filter : null;
      await startSweep(temporal, dbNow(), {
        tenantId,
        kind,
        filter: cleanFilter,
        operationId,
        startedAt: new Date().toISOString(),
        taskQueue: config.temporal.taskQueue,
        options: deps.options ?? sweepOptionsFrom(config),
      });
      return { operationId };
    },
  };
}

export interface ScheduleControl {
  setWeeklyReportPaused(paused: boolean, tenantId: string): Promise<void>;
  setReconciliation(settings: { reconciliationPaused: boolean; reconciliationCron: string | null }, tenantId: string): Promise<void>;
  /** The tenant's own weekly cron (null: its default), applied to its Schedule at once. */
  setWeeklyReportCron(cron: string | null, tenantId: string): Promise<void>;
}

/**
 * The id of a tenant's weekly Schedule as the API steers it: the configured tenant's is the one
 * Schedule of single-tenant mode, other tenants' carry their id (workers/schedules.ts).
 */
export function weeklyReportScheduleIdOf(tenantId: string, configuredTenantId: string): string {
  return tenantScheduleIds(tenantId, configuredTenantId).weekly;
}

/**
 * Steers a tenant's weekly Schedule: paused or resumed (PUT /v1/settings `weeklyReport.paused`), and
 * its cron (PUT /v1/tenants/{id}). When the Schedule does not exist yet, the settings alone decide:
 * the worker creates it from them at activation or at its next start.
 */
export function createScheduleControl(temporal: Client, config: Readonly<Config>, configuredTenantId: string): ScheduleControl {
  return {
    /** PUT /v1/settings `reconciliation`: the tenant's Schedule is created or updated from the new settings. */
    async setReconciliation(settings, tenantId) {
      await upsertReconciliationSchedule(temporal, config, tenantId, settings);
    },
    async setWeeklyReportCron(cron, tenantId) {
      const effective = weeklyCronOf(tenantId, cron, configuredTenantId, config.weeklyReportCron);
      try {
        await temporal.schedule
          .getHandle(weeklyReportScheduleIdOf(tenantId, configuredTenantId))
          .update((prev) => ({ ...prev, spec: { cronExpressions: [effective] } }));
      } catch (err) {
        if (err instanceof ScheduleNotFoundError) return;
        throw err;
      }
    },
    async setWeeklyReportPaused(paused, tenantId) {
      const handle = temporal.schedule.getHandle(weeklyReportScheduleIdOf(tenantId, configuredTenantId));
      try {
        if (paused) await handle.pause('paused through PUT /v1/settings (weeklyReport.paused)');
        else await handle.unpause('resumed through PUT /v1/settings (weeklyReport.paused)');
      } catch (err) {
        if (err instanceof ScheduleNotFoundError) return;
        throw err;
      }
    },
  };
}

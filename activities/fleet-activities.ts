/**
 * Activities of the fleet workflows (the sweep and the tenant heartbeat). Built by one factory from
 * injected dependencies, like the device activities; Microsoft failures become Temporal failures
 * in activities/azure/temporal-failure.ts.
 */
import { createHash } from 'node:crypto';
import { Context, activityInfo } from '@temporalio/activity';
import { isGrpcServiceError, type Client } from '@temporalio/client';
import type { Db } from '../db';
import {
  claimResync,
  countDevices,
  getSettings,
  listDeviceIdsPage,
  recordHeartbeat,
  reportingEnabledReader,
  updateOperationProgress,
  createOperation,
  type DeviceFilter,
} from '../db/data';
import { finishOperation, readSweepCheckpoint, writeSweepCheckpoint, type SweepCheckpoint } from '../db/fleet-data';
import type { Logger } from '../lib/logger';
import { TRIGGER_BY_KIND, resyncOperationId, type FleetFilter, type FleetKind, type SweepOptions } from '../workflows/fleet-messages';
import { reportSignal, deviceWorkflowId, type ForcedReportTrigger, type ReportRequest } from '../workflows/messages';
import type { AzureComplianceClient } from './azure/client';
import { toTemporalFailure } from './azure/temporal-failure';
import { workerMetrics } from './worker-metrics';
import { startSweep } from '../workers/fleet-client';

export interface FleetActivityDeps {
  db: Db;
  /** Signals device workflows and starts resync sweeps. */
  temporal: Client;
  azureClientFor(tenantId: string): AzureComplianceClient;
  isReportingEnabled?(tenantId: string): Promise<boolean>;
  logger?: Logger;
  now?: () => Date;
}

export interface SignalPageInput {
  operationId: string;
  tenantId: string;
  trigger: ForcedReportTrigger;
  filter: FleetFilter | null;
  /** The page starts after this device id (null: from the first device). */
  after: string | null;
  /** Counts over the whole operation when this page starts. */
  signalled: number;
  skipped: number;
  pageSize: number;
  batchSize: number;
  devicesPerSecond: number;
}

export interface SignalPageResult extends SweepCheckpoint {
  /** False when the page was full: there may be more devices after `after`. */
  done: boolean;
  /** Where a retried attempt resumed (null when this attempt started at the page start). */
  resumedFrom: (SweepCheckpoint & { source: 'heartbeat' | 'checkpoint' }) | null;
}

export type SignalOutcome = 'signalled' | 'skipped';

/** gRPC status codes we act on (grpc-js is not a direct dependency). */
const GRPC_NOT_FOUND = 5;
const GRPC_INVALID_ARGUMENT = 3;
const GRPC_FAILED_PRECONDITION = 9;

function processed(c: SweepCheckpoint): number {
  return c.signalled + c.skipped;
}

/**
 * The device filter of a sweep: devices not retired, plus the bulk sync's optional filter. Enabling
 * reporting visits retired devices too: one whose removal could not be sent while reporting was off
 * still runs and owes it (a completed one is skipped).
 */
export function sweepDeviceFilter(filter: FleetFilter | null, trigger: ForcedReportTrigger): DeviceFilter {
  return {
    ...(trigger === 'enable' ? {} : { retired: false }),
    ...(filter?.complianceStatus !== undefined ? { complianceStatus: filter.complianceStatus } : {}),
    ...(filter?.clientStatusCode !== undefined ? { clientStatusCode: filter.clientStatusCode } : {}),
  };
}

/**
 * The signal's request id, the same on every attempt for one device in one operation: Temporal drops
 * a signal whose request id the workflow run already received, so a batch re-sent after a crash does
 * not ask a device twice.
 */
export function signalRequestId(operationId: string, deviceId: string): string {
  const h = createHash('sha1').update(`${operationId}\n${deviceId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * Signals one device workflow to report for a fleet operation. The request id is derived from the
 * operation and the device, so Temporal drops a repeat (a batch re-sent after a crash). A device whose
 * workflow is not running is skipped, never an error.
 */
export async function signalDeviceReport(
  temporal: Client,
  target: { tenantId: string; deviceId: string; request: Required<ReportRequest> },
  logger?: Logger,
): Promise<SignalOutcome> {
  const { tenantId, deviceId, request } = target;
  const payload = temporal.options.loadedDataConverter.payloadConverter.toPayload(request);
  try {
    await temporal.workflowService.signalWorkflowExecution({
      namespace: temporal.options.namespace,
      workflowExecution: { workflowId: deviceWorkflowId(tenantId, deviceId) },
      signalName: reportSignal.name,
      input: { payloads: [payload] },
      identity: temporal.options.identity,
      requestId: signalRequestId(request.operationId, deviceId),
    });
    return 'signalled';
  } catch (err) {
    const code = isGrpcServiceError(err) ? err.code : (err as { code?: unknown }).code;
    if (code === GRPC_NOT_FOUND) return 'skipped';
    if (code === GRPC_INVALID_ARGUMENT || code === GRPC_FAILED_PRECONDITION) {
      // This device cannot take a signal (e.g. its run hit a server limit): never block the sweep on it.
      logger?.error(
        { deviceId, operationId: request.operationId, err: (err as Error).message },
        'could not signal the device workflow: skipped',
      );
      return 'skipped';
    }
    throw err;
  }
}

export function createFleetActivities(deps: FleetActivityDeps) {
  const { db, temporal } = deps;
  const now = deps.now ?? (() => new Date());
  const isEnabled = deps.isReportingEnabled ?? reportingEnabledReader(db);

  return {
    /** Creates the operation row if the starter could not, and counts the devices the sweep will visit. */
    async beginSweep(input: {
      operationId: string;
      tenantId: string;
      kind: FleetKind;
      filter: FleetFilter | null;
      startedAt: string;
    }): Promise<{ devicesTotal: number }> {
      await createOperation(db, {
        operationId: input.operationId,
        tenantId: input.tenantId,
        kind: input.kind,
        filter: input.filter,
        startedAt: input.startedAt,
      });
      const devicesTotal = await countDevices(db, input.tenantId, sweepDeviceFilter(input.filter, TRIGGER_BY_KIND[input.kind]));
      await updateOperationProgress(db, input.operationId, { devicesTotal });
      return { devicesTotal };
    },

    /**
     * One page of the sweep: keyset batches of device ids from Postgres, each batch signalled with
     * `batchSize` signals in flight, then a checkpoint (Postgres) and a heartbeat. A retried attempt
     * resumes from the furthest of the heartbeat details and the checkpoint, never from the page start.
     */
    async signalPage(input: SignalPageInput): Promise<SignalPageResult> {
      const ctx = Context.current();
      const start: SweepCheckpoint = { after: input.after, signalled: input.signalled, skipped: input.skipped };
      let cp = start;
      let resumedFrom: SignalPageResult['resumedFrom'] = null;
      const fromHeartbeat = activityInfo().heartbeatDetails as SweepCheckpoint | undefined;
      if (fromHeartbeat && processed(fromHeartbeat) > processed(cp)) {
        cp = fromHeartbeat;
        resumedFrom = { ...fromHeartbeat, source: 'heartbeat' };
      }
      // The checkpoint is written after every batch; heartbeats reach the server throttled.
      const fromDb = await readSweepCheckpoint(db, input.operationId);
      if (fromDb && processed(fromDb) > processed(cp)) {
        cp = fromDb;
        resumedFrom = { ...fromDb, source: 'checkpoint' };
      }
      if (resumedFrom) deps.logger?.info({ operationId: input.operationId, resumedFrom }, 'sweep page resumed');

      const filter = sweepDeviceFilter(input.filter, input.trigger);
      const pageEnd = processed(start) + input.pageSize;
      const pacedFrom = { at: Date.now(), processed: processed(cp) };
      let done = false;
      while (processed(cp) < pageEnd) {
        const limit = Math.min(input.batchSize, pageEnd - processed(cp));
        const ids = await listDeviceIdsPage(db, input.tenantId, filter, limit, cp.after ?? undefined);
        if (ids.length > 0) {
          const outcomes = await Promise.all(
            ids.map((id) =>
              signalDeviceReport(
                temporal,
                { tenantId: input.tenantId, deviceId: id, request: { trigger: input.trigger, operationId: input.operationId } },
                deps.logger,
              ),
            ),
          );
          const signalled = outcomes.filter((o) => o === 'signalled').length;
          cp = { after: ids[ids.length - 1]!, signalled: cp.signalled + signalled, skipped: cp.skipped + (ids.length - signalled) };
          await writeSweepCheckpoint(db, input.operationId, cp);
          ctx.heartbeat(cp);
        }
        if (ids.length < limit) {
          done = true;
          break;
        }
        if (input.devicesPerSecond > 0) {
          const due = pacedFrom.at + ((processed(cp) - pacedFrom.processed) / input.devicesPerSecond) * 1000;
          const wait = due - Date.now();
          // Context.sleep ends early (CancelledFailure) when the sweep is cancelled.
          if (wait > 0) await ctx.sleep(wait);
        }
      }
      return { ...cp, done, resumedFrom };
    },

    /** Final counts and the finish time of the operation (the first one, if retried). */
    async finishSweep(input: { operationId: string; signalled: number; skipped: number }): Promise<{ finishedAt: string }> {
      const finishedAt = await finishOperation(db, input.operationId, { signalled: input.signalled, skipped: input.skipped });
      deps.logger?.info(
        { operationId: input.operationId, devicesSignalled: input.signalled, devicesSkipped: input.skipped },
        'fleet sweep finished',
      );
      return { finishedAt };
    },

    /** P6: the tenant heartbeat, recorded for GET /v1/settings and the worker's metrics. Nothing is sent while reporting is off. */
    async sendTenantHeartbeat(input: {
      tenantId: string;
    }): Promise<{ sent: false } | { sent: true; at: string; resyncTimestamp: string | null }> {
      if (!(await isEnabled(input.tenantId))) return { sent: false };
      let result: { at: string; resyncTimestamp: string | null };
      try {
        result = await deps.azureClientFor(input.tenantId).sendHeartbeat();
      } catch (err) {
        throw workerMetrics().counted(input.tenantId, toTemporalFailure(err, { operation: 'heartbeat' }));
      }
      await recordHeartbeat(db, input.tenantId, result.at, { ok: true, resyncTimestamp: result.resyncTimestamp });
      workerMetrics().heartbeatAccepted(input.tenantId, result.at);
      return { sent: true, at: result.at, resyncTimestamp: result.resyncTimestamp };
    },

    /** The heartbeat failed after its retries: GET /v1/settings shows it. */
    async recordHeartbeatFailure(input: { tenantId: string; error: { type: string; message: string } }): Promise<void> {
      await recordHeartbeat(db, input.tenantId, now().toISOString(), { ok: false, error: input.error });
    },

    /**
     * Honours Microsoft's ResyncTimestamp once: starts the `resync` sweep (its id is derived from the
     * timestamp, so a retry or a concurrent heartbeat finds it started), then claims the timestamp.
     * Starting before claiming means a crash in between cannot lose the resync.
     */
    async startResyncSweep(input: {
      tenantId: string;
      resyncTimestamp: string;
      sweepOptions?: SweepOptions;
    }): Promise<{ started: boolean; operationId: string | null }> {
      const time = Date.parse(input.resyncTimestamp);
      if (Number.isNaN(time)) {
        deps.logger?.warn({ resyncTimestamp: input.resyncTimestamp }, 'ignoring a ResyncTimestamp that is not a time');
        return { started: false, operationId: null };
      }
      const settings = await getSettings(db, input.tenantId);
      if (settings.lastResyncHandled !== null && Date.parse(settings.lastResyncHandled) >= time) {
        return { started: false, operationId: null };
      }
      const operationId = resyncOperationId(new Date(time).toISOString());
      await startSweep(temporal, db, {
        tenantId: input.tenantId,
        kind: 'resync',
        filter: null,
        operationId,
        startedAt: now().toISOString(),
        taskQueue: activityInfo().taskQueue,
        ...(input.sweepOptions ? { options: input.sweepOptions } : {}),
      });
      const claimed = await claimResync(db, input.tenantId, input.resyncTimestamp);
      deps.logger?.info({ operationId, resyncTimestamp: input.resyncTimestamp, claimed }, 'Microsoft asked for a full resync');
      return { started: claimed, operationId: claimed ? operationId : null };
    },
  };
}

export type FleetActivities = ReturnType<typeof createFleetActivities>;

/** Activities that call Microsoft: they run on the rate-limited `<taskQueue>-microsoft` queue. */
export const MICROSOFT_FLEET_ACTIVITIES = ['sendTenantHeartbeat'] as const;

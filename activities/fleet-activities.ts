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
import { callMicrosoftFor, type TenantHealth } from './tenant-health';
import { workerMetrics } from './worker-metrics';
import { startSweep } from '../workers/fleet-client';
import type { createReconcileActivities } from './reconcile-activities';

export interface FleetActivityDeps {
  db: Db;
  /** Signals device workflows and starts resync sweeps. */
  temporal: Client;
  azureClientFor(tenantId: string): AzureComplianceClient;
  isReportingEnabled?(tenantId: string): Promise<boolean>;
  /** The tenant's health and consent containment; none: never contained. */
  tenantHealth?: TenantHealth;
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

export function processed(c: SweepCheckpoint): number {
  return c.signalled + c.skipped;
}

/**
 * The device filter of a sweep: devices not retired, plus the bulk sync's optional filter. Enabling
 * reporting visits retired devices too: one whose removal could not be sent while reporting was off
 * still runs and owes it (a completed one is skipped).
 */
export function sweepDeviceFilter(filter: FleetFilter | null, trigger: ForcedReportTrigger | 'drift'): DeviceFilter {
  // The drift reconciliation reads back what Entra can hold: registered, non-retired devices.
  if (trigger === 'drift') return { retired: false, inEntra: true };
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
 * Signals one device workflow for a fleet operation. The request id is derived from the operation and
 * the device, so Temporal drops a repeat (a batch re-sent after a crash). A device whose workflow is
 * not running is skipped, never an error.
 */
export async function signalDevice(
  temporal: Client,
  target: { tenantId: string; deviceId: string; operationId: string; signalName: string; arg: unknown },
  logger?: Logger,
): Promise<SignalOutcome> {
  const { tenantId, deviceId, operationId } = target;
  const payload = temporal.options.loadedDataConverter.payloadConverter.toPayload(target.arg);
  try {
    await temporal.workflowService.signalWorkflowExecution({
      namespace: temporal.options.namespace,
      workflowExecution: { workflowId: deviceWorkflowId(tenantId, deviceId) },
      signalName: target.signalName,
      input: { payloads: [payload] },
      identity: temporal.options.identity,
      requestId: signalRequestId(operationId, deviceId),
    });
    return 'signalled';
  } catch (err) {
    const code = isGrpcServiceError(err) ? err.code : (err as { code?: unknown }).code;
    if (code === GRPC_NOT_FOUND) return 'skipped';
    if (code === GRPC_INVALID_ARGUMENT || code === GRPC_FAILED_PRECONDITION) {
      // This device cannot take a signal (e.g. its run hit a server limit): never block the sweep on it.
      logger?.error({ deviceId, operationId, err: (err as Error).message }, 'could not signal the device workflow: skipped');
      return 'skipped';
    }
    throw err;
  }
}

/** Signals one device workflow to report for a fleet operation (see signalDevice). */
export function signalDeviceReport(
  temporal: Client,
  target: { tenantId: string; deviceId: string; request: Required<ReportRequest> },
  logger?: Logger,
): Promise<SignalOutcome> {
  const { tenantId, deviceId, request } = target;
  return signalDevice(
    temporal,
    { tenantId, deviceId, operationId: request.operationId, signalName: reportSignal.name, arg: request },
    logger,
  );
}

/** Where a retried page resumes: the furthest of the page start, the heartbeat details and the Postgres checkpoint. */
export async function resumePoint(
  db: Db,
  operationId: string,
  start: SweepCheckpoint,
  logger?: Logger,
): Promise<{ cp: SweepCheckpoint; resumedFrom: SignalPageResult['resumedFrom'] }> {
  let cp = start;
  let resumedFrom: SignalPageResult['resumedFrom'] = null;
  const fromHeartbeat = activityInfo().heartbeatDetails as SweepCheckpoint | undefined;
  if (fromHeartbeat && processed(fromHeartbeat) > processed(cp)) {
    cp = fromHeartbeat;
    resumedFrom = { ...fromHeartbeat, source: 'heartbeat' };
  }
  // The checkpoint is written after every batch; heartbeats reach the server throttled.
  const fromDb = await readSweepCheckpoint(db, operationId);
  if (fromDb && processed(fromDb) > processed(cp)) {
    cp = fromDb;
    resumedFrom = { ...fromDb, source: 'checkpoint' };
  }
  if (resumedFrom) logger?.info({ operationId, resumedFrom }, 'sweep page resumed');
  return { cp, resumedFrom };
}

/** Waits until `processed` devices are due at `devicesPerSecond` since `from` (Context.sleep ends early when cancelled). */
export async function pace(from: { at: number; processed: number }, processedNow: number, devicesPerSecond: number): Promise<void> {
  if (devicesPerSecond <= 0) return;
  const wait = from.at + ((processedNow - from.processed) / devicesPerSecond) * 1000 - Date.now();
  if (wait > 0) await Context.current().sleep(wait);
}

/**
 * One page of a sweep: keyset batches of devices from Postgres, each batch handled (signalled, or
 * read back then signalled), then a checkpoint (Postgres) and a heartbeat, paced at `devicesPerSecond`.
 * A retried attempt resumes from the furthest of the heartbeat details and the checkpoint, never from
 * the page start.
 */
export async function sweepPage<T extends { deviceId: string }>(
  db: Db,
  input: Pick<SignalPageInput, 'operationId' | 'after' | 'signalled' | 'skipped' | 'pageSize' | 'devicesPerSecond'>,
  batchSize: number,
  list: (limit: number, after: string | undefined) => Promise<T[]>,
  handle: (batch: T[]) => Promise<SignalOutcome[]>,
  logger?: Logger,
): Promise<SignalPageResult> {
  const ctx = Context.current();
  const start: SweepCheckpoint = { after: input.after, signalled: input.signalled, skipped: input.skipped };
  const { cp: resumed, resumedFrom } = await resumePoint(db, input.operationId, start, logger);
  let cp = resumed;
  const pageEnd = processed(start) + input.pageSize;
  const pacedFrom = { at: Date.now(), processed: processed(cp) };
  let done = false;
  while (processed(cp) < pageEnd) {
    const limit = Math.min(batchSize, pageEnd - processed(cp));
    const batch = await list(limit, cp.after ?? undefined);
    if (batch.length > 0) {
      const signalled = (await handle(batch)).filter((o) => o === 'signalled').length;
      cp = {
        after: batch[batch.length - 1]!.deviceId,
        signalled: cp.signalled + signalled,
        skipped: cp.skipped + (batch.length - signalled),
      };
      await writeSweepCheckpoint(db, input.operationId, cp);
      ctx.heartbeat(cp);
    }
    if (batch.length < limit) {
      done = true;
      break;
    }
    await pace(pacedFrom, processed(cp), input.devicesPerSecond);
  }
  return { ...cp, done, resumedFrom };
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
      const filter = sweepDeviceFilter(input.filter, input.trigger);
      return sweepPage(
        db,
        input,
        input.batchSize,
        async (limit, after) => (await listDeviceIdsPage(db, input.tenantId, filter, limit, after)).map((deviceId) => ({ deviceId })),
        (batch) =>
          Promise.all(
            batch.map(({ deviceId }) =>
              signalDeviceReport(
                temporal,
                { tenantId: input.tenantId, deviceId, request: { trigger: input.trigger, operationId: input.operationId } },
                deps.logger,
              ),
            ),
          ),
        deps.logger,
      );
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
      const health = deps.tenantHealth;
      if (health && !(await health.mayCallMicrosoft(input.tenantId))) return { sent: false };
      if (!(await isEnabled(input.tenantId))) return { sent: false };
      const result = await callMicrosoftFor(health, input.tenantId, { operation: 'heartbeat' }, () =>
        deps.azureClientFor(input.tenantId).sendHeartbeat(),
      );
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

export type FleetActivities = ReturnType<typeof createFleetActivities> & ReturnType<typeof createReconcileActivities>;

/** Activities that call Microsoft: they run on the rate-limited `<taskQueue>-microsoft` queue. */
export const MICROSOFT_FLEET_ACTIVITIES = ['sendTenantHeartbeat'] as const;

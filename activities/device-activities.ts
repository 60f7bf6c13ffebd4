/**
 * Activities of the device workflow. All I/O lives here, built by one factory from injected
 * dependencies; failures from Microsoft become Temporal failures in activities/azure/errors.ts.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Db } from '../db';
import { gracePeriodsReader, reportingEnabledReader, writeDeviceRecord, type AttemptRecord, type DeviceProjection } from '../db/data';
import type { ReportPayload, DeviceError, EntraLookups } from '../domain/device-state';
import { deviceErrorFor } from '../domain/failure-reasons';
import type { GracePeriods } from '../domain/grace';
import type { AzureComplianceClient } from './azure/client';
import { toTemporalFailure } from './azure/temporal-failure';
import { describeUploadFailure } from './azure/upload-errors';
import { callMicrosoftFor, consentRevokedError, type TenantHealth } from './tenant-health';
import { workerMetrics } from './worker-metrics';

export interface DeviceActivityDeps {
  db: Db;
  /** The Microsoft client of a tenant (one per tenant per process, so its token cache is reused). */
  azureClientFor(tenantId: string): AzureComplianceClient;
  /** Whether reporting is on; default: reportingEnabledReader (db/data.ts). */
  isReportingEnabled?(tenantId: string): Promise<boolean>;
  /** The tenant's health and consent containment (activities/tenant-health.ts); none: never contained. */
  tenantHealth?: TenantHealth;
  /** The tenant's grace periods; default: gracePeriodsReader (db/data.ts), `{}` when Postgres fails. */
  gracePeriodsOf?(tenantId: string): Promise<GracePeriods>;
  now?: () => Date;
}

export interface ReportInput {
  tenantId: string;
  deviceId: string;
  messageId: string;
  payload: ReportPayload;
  /** When the connector last heard from the device for this report; fixed by the workflow. */
  lastCheckInTime: string;
  lastUpdateTime: string;
}

/** A report in one activity: the upload, a wait, then the first status poll (2 calls to Microsoft). */
export interface UploadReportInput extends ReportInput {
  /** How long after the upload to poll its status the first time. */
  firstPollDelayMs: number;
  /** What an earlier upload of this device looked up (lookupsFor in the domain), to skip the lookups. */
  lookups?: EntraLookups;
}

/** Nothing sent: reporting is switched off, or the tenant's consent is revoked (both wait for a sweep to wake them). */
export type UploadReportResult =
  { sent: false; reason: 'disabled' | 'consent-revoked' } | { sent: true; status: ReportStatus; lookups: EntraLookups };

export type ReportStatus = { status: 'pending' } | { status: 'completed'; completedAt: string } | { status: 'failed'; error: DeviceError };

export interface DeviceRecordInput {
  projection: DeviceProjection;
  /**
   * The workflow's history length when it wrote: orders two writes of the same version (a workflow
   * task retried after a timeout writes again, and the retry is what Temporal kept). Optional: runs
   * recorded before it existed do not send it.
   */
  writeSeq?: number;
  attempt?: AttemptRecord & { error: DeviceError | null };
}

/** How often a Microsoft activity tells Temporal it is alive (its heartbeat timeout is 10 s). */
const HEARTBEAT_EVERY_MS = 2_000;

/**
 * Runs an activity's work while heartbeating: a worker that dies mid-report is noticed within the
 * heartbeat timeout and the report resumes on another, and a cancellation (a superseded upload) is
 * delivered to the running activity. The first heartbeat comes after HEARTBEAT_EVERY_MS, not at the
 * start: Temporal counts the heartbeat timeout from the activity's start, and a report that ends
 * within it (the usual one, about 1 s) then costs no heartbeat call at all.
 */
async function whileHeartbeating<T>(work: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const timer = setInterval(() => ctx.heartbeat(), HEARTBEAT_EVERY_MS);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/**
 * Writes the device row and, with it, the timeline row of an attempt, in one statement, and counts
 * the report attempt it finishes (`acc_reports_finished_total`). A stale write (older version)
 * changes neither and counts nothing: a newer write already carried a newer outcome. The local
 * activity and the worker's read-model sink (workers/read-model-sink.ts) both write through it.
 */
export async function recordDevice(db: Db, input: DeviceRecordInput): Promise<boolean> {
  const applied = await writeDeviceRecord(db, input.projection, input.writeSeq ?? 0, input.attempt);
  const outcome = input.attempt?.outcome;
  if (applied && (outcome === 'Successful' || outcome === 'Failed')) workerMetrics().reportFinished(input.projection.tenantId, outcome);
  return applied;
}

export function createDeviceActivities(deps: DeviceActivityDeps) {
  const now = deps.now ?? (() => new Date());
  const isEnabled = deps.isReportingEnabled ?? reportingEnabledReader(deps.db);
  const health = deps.tenantHealth;
  const callMicrosoft = <T>(tenantId: string, context: { deviceId: string; operation: string }, call: () => Promise<T>): Promise<T> =>
    callMicrosoftFor(health, tenantId, context, call);
  const gracePeriodsOf =
    deps.gracePeriodsOf ??
    gracePeriodsReader(deps.db, (err) =>
      Context.current().log.warn('grace periods unreadable: no grace (reported at once)', { err: String(err) }),
    );

  /** Uploads the device's state (inventory + compliance entities) under the workflow's message id. */
  async function upload(input: ReportInput, lookups?: EntraLookups): Promise<EntraLookups> {
    const { payload } = input;
    if (payload.userPrincipalName === null) {
      throw ApplicationFailure.create({
        type: 'UserPrincipalNameMissing',
        nonRetryable: true,
        message: `device ${input.deviceId} has no userPrincipalName: Microsoft needs the device's user`,
      });
    }
    const client = deps.azureClientFor(input.tenantId);
    const userPrincipalName = payload.userPrincipalName;
    return callMicrosoft(input.tenantId, { deviceId: input.deviceId, operation: 'upload' }, async () => {
      await client.ensureTenantOnboarded();
      const sent = await client.uploadDeviceState({
        messageId: input.messageId,
        azureDeviceId: payload.azureDeviceId,
        userPrincipalName,
        managementState: payload.managementState,
        complianceStatus: payload.complianceStatus,
        inventory: payload.inventory,
        platform: payload.platform,
        lastCheckInTime: input.lastCheckInTime,
        lastUpdateTime: input.lastUpdateTime,
        ...(lookups ? { userId: lookups.userId } : {}),
        ...(lookups?.device ? { knownDevice: lookups.device } : {}),
      });
      const device = sent.knownDevice ?? lookups?.device;
      const found = device && (device.displayName || device.operatingSystem);
      return {
        userPrincipalName,
        azureDeviceId: payload.azureDeviceId,
        userId: sent.userId,
        ...(found ? { device: { displayName: device.displayName ?? null, operatingSystem: device.operatingSystem ?? null } } : {}),
      };
    });
  }

  /** One poll of an upload's processing status at Microsoft. */
  async function pollStatus(input: { tenantId: string; deviceId: string; messageId: string }): Promise<ReportStatus> {
    const context = { deviceId: input.deviceId, operation: 'status' };
    if (health && !(await health.mayCallMicrosoft(input.tenantId)))
      throw toTemporalFailure(consentRevokedError(input.tenantId, 'status'), context);
    const status = await callMicrosoft(input.tenantId, context, () => deps.azureClientFor(input.tenantId).getUploadStatus(input.messageId));
    if (status.status === 'Completed') {
      return { status: 'completed', completedAt: status.completedAt ?? now().toISOString() };
    }
    if (status.status === 'Failed') {
      const detail = status.errorDetail ?? 'Microsoft reported the upload as Failed without detail';
      const { reason, message } = describeUploadFailure(detail);
      return { status: 'failed', error: deviceErrorFor(reason, message) };
    }
    return { status: 'pending' };
  }

  return {
    /**
     * A whole report in one activity (one task on the rate-limited queue, one workflow task to come
     * back to): the upload, then, after `firstPollDelayMs`, the first status poll. A retry uploads
     * the same message again, which Microsoft takes as the same message (409 is treated as done).
     */
    async uploadReport(input: UploadReportInput): Promise<UploadReportResult> {
      return whileHeartbeating(async () => {
        if (health && !(await health.mayCallMicrosoft(input.tenantId))) return { sent: false, reason: 'consent-revoked' } as const;
        if (!(await isEnabled(input.tenantId))) return { sent: false, reason: 'disabled' } as const;
        const lookups = await upload(input, input.lookups);
        // Context.sleep ends early (CancelledFailure) when the workflow cancels the activity.
        if (input.firstPollDelayMs > 0) await Context.current().sleep(input.firstPollDelayMs);
        return { sent: true, status: await pollStatus(input), lookups } as const;
      });
    },

    /** One poll of an upload's processing status at Microsoft. */
    async getReportStatus(input: { tenantId: string; deviceId: string; messageId: string }): Promise<ReportStatus> {
      return whileHeartbeating(() => pollStatus(input));
    },

    /** The tenant's grace periods (a local activity: read only when an action that may have one arrives). */
    async tenantGracePeriods(input: { tenantId: string }): Promise<GracePeriods> {
      return gracePeriodsOf(input.tenantId);
    },

    /** A read-model write (recordDevice), retried by Temporal until Postgres takes it. */
    async writeDeviceRecord(input: DeviceRecordInput): Promise<{ applied: boolean }> {
      return { applied: await recordDevice(deps.db, input) };
    },
  };
}

export type DeviceActivities = ReturnType<typeof createDeviceActivities>;

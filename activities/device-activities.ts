/**
 * Activities of the device workflow. All I/O lives here, built by one factory from injected
 * dependencies; failures from Microsoft become Temporal failures in activities/azure/errors.ts.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { Db } from '../db';
import { getSettings, upsertDeviceProjection, upsertReportAttempt, type DeviceProjection } from '../db/data';
import type { ReportPayload, DeviceError } from '../domain/device-state';
import { azureFailureError } from '../domain/azure-failures';
import type { AzureComplianceClient } from './azure/client';
import { describeUploadFailure, toTemporalFailure } from './azure/errors';

export interface DeviceActivityDeps {
  db: Db;
  /** The Microsoft client of a tenant (one per tenant per process, so its token cache is reused). */
  azureClientFor(tenantId: string): AzureComplianceClient;
  /** Whether reporting is on; cached briefly by the caller's implementation if it likes. */
  isReportingEnabled?(tenantId: string): Promise<boolean>;
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

export type ReportStatus =
  | { status: 'pending' }
  | { status: 'completed'; completedAt: string }
  | { status: 'failed'; error: DeviceError };

export interface DeviceRecordInput {
  projection: DeviceProjection;
  attempt?: {
    attemptKey: string;
    at: string;
    trigger: string;
    reported: { complianceStatus: string; managementState: string };
    outcome: 'In-progress' | 'Successful' | 'Failed';
    messageId: string | null;
    error: DeviceError | null;
    completedAt: string | null;
  };
}

export function createDeviceActivities(deps: DeviceActivityDeps) {
  const now = deps.now ?? (() => new Date());
  const isEnabled = deps.isReportingEnabled ?? (async (tenantId: string) => (await getSettings(deps.db, tenantId)).enabled);

  return {
    /** Uploads the device's state (inventory + compliance entities) under the workflow's message id. */
    async reportDeviceState(input: ReportInput): Promise<{ sent: true } | { sent: false; reason: 'disabled' }> {
      if (!(await isEnabled(input.tenantId))) return { sent: false, reason: 'disabled' };
      const { payload } = input;
      if (payload.userPrincipalName === null) {
        throw ApplicationFailure.create({
          type: 'UserPrincipalNameMissing',
          nonRetryable: true,
          message: `device ${input.deviceId} has no userPrincipalName: Microsoft needs the device's user`,
        });
      }
      const client = deps.azureClientFor(input.tenantId);
      try {
        await client.ensureTenantOnboarded();
        await client.uploadDeviceState({
          messageId: input.messageId,
          azureDeviceId: payload.azureDeviceId,
          userPrincipalName: payload.userPrincipalName,
          managementState: payload.managementState,
          complianceStatus: payload.complianceStatus,
          inventory: payload.inventory,
          platform: payload.platform,
          lastCheckInTime: input.lastCheckInTime,
          lastUpdateTime: input.lastUpdateTime,
        });
      } catch (err) {
        throw toTemporalFailure(err, { deviceId: input.deviceId, operation: 'upload' });
      }
      return { sent: true };
    },

    /** One poll of an upload's processing status at Microsoft. */
    async getReportStatus(input: { tenantId: string; deviceId: string; messageId: string }): Promise<ReportStatus> {
      let status;
      try {
        status = await deps.azureClientFor(input.tenantId).getUploadStatus(input.messageId);
      } catch (err) {
        throw toTemporalFailure(err, { deviceId: input.deviceId, operation: 'status' });
      }
      if (status.status === 'Completed') {
        return { status: 'completed', completedAt: status.completedAt ?? now().toISOString() };
      }
      if (status.status === 'Failed') {
        const detail = status.errorDetail ?? 'Microsoft reported the upload as Failed without detail';
        const { reason, message } = describeUploadFailure(detail);
        return { status: 'failed', error: azureFailureError(reason, message) };
      }
      return { status: 'pending' };
    },

    /**
     * Writes the device row and, with it, the timeline row of an attempt, in one transaction. A
     * stale write (older version) changes neither: a newer write already carried a newer outcome.
     */
    async writeDeviceRecord(input: DeviceRecordInput): Promise<{ applied: boolean }> {
      return deps.db.transaction(async (trx) => {
        const applied = await upsertDeviceProjection(trx, input.projection);
        if (applied && input.attempt) {
          await upsertReportAttempt(trx, {
            ...input.attempt,
            tenantId: input.projection.tenantId,
            deviceId: input.projection.deviceId,
            error: input.attempt.error as Record<string, unknown> | null,
            outcome: input.attempt.outcome,
          });
        }
        return { applied };
      });
    },
  };
}

export type DeviceActivities = ReturnType<typeof createDeviceActivities>;

/**
 * Activities of the tenant lifecycle workflows (workflows/tenant-lifecycle.ts): onboarding after the
 * administrator's consent, offboarding on the operator's request. Built by one factory from injected
 * dependencies, like the device and fleet activities.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Db } from '../db';
import { recordHeartbeat } from '../db/data';
import { countDevicesAwaitingRemoval, countDevicesRemoved, listTenantDeviceIds } from '../db/tenant-lifecycle';
import { beginOffboarding, getTenant, removeTenantData, setTenantState, setTenantStateReason, type TenantState } from '../db/tenants';
import { PLATFORMS } from '../domain/constants';
import type { RetireEvent } from '../domain/events';
import type { Logger } from '../lib/logger';
import { startSweep } from '../workers/fleet-client';
import { deleteTenantSchedules, ensureSchedules, sweepOptionsFrom } from '../workers/schedules';
import { DEVICE_WORKFLOW_TYPE_LIST, deviceWorkflowId, retireSignal } from '../workflows/messages';
import type { AzureComplianceClient } from './azure/client';
import { signalDevice } from './fleet-activities';
import { callMicrosoftFor, type TenantHealth } from './tenant-health';

export interface TenantLifecycleActivityDeps {
  db: Db;
  temporal: Client;
  azureClientFor(tenantId: string): AzureComplianceClient;
  /** The worker's configuration: Schedules (crons, task queue, sweep pacing), the clock skew allowed. */
  config: Readonly<Config>;
  tenantHealth?: TenantHealth;
  logger?: Logger;
}

export interface RetirePageInput {
  tenantId: string;
  operationId: string;
  /** The page starts after this device id (null: from the first). */
  after: string | null;
  pageSize: number;
  devicesPerSecond: number;
}

export interface RetirePageResult {
  after: string | null;
  signalled: number;
  skipped: number;
  done: boolean;
}

/**
 * A failure of a Microsoft call during activation that Temporal tries again: right after the
 * administrator's consent, Entra may refuse tokens for a short while until it has taken effect.
 */
function retriedWhileConsentSettles(err: unknown): unknown {
  if (err instanceof ApplicationFailure && err.type === 'ConsentRevoked') {
    return ApplicationFailure.create({ type: err.type, message: err.message, details: err.details ?? [], nonRetryable: false });
  }
  return err;
}

export function createTenantLifecycleActivities(deps: TenantLifecycleActivityDeps) {
  const { db, temporal, config } = deps;
  const health = deps.tenantHealth;

  return {
    /** Where the tenant stands before it is activated; `wasRevoked`: its devices need a catch-up once active. */
    async beginTenantActivation(input: { tenantId: string }): Promise<{ state: TenantState | null; wasRevoked: boolean }> {
      const tenant = await getTenant(db, input.tenantId);
      return { state: tenant?.state ?? null, wasRevoked: tenant?.revokedAt != null };
    },

    /**
     * Activation at Intune (a Microsoft activity): the tenant provisioned for the partner (P1), a
     * partner compliance policy per platform (P2, reused when it exists), then a first heartbeat (P6),
     * recorded like every heartbeat.
     */
    async activateTenantAtIntune(input: { tenantId: string }): Promise<{ policyIds: Record<string, string>; heartbeatAt: string }> {
      const client = deps.azureClientFor(input.tenantId);
      // A tenant offboarded and onboarded again is provisioned again, whatever this client remembers.
      client.resetCaches();
      try {
        const result = await callMicrosoftFor(health, input.tenantId, { operation: 'activateTenant' }, async () => {
          const onboarded = await client.ensureTenantOnboarded([...PLATFORMS]);
          const heartbeat = await client.sendHeartbeat();
          return { policyIds: onboarded.policyIds, heartbeatAt: heartbeat.at };
        });
        await recordHeartbeat(db, input.tenantId, result.heartbeatAt, { ok: true, resyncTimestamp: null });
        return result;
      } catch (err) {
        throw retriedWhileConsentSettles(err);
      }
    },

    /** The tenant's weekly report and heartbeat Schedules, created or updated. */
    async ensureTenantSchedules(input: { tenantId: string }): Promise<void> {
      await ensureSchedules(temporal, config, input.tenantId, db);
    },

    /** The tenant is `active`; false when it left `consented`/`consent-revoked` meanwhile (an offboarding). */
    async completeTenantActivation(input: { tenantId: string }): Promise<{ activated: boolean }> {
      const activated = await setTenantState(db, input.tenantId, 'active', { from: ['consented', 'consent-revoked', 'active'] });
      return { activated: activated !== null };
    },

    /** Why the activation failed, for the operator (GET /v1/tenants/{id}). */
    async recordTenantActivationFailure(input: { tenantId: string; message: string }): Promise<void> {
      await setTenantStateReason(db, input.tenantId, `Activation at Intune failed: ${input.message}`);
    },

    /** A tenant whose consent came back: every device reports again (an `enable` sweep, idempotent per activation). */
    async startTenantCatchUp(input: { tenantId: string; activationId: string }): Promise<{ operationId: string }> {
      const operationId = `enable-reconsent-${input.activationId}`;
      await startSweep(temporal, db, {
        tenantId: input.tenantId,
        kind: 'enable',
        filter: null,
        operationId,
        startedAt: new Date().toISOString(),
        taskQueue: config.temporal.taskQueue,
        options: sweepOptionsFrom(config),
      });
      return { operationId };
    },

    /**
     * The tenant is `offboarding` with the record of its offboarding (already so when the API started
     * it). `reachable`: Microsoft can still take reports for it — it was activated and its consent is
     * not revoked — so asking its devices to report `notManaged` can succeed.
     */
    async beginTenantOffboarding(input: {
      tenantId: string;
      operationId: string;
      reportNotManaged: boolean;
    }): Promise<{ reachable: boolean }> {
      await beginOffboarding(db, input);
      const tenant = await getTenant(db, input.tenantId);
      return { reachable: tenant !== null && tenant.activatedAt !== null && tenant.revokedAt === null };
    },

    async deleteTenantSchedules(input: { tenantId: string }): Promise<void> {
      await deleteTenantSchedules(temporal, config, input.tenantId);
    },

    /**
     * One page of the offboarding's `notManaged` sweep: each running device workflow of the tenant
     * gets a retire (the MDM's own way to say a device leaves, reported `notManaged`), dated past any
     * event the API can have accepted (its clock-skew limit), so it is never stale. Paced like a sweep.
     */
    async retireTenantDevicesPage(input: RetirePageInput): Promise<RetirePageResult> {
      const ctx = Context.current();
      const ids = await listTenantDeviceIds(db, input.tenantId, input.pageSize, input.after ?? undefined);
      const retire: RetireEvent = { type: 'retire', occurredAt: new Date(Date.now() + config.maxClockSkewMs).toISOString() };
      const started = Date.now();
      let signalled = 0;
      for (const [i, deviceId] of ids.entries()) {
        const outcome = await signalDevice(
          temporal,
          { tenantId: input.tenantId, deviceId, operationId: input.operationId, signalName: retireSignal.name, arg: retire },
          deps.logger,
        );
        if (outcome === 'signalled') signalled++;
        ctx.heartbeat(i);
        if (input.devicesPerSecond > 0) {
          const wait = started + ((i + 1) / input.devicesPerSecond) * 1000 - Date.now();
          if (wait > 0) await ctx.sleep(wait);
        }
      }
      return {
        after: ids.length > 0 ? ids[ids.length - 1]! : input.after,
        signalled,
        skipped: ids.length - signalled,
        done: ids.length < input.pageSize,
      };
    },

    /** Devices Microsoft has not yet confirmed as `notManaged`, and those it has. */
    async countTenantRemovals(input: { tenantId: string }): Promise<{ awaiting: number; removed: number }> {
      return { awaiting: await countDevicesAwaitingRemoval(db, input.tenantId), removed: await countDevicesRemoved(db, input.tenantId) };
    },

    /** P1 with `Provisioned: 2` (a Microsoft activity): the tenant no longer has this partner. */
    async deprovisionTenantAtIntune(input: { tenantId: string }): Promise<void> {
      const client = deps.azureClientFor(input.tenantId);
      await callMicrosoftFor(health, input.tenantId, { operation: 'deprovisionTenant' }, () => client.deprovisionTenant());
    },

    /**
     * Ends every workflow of the tenant still running but `keep` (the offboarding itself): device
     * workflows by their ids from the read model, the others (sweeps, heartbeats, an onboarding)
     * found by their `TenantId` search attribute.
     */
    async terminateTenantWorkflows(input: { tenantId: string; keep: string; reason: string }): Promise<{ terminated: number }> {
      const ctx = Context.current();
      let terminated = 0;
      const terminate = async (workflowId: string) => {
        try {
          await temporal.workflow.getHandle(workflowId).terminate(input.reason);
          terminated++;
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        }
        ctx.heartbeat(terminated);
      };
      let after: string | undefined;
      for (;;) {
        const ids = await listTenantDeviceIds(db, input.tenantId, 500, after);
        for (const id of ids) await terminate(deviceWorkflowId(input.tenantId, id));
        if (ids.length < 500) break;
        after = ids[ids.length - 1];
      }
      const query = `TenantId = '${input.tenantId.replace(/'/g, "''")}' AND ExecutionStatus = 'Running' AND WorkflowType NOT IN ${DEVICE_WORKFLOW_TYPE_LIST}`;
      for await (const wf of temporal.workflow.list({ query })) {
        if (wf.workflowId !== input.keep) await terminate(wf.workflowId);
      }
      return { terminated };
    },

    /** Every row of the tenant removed, and its offboarding record completed. */
    async removeTenantData(input: {
      tenantId: string;
      operationId: string;
      devicesReported: number | null;
    }): Promise<{ devicesRemoved: number }> {
      const removed = await removeTenantData(db, input.tenantId, input);
      deps.logger?.info({ tenantId: input.tenantId, operationId: input.operationId, ...removed }, 'tenant offboarded: its data is removed');
      return removed;
    },
  };
}

export type TenantLifecycleActivities = ReturnType<typeof createTenantLifecycleActivities>;

/** Activities that call Microsoft: they run on the rate-limited Microsoft queue. */
export const MICROSOFT_TENANT_LIFECYCLE_ACTIVITIES = ['activateTenantAtIntune', 'deprovisionTenantAtIntune'] as const;

/**
 * A tenant's life (docs/architecture.md, "Tenants"): onboarding once its administrator granted admin
 * consent, and offboarding when the operator removes it. Both are short workflows over activities
 * (activities/tenant-lifecycle-activities.ts); the ones that call Microsoft run on the rate-limited
 * Microsoft queue like every report.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  proxyActivities,
  setCurrentDetails,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { RetirePageResult, TenantLifecycleActivities } from '../activities/tenant-lifecycle-activities';
import { microsoftTaskQueueOf } from './fleet-messages';
import { tenantPriority } from './priorities';
import { TenantIdKey } from './search-attributes';
import type { TenantOffboardingInput, TenantOffboardingResult, TenantOnboardingInput, TenantOnboardingResult } from './tenant-messages';

const local = proxyActivities<TenantLifecycleActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/** A page of the offboarding's retire sweep is paced: allow it time; a dead worker is noticed by the heartbeat. */
const paced = proxyActivities<TenantLifecycleActivities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

function microsoft(tenantId: string) {
  return proxyActivities<TenantLifecycleActivities>({
    taskQueue: microsoftTaskQueueOf(workflowInfo().taskQueue),
    // Counted in the tenant's own Microsoft budget, like its reports.
    priority: tenantPriority(tenantId),
    startToCloseTimeout: '2 minutes',
    // Bounded: right after consent, Entra may refuse tokens for a while; a tenant that never works fails here.
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10 },
  });
}

/** Every lifecycle run is found by its tenant in the Temporal UI, whoever started it. */
function tagWithTenant(tenantId: string): void {
  if (workflowInfo().typedSearchAttributes.get(TenantIdKey) !== tenantId) upsertSearchAttributes([{ key: TenantIdKey, value: tenantId }]);
}

function messageOf(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}

/**
 * Activates a consented tenant: provisioned at Intune with a compliance policy per platform and a
 * first heartbeat, its Schedules created, then `active`. A tenant whose consent had been revoked
 * (its consent came back) then has every device reported again.
 */
export async function tenantOnboardingWorkflow(input: TenantOnboardingInput): Promise<TenantOnboardingResult> {
  const { tenantId } = input;
  tagWithTenant(tenantId);
  const before = await local.beginTenantActivation({ tenantId });
  if (before.state === null || before.state === 'offboarding') {
    setCurrentDetails(`tenant ${tenantId} is ${before.state ?? 'not registered'}: nothing to activate`);
    return { tenantId, activated: false, catchUpOperationId: null };
  }
  setCurrentDetails(`activating tenant ${tenantId} at Intune`);
  try {
    await microsoft(tenantId).activateTenantAtIntune({ tenantId });
  } catch (err) {
    const message = messageOf(err);
    await local.recordTenantActivationFailure({ tenantId, message });
    setCurrentDetails(`activation failed: ${message}`);
    throw ApplicationFailure.create({ type: 'TenantActivationFailed', message, nonRetryable: true });
  }
  await local.ensureTenantSchedules({ tenantId });
  const { activated } = await local.completeTenantActivation({ tenantId });
  let catchUpOperationId: string | null = null;
  if (activated && before.wasRevoked) {
    catchUpOperationId = (await local.startTenantCatchUp({ tenantId, activationId: workflowInfo().runId })).operationId;
  }
  setCurrentDetails(
    activated
      ? `tenant ${tenantId} is active${catchUpOperationId ? `; its devices report again (${catchUpOperationId})` : ''}`
      : `tenant ${tenantId} left onboarding meanwhile`,
  );
  return { tenantId, activated, catchUpOperationId };
}

/** How long an offboarding waits for Microsoft to confirm every device `notManaged`, and how often it looks. */
const DEFAULT_NOT_MANAGED_WAIT_MS = 30 * 60_000;
const NOT_MANAGED_CHECK_MS = [2_000, 5_000, 10_000, 30_000];

/**
 * Offboards a tenant: `offboarding`, its Schedules deleted, optionally every device reported
 * `notManaged` (a retire each) and waited for, deprovisioned at Intune, its workflows ended, its
 * rows removed and the record of it completed.
 */
export async function tenantOffboardingWorkflow(input: TenantOffboardingInput): Promise<TenantOffboardingResult> {
  const { tenantId, operationId } = input;
  tagWithTenant(tenantId);
  const { reachable } = await local.beginTenantOffboarding({ tenantId, operationId, reportNotManaged: input.reportNotManaged });
  setCurrentDetails(`offboarding tenant ${tenantId}: Schedules stopped`);
  await local.deleteTenantSchedules({ tenantId });

  let devicesReported: number | null = null;
  // A tenant never activated, or whose consent is revoked, cannot be reported to: nothing to wait for.
  if (input.reportNotManaged && reachable) {
    let after: string | null = null;
    let signalled = 0;
    for (;;) {
      const page: RetirePageResult = await paced.retireTenantDevicesPage({
        tenantId,
        operationId,
        after,
        pageSize: 1_000,
        devicesPerSecond: input.devicesPerSecond ?? 0,
      });
      signalled += page.signalled;
      after = page.after;
      setCurrentDetails(`offboarding tenant ${tenantId}: ${signalled} devices asked to report notManaged`);
      if (page.done) break;
    }
    const deadline = Date.now() + (input.notManagedWaitMs ?? DEFAULT_NOT_MANAGED_WAIT_MS);
    for (let check = 0; ; check++) {
      const counts = await local.countTenantRemovals({ tenantId });
      devicesReported = counts.removed;
      setCurrentDetails(`offboarding tenant ${tenantId}: ${counts.removed} devices reported notManaged, ${counts.awaiting} awaited`);
      if (counts.awaiting === 0 || Date.now() >= deadline) break;
      await sleep(NOT_MANAGED_CHECK_MS[Math.min(check, NOT_MANAGED_CHECK_MS.length - 1)]!);
    }
  }

  let deprovisioned = true;
  try {
    await microsoft(tenantId).deprovisionTenantAtIntune({ tenantId });
  } catch (err) {
    // A tenant whose consent is gone cannot be reached any more: its data is removed all the same.
    deprovisioned = false;
    setCurrentDetails(`offboarding tenant ${tenantId}: not deprovisioned at Intune (${messageOf(err)})`);
  }
  const { terminated } = await local.terminateTenantWorkflows({
    tenantId,
    keep: workflowInfo().workflowId,
    reason: `tenant ${tenantId} offboarded (${operationId})`,
  });
  const { devicesRemoved } = await local.removeTenantData({ tenantId, operationId, devicesReported });
  setCurrentDetails(`tenant ${tenantId} offboarded: ${devicesRemoved} devices removed, ${terminated} workflows ended`);
  return { tenantId, operationId, devicesReported, devicesRemoved, deprovisioned, workflowsTerminated: terminated };
}

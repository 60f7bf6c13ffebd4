/**
 * The tenant heartbeat (P6 of docs/microsoft-protocol.md), run by the `azure-tenant-heartbeat` Schedule:
 * tells Microsoft the partner is alive, records the answer (GET /v1/settings), and honours a
 * `ResyncTimestamp` newer than the last one handled by starting one full sweep of kind `resync`.
 */
import { ActivityFailure, ApplicationFailure, proxyActivities, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import type { FleetActivities } from '../activities/fleet-activities';
import { microsoftTaskQueueOf, type TenantHeartbeatInput, type TenantHeartbeatResult } from './fleet-messages';
import { tenantPriority } from './priorities';

const { recordHeartbeatFailure, startResyncSweep } = proxyActivities<FleetActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

export async function tenantHeartbeatWorkflow(input: TenantHeartbeatInput): Promise<TenantHeartbeatResult> {
  const { sendTenantHeartbeat } = proxyActivities<FleetActivities>({
    // A Microsoft call: on the rate-limited queue, like every report, counted in the tenant's budget.
    taskQueue: input.microsoftTaskQueue ?? microsoftTaskQueueOf(workflowInfo().taskQueue),
    priority: tenantPriority(input.tenantId),
    startToCloseTimeout: '1 minute',
    // The next scheduled heartbeat follows anyway: give up well before it.
    scheduleToCloseTimeout: '10 minutes',
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes' },
  });

  let sent: Awaited<ReturnType<typeof sendTenantHeartbeat>>;
  try {
    sent = await sendTenantHeartbeat({ tenantId: input.tenantId });
  } catch (err) {
    const cause = err instanceof ActivityFailure ? err.cause : err;
    const message = cause instanceof Error ? cause.message : String(cause);
    const type = cause instanceof ApplicationFailure ? (cause.type ?? 'Error') : 'Error';
    await recordHeartbeatFailure({ tenantId: input.tenantId, error: { type, message } });
    setCurrentDetails(`heartbeat failed: ${type}: ${message}`);
    throw ApplicationFailure.create({ type: 'HeartbeatFailed', message: `tenant heartbeat failed: ${message}`, nonRetryable: true });
  }
  if (!sent.sent) {
    setCurrentDetails('reporting is switched off: no heartbeat sent');
    return { sent: false, at: null, resyncTimestamp: null, resyncOperationId: null };
  }

  let resyncOperationId: string | null = null;
  if (sent.resyncTimestamp !== null) {
    const resync = await startResyncSweep({
      tenantId: input.tenantId,
      resyncTimestamp: sent.resyncTimestamp,
      ...(input.sweepOptions ? { sweepOptions: input.sweepOptions } : {}),
    });
    resyncOperationId = resync.started ? resync.operationId : null;
  }
  setCurrentDetails(
    `heartbeat at ${sent.at}` +
      (sent.resyncTimestamp
        ? `; ResyncTimestamp ${sent.resyncTimestamp}${resyncOperationId ? `: started ${resyncOperationId}` : ' (already handled)'}`
        : ''),
  );
  return { sent: true, at: sent.at, resyncTimestamp: sent.resyncTimestamp, resyncOperationId };
}

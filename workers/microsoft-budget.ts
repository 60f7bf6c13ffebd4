/**
 * Microsoft's call budget, per tenant, across all workers (docs/architecture.md, "Microsoft's budget").
 *
 * Every activity that calls Microsoft runs on the one `<task queue>-microsoft` queue with its tenant
 * as fairness key (workflows/priorities.ts). At worker start we ask the Temporal server to hold each
 * fairness key of that queue to the budget (`UpdateTaskQueueConfig`, fairness-key rate limit
 * default): the server dispatches at most that many of a tenant's activities per second whatever the
 * number of workers, and every tenant gets the whole budget, not a share of one.
 *
 * A server that does not know the call (older than 1.29) gets the queue-wide limit instead, as the
 * worker's own option: all tenants then share one budget, which is never more than any tenant's.
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { Logger } from '../lib/logger';

/** per-tenant: the server limits each fairness key; queue-wide: the worker must set the queue's limit. */
export type MicrosoftBudgetScope = 'per-tenant' | 'queue-wide';

const UNIMPLEMENTED = 12;

export async function applyPerTenantBudget(
  client: Client,
  o: { namespace: string; microsoftTaskQueue: string; activitiesPerSecond: number; logger?: Logger },
): Promise<MicrosoftBudgetScope> {
  try {
    await client.workflowService.updateTaskQueueConfig({
      namespace: o.namespace,
      identity: 'azure-compliance-connector worker',
      taskQueue: o.microsoftTaskQueue,
      taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
      updateFairnessKeyRateLimitDefault: {
        rateLimit: { requestsPerSecond: o.activitiesPerSecond },
        reason: 'each tenant: AZURE_MAX_CALLS_PER_SECOND / calls per report',
      },
    });
    return 'per-tenant';
  } catch (err) {
    if ((err as { code?: unknown }).code !== UNIMPLEMENTED) throw err;
    o.logger?.warn(
      { microsoftTaskQueue: o.microsoftTaskQueue },
      'the Temporal server cannot limit each tenant (it needs 1.29 or later): all tenants share one Microsoft budget',
    );
    return 'queue-wide';
  }
}

/**
 * The Microsoft task queue's backlog as the Temporal server counts it (DescribeTaskQueue with stats):
 * report and heartbeat activities waiting for a worker slot within the Microsoft budget. Shared by the
 * console's overview and /metrics.
 */
import type { Client } from '@temporalio/client';
import { microsoftTaskQueueOf } from '../workflows/fleet-messages';

/** temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY */
const ACTIVITY_TASK_QUEUE = 2;

export interface MicrosoftBacklog {
  taskQueue: string;
  /** Activities waiting (approximate). */
  backlog: number;
  /** How long the oldest of them has waited, in seconds (0 when none waits). */
  oldestAgeSeconds: number;
}

export async function describeMicrosoftBacklog(
  temporal: Client,
  o: { namespace: string; taskQueue: string },
  call: <T>(fn: () => Promise<T>) => Promise<T> = (fn) => fn(),
): Promise<MicrosoftBacklog> {
  const taskQueue = microsoftTaskQueueOf(o.taskQueue);
  const res = await call(() =>
    temporal.workflowService.describeTaskQueue({
      namespace: o.namespace,
      taskQueue: { name: taskQueue },
      taskQueueType: ACTIVITY_TASK_QUEUE,
      reportStats: true,
    }),
  );
  const age = res.stats?.approximateBacklogAge;
  return {
    taskQueue,
    backlog: Number(res.stats?.approximateBacklogCount ?? 0),
    oldestAgeSeconds: age ? Number(age.seconds ?? 0) + (age.nanos ?? 0) / 1e9 : 0,
  };
}

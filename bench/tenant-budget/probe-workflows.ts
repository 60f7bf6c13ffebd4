// Workflow of the fairness probe: schedules `count` activities at once on the probed queue, each
// with the tenant as its fairness key.
import { proxyActivities } from '@temporalio/workflow';

export interface ProbeInput {
  tenant: string;
  count: number;
  queue: string;
  priorityKey: number;
  /** false: no fairness key (the queue as it is today). */
  fair: boolean;
}

export async function probeFanout(input: ProbeInput): Promise<void> {
  const { call } = proxyActivities<{ call(tenant: string, enqueuedAt: number): Promise<void> }>({
    taskQueue: input.queue,
    startToCloseTimeout: '1 minute',
    priority: { priorityKey: input.priorityKey, ...(input.fair ? { fairnessKey: input.tenant } : {}) },
  });
  const enqueuedAt = Date.now();
  await Promise.all(Array.from({ length: input.count }, () => call(input.tenant, enqueuedAt)));
}

/**
 * Idle cost: `target` open device workflows, idle: the worker's resident memory and the Temporal dev
 * server's database size. The fleet is every device the earlier scenarios registered (reported
 * Successful), topped up with registrations that cannot be reported (`Workplace_Join_Required`, no
 * Azure device id: one workflow task, recorded Failed), which cost the server about what the floor
 * costs, so that 10,000 is reachable inside the time budget on a 2-core machine.
 */
import { DEVICE_WORKFLOW_TYPE_LIST } from '../../workflows/messages';
import { sleep } from '../lib/child';
import { procSample, sqliteSize } from '../lib/proc';
import type { Stack } from '../lib/stack';
import { eventThroughput, type ThroughputResult } from './event-path';

export interface IdleResult {
  target: number;
  openDeviceWorkflows: number;
  closedWorkflows: number;
  /** The rounds of registrations that brought the fleet up to the target (each ≤ `round` events). */
  topUp: ThroughputResult[];
  /** Whether the time box ran out before the target was reached. */
  timeBoxExpired: boolean;
  settleSeconds: number;
  workerRssBytes: number;
  workerPeakRssBytes: number;
  temporalDbBytes: { db: number; wal: number; shm: number; total: number };
  /** Temporal database bytes per workflow it holds (open and closed). */
  temporalBytesPerWorkflow: number;
  /** Growth of the Temporal database during the top-up, per blocked device added. */
  temporalBytesPerBlockedDevice: number;
  blockedDevices: number;
}

export async function countOpenDeviceWorkflows(stack: Stack): Promise<number> {
  return (await stack.client.workflow.count(`WorkflowType IN ${DEVICE_WORKFLOW_TYPE_LIST} AND ExecutionStatus="Running"`)).count;
}

export async function idleCost(
  stack: Stack,
  o: { target: number; round: number; batchSize: number; batches: number; timeBoxMs: number; settleMs: number; prefix: string },
): Promise<IdleResult> {
  const started = performance.now();
  const sizeBefore = sqliteSize(stack.temporalDbFile).total;
  const topUp: ThroughputResult[] = [];
  let timeBoxExpired = false;
  for (let round = 0; ; round++) {
    const open = await countOpenDeviceWorkflows(stack);
    if (open >= o.target) break;
    const left = o.timeBoxMs - (performance.now() - started);
    if (left < 10_000) {
      timeBoxExpired = true;
      break;
    }
    topUp.push(
      await eventThroughput(stack, {
        count: Math.min(o.round, o.target - open),
        batchSize: o.batchSize,
        batches: o.batches,
        timeoutMs: left,
        prefix: `${o.prefix}${round}-`,
        blocked: true,
      }),
    );
  }
  await sleep(o.settleMs);
  const openNow = await countOpenDeviceWorkflows(stack);
  const closed = (await stack.client.workflow.count('ExecutionStatus!="Running"')).count;
  const w = procSample(stack.worker.pid);
  const size = sqliteSize(stack.temporalDbFile);
  return {
    target: o.target,
    openDeviceWorkflows: openNow,
    closedWorkflows: closed,
    topUp,
    timeBoxExpired,
    settleSeconds: o.settleMs / 1000,
    workerRssBytes: w?.rss ?? NaN,
    workerPeakRssBytes: w?.peakRss ?? NaN,
    temporalDbBytes: size,
    temporalBytesPerWorkflow: size.total / Math.max(1, openNow + closed),
    blockedDevices: topUp.reduce((a, r) => a + r.completed, 0),
    temporalBytesPerBlockedDevice:
      (size.total - sizeBefore) /
      Math.max(
        1,
        topUp.reduce((a, r) => a + r.completed, 0),
      ),
  };
}

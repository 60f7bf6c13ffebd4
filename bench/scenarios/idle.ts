/**
 * Idle cost: `target` open device workflows (registered devices, reported once, now idle): the
 * worker's resident memory and the Temporal dev server's database size.
 */
import { DEVICE_WORKFLOW_TYPE } from '../../workflows/messages';
import { sleep } from '../lib/child';
import { procSample, sqliteSize } from '../lib/proc';
import type { Stack } from '../lib/stack';
import { eventThroughput, type ThroughputResult } from './event-path';

export interface IdleResult {
  target: number;
  openDeviceWorkflows: number;
  closedWorkflows: number;
  topUp: ThroughputResult | null;
  settleSeconds: number;
  workerRssBytes: number;
  workerPeakRssBytes: number;
  temporalDbBytes: { db: number; wal: number; shm: number; total: number };
  /** Temporal database bytes per workflow it holds (open and closed). */
  temporalBytesPerWorkflow: number;
}

export async function countOpenDeviceWorkflows(stack: Stack): Promise<number> {
  return (await stack.client.workflow.count(`WorkflowType="${DEVICE_WORKFLOW_TYPE}" AND ExecutionStatus="Running"`)).count;
}

export async function idleCost(stack: Stack, o: { target: number; batchSize: number; batches: number; timeoutMs: number; settleMs: number; prefix: string }): Promise<IdleResult> {
  const open = await countOpenDeviceWorkflows(stack);
  let topUp: ThroughputResult | null = null;
  if (open < o.target) {
    topUp = await eventThroughput(stack, { count: o.target - open, batchSize: o.batchSize, batches: o.batches, timeoutMs: o.timeoutMs, prefix: o.prefix });
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
    settleSeconds: o.settleMs / 1000,
    workerRssBytes: w?.rss ?? NaN,
    workerPeakRssBytes: w?.peakRss ?? NaN,
    temporalDbBytes: size,
    temporalBytesPerWorkflow: size.total / Math.max(1, openNow + closed),
  };
}

/**
 * The event path's floor: the least a Temporal workflow can do for one event on this
 * server — started by signalWithStart, it waits for the signal, runs one activity, and completes.
 * Its own bundle (this file is the floor worker's workflowsPath) and its own task queue.
 */
import { condition, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';
import type { FloorActivities } from './activities';

export const FLOOR_WORKFLOW_TYPE = 'floorWorkflow';
export const floorEventSignal = defineSignal<[FloorEvent]>('event');

export interface FloorEvent {
  deviceId: string;
  occurredAt: string;
}

const { recordEvent } = proxyActivities<FloorActivities>({ startToCloseTimeout: '1 minute' });

export async function floorWorkflow(): Promise<string> {
  let event: FloorEvent | undefined;
  setHandler(floorEventSignal, (e) => void (event = e));
  await condition(() => event !== undefined);
  return recordEvent(event!);
}

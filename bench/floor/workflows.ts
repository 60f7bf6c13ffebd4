/**
 * The event path's floor: the least a Temporal workflow can do for one event on this
 * server — started by signalWithStart, it waits for the signal, runs one activity, and completes.
 * Its own bundle (this file is the floor worker's workflowsPath) and its own task queue.
 *
 * Beside it, the same floor in the device workflow's shape (`shapedFloorWorkflow`): what the product
 * asks of Temporal for one report, with no work in it (bench/floor-shape.ts measures the two).
 */
import {
  condition,
  continueAsNew,
  defineSignal,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { microsoftTaskQueueOf } from '../../workflows/fleet-messages';
import { tenantPriority } from '../../workflows/priorities';
import {
  AzureClientStatusCodeKey,
  AzureComplianceStatusKey,
  DeviceIdKey,
  PolicyActionKey,
  RetiredKey,
  TenantIdKey,
} from '../../workflows/search-attributes';
import type { FloorActivities } from './activities';

export const FLOOR_WORKFLOW_TYPE = 'floorWorkflow';
export const SHAPED_FLOOR_WORKFLOW_TYPE = 'shapedFloorWorkflow';
export const SHAPED_SWEEP_FLOOR_WORKFLOW_TYPE = 'shapedSweepFloorWorkflow';
export const floorEventSignal = defineSignal<[FloorEvent]>('event');
/** The shaped sweep floor's weekly report request. */
export const floorSweepSignal = defineSignal('sweep');

export interface FloorEvent {
  deviceId: string;
  occurredAt: string;
}

const { recordEvent } = proxyActivities<FloorActivities>({ startToCloseTimeout: '1 minute' });
const { recordLocally } = proxyLocalActivities<FloorActivities>({ startToCloseTimeout: '30 seconds' });

export async function floorWorkflow(): Promise<string> {
  let event: FloorEvent | undefined;
  setHandler(floorEventSignal, (e) => void (event = e));
  await condition(() => event !== undefined);
  return recordEvent(event!);
}

/** Which parts of the device workflow's shape a shaped floor run has (all by default). */
export interface FloorShape {
  /** The two patch markers every new device run records, each with its `TemporalChangeVersion` upsert. */
  patchMarkers?: boolean;
  /** The two read-model writes, as local activities (here empty). */
  localActivities?: boolean;
  /** The two upserts of the operators' search attributes, one per workflow task. */
  searchAttributes?: boolean;
  /** Continue as new after the report: the new run records its markers and upserts once. */
  continueAsNew?: boolean;
  /** Set in the run a continue-as-new starts: the report is behind it. */
  reportedDeviceId?: string;
  /** Only the outcome's upsert, none before the activity (the device workflow since one upsert per report). */
  outcomeUpsertOnly?: boolean;
  /**
   * The activity on the worker's second task queue (`<queue>-microsoft`), with the tenant as fairness
   * key, as the report's upload runs (the queue the server holds to each tenant's Microsoft budget).
   */
  microsoftQueue?: boolean;
}

/** The tenant of every shaped run (its fairness key and `TenantId`). */
export const FLOOR_TENANT = 'floor';

/** The two patch markers a new device run records, each with its `TemporalChangeVersion` upsert. */
function recordPatchMarkers(): void {
  patched('floor-shape-a');
  patched('floor-shape-b');
}

/** The operators' search attributes, as the device workflow upserts them. */
function publishInShape(deviceId: string, status: string): void {
  upsertSearchAttributes([
    { key: TenantIdKey, value: FLOOR_TENANT },
    { key: DeviceIdKey, value: deviceId },
    { key: AzureComplianceStatusKey, value: status },
    { key: AzureClientStatusCodeKey, value: 'Success' },
    { key: PolicyActionKey, value: 'None' },
    { key: RetiredKey, value: false },
  ]);
}

/** The first task of a run that continued as new: its patch markers and its search attributes. */
function newRunInShape(deviceId: string): void {
  recordPatchMarkers();
  publishInShape(deviceId, 'Successful');
}

/**
 * One report of a new device as the device workflow does it (workflows/device.ts), every step empty:
 * two patch markers, then in the first workflow task a local activity (the write of the applied event)
 * and a search-attribute upsert before the activity (the upload), and in the second a local activity
 * (the outcome's write) and an upsert. It completes, as the floor does; a device run stays open.
 */
export async function shapedFloorWorkflow(shape: FloorShape = {}): Promise<string> {
  if (shape.reportedDeviceId !== undefined) {
    newRunInShape(shape.reportedDeviceId);
    return shape.reportedDeviceId;
  }
  const deviceId = await firstReportInShape(shape);
  if (shape.continueAsNew) await continueAsNew<typeof shapedFloorWorkflow>({ reportedDeviceId: deviceId });
  return deviceId;
}

/**
 * The sweep's floor in the device workflow's shape: the first report of a new device, then, on the
 * `sweep` signal, a weekly report as a device makes it: the upload (a report request changes no
 * state, so nothing is written before it) and the outcome's write, with no upsert (the status it
 * shows does not change). A worker that no longer holds it replays the first report's history.
 */
export async function shapedSweepFloorWorkflow(shape: FloorShape = {}): Promise<string> {
  let swept = false;
  setHandler(floorSweepSignal, () => void (swept = true));
  let deviceId = shape.reportedDeviceId;
  if (deviceId !== undefined) newRunInShape(deviceId);
  else {
    deviceId = await firstReportInShape({});
    if (shape.continueAsNew) await continueAsNew<typeof shapedSweepFloorWorkflow>({ reportedDeviceId: deviceId });
  }
  await condition(() => swept);
  const event = { deviceId, occurredAt: new Date().toISOString() };
  const result = await recordEvent(event);
  await recordLocally(event);
  return result;
}

/** The report's activity on the second task queue, as workflows/device-report.ts schedules the upload. */
function recordOnMicrosoftQueue(event: FloorEvent): Promise<string> {
  const { recordEvent: onMicrosoftQueue } = proxyActivities<FloorActivities>({
    startToCloseTimeout: '1 minute',
    taskQueue: microsoftTaskQueueOf(workflowInfo().taskQueue),
    priority: tenantPriority(FLOOR_TENANT),
  });
  return onMicrosoftQueue(event);
}

async function firstReportInShape(shape: FloorShape): Promise<string> {
  const { patchMarkers = true, localActivities = true, searchAttributes = true, outcomeUpsertOnly = false, microsoftQueue = false } = shape;
  let event: FloorEvent | undefined;
  setHandler(floorEventSignal, (e) => void (event = e));
  if (patchMarkers) recordPatchMarkers();
  await condition(() => event !== undefined);
  if (localActivities) await recordLocally(event!);
  if (searchAttributes && !outcomeUpsertOnly) publishInShape(event!.deviceId, 'In-progress');
  const result = await (microsoftQueue ? recordOnMicrosoftQueue(event!) : recordEvent(event!));
  if (localActivities) await recordLocally(event!);
  if (searchAttributes) publishInShape(event!.deviceId, 'Successful');
  return result;
}

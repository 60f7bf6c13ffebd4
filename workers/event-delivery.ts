/**
 * How an MDM event reaches its device workflow, for every caller (the API, tests, the simulator's
 * tools): a signal, started with the workflow when none runs. Signals are taken by the Temporal
 * server alone, so an event is accepted (202) even while no worker runs; an Update would need a
 * worker to answer. Whether the device is retired is decided by Temporal, never by the read model,
 * which lags the workflow:
 * - a device's run completes only once it is retired and owes Microsoft nothing; Temporal then
 *   refuses to start a new run for anything but a registration (ALLOW_DUPLICATE_FAILED_ONLY), which
 *   the API answers with 409;
 * - a registration for such a device starts the next run from the completed run's final state, so
 *   ordering holds across lifecycles (a registration older than the retire stays stale).
 * While a retired run is still finishing its removal, every event reaches it and it decides.
 */
import type { Client, SignalDefinition } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy } from '@temporalio/common';
import type { DeviceState } from '../domain/device-state';
import type { DeviceEvent } from '../domain/events';
import {
  DEVICE_WORKFLOW_TYPE,
  SIGNAL_BY_EVENT_TYPE,
  deviceWorkflowId,
  type DeviceWorkflowInput,
  type DeviceWorkflowOptions,
} from '../workflows/messages';
import { tenantPriority } from '../workflows/priorities';
import { DeviceIdKey, TenantIdKey } from '../workflows/search-attributes';

type DeviceWorkflowFn = (input: DeviceWorkflowInput) => Promise<DeviceState>;

export interface EventDelivery {
  tenantId: string;
  deviceId: string;
  taskQueue: string;
  event: DeviceEvent;
  options?: DeviceWorkflowOptions;
}

/** `retired`: the device's lifecycle is over and only a registration can start the next one. */
export async function deliverEvent(temporal: Client, d: EventDelivery): Promise<'accepted' | 'retired'> {
  try {
    await signalWithStart(temporal, d, WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY);
    return 'accepted';
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    if (d.event.type !== 'registration') return 'retired';
  }
  // Re-enrolment of a retired device: its last run's result is its final state.
  const previous = await temporal.workflow.getHandle<DeviceWorkflowFn>(deviceWorkflowId(d.tenantId, d.deviceId)).result();
  await signalWithStart(temporal, d, WorkflowIdReusePolicy.ALLOW_DUPLICATE, previous);
  return 'accepted';
}

function signalWithStart(temporal: Client, d: EventDelivery, workflowIdReusePolicy: WorkflowIdReusePolicy, state?: DeviceState) {
  return temporal.workflow.signalWithStart<DeviceWorkflowFn, [DeviceEvent]>(DEVICE_WORKFLOW_TYPE, {
    workflowId: deviceWorkflowId(d.tenantId, d.deviceId),
    taskQueue: d.taskQueue,
    args: [{ tenantId: d.tenantId, deviceId: d.deviceId, ...(d.options ? { options: d.options } : {}), ...(state ? { state } : {}) }],
    signal: SIGNAL_BY_EVENT_TYPE[d.event.type] as SignalDefinition<[DeviceEvent]>,
    signalArgs: [d.event],
    typedSearchAttributes: [
      { key: TenantIdKey, value: d.tenantId },
      { key: DeviceIdKey, value: d.deviceId },
    ],
    workflowIdReusePolicy,
    // Its workflow tasks take turns with other tenants' (task-queue fairness), not behind them.
    priority: tenantPriority(d.tenantId),
  });
}

/**
 * One long-running entity workflow per device: the only writer of the device's Azure state
 * (docs/architecture.md). Handlers only enqueue; the main loop applies what arrived, asks the pure
 * domain what to do next, and lets the entity (workflows/device-entity.ts) do it.
 */
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  deprecatePatch,
  makeContinueAsNewFunc,
  patched,
  setDefaultSignalHandler,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { nextStep, type DeviceState } from '../domain/device-state';
import { DeviceEntity, DRIFT_RECONCILIATION_PATCH } from './device-entity';
import {
  complianceSignal,
  entraObservedSignal,
  inventorySignal,
  readModelRewriteSignal,
  registrationSignal,
  reportSignal,
  retireSignal,
  stateQuery,
  syncUpdate,
  SIGNAL_BY_EVENT_TYPE,
  DEVICE_WORKFLOW_TYPE,
  type DeviceWorkflowInput,
  type ReadModelRewrite,
  type ReportRequest,
} from './messages';
import type { DeviceEvent } from '../domain/events';
import type { EntraObservation } from '../domain/drift';

const EVENT_SIGNAL_NAMES: ReadonlySet<string> = new Set(Object.values(SIGNAL_BY_EVENT_TYPE).map((s) => s.name));

/**
 * Every run since 0.1.0 reports in one activity (upload, then its first status poll). The branch for
 * older runs is gone; histories recorded with the patch still carry its marker, which deprecatePatch
 * accepts (the versioning rule is in docs/architecture.md).
 */
export const ONE_ACTIVITY_REPORTS_PATCH = 'one-activity-reports';
export { DRIFT_RECONCILIATION_PATCH };
/**
 * Runs since grace periods apply the tenant's grace periods (a local activity reads them when an
 * action that may have one arrives) and wait for a grace's end on a durable timer
 * (docs/product-rules.md, "Grace periods"). Runs started before it keep the old behaviour.
 */
export const GRACE_PERIODS_PATCH = 'grace-periods';
/**
 * Runs on it write an applied event that a report follows at once through the worker's
 * read-model sink, not a local activity (DeviceEntity.persistThroughSink; docs/architecture.md,
 * "The read model"). Runs started before it keep the local activity.
 */
export const READ_MODEL_SINK_PATCH = 'read-model-sink';
/**
 * Runs on it take every patch above (and drift reconciliation) without asking for each: a new run
 * records this one marker, not one per patch, each with its own search-attribute upsert. They also
 * upsert the search attributes of an applied event that a report follows at once with the report's
 * outcome, not before it, and write a successful report's outcome through the read-model sink
 * (docs/architecture.md, "The read model"). Runs started before it ask for the older patches one
 * by one, as they did.
 */
export const FEWER_HISTORY_EVENTS_PATCH = 'fewer-history-events';
/**
 * The newest version of this workflow, a patch or a workflow type (test/histories keeps a folder of
 * recorded runs per version): since version 2, the type new runs start as.
 */
export const LATEST_DEVICE_WORKFLOW_VERSION = DEVICE_WORKFLOW_TYPE;

/**
 * A device lives for years, and a worker that does not hold it in its cache replays its run's whole
 * history before each report (about 1 ms of CPU per event): the weekly sweep does that for every
 * device. Far below Temporal's own suggestion (thousands of events), this keeps a replay to a few
 * reports' worth; a new run costs about one workflow task, every fifteen reports or so.
 */
const MAX_HISTORY_EVENTS = 200;

/**
 * Runs started before the type deviceComplianceWorkflowV2 (DEVICE_WORKFLOW_TYPE_V1): they ask for
 * each patch with patched(), as they always did, and continue-as-new as version 2.
 */
export function deviceComplianceWorkflow(input: DeviceWorkflowInput): Promise<DeviceState> {
  return runDevice(input, { asksForPatches: true });
}

/**
 * Every run started since (DEVICE_WORKFLOW_TYPE): its type says it has every patch up to
 * `fewer-history-events`, so it asks for none and a new run records no patch marker.
 */
export function deviceComplianceWorkflowV2(input: DeviceWorkflowInput): Promise<DeviceState> {
  return runDevice(input, { asksForPatches: false });
}

async function runDevice(input: DeviceWorkflowInput, version: { asksForPatches: boolean }): Promise<DeviceState> {
  const { tenantId, deviceId } = input;
  const options = input.options ?? {};
  const device = new DeviceEntity(input);

  // Handlers are set before the first await and only enqueue (the safe-message-handlers pattern).
  // Signals that arrived before this code ran (a new run's first task, or a task retried after one)
  // are buffered by the SDK, and each per-name handler takes only its own name from the buffer: the
  // default handler, set first, takes them all in the order they arrived, which ordering relies on.
  setDefaultSignalHandler((name, ...args) => {
    if (name === reportSignal.name) device.onReportRequest(args[0] as ReportRequest);
    else if (name === entraObservedSignal.name) device.onEntraObserved(args[0] as EntraObservation);
    else if (name === readModelRewriteSignal.name) device.onRewriteOwed(args[0] as ReadModelRewrite);
    else if (EVENT_SIGNAL_NAMES.has(name)) device.onEvent(args[0] as DeviceEvent);
  });
  setHandler(registrationSignal, (e) => device.onEvent(e));
  setHandler(complianceSignal, (e) => device.onEvent(e));
  setHandler(inventorySignal, (e) => device.onEvent(e));
  setHandler(retireSignal, (e) => device.onEvent(e));
  setHandler(reportSignal, (request) => device.onReportRequest(request));
  setHandler(entraObservedSignal, (observation) => device.onEntraObserved(observation));
  setHandler(readModelRewriteSignal, (rewrite) => device.onRewriteOwed(rewrite));
  setHandler(
    syncUpdate,
    () => {
      device.onReportRequest({ trigger: 'manual' });
      return { accepted: true as const, deviceId };
    },
    {
      validator: () => {
        if (device.state.retiredAt !== null) {
          throw ApplicationFailure.create({ type: 'DeviceRetired', message: `device ${deviceId} is retired`, nonRetryable: true });
        }
      },
    },
  );
  setHandler(stateQuery, () => device.state);
  // A version-2 run asks for no patch. An older run asks for the newest first: a run on it asks for
  // no older patch (each would record a marker and an upsert).
  device.everyPatch = !version.asksForPatches || patched(FEWER_HISTORY_EVENTS_PATCH);
  if (!device.everyPatch) deprecatePatch(ONE_ACTIVITY_REPORTS_PATCH);
  device.gracePeriods = device.everyPatch || patched(GRACE_PERIODS_PATCH);
  device.sinkWrites = device.everyPatch || patched(READ_MODEL_SINK_PATCH);

  // A new device's search attributes come with its first state (signalWithStart set its ids).
  if (input.state !== undefined) device.publish();

  for (;;) {
    const waiting = device.waitForWork(() => device.hasWork(nextStep(device.state)));
    if (waiting) await waiting;
    const changed = device.take(device.mustReadGracePeriods() ? await device.readGracePeriods() : undefined);
    if (device.expireGrace() || changed) {
      // Undefined when the write went through the sink: there is nothing to wait for.
      const written = device.persistApplied(nextStep(device.state));
      if (written) await written;
    }

    const step = nextStep(device.state);
    if (step.kind === 'report') {
      const due = device.backOff(step);
      if (due === true || (await due)) await device.report(step);
    } else if (step.kind === 'blocked') {
      await device.recordBlocked(step);
    }

    if (device.releaseHeld()) continue;
    const next = nextStep(device.state);
    if (device.retiredAndSettled(next)) {
      await condition(allHandlersFinished);
      // A registration that arrived meanwhile opens the next lifecycle in this run.
      const changed = device.take(device.mustReadGracePeriods() ? await device.readGracePeriods() : undefined);
      if (device.retiredAndSettled(nextStep(device.state))) return device.state;
      if (changed) await device.persist();
      continue;
    }

    // A new run between reports, or between the retries of one (an outage can last days).
    const info = workflowInfo();
    const hookHit = options.continueAsNewAfterEvents !== undefined && device.eventsThisRun >= options.continueAsNewAfterEvents;
    const longHistory = info.historyLength >= (options.maxHistoryEvents ?? MAX_HISTORY_EVENTS);
    const between = next.kind === 'idle' || (next.kind === 'report' && next.retryOf !== undefined);
    if ((info.continueAsNewSuggested || hookHit || longHistory) && between) {
      await condition(allHandlersFinished);
      // Every run continues as version 2, whatever its own type.
      const continueAsV2 = makeContinueAsNewFunc<typeof deviceComplianceWorkflowV2>({ workflowType: DEVICE_WORKFLOW_TYPE });
      await continueAsV2({ tenantId, deviceId, options, state: device.state, inbox: device.carry() });
    }
    if (device.owesRemovalWhileReportingOff(next)) await device.waitForReporting();
  }
}

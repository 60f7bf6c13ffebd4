/**
 * One long-running entity workflow per device (design.md §3 decision 1): the only writer of the
 * device's Azure state. Handlers only enqueue; the main loop applies events, decides through the
 * pure domain module, runs activities, and continues-as-new when Temporal suggests it.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { DeviceActivities } from '../activities/device-activities';
import {
  applyEvent,
  blockReport,
  initialState,
  nextStep,
  policyOf,
  projectionOf,
  reportFailed,
  reportSucceeded,
  requestReport,
  skipReport,
  startReport,
  summaryLine,
  type DeviceState,
  type ReportPayload,
} from '../domain/device-state';
import { azureFailureError } from '../domain/azure-failures';
import type { ReportTrigger } from '../domain/constants';
import {
  complianceSignal,
  inventorySignal,
  registrationSignal,
  reportSignal,
  retireSignal,
  stateQuery,
  syncUpdate,
  type DeviceWorkflowInput,
  type InboxItem,
} from './messages';
import {
  AzureClientStatusCodeKey,
  AzureComplianceStatusKey,
  DeviceIdKey,
  PolicyActionKey,
  RetiredKey,
  TenantIdKey,
} from './search-attributes';

/**
 * The activities that call Microsoft run on their own task queue, whose rate the Temporal server
 * limits across all workers (workers/worker.ts), so the tenant is never flooded.
 */
function microsoftActivities(taskQueue: string) {
  return proxyActivities<DeviceActivities>({
    taskQueue,
    startToCloseTimeout: '1 minute',
    // Throttling carries its own delay (nextRetryDelay); transient errors back off; permanent ones
    // are non-retryable and end the report at once (design.md §3 decision 4).
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 12 },
  });
}

const { writeDeviceRecord } = proxyLocalActivities<DeviceActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 milliseconds', maximumInterval: '30 seconds' },
});

const DEFAULT_POLL_INTERVALS_MS = [1_000, 2_000, 4_000, 8_000, 15_000, 30_000, 60_000];
const DEFAULT_POLL_TIMEOUT_MS = 6 * 60 * 60 * 1000;

export async function deviceComplianceWorkflow(input: DeviceWorkflowInput): Promise<DeviceState> {
  const { tenantId, deviceId } = input;
  const options = input.options ?? {};
  const { reportDeviceState, getReportStatus } = microsoftActivities(options.microsoftTaskQueue ?? `${workflowInfo().taskQueue}-microsoft`);
  const inbox: InboxItem[] = [...(input.inbox ?? [])];
  let state: DeviceState = input.state ?? initialState(tenantId, deviceId, Date.now() * 1000);
  let eventsThisRun = 0;
  const published = { key: '' };

  // Handlers are set before the first await and only enqueue (safe-message-handlers pattern).
  setHandler(registrationSignal, (event) => void inbox.push({ kind: 'event', event }));
  setHandler(complianceSignal, (event) => void inbox.push({ kind: 'event', event }));
  setHandler(inventorySignal, (event) => void inbox.push({ kind: 'event', event }));
  setHandler(retireSignal, (event) => void inbox.push({ kind: 'event', event }));
  setHandler(reportSignal, (request) => void inbox.push({ kind: 'report', request }));
  setHandler(
    syncUpdate,
    () => {
      inbox.push({ kind: 'report', request: { trigger: 'manual' } });
      return { accepted: true as const, deviceId };
    },
    {
      validator: () => {
        if (state.retiredAt !== null) {
          throw ApplicationFailure.create({ type: 'DeviceRetired', message: `device ${deviceId} is retired`, nonRetryable: true });
        }
      },
    },
  );
  setHandler(stateQuery, () => state);

  /** Registrations that arrived after the retire: they start the device's next lifecycle. */
  const nextLifecycle: InboxItem[] = [];

  const drainInbox = (): boolean => {
    let changed = false;
    while (inbox.length > 0) {
      const item = inbox.shift()!;
      if (item.kind === 'report') {
        state = requestReport(state, item.request.trigger, item.request.operationId);
        continue;
      }
      if (state.retiredAt !== null && item.event.type === 'registration') {
        nextLifecycle.push(item);
        continue;
      }
      const result = applyEvent(state, item.event);
      state = result.state;
      if (result.outcome === 'applied') {
        changed = true;
        eventsThisRun++;
      }
    }
    return changed;
  };

  const persist = async (attempt?: Parameters<DeviceActivities['writeDeviceRecord']>[0]['attempt']): Promise<void> => {
    state = { ...state, version: state.version + 1 };
    await writeDeviceRecord({ projection: projectionOf(state), ...(attempt ? { attempt } : {}) });
    publishOperatorView(state, published);
  };

  const report = async (trigger: ReportTrigger, payload: ReportPayload): Promise<void> => {
    const messageId = uuid4();
    const attemptKey = messageId;
    const startedAt = new Date().toISOString();
    const reported = { complianceStatus: payload.complianceStatus, managementState: payload.managementState };
    const timeline = (outcome: 'In-progress' | 'Successful' | 'Failed', error: DeviceState['lastError'], completedAt: string | null) => ({
      attemptKey,
      at: startedAt,
      trigger,
      reported,
      outcome,
      messageId,
      error,
      completedAt,
    });

    let sent: Awaited<ReturnType<typeof reportDeviceState>>;
    try {
      // Every input is fixed here, so a retried upload is byte-identical (idempotent at Microsoft).
      sent = await reportDeviceState({ tenantId, deviceId, messageId, payload, lastCheckInTime: startedAt, lastUpdateTime: newestOccurredAt(state) ?? startedAt });
    } catch (err) {
      state = startReport(state, payload, startedAt);
      const error = failureToDeviceError(err);
      state = reportFailed(state, error);
      await persist(timeline('Failed', error, null));
      return;
    }
    if (!sent.sent) {
      // The feature is switched off: nothing was sent; enabling it reports the current state.
      state = skipReport(state);
      await persist();
      return;
    }
    state = startReport(state, payload, startedAt);
    await persist(timeline('In-progress', null, null));

    const intervals = options.statusPollIntervalsMs ?? DEFAULT_POLL_INTERVALS_MS;
    const deadline = Date.now() + (options.statusPollTimeoutMs ?? DEFAULT_POLL_TIMEOUT_MS);
    for (let poll = 0; ; poll++) {
      // A durable timer: a worker restart resumes the wait, it does not lose it (decision 3).
      await sleep(intervals[Math.min(poll, intervals.length - 1)]!);
      // Events keep arriving while Microsoft processes the upload: show them at once.
      if (drainInbox()) await persist();
      let status: Awaited<ReturnType<typeof getReportStatus>>;
      try {
        status = await getReportStatus({ tenantId, deviceId, messageId });
      } catch (err) {
        const error = failureToDeviceError(err);
        state = reportFailed(state, error);
        await persist(timeline('Failed', error, null));
        return;
      }
      if (status.status === 'completed') {
        state = reportSucceeded(state, payload, status.completedAt);
        await persist(timeline('Successful', null, status.completedAt));
        return;
      }
      if (status.status === 'failed') {
        state = reportFailed(state, status.error);
        await persist(timeline('Failed', status.error, new Date().toISOString()));
        return;
      }
      if (Date.now() >= deadline) {
        const error = azureFailureError('StatusTimeout', `Microsoft had not processed upload ${messageId} after ${Math.round((options.statusPollTimeoutMs ?? DEFAULT_POLL_TIMEOUT_MS) / 1000)} s`);
        state = reportFailed(state, error);
        await persist(timeline('Failed', error, null));
        return;
      }
    }
  };

  publishOperatorView(state, published);

  for (;;) {
    await condition(() => inbox.length > 0 || nextStep(state).kind !== 'idle');
    if (drainInbox()) await persist();

    const step = nextStep(state);
    if (step.kind === 'report') {
      await report(step.trigger, step.payload);
    } else if (step.kind === 'blocked') {
      // Nothing can be sent without an Azure device ID: the timeline still shows the attempt and why.
      state = blockReport(state);
      await persist({
        attemptKey: `blocked-${state.attempts}`,
        at: new Date().toISOString(),
        trigger: step.trigger,
        reported: { complianceStatus: policyOf(state).complianceStatus, managementState: policyOf(state).managementState },
        outcome: 'Failed',
        messageId: null,
        error: step.error,
        completedAt: null,
      });
    }

    if (state.retiredAt !== null && nextStep(state).kind === 'idle' && inbox.length === 0) {
      await condition(allHandlersFinished);
      drainInbox();
      if (nextLifecycle.length > 0) {
        // Re-enrollment: a registration after the retire starts the device's next lifecycle.
        await continueAsNew<typeof deviceComplianceWorkflow>({ tenantId, deviceId, options, inbox: nextLifecycle });
      }
      return state;
    }

    const suggested = workflowInfo().continueAsNewSuggested;
    const hookHit = options.continueAsNewAfterEvents !== undefined && eventsThisRun >= options.continueAsNewAfterEvents;
    if ((suggested || hookHit) && nextStep(state).kind === 'idle') {
      await condition(allHandlersFinished);
      await continueAsNew<typeof deviceComplianceWorkflow>({ tenantId, deviceId, options, state, inbox: [...inbox] });
    }
  }
}

function newestOccurredAt(state: DeviceState): string | null {
  const times = Object.values(state.lastApplied).filter((t): t is string => typeof t === 'string');
  if (times.length === 0) return null;
  return times.reduce((a, b) => (Date.parse(a) >= Date.parse(b) ? a : b));
}

/** Turns an activity's final failure (already mapped by activities/azure/errors.ts) into lastError. */
function failureToDeviceError(err: unknown) {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    return azureFailureError(cause.type ?? 'Transient', cause.message);
  }
  const message = cause instanceof Error ? cause.message : String(cause);
  return azureFailureError('Transient', message);
}

/**
 * Keeps the search attributes and the UI's one-line summary current (operators' view). Search
 * attributes are upserted only when they change: each upsert is an event in the history.
 */
function publishOperatorView(state: DeviceState, published: { key: string }): void {
  setCurrentDetails(summaryLine(state));
  const values = [
    state.status ?? 'None',
    state.clientStatusCode ?? 'None',
    policyOf(state).policyAction ?? 'None',
    state.retiredAt !== null,
  ];
  const key = JSON.stringify(values);
  if (key === published.key) return;
  published.key = key;
  upsertSearchAttributes([
    { key: TenantIdKey, value: state.tenantId },
    { key: DeviceIdKey, value: state.deviceId },
    { key: AzureComplianceStatusKey, value: state.status ?? 'None' },
    { key: AzureClientStatusCodeKey, value: state.clientStatusCode ?? 'None' },
    { key: PolicyActionKey, value: policyOf(state).policyAction ?? 'None' },
    { key: RetiredKey, value: state.retiredAt !== null },
  ]);
}

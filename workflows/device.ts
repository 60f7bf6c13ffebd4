/**
 * One long-running entity workflow per device (design.md §3 decision 1): the only writer of the
 * device's Azure state. Handlers only enqueue; the main loop applies events, decides through the
 * pure domain module, runs activities, and continues-as-new when Temporal suggests it.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { DeviceActivities, DeviceRecordInput, ReportStatus, UploadReportInput, UploadReportResult } from '../activities/device-activities';
import {
  applyEvent,
  blockReport,
  initialState,
  lookupsFor,
  nextStep,
  policyOf,
  projectionOf,
  rememberLookups,
  reportFailed,
  reportPriority,
  reportSucceeded,
  STATUS_POLL_PRIORITY,
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
function microsoftActivities(taskQueue: string, priorityKey: number) {
  return proxyActivities<DeviceActivities>({
    taskQueue,
    startToCloseTimeout: '1 minute',
    // Throttling carries its own delay (nextRetryDelay); transient errors back off; permanent ones
    // are non-retryable and end the report at once (design.md §3 decision 4).
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 12 },
    // A changed state goes ahead of a sweep's backlog on the shared, rate-limited queue.
    priority: { priorityKey },
  });
}

/**
 * A report is one activity (upload, then its first status poll) and two workflow tasks, and a new
 * device publishes its search attributes once, with its first state. Runs started before this
 * change replay as they were recorded (two activities, an initial publish): see test/replay.
 */
export const ONE_ACTIVITY_REPORTS_PATCH = 'one-activity-reports';
/** The newest patch of this workflow (test/histories keeps a folder of recorded runs per patch). */
export const LATEST_DEVICE_WORKFLOW_PATCH = ONE_ACTIVITY_REPORTS_PATCH;

const { writeDeviceRecord } = proxyLocalActivities<DeviceActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 milliseconds', maximumInterval: '30 seconds' },
});

const DEFAULT_POLL_INTERVALS_MS = [1_000, 2_000, 4_000, 8_000, 15_000, 30_000, 60_000];
/**
 * A device lives for years, and a worker that does not hold it in its cache replays its run's whole
 * history before each report (about 1 ms of CPU per event): the weekly sweep does that for every
 * device. Far below Temporal's own suggestion (thousands of events), this keeps a replay to a few
 * reports' worth; a new run costs about one workflow task, every fifteen reports or so.
 */
const MAX_HISTORY_EVENTS = 200;
const DEFAULT_POLL_TIMEOUT_MS = 6 * 60 * 60 * 1000;

export async function deviceComplianceWorkflow(input: DeviceWorkflowInput): Promise<DeviceState> {
  const { tenantId, deviceId } = input;
  const options = input.options ?? {};
  const microsoftTaskQueue = options.microsoftTaskQueue ?? `${workflowInfo().taskQueue}-microsoft`;
  // What was sent finishes first: its status polls go ahead of every upload still queued.
  const statusPolls = microsoftActivities(microsoftTaskQueue, STATUS_POLL_PRIORITY);
  const inbox: InboxItem[] = [...(input.inbox ?? [])];
  let state: DeviceState = input.state ?? initialState(tenantId, deviceId, Date.now() * 1000);
  let eventsThisRun = 0;
  const published = { key: '' };

  /**
   * The upload of a report asked for whatever changed (weekly, sync, enable, resync) while it may
   * still wait behind its sweep at a low priority. An MDM event must not wait behind it: the event's
   * handler cancels it, and the main loop reports the newer state, which answers the request too.
   */
  const forcedUpload: { scope: CancellationScope | null; superseded: boolean } = { scope: null, superseded: false };
  const onEvent = (event: Extract<InboxItem, { kind: 'event' }>['event']): void => {
    inbox.push({ kind: 'event', event });
    if (forcedUpload.scope) {
      forcedUpload.superseded = true;
      forcedUpload.scope.cancel();
      forcedUpload.scope = null;
    }
  };

  // Handlers are set before the first await and only enqueue (safe-message-handlers pattern); an
  // event's handler also cancels a sweep's upload still waiting in the queue (forcedUpload above).
  setHandler(registrationSignal, onEvent);
  setHandler(complianceSignal, onEvent);
  setHandler(inventorySignal, onEvent);
  setHandler(retireSignal, onEvent);
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
  const oneActivityReports = patched(ONE_ACTIVITY_REPORTS_PATCH);

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

  const persist = async (attempt?: DeviceRecordInput['attempt']): Promise<void> => {
    state = { ...state, version: state.version + 1 };
    await writeDeviceRecord({ projection: projectionOf(state), ...(attempt ? { attempt } : {}) });
    publishOperatorView(state, published);
  };

  /** One report attempt: its message id (fixed here, so a retried upload is idempotent) and its timeline row. */
  const beginAttempt = (trigger: ReportTrigger, payload: ReportPayload) => {
    const messageId = uuid4();
    const startedAt = new Date().toISOString();
    const reported = { complianceStatus: payload.complianceStatus, managementState: payload.managementState };
    const timeline = (outcome: 'In-progress' | 'Successful' | 'Failed', error: DeviceState['lastError'], completedAt: string | null) => ({
      attemptKey: messageId,
      at: startedAt,
      trigger,
      reported,
      outcome,
      messageId,
      error,
      completedAt,
    });
    const input = { tenantId, deviceId, messageId, payload, lastCheckInTime: startedAt, lastUpdateTime: newestOccurredAt(state) ?? startedAt };
    const timeoutMs = options.statusPollTimeoutMs ?? DEFAULT_POLL_TIMEOUT_MS;
    return {
      messageId,
      startedAt,
      timeline,
      input,
      timeoutMs,
      uploads: microsoftActivities(microsoftTaskQueue, reportPriority(trigger)),
    };
  };
  type Attempt = ReturnType<typeof beginAttempt>;
  const intervals = options.statusPollIntervalsMs ?? DEFAULT_POLL_INTERVALS_MS;

  const failAttempt = async (attempt: Attempt, err: unknown): Promise<void> => {
    const error = failureToDeviceError(err);
    state = reportFailed(state, error);
    await persist(attempt.timeline('Failed', error, null));
  };

  /** Records a terminal status; false while Microsoft is still processing the upload. */
  const settle = async (attempt: Attempt, payload: ReportPayload, status: ReportStatus): Promise<boolean> => {
    if (status.status === 'completed') {
      state = reportSucceeded(state, payload, status.completedAt);
      await persist(attempt.timeline('Successful', null, status.completedAt));
      return true;
    }
    if (status.status === 'failed') {
      state = reportFailed(state, status.error);
      await persist(attempt.timeline('Failed', status.error, new Date().toISOString()));
      return true;
    }
    return false;
  };

  /** Polls the upload's status from the `fromPoll`-th wait on, until it is terminal or `deadline` passes. */
  const pollUntilDone = async (attempt: Attempt, payload: ReportPayload, fromPoll: number, deadline: number): Promise<void> => {
    for (let poll = fromPoll; ; poll++) {
      // A durable timer: a worker restart resumes the wait, it does not lose it (decision 3).
      await sleep(intervals[Math.min(poll, intervals.length - 1)]!);
      // Events keep arriving while Microsoft processes the upload: show them at once.
      if (drainInbox()) await persist();
      let status: ReportStatus;
      try {
        status = await statusPolls.getReportStatus({ tenantId, deviceId, messageId: attempt.messageId });
      } catch (err) {
        await failAttempt(attempt, err);
        return;
      }
      if (await settle(attempt, payload, status)) return;
      if (Date.now() >= deadline) {
        const error = azureFailureError('StatusTimeout', `Microsoft had not processed upload ${attempt.messageId} after ${Math.round(attempt.timeoutMs / 1000)} s`);
        state = reportFailed(state, error);
        await persist(attempt.timeline('Failed', error, null));
        return;
      }
    }
  };

  /**
   * The upload activity of a report; one asked for whatever changed can be superseded by an MDM
   * event while it is queued (see forcedUpload). Had the upload already started, Microsoft keeps the
   * newer of the two messages (LastUpdateTime).
   */
  const uploadUnlessSuperseded = async (attempt: Attempt, trigger: ReportTrigger, input: UploadReportInput): Promise<UploadReportResult | 'superseded'> => {
    if (reportPriority(trigger) <= reportPriority('compliance')) return attempt.uploads.uploadReport(input);
    const scope = new CancellationScope();
    forcedUpload.scope = scope;
    forcedUpload.superseded = false;
    try {
      return await scope.run(() => attempt.uploads.uploadReport(input));
    } catch (err) {
      if (forcedUpload.superseded && isCancellation(err)) return 'superseded';
      throw err;
    } finally {
      forcedUpload.scope = null;
    }
  };

  const report = async (trigger: ReportTrigger, payload: ReportPayload): Promise<void> => {
    const attempt = beginAttempt(trigger, payload);
    const deadline = Date.now() + attempt.timeoutMs;
    let result: UploadReportResult | 'superseded';
    try {
      result = await uploadUnlessSuperseded(attempt, trigger, { ...attempt.input, firstPollDelayMs: intervals[0]!, lookups: lookupsFor(state, payload) });
    } catch (err) {
      state = startReport(state, payload, attempt.startedAt);
      await failAttempt(attempt, err);
      return;
    }
    // Nothing was recorded of this attempt: the main loop applies the event and reports the newer state.
    if (result === 'superseded') return;
    if (!result.sent) {
      // The feature is switched off: nothing was sent; enabling it reports the current state.
      state = skipReport(state);
      await persist();
      return;
    }
    state = rememberLookups(startReport(state, payload, attempt.startedAt), result.lookups);
    // Events that arrived meanwhile are applied with the outcome, in the same write.
    drainInbox();
    if (await settle(attempt, payload, result.status)) return;
    await persist(attempt.timeline('In-progress', null, null));
    await pollUntilDone(attempt, payload, 1, deadline);
  };

  /** The report as runs started before ONE_ACTIVITY_REPORTS_PATCH recorded it: upload, then durable polling. */
  const reportInTwoActivities = async (trigger: ReportTrigger, payload: ReportPayload): Promise<void> => {
    const attempt = beginAttempt(trigger, payload);
    let sent: Awaited<ReturnType<DeviceActivities['reportDeviceState']>>;
    try {
      sent = await attempt.uploads.reportDeviceState(attempt.input);
    } catch (err) {
      state = startReport(state, payload, attempt.startedAt);
      await failAttempt(attempt, err);
      return;
    }
    if (!sent.sent) {
      state = skipReport(state);
      await persist();
      return;
    }
    state = startReport(state, payload, attempt.startedAt);
    await persist(attempt.timeline('In-progress', null, null));
    await pollUntilDone(attempt, payload, 0, Date.now() + attempt.timeoutMs);
  };

  // A new device's search attributes come with its first state (signalWithStart set its ids).
  if (!oneActivityReports || input.state !== undefined) publishOperatorView(state, published);

  for (;;) {
    await condition(() => inbox.length > 0 || nextStep(state).kind !== 'idle');
    if (drainInbox()) await persist();

    const step = nextStep(state);
    if (step.kind === 'report') {
      await (oneActivityReports ? report : reportInTwoActivities)(step.trigger, step.payload);
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

    const info = workflowInfo();
    const hookHit = options.continueAsNewAfterEvents !== undefined && eventsThisRun >= options.continueAsNewAfterEvents;
    const longHistory = oneActivityReports && info.historyLength >= (options.maxHistoryEvents ?? MAX_HISTORY_EVENTS);
    if ((info.continueAsNewSuggested || hookHit || longHistory) && nextStep(state).kind === 'idle') {
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

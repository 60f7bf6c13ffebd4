/**
 * One report attempt of a device and the workflow-side work it takes: the upload (which may be
 * superseded while it waits in the queue), its status polls after durable timers, and the timeline
 * row that records it. `Attempt` owns what it changes: the device's state, through the entity that
 * started it (workflows/device-entity.ts).
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  proxyActivities,
  sleep,
  uuid4,
} from '@temporalio/workflow';
import type { DeviceActivities, DeviceRecordInput, ReportStatus, UploadReportResult } from '../activities/device-activities';
import { deviceErrorFor, isFailureReason } from '../domain/failure-reasons';
import type { ReportTrigger } from '../domain/constants';
import type { DeviceError, ReportPayload } from '../domain/device-state';
import type { DriftFinding } from '../domain/drift';
import type { DeviceWorkflowOptions } from './messages';
import { tenantPriority, reportPriority } from './priorities';

export type TimelineRow = NonNullable<DeviceRecordInput['attempt']>;
export type Outcome = TimelineRow['outcome'];

/** One row of the report timeline; every row the workflow writes (blocked ones too) is built here. */
export function timelineRow(
  row: {
    key: string;
    at: string;
    trigger: ReportTrigger;
    reported: { complianceStatus: string; managementState: string };
    messageId: string | null;
    /** A drift row: what the reconciliation found different in Entra. */
    drift?: DriftFinding | null;
  },
  outcome: Outcome,
  error: DeviceError | null,
  completedAt: string | null,
): TimelineRow {
  return {
    attemptKey: row.key,
    at: row.at,
    trigger: row.trigger,
    reported: row.reported,
    outcome,
    messageId: row.messageId,
    error,
    completedAt,
    ...(row.drift ? { drift: row.drift } : {}),
  };
}

const DEFAULT_RETRY = { initialIntervalMs: 1_000, maximumIntervalMs: 5 * 60_000 };

/** The backoff before the `failures`-th retry of a report that must reach Microsoft. */
export function retryDelayMs(options: DeviceWorkflowOptions, failures: number): number {
  const { initialIntervalMs, maximumIntervalMs } = options.microsoftRetry ?? DEFAULT_RETRY;
  return Math.min(initialIntervalMs * 2 ** Math.max(0, failures - 1), maximumIntervalMs);
}

/**
 * The activities that call Microsoft run on their own task queue, whose rate the Temporal server
 * limits across all workers (workers/worker.ts), so the tenant is never flooded. They heartbeat, so a
 * report on a worker that died is retried within the heartbeat timeout, not the whole start-to-close.
 */
export function microsoftActivities(ctx: Pick<AttemptContext, 'microsoftTaskQueue' | 'tenantId' | 'options'>, priorityKey: number) {
  const { microsoftTaskQueue: taskQueue, options } = ctx;
  const retry = options.microsoftRetry ?? DEFAULT_RETRY;
  return proxyActivities<DeviceActivities>({
    taskQueue,
    startToCloseTimeout: '1 minute',
    heartbeatTimeout: '10 seconds',
    // Throttling carries its own delay (nextRetryDelay); transient errors back off; permanent ones
    // are non-retryable and end the attempt at once (docs/architecture.md, "Retries").
    retry: {
      initialInterval: retry.initialIntervalMs,
      backoffCoefficient: 2,
      maximumInterval: retry.maximumIntervalMs,
      maximumAttempts: 12,
    },
    // A changed state goes ahead of a sweep's backlog on the shared, rate-limited queue; the tenant
    // is the fairness key its budget is counted under.
    priority: tenantPriority(ctx.tenantId, priorityKey),
  });
}

/**
 * Turns an activity's final failure into the device's error, under the reason the activity mapped
 * (its ApplicationFailure type); anything unmapped counts as a transient failure.
 */
export function failureToDeviceError(err: unknown): DeviceError {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) return deviceErrorFor(isFailureReason(cause.type) ? cause.type : 'Transient', cause.message);
  return deviceErrorFor('Transient', cause instanceof Error ? cause.message : String(cause));
}

export interface AttemptContext {
  tenantId: string;
  deviceId: string;
  microsoftTaskQueue: string;
  options: DeviceWorkflowOptions;
}

const DEFAULT_POLL_INTERVALS_MS = [1_000, 2_000, 4_000, 8_000, 15_000, 30_000, 60_000];
const DEFAULT_POLL_TIMEOUT_MS = 6 * 60 * 60 * 1000;

/**
 * One attempt: its message id (fixed in the workflow, so a retried upload is idempotent), when it
 * started, and what it reports to which Azure device id.
 */
export class Attempt {
  readonly messageId = uuid4();
  readonly startedAt = new Date().toISOString();
  readonly deadline: number;
  private readonly intervals: number[];
  private readonly timeoutMs: number;
  /** Set when an MDM event cancels this upload while it still waits in the queue. */
  private queued: CancellationScope | null = null;
  private superseded = false;

  constructor(
    private readonly ctx: AttemptContext,
    readonly trigger: ReportTrigger,
    readonly payload: ReportPayload,
    readonly lastUpdateTime: string,
    readonly former: boolean,
    /** The drift this attempt re-reports for (trigger `drift`), shown on its timeline row. */
    readonly drift: DriftFinding | null = null,
  ) {
    this.intervals = ctx.options.statusPollIntervalsMs ?? DEFAULT_POLL_INTERVALS_MS;
    this.timeoutMs = ctx.options.statusPollTimeoutMs ?? DEFAULT_POLL_TIMEOUT_MS;
    this.deadline = Date.now() + this.timeoutMs;
  }

  row(outcome: Outcome, error: DeviceError | null, completedAt: string | null): TimelineRow {
    const reported = { complianceStatus: this.payload.complianceStatus, managementState: this.payload.managementState };
    return timelineRow(
      { key: this.messageId, at: this.startedAt, trigger: this.trigger, reported, messageId: this.messageId, drift: this.drift },
      outcome,
      error,
      completedAt,
    );
  }

  /**
   * The upload and its first status poll, in one activity. An upload asked for whatever changed
   * (weekly, sync, enable, resync) waits behind its sweep at a low priority: an MDM event supersedes
   * it (see supersede), and the newer state is reported instead. Were it already running, its older
   * LastUpdateTime keeps it from winning at Microsoft.
   */
  upload(lookups: UploadInputLookups): Promise<UploadReportResult | 'superseded'> {
    const uploads = microsoftActivities(this.ctx, reportPriority(this.trigger));
    const input = {
      tenantId: this.ctx.tenantId,
      deviceId: this.ctx.deviceId,
      messageId: this.messageId,
      payload: this.payload,
      lastCheckInTime: this.startedAt,
      lastUpdateTime: this.lastUpdateTime,
      firstPollDelayMs: this.intervals[0]!,
      ...(lookups ? { lookups } : {}),
    };
    if (reportPriority(this.trigger) <= reportPriority('compliance')) return uploads.uploadReport(input);
    return this.uploadQueued(() => uploads.uploadReport(input));
  }

  private async uploadQueued(upload: () => Promise<UploadReportResult>): Promise<UploadReportResult | 'superseded'> {
    this.queued = new CancellationScope();
    try {
      return await this.queued.run(upload);
    } catch (err) {
      if (this.superseded && isCancellation(err)) return 'superseded';
      throw err;
    } finally {
      this.queued = null;
    }
  }

  /** An MDM event arrived: an upload still queued for a sweep is cancelled. */
  supersede(): void {
    if (!this.queued) return;
    this.superseded = true;
    this.queued.cancel();
    this.queued = null;
  }

  /** Waits before the `poll`-th status poll; a durable timer, so a worker restart resumes the wait. */
  waitBeforePoll(poll: number): Promise<void> {
    return sleep(this.intervals[Math.min(poll, this.intervals.length - 1)]!);
  }

  pollStatus(statusPolls: ReturnType<typeof microsoftActivities>): Promise<ReportStatus> {
    return statusPolls.getReportStatus({ tenantId: this.ctx.tenantId, deviceId: this.ctx.deviceId, messageId: this.messageId });
  }

  timedOut(): boolean {
    return Date.now() >= this.deadline;
  }

  timeoutError(): DeviceError {
    return deviceErrorFor(
      'StatusTimeout',
      `Microsoft had not processed upload ${this.messageId} after ${Math.round(this.timeoutMs / 1000)} s`,
    );
  }
}

type UploadInputLookups = Parameters<DeviceActivities['uploadReport']>[0]['lookups'];

/**
 * The device entity a device workflow run owns: its state, the inbox its message handlers fill, the
 * events held for its next lifecycle, and every step that changes the state (applying events,
 * reports, writes to the read model). The workflow function (workflows/device.ts) only wires handlers
 * to it and runs its main loop.
 */
import { condition, patched, proxyLocalActivities, proxySinks, workflowInfo, type Sinks } from '@temporalio/workflow';
import type { DeviceActivities, DeviceRecordInput, ReportStatus } from '../activities/device-activities';
import {
  applyEvent,
  blockReport,
  endGrace,
  graceChange,
  graceDue,
  initialState,
  lookupsFor,
  nextUpdateTime,
  owesMicrosoft,
  policyOf,
  rememberLookups,
  reportedPolicyOf,
  reportFailed,
  reportSucceeded,
  requestReport,
  skipReport,
  startReport,
  uploadLeaving,
  type DeviceState,
  type NextStep,
} from '../domain/device-state';
import type { DeviceEvent } from '../domain/events';
import { driftResolved, observeEntra, reopenAfterDeletion, type EntraObservation } from '../domain/drift';
import { GRACE_ACTIONS, type GraceContext, type GracePeriods } from '../domain/grace';
import {
  Attempt,
  failureToDeviceError,
  microsoftActivities,
  retryDelayMs,
  timelineRow,
  type AttemptContext,
  type TimelineRow,
} from './device-report';
import { OperatorView, projectionOf } from './device-views';
import type { DeviceWorkflowInput, InboxItem, ReadModelRewrite, ReportRequest } from './messages';
import { STATUS_POLL_PRIORITY } from './priorities';

const { writeDeviceRecord } = proxyLocalActivities<DeviceActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 milliseconds', maximumInterval: '30 seconds' },
});

/**
 * The drift reconciliation (domain/drift.ts): runs started before it ignore what Entra holds, so
 * their histories replay unchanged (the versioning rule, docs/architecture.md).
 */
export const DRIFT_RECONCILIATION_PATCH = 'drift-reconciliation';
// The read answers `{}` itself when Postgres fails (no grace: reported at once), so it is short.
const { tenantGracePeriods } = proxyLocalActivities<DeviceActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '500 milliseconds', maximumAttempts: 3 },
});

/** The read-model write a report follows at once (see persistThroughSink). */
export interface ReadModelSinks extends Sinks {
  readModel: { write(input: DeviceRecordInput): void };
}
const { readModel } = proxySinks<ReadModelSinks>();

const MAY_HAVE_GRACE: ReadonlySet<string> = new Set(GRACE_ACTIONS);

/** A retired device whose removal found reporting off tries again this often, if nothing wakes it. */
const REPORTING_OFF_RECHECK_MS = 10 * 60_000;

export class DeviceEntity {
  state: DeviceState;
  /** Messages not yet applied, in arrival order (handlers only push here). */
  readonly inbox: InboxItem[];
  /**
   * A registration that opens the next lifecycle while this one still owes Microsoft a removal, and
   * every message after it: they belong to the next lifecycle, applied once the removal is confirmed.
   */
  private held: InboxItem[] = [];
  eventsThisRun = 0;
  private readonly view = new OperatorView();
  private readonly ctx: AttemptContext;
  private readonly statusPolls: ReturnType<typeof microsoftActivities>;
  private current: Attempt | null = null;
  /** When the retry of a failed report is due (kept while messages interrupt the wait). */
  private retryDue: { failures: number; at: number } | null = null;
  /**
   * Timeline rows still to write, each with the next write that has no row of its own: drift that
   * sent nothing (a device deleted in Entra), or the row of a sink write the worker gave up on.
   */
  private owedRows: TimelineRow[] = [];
  /** The worker's sink gave up on a write: the next write goes through the local activity. */
  private rewriteOwed = false;
  /**
   * Runs on the `grace-periods` patch (workflows/device.ts) apply the tenant's grace periods and
   * wait for a grace's end; older runs never do, as before it.
   */
  gracePeriods = false;
  /** Runs on the `read-model-sink` patch (workflows/device.ts) may write through the sink (persistThroughSink). */
  sinkWrites = false;
  /**
   * Runs on the `fewer-history-events` patch (workflows/device.ts): every older patch applies without
   * its marker, and the search attributes of a write through the sink wait for the report's outcome.
   */
  everyPatch = false;
  /** The state as last written to the read model: a change of its grace is a timeline row. */
  private written: DeviceState;

  constructor(input: DeviceWorkflowInput) {
    const options = input.options ?? {};
    this.ctx = {
      tenantId: input.tenantId,
      deviceId: input.deviceId,
      options,
      microsoftTaskQueue: options.microsoftTaskQueue ?? `${workflowInfo().taskQueue}-microsoft`,
    };
    // What was sent finishes first: its status polls go ahead of every upload still queued.
    this.statusPolls = microsoftActivities(this.ctx, STATUS_POLL_PRIORITY);
    this.inbox = [...(input.inbox ?? [])];
    this.state = input.state ?? initialState(input.tenantId, input.deviceId, Date.now() * 1000);
    this.written = this.state;
  }

  // ---- messages ------------------------------------------------------------------------------------

  onEvent(event: DeviceEvent): void {
    this.inbox.push({ kind: 'event', event });
    // An MDM event must not wait behind a sweep's upload still queued at a low priority.
    this.current?.supersede();
  }

  onReportRequest(request: ReportRequest): void {
    this.inbox.push({ kind: 'report', request });
  }

  onEntraObserved(observation: EntraObservation): void {
    this.inbox.push({ kind: 'entra', observation });
  }

  /** A sink write was lost: its row is owed, and the state is written again durably (take reports a change). */
  onRewriteOwed(rewrite: ReadModelRewrite): void {
    if (rewrite.attempt) this.owedRows.push(rewrite.attempt);
    this.rewriteOwed = true;
  }

  /**
   * An action that may have a grace period is in the inbox: the tenant's grace periods must be read
   * (readGracePeriods) before the next take applies it.
   */
  mustReadGracePeriods(): boolean {
    // Held messages wait for the next lifecycle: only what the next drain applies counts.
    return (
      this.gracePeriods &&
      this.held.length === 0 &&
      this.inbox.some((m) => m.kind === 'event' && m.event.type === 'compliance' && m.event.actions.some((a) => MAY_HAVE_GRACE.has(a)))
    );
  }

  /** The tenant's grace periods (a local activity), for the take that follows. */
  readGracePeriods(): Promise<GracePeriods> {
    return tenantGracePeriods({ tenantId: this.ctx.tenantId });
  }

  /**
   * Applies every message in the inbox (drain), with the grace periods read for it, if any; true when
   * an event changed the state. Synchronous on purpose, as are the other steps that need not wait
   * (docs/architecture.md, "Steps that need not wait do not await").
   */
  take(periods: GracePeriods = {}): boolean {
    const changed = this.gracePeriods ? this.drain({ periods, now: new Date().toISOString() }) : this.drain();
    return changed || this.rewriteOwed;
  }

  /** Applies every message in the inbox; true when an event changed the state. */
  private drain(grace?: GraceContext): boolean {
    let changed = false;
    while (this.inbox.length > 0) {
      const item = this.inbox.shift()!;
      if (this.held.length > 0) {
        this.held.push(item);
        continue;
      }
      if (item.kind === 'report') {
        this.state = requestReport(this.state, item.request.trigger, item.request.operationId);
        continue;
      }
      if (item.kind === 'entra') {
        if (this.observe(item.observation)) changed = true;
        continue;
      }
      const result = applyEvent(this.state, item.event, grace);
      if (result.outcome === 'held') {
        this.held.push(item);
        continue;
      }
      this.state = result.state;
      if (result.outcome === 'applied') {
        changed = true;
        this.eventsThisRun++;
        // A device marked deleted in Entra is sent again from the MDM's next event on.
        if (this.state.deletedInEntra)
          this.state = reopenAfterDeletion(this.state, this.state.retiredAt !== null ? 'retire' : item.event.type);
      }
    }
    return changed;
  }

  /**
   * What the reconciliation read from Entra, compared with this device's own last confirmed report:
   * true when the state changed (drift to re-report, or the device marked deleted in Entra).
   */
  private observe(seen: EntraObservation): boolean {
    if (!this.everyPatch && !patched(DRIFT_RECONCILIATION_PATCH)) return false;
    const before = this.state;
    const { state, outcome, finding } = observeEntra(before, seen);
    this.state = state;
    if (outcome === 'deleted' && finding) {
      const policy = policyOf(before);
      const reported = { complianceStatus: policy.complianceStatus, managementState: policy.managementState };
      this.owedRows.push(
        timelineRow(
          { key: `drift-${seen.operationId}`, at: seen.observedAt, trigger: 'drift', reported, messageId: null, drift: finding },
          'Failed',
          state.lastError,
          null,
        ),
      );
    }
    if (outcome === 'deleted' || outcome === 'drift') return true;
    // Entra matches: only the search attribute may change (upserted only when it does).
    if (outcome === 'none') this.view.publish(this.state);
    return false;
  }

  hasWork(next: NextStep): boolean {
    return this.inbox.length > 0 || next.kind !== 'idle' || this.rewriteOwed;
  }

  /** How long until the grace in force ends (at least 1 ms), or undefined when there is none. */
  private graceLeftMs(): number | undefined {
    if (!this.gracePeriods || !this.state.grace || this.state.retiredAt !== null) return undefined;
    return Math.max(1, Date.parse(this.state.grace.until) - Date.now());
  }

  /**
   * Waits until there is work, or a grace ends: a durable timer, so a worker restart changes nothing.
   * Undefined when there is work already and no grace timer to start: no promise to wait on (each
   * costs the SDK a stack trace), the same commands.
   */
  waitForWork(hasWork: () => boolean): Promise<unknown> | undefined {
    const graceLeft = this.graceLeftMs();
    if (graceLeft === undefined) return hasWork() ? undefined : condition(hasWork);
    return condition(hasWork, graceLeft);
  }

  /** The grace in force has run out: its action, which still holds, is now owed to Microsoft. */
  expireGrace(): boolean {
    if (!this.gracePeriods || !graceDue(this.state, new Date().toISOString())) return false;
    this.state = endGrace(this.state);
    return true;
  }

  // ---- the read model and the operators' view ------------------------------------------------------

  persist(attempt?: TimelineRow): Promise<void> {
    // A row owed (drift that sent nothing, a lost sink write's) goes with the next write that has none of its own.
    attempt ??= this.owedRows.shift();
    const change = this.gracePeriods ? graceChange(this.written, this.state) : null;
    this.written = this.state;
    if (change === null && this.owedRows.length === 0) return this.write(attempt);
    return this.persistWithRows(attempt, change);
  }

  /** A write that comes with the grace's own row, or is followed by rows still owed. */
  private async persistWithRows(attempt: TimelineRow | undefined, change: ReturnType<typeof graceChange>): Promise<void> {
    if (change !== null) {
      // The grace's change is a row of its own: what Microsoft keeps (or now gets), and until when.
      const policy = reportedPolicyOf(this.state);
      const reported = { complianceStatus: policy.complianceStatus, managementState: policy.managementState };
      const row = timelineRow(
        { key: `grace-${this.state.version + 1}`, at: new Date().toISOString(), trigger: 'grace', reported, messageId: null },
        this.state.status ?? 'In-progress',
        null,
        null,
      );
      if (!attempt) return this.write({ ...row, grace: change });
      await this.write({ ...row, grace: change });
    }
    await this.write(attempt);
    if (this.owedRows.length > 0) await this.persist();
  }

  /**
   * Writes the state an applied event (or a grace's end) changed. When a first report attempt follows
   * at once, the write goes through the sink (persistThroughSink), otherwise through the local activity.
   */
  persistApplied(next: NextStep): Promise<void> | undefined {
    if (next.kind === 'report' && next.retryOf === undefined && this.mayUseSink()) {
      // The outcome's write follows in the next workflow task and upserts what changed by then: one
      // upsert per report instead of two (each is a history event and a visibility write).
      this.persistThroughSink(undefined, !this.everyPatch);
      return undefined;
    }
    return this.persist();
  }

  /**
   * A successful report's outcome: through the sink on runs of the `fewer-history-events` patch, else
   * (or when the write must carry more than its row) through the local activity.
   */
  private persistOutcome(row: TimelineRow): Promise<void> | undefined {
    if (!this.everyPatch || !this.mayUseSink()) return this.persist(row);
    this.persistThroughSink(row, true);
    return undefined;
  }

  /**
   * False when the write must go through the local activity: the run predates the sink, the write
   * must carry a row of its own (a grace's change, a drift finding, a row owed), or the sink already
   * gave up on a write of this run (a durable write heals it).
   */
  private mayUseSink(): boolean {
    return (
      this.sinkWrites &&
      !this.rewriteOwed &&
      this.owedRows.length === 0 &&
      !(this.gracePeriods && graceChange(this.written, this.state) !== null)
    );
  }

  /**
   * A write through the sink, which the worker runs before it completes this workflow task (no local
   * activity, no marker). If Postgres refuses it, the worker signals `readModelRewrite` back
   * (workers/read-model-sink.ts) and the run writes again through the local activity.
   */
  private persistThroughSink(attempt: TimelineRow | undefined, upsert: boolean): void {
    this.written = this.state;
    readModel.write(this.nextRecord(attempt));
    if (upsert) this.view.publish(this.state);
    else this.view.publishDetails(this.state);
  }

  private write(attempt?: TimelineRow): Promise<void> {
    // A durable write of the current state heals any sink write lost before it.
    this.rewriteOwed = false;
    return writeDeviceRecord(this.nextRecord(attempt)).then(() => this.view.publish(this.state));
  }

  /** The next version of the state, as the read-model write that records it. */
  private nextRecord(attempt?: TimelineRow): DeviceRecordInput {
    this.state = { ...this.state, version: this.state.version + 1 };
    // The history length orders writes of one version: a workflow task retried after a timeout writes
    // again with the same version, and its write (the one Temporal keeps) must win over the first.
    return {
      projection: projectionOf(this.state),
      writeSeq: workflowInfo().historyLength,
      ...(attempt ? { attempt } : {}),
    };
  }

  publish(): void {
    this.view.publish(this.state);
  }

  // ---- reports -------------------------------------------------------------------------------------

  /** Nothing can be sent without an Azure device ID: the timeline still shows the attempt and why. */
  async recordBlocked(step: Extract<NextStep, { kind: 'blocked' }>): Promise<void> {
    this.state = blockReport(this.state);
    const policy = policyOf(this.state);
    const reported = { complianceStatus: policy.complianceStatus, managementState: policy.managementState };
    // Keyed by the write's version, unique over the device's whole life (lifecycles included).
    const key = `blocked-${this.state.version + 1}`;
    await this.persist(
      timelineRow({ key, at: new Date().toISOString(), trigger: step.trigger, reported, messageId: null }, 'Failed', step.error, null),
    );
  }

  /**
   * Waits before retrying a report that failed, unless a message arrives first; true when the retry
   * is due (false: the main loop applies the message and decides again). A first attempt is due at
   * once, without a promise.
   */
  backOff(step: Extract<NextStep, { kind: 'report' }>): true | Promise<boolean> {
    if (!step.retryOf) return true;
    return this.waitForRetry(step.retryOf);
  }

  private async waitForRetry(retryOf: number): Promise<boolean> {
    // Due from the failure on: a message that changes nothing does not start the wait again.
    this.retryDue ??= { failures: retryOf, at: Date.now() + retryDelayMs(this.ctx.options, retryOf) };
    if (this.retryDue.failures !== retryOf) this.retryDue = { failures: retryOf, at: Date.now() + retryDelayMs(this.ctx.options, retryOf) };
    const wait = this.retryDue.at - Date.now();
    const graceLeft = this.graceLeftMs();
    // A grace that ends first interrupts the wait: the main loop reports its action.
    if (graceLeft !== undefined && graceLeft < wait) {
      await condition(() => this.inbox.length > 0, graceLeft);
      return false;
    }
    if (wait > 0 && (await condition(() => this.inbox.length > 0, wait))) return false;
    this.retryDue = null;
    return true;
  }

  /** A retired device owes a removal but reporting is off: wait to be woken (enable sweep) or recheck. */
  async waitForReporting(): Promise<void> {
    await condition(() => this.inbox.length > 0, REPORTING_OFF_RECHECK_MS);
    this.state = { ...this.state, reportingOff: false };
  }

  async report(step: Extract<NextStep, { kind: 'report' }>): Promise<void> {
    const former = step.former === true;
    const lastUpdateTime = nextUpdateTime(this.state, new Date().toISOString());
    this.state = uploadLeaving(this.state, step.payload, lastUpdateTime);
    const attempt = new Attempt(
      this.ctx,
      step.trigger,
      step.payload,
      lastUpdateTime,
      former,
      // Every attempt of a drift re-report (its retries too) says what differed, until Microsoft confirms one.
      step.trigger === 'drift' ? (this.state.pendingDrift ?? null) : null,
    );
    this.current = attempt;
    let result;
    try {
      result = await attempt.upload(former ? undefined : lookupsFor(this.state, step.payload));
    } catch (err) {
      this.state = startReport(this.state, step.payload, attempt.startedAt, former);
      await this.fail(attempt, failureToDeviceError(err), null);
      return;
    } finally {
      this.current = null;
    }
    // Nothing was recorded of this attempt: the main loop applies the event and reports the newer state.
    if (result === 'superseded') return;
    if (!result.sent) {
      // The feature is switched off: nothing was sent; enabling it reports the current state.
      this.state = skipReport(this.state);
      await this.persist();
      return;
    }
    this.state = startReport(this.state, step.payload, attempt.startedAt, former);
    if (!former) this.state = rememberLookups(this.state, result.lookups);
    // Events that arrived meanwhile are applied with the outcome, in the same write.
    this.take(this.mustReadGracePeriods() ? await this.readGracePeriods() : undefined);
    const settled = this.settle(attempt, result.status);
    if (settled !== false) return settled;
    await this.persist(attempt.row('In-progress', null, null));
    await this.pollUntilDone(attempt);
  }

  private fail(attempt: Attempt, error: ReturnType<typeof failureToDeviceError>, completedAt: string | null): Promise<void> {
    this.state = reportFailed(this.state, error, attempt.payload, attempt.former, attempt.trigger);
    return this.persist(attempt.row('Failed', error, completedAt));
  }

  /**
   * Records a terminal status (the returned write, undefined when it went through the sink); false
   * while Microsoft is still processing the upload.
   */
  private settle(attempt: Attempt, status: ReportStatus): Promise<void> | undefined | false {
    if (status.status === 'completed') {
      this.state = reportSucceeded(this.state, attempt.payload, status.completedAt, attempt.former);
      // Microsoft holds the device's current state again: any drift found is resolved.
      if (!attempt.former) this.state = driftResolved(this.state);
      return this.persistOutcome(attempt.row('Successful', null, status.completedAt));
    }
    if (status.status === 'failed') return this.fail(attempt, status.error, new Date().toISOString());
    return false;
  }

  /** Polls the upload's status until it is terminal or the attempt's deadline passes. */
  private async pollUntilDone(attempt: Attempt): Promise<void> {
    for (let poll = 1; ; poll++) {
      await attempt.waitBeforePoll(poll);
      // Events keep arriving while Microsoft processes the upload: show them at once.
      if (this.take(this.mustReadGracePeriods() ? await this.readGracePeriods() : undefined)) await this.persist();
      let status: ReportStatus;
      try {
        status = await attempt.pollStatus(this.statusPolls);
      } catch (err) {
        await this.fail(attempt, failureToDeviceError(err), null);
        return;
      }
      const settled = this.settle(attempt, status);
      if (settled !== false) return settled;
      if (attempt.timedOut()) {
        await this.fail(attempt, attempt.timeoutError(), null);
        return;
      }
    }
  }

  // ---- lifecycle -----------------------------------------------------------------------------------

  /** The lifecycle is retired and owes Microsoft nothing more. */
  retiredAndSettled(next: NextStep): boolean {
    return (
      this.state.retiredAt !== null && next.kind === 'idle' && this.inbox.length === 0 && !this.rewriteOwed && !owesMicrosoft(this.state)
    );
  }

  owesRemovalWhileReportingOff(next: NextStep): boolean {
    return this.state.retiredAt !== null && next.kind === 'idle' && owesMicrosoft(this.state);
  }

  /** Events held for the next lifecycle go back to the inbox once the removal is confirmed. */
  releaseHeld(): boolean {
    if (this.held.length === 0 || owesMicrosoft(this.state)) return false;
    this.inbox.unshift(...this.held);
    this.held = [];
    return true;
  }

  /** What a continue-as-new carries: the state and every message not yet applied, held ones first. */
  carry(): InboxItem[] {
    return [...this.held, ...this.inbox];
  }
}

/**
 * Lean reports (the `lean-reports` patch): a report Microsoft confirms on its first status poll is
 * recorded in the read model by the report activity itself. Real Temporal, Postgres and emulator; the
 * only stand-in is a wrapper around the real report activity that loses its result once (what a
 * worker killed after the write does), so Temporal retries it.
 */
import assert from 'node:assert/strict';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { workerMetrics } from '../../activities/worker-metrics';
import { createActivities, splitActivities } from '../../workers/worker';
import { microsoftTaskQueueOf } from '../../workflows/fleet-messages';
import { testEnv, uniqueName } from '../support/env';
import { recordHistories, recording } from '../support/histories';
import {
  registration,
  seedDevice,
  sendEvent,
  timeline,
  touchedWorkflowIds,
  waitFor,
  waitForDevice,
  withWorker,
  workflowHandle,
  type SeededDevice,
} from '../support/device-harness';
import type { DeviceState } from '../../domain/device-state';

type UploadReport = (input: unknown) => Promise<unknown>;

/** Counts every report the worker counts finished for the test tenant (the real counter still counts). */
function countFinished(): { calls: string[]; restore(): void } {
  const metrics = workerMetrics();
  const original = metrics.reportFinished;
  const calls: string[] = [];
  metrics.reportFinished = (tenant, result) => {
    if (tenant === testEnv().tenantId) calls.push(result);
    original(tenant, result);
  };
  return { calls, restore: () => (metrics.reportFinished = original) };
}

/**
 * Runs the device workflows on a worker whose Microsoft activities are the real ones, the report
 * activity wrapped by `wrap` (which sees the attempt number).
 */
async function withWrappedReports<T>(
  wrap: (real: UploadReport, attempt: number, input: unknown) => Promise<unknown>,
  fn: (taskQueue: string) => Promise<T>,
): Promise<T> {
  const env = testEnv();
  const taskQueue = uniqueName('tq-lean');
  const { microsoft } = splitActivities(createActivities({ db: env.db, azure: env.azure }));
  const real = microsoft.uploadReport as UploadReport;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace,
    taskQueue: microsoftTaskQueueOf(taskQueue),
    activities: { ...microsoft, uploadReport: (input: unknown) => wrap(real, Context.current().info.attempt, input) },
  });
  // The harness's own Microsoft worker polls a queue nobody sends to: the wrapped one takes every report.
  return withWorker(() => worker.runUntil(() => fn(taskQueue)), { taskQueue, microsoftTaskQueue: uniqueName('tq-unused') });
}

async function historyOf(d: SeededDevice) {
  return (await workflowHandle(d.deviceId).fetchHistory()).events ?? [];
}

async function registeredSuccessfully(taskQueue: string, d: SeededDevice) {
  await sendEvent(taskQueue, d.deviceId, registration(d));
  return waitForDevice(d.deviceId, (r) => r.complianceStatus === 'Successful');
}

describe('lean reports: the report activity records a confirmed report (real Temporal, Postgres, emulator)', function () {
  this.timeout(120_000);
  let finished: ReturnType<typeof countFinished>;

  beforeEach(async () => {
    touchedWorkflowIds.clear();
    finished = countFinished();
    await testEnv().emulator.control.setOptions({ pollsBeforeTerminal: 0 });
  });
  afterEach(async function () {
    finished.restore();
    await testEnv().emulator.control.setOptions({ pollsBeforeTerminal: 1 });
    if (recording && this.currentTest?.state === 'passed') await recordHistories(this.currentTest.title, touchedWorkflowIds);
  });

  it('records a report confirmed on its first poll in the activity: Successful, no local activity after it', async () => {
    const d = await seedDevice();
    await withWorker(async ({ taskQueue }) => {
      const row = await registeredSuccessfully(taskQueue, d);
      assert.equal(row.reportedCompliance, 'compliant');
      const rows = await timeline(d.deviceId);
      assert.deepEqual(
        rows.map((r) => r.outcome),
        ['Successful'],
      );
      assert.ok(rows[0]!.completedAt, 'the row carries when Microsoft completed it');
      await waitFor('the workflow to follow the record', async () => {
        const state = (await workflowHandle(d.deviceId).query('state')) as DeviceState;
        return state.status === 'Successful' && state.version === row.version;
      });
    });
    const events = await historyOf(d);
    const uploaded = events.findIndex((e) => e.activityTaskCompletedEventAttributes);
    assert.ok(uploaded > 0, 'the report activity completed');
    const markers = events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity');
    const after = events.slice(uploaded).filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity');
    assert.equal(after.length, 0, 'no local activity writes the Successful row after the report');
    assert.equal(markers.length, 1, 'one local activity in all: the registration applied (In-progress)');
    assert.deepEqual(finished.calls, ['Successful']);
  });

  it('keeps the old path when the first poll is still Pending: the workflow writes In-progress, then Successful', async () => {
    await testEnv().emulator.control.setOptions({ pollsBeforeTerminal: 1 });
    const d = await seedDevice();
    await withWorker(async ({ taskQueue }) => {
      await registeredSuccessfully(taskQueue, d);
    });
    const after = (await historyOf(d)).filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity');
    assert.equal(after.length, 3, 'registration, In-progress and Successful, each written by the workflow');
    assert.deepEqual(finished.calls, ['Successful']);
  });

  it('counts a report whose activity was retried after it wrote once, and the retry leaves the row as it was', async () => {
    const d = await seedDevice();
    await withWrappedReports(
      async (real, attempt, input) => {
        const result = await real(input);
        // The worker "dies" after the write: Temporal never hears the result and retries the activity.
        if (attempt === 1) throw ApplicationFailure.retryable('worker lost after recording the report');
        return result;
      },
      async (taskQueue) => {
        await registeredSuccessfully(taskQueue, d);
        await waitFor('the workflow to follow the record', async () => {
          const state = (await workflowHandle(d.deviceId).query('state')) as DeviceState;
          return state.status === 'Successful' && state.retry === null;
        });
      },
    );
    const events = await historyOf(d);
    assert.ok(
      events.some((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1),
      'the report activity ran again',
    );
    const uploaded = events.findIndex((e) => e.activityTaskCompletedEventAttributes);
    assert.equal(
      events.slice(uploaded).filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity').length,
      0,
      'the retry found its own record: the workflow did not write it again',
    );
    const rows = await timeline(d.deviceId);
    assert.deepEqual(
      rows.map((r) => r.outcome),
      ['Successful'],
    );
    assert.deepEqual(finished.calls, ['Successful'], 'counted once, though written twice');
  });

  it('never turns a report the activity recorded Successful into Failed when its later attempts fail', async () => {
    const d = await seedDevice();
    await withWrappedReports(
      async (real, attempt, input) => {
        if (attempt === 1) {
          await real(input);
          throw ApplicationFailure.retryable('worker lost after recording the report');
        }
        throw ApplicationFailure.create({ type: 'InvalidRequest', nonRetryable: true, message: 'rejected on the retry' });
      },
      async (taskQueue) => {
        await sendEvent(taskQueue, d.deviceId, registration(d));
        await waitFor('the workflow to have recorded the failed attempt', async () => {
          const events = await historyOf(d);
          const failedAt = events.findIndex((e) => e.activityTaskFailedEventAttributes);
          return (
            failedAt > 0 &&
            events.slice(failedAt).some((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity') &&
            events.slice(failedAt).some((e) => e.workflowTaskCompletedEventAttributes)
          );
        });
        const state = (await workflowHandle(d.deviceId).query('state')) as DeviceState;
        assert.equal(state.status, 'Successful', 'the workflow follows what Microsoft confirmed');
        assert.equal(state.lastError, null);
        assert.equal(state.retry, null, 'nothing is retried');
      },
    );
    const row = await waitForDevice(d.deviceId, (r) => r.complianceStatus !== null);
    assert.equal(row.complianceStatus, 'Successful');
    assert.equal(row.lastError, null);
    const rows = await timeline(d.deviceId);
    assert.deepEqual(
      rows.map((r) => r.outcome),
      ['Successful'],
    );
    assert.equal(rows[0]!.error, null);
    assert.deepEqual(finished.calls, ['Successful'], 'no Failed counted for it');
  });
});

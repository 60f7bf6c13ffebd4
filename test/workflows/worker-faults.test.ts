/**
 * A worker killed while a report's activity runs: the report resumes on another worker after the
 * activity's heartbeat timeout (seconds), not after its start-to-close timeout (a minute). Real
 * Temporal, Postgres and emulator; the first worker is a separate process, SIGKILLed.
 */
import assert from 'node:assert/strict';
import { temporal } from '@temporalio/proto';
import { testEnv, uniqueName } from '../support/env';
import {
  registration,
  seedDevice,
  sendEvent,
  spawnWorkerProcess,
  waitFor,
  waitForDevice,
  withWorker,
  workflowHandle,
} from '../support/device-harness';

describe('worker faults: a report in flight resumes after the heartbeat timeout', function () {
  this.timeout(120_000);

  afterEach(() => testEnv().emulator.control.clearFaults());

  it('retries the upload activity of a SIGKILLed worker on heartbeat timeout, and the report ends Successful', async () => {
    const env = testEnv();
    const d = await seedDevice();
    const taskQueue = uniqueName('tq-hb');
    // Microsoft answers the upload slowly: the worker dies while the activity waits for it.
    await env.emulator.control.addFault({
      match: { method: 'PUT', service: 'intune', pathRegex: 'DataUploadMessages' },
      delayMs: 8_000,
      times: 1,
    });
    const child = await spawnWorkerProcess(taskQueue);
    try {
      await sendEvent(taskQueue, d.deviceId, registration(d));
      await waitFor('the upload activity running on the doomed worker', async () => {
        const { raw } = await workflowHandle(d.deviceId).describe();
        return raw.pendingActivities?.some((a) => a.state === temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED);
      });
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    await withWorker(
      async () => {
        await waitForDevice(d.deviceId, (r) => r.complianceStatus === 'Successful', 'the report on the new worker', 90_000);
      },
      { taskQueue },
    );
    const history = await workflowHandle(d.deviceId).fetchHistory();
    const timeouts = (history.events ?? []).filter((e) => e.activityTaskTimedOutEventAttributes);
    const retried = (history.events ?? []).find(
      (e) => e.activityTaskStartedEventAttributes && (e.activityTaskStartedEventAttributes.attempt ?? 1) > 1,
    );
    // The killed attempt is retried in place: its timeout is recorded as the retry's last failure.
    const lastFailure = retried?.activityTaskStartedEventAttributes?.lastFailure;
    assert.ok(retried, `the upload activity was retried (timeouts recorded: ${timeouts.length})`);
    assert.equal(
      lastFailure?.timeoutFailureInfo?.timeoutType,
      temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_HEARTBEAT,
      'the dead worker was noticed by its missing heartbeats',
    );
  });
});

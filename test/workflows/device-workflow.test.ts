import assert from 'node:assert/strict';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { PolicyAction } from '../../domain/constants';
import { updateSettings } from '../../db/data';
import { reportSignal } from '../../workflows/messages';
import { testEnv, uniqueName } from '../support/env';
import { recordHistories, recording } from '../support/histories';
import {
  compliance,
  entra,
  FAST_POLLS,
  nextOccurredAt,
  registration,
  seedDevice,
  sendEvent,
  spawnWorkerProcess,
  timeline,
  touchedWorkflowIds,
  uploadsFor,
  waitFor,
  waitForDevice,
  withWorker,
  workflowHandle,
  type SeededDevice,
} from '../support/device-harness';

/** Registers the device and applies the actions, then waits for the report to settle. */
async function reportActions(taskQueue: string, d: SeededDevice, actions: PolicyAction[]) {
  await sendEvent(taskQueue, d.deviceId, registration(d));
  await sendEvent(taskQueue, d.deviceId, compliance(actions));
  return waitForDevice(
    d.deviceId,
    (r) => r.complianceStatus === 'Successful' && JSON.stringify(r.policyAction) === JSON.stringify(actionOf(actions)),
  );
}

function actionOf(actions: PolicyAction[]): PolicyAction | null {
  const order: PolicyAction[] = ['RETIRE', 'QUARANTINE', 'BLOCK_APPCONNECT', 'BLOCK_EMAIL', 'SEND_ALERT'];
  return order.find((a) => actions.includes(a)) ?? null;
}

describe('device compliance workflow (real Temporal, Postgres, Azure emulator)', function () {
  this.timeout(120_000);

  beforeEach(() => touchedWorkflowIds.clear());
  afterEach(async function () {
    if (recording && this.currentTest?.state === 'passed') await recordHistories(this.currentTest.title, touchedWorkflowIds);
  });

  for (const action of ['QUARANTINE', 'BLOCK_EMAIL', 'BLOCK_APPCONNECT'] as const) {
    it(`reports managed + notCompliant when ${action} is in force`, async () => {
      const d = await seedDevice();
      await withWorker(async ({ taskQueue }) => {
        const row = await reportActions(taskQueue, d, [action]);
        const view = await entra(d.azureDeviceId);
        assert.equal(view?.isManaged, true);
        assert.equal(view?.isCompliant, false);
        assert.equal(row.reportedCompliance, 'notCompliant');
        assert.equal(row.managementState, 'managed');
        assert.equal(row.policyAction, action);
        // Report time is when Microsoft completed the message that carried this state.
        const last = view!.messages.filter((m) => m.status === 'Completed').at(-1)!;
        assert.equal(row.reportTime, last.completedAt);
        assert.equal(row.lastSuccessfulReportAt, last.completedAt);
        assert.equal(row.lastError, null);
        const rows = await timeline(d.deviceId);
        assert.equal(rows[0]!.outcome, 'Successful');
        assert.equal(rows[0]!.messageId, last.messageId);
        assert.deepEqual(rows[0]!.reported, { complianceStatus: 'notCompliant', managementState: 'managed' });
      });
    });
  }

  it('reports compliant for SEND_ALERT alone and for no action, notCompliant for SEND_ALERT with BLOCK_EMAIL', async () => {
    await withWorker(async ({ taskQueue }) => {
      const cases: Array<[PolicyAction[], boolean]> = [
        [['SEND_ALERT'], true],
        [[], true],
        [['SEND_ALERT', 'BLOCK_EMAIL'], false],
      ];
      for (const [actions, compliant] of cases) {
        const d = await seedDevice();
        const row = await reportActions(taskQueue, d, actions);
        assert.equal(row.reportedCompliance, compliant ? 'compliant' : 'notCompliant', `actions ${JSON.stringify(actions)}`);
        const view = await entra(d.azureDeviceId);
        assert.equal(view?.isCompliant, compliant, `emulator for ${JSON.stringify(actions)}`);
        assert.equal(view?.isManaged, true);
      }
    });
  });

  for (const how of ['the RETIRE action', 'a retire event'] as const) {
    it(`retires the device on ${how}: notManaged + notCompliant, retiredAt, workflow completed, later events refused, re-registration starts a new lifecycle`, async () => {
      const d = await seedDevice();
      await withWorker(async ({ taskQueue }) => {
        await reportActions(taskQueue, d, ['SEND_ALERT']);
        const retireAt = nextOccurredAt();
        await sendEvent(
          taskQueue,
          d.deviceId,
          how === 'a retire event' ? { type: 'retire', occurredAt: retireAt } : compliance(['RETIRE'], retireAt),
        );
        const handle = workflowHandle(d.deviceId);
        const final = await handle.result();
        assert.equal(final.retiredAt, retireAt);
        const row = await waitForDevice(d.deviceId, (r) => r.retiredAt !== null && r.complianceStatus === 'Successful');
        assert.equal(row.retiredAt, retireAt);
        assert.equal(row.managementState, 'notManaged');
        assert.equal(row.reportedCompliance, 'notCompliant');
        const view = await entra(d.azureDeviceId);
        assert.equal(view?.isManaged, false);
        assert.equal(view?.isCompliant, false);
        assert.equal((await timeline(d.deviceId))[0]!.trigger, 'retire');

        await assert.rejects(sendEvent(taskQueue, d.deviceId, compliance(['QUARANTINE'])), WorkflowExecutionAlreadyStartedError);

        await sendEvent(taskQueue, d.deviceId, registration(d));
        const reborn = await waitForDevice(d.deviceId, (r) => r.retiredAt === null && r.complianceStatus === 'Successful');
        assert.equal(reborn.managementState, 'managed');
        assert.equal(reborn.reportedCompliance, 'compliant');
        assert.equal((await entra(d.azureDeviceId))?.isManaged, true);
        const description = await handle.describe();
        assert.equal(description.status.name, 'RUNNING');
      });
    });
  }

  it('reports an inventory change with the new inventory', async () => {
    const d = await seedDevice();
    await withWorker(async ({ taskQueue }) => {
      await reportActions(taskQueue, d, []);
      const before = await uploadsFor(d.azureDeviceId);
      const inventory = {
        deviceName: "Alex's iPhone",
        os: 'iOS',
        osVersion: '17.4.1',
        model: 'iPhone15,2',
        manufacturer: 'Apple',
        serialNumber: 'F2LX123',
      };
      await sendEvent(taskQueue, d.deviceId, { type: 'inventory', occurredAt: nextOccurredAt(), inventory });
      await waitFor('the inventory at the emulator', async () => {
        const v = await entra(d.azureDeviceId);
        return v?.inventory && (v.inventory as Record<string, unknown>).OsVersion === '17.4.1' ? v : null;
      });
      const view = await entra(d.azureDeviceId);
      assert.equal((view!.inventory as Record<string, unknown>).DeviceName, "Alex's iPhone");
      assert.equal((view!.inventory as Record<string, unknown>).Os, 'iOS');
      assert.equal(view!.messages.length, before + 1);
      const row = await waitForDevice(d.deviceId, (r) => r.complianceStatus === 'Successful' && r.inventory?.osVersion === '17.4.1');
      assert.deepEqual(row.inventory, inventory);
      assert.equal((await timeline(d.deviceId))[0]!.trigger, 'inventory');
    });
  });

  it('holds a compliance state In-progress until the device registers, then reports it', async () => {
    const d = await seedDevice();
    await withWorker(async ({ taskQueue }) => {
      await sendEvent(taskQueue, d.deviceId, compliance(['QUARANTINE']));
      const waiting = await waitForDevice(d.deviceId, (r) => r.policyAction === 'QUARANTINE');
      assert.equal(waiting.complianceStatus, 'In-progress');
      assert.equal(waiting.reportTime, null);
      assert.equal(waiting.azureDeviceId, null);
      assert.equal(await uploadsFor(d.azureDeviceId), 0);
      assert.equal((await timeline(d.deviceId)).length, 0);

      await sendEvent(taskQueue, d.deviceId, registration(d));
      const row = await waitForDevice(d.deviceId, (r) => r.complianceStatus === 'Successful');
      assert.equal(row.reportedCompliance, 'notCompliant');
      assert.equal((await entra(d.azureDeviceId))?.isCompliant, false);
      assert.equal((await timeline(d.deviceId))[0]!.trigger, 'registration');
    });
  });

  it('fails a device whose registration is User_Canceled without a device ID, then reports it once it registers with Success', async () => {
    const d = await seedDevice();
    await withWorker(async ({ taskQueue }) => {
      await sendEvent(taskQueue, d.deviceId, registration(d, { azureDeviceId: null, clientStatusCode: 'User_Canceled' }));
      const failed = await waitForDevice(d.deviceId, (r) => r.complianceStatus === 'Failed');
      assert.equal(failed.reportTime, null);
      assert.equal(failed.azureDeviceId, null);
      assert.equal(failed.clientStatusCode, 'User_Canceled');
      assert.equal(failed.lastError?.code, 'User_Canceled');
      assert.equal(failed.lastError?.userCanMitigate, true);
      assert.match(failed.lastError!.remediation, /sign-in/i);
      assert.equal(await uploadsFor(d.azureDeviceId), 0);

      await sendEvent(taskQueue, d.deviceId, registration(d));
      const ok = await waitForDevice(d.deviceId, (r) => r.complianceStatus === 'Successful');
      assert.equal(ok.lastError, null);
      assert.notEqual(ok.reportTime, null);
      assert.equal(ok.clientStatusCode, 'Success');
    });
  });

  it('shows Failed with the ErrorDetail when Microsoft fails the message, keeps lastSuccessfulReportAt, and recovers on the next change', async () => {
    const d = await seedDevice();
    await withWorker(async ({ taskQueue }) => {
      const first = await reportActions(taskQueue, d, []);
      // A registration naming a device Entra does not know: the message ends Failed at Microsoft.
      const unknown = { ...d, azureDeviceId: '9c0ffee0-0000-4000-8000-000000000001' };
      await sendEvent(taskQueue, d.deviceId, registration(unknown));
      const failed = await waitForDevice(d.deviceId, (r) => r.complianceStatus === 'Failed');
      assert.equal(failed.reportTime, null);
      assert.equal(failed.lastSuccessfulReportAt, first.lastSuccessfulReportAt);
      assert.equal(failed.lastError?.code, 'DeviceNotFound');
      assert.match(failed.lastError!.message, /9c0ffee0-0000-4000-8000-000000000001/);
      const attempts = await timeline(d.deviceId);
      assert.equal(attempts[0]!.outcome, 'Failed');

      await sendEvent(taskQueue, d.deviceId, registration(d));
      const ok = await waitForDevice(d.deviceId, (r) => r.complianceStatus === 'Successful' && r.azureDeviceId === d.azureDeviceId);
      assert.equal(ok.lastError, null);
      assert.ok(Date.parse(ok.lastSuccessfulReportAt!) > Date.parse(first.lastSuccessfulReportAt!));
    });
  });

  it('honours Retry-After when Microsoft throttles the upload, and still ends Successful', async () => {
    const env = testEnv();
    const d = await seedDevice();
    const fault = await env.emulator.control.addFault({
      match: { method: 'PUT', service: 'intune', pathRegex: 'DataUploadMessages' },
      response: {
        status: 429,
        headers: { 'Retry-After': '1' },
        body: { error: { code: 'TooManyRequests', message: 'Please retry again later.' } },
      },
      times: 3,
    });
    assert.ok(fault.id);
    const since = new Date().toISOString();
    await withWorker(async ({ taskQueue }) => {
      await sendEvent(taskQueue, d.deviceId, registration(d));
      await waitForDevice(d.deviceId, (r) => r.complianceStatus === 'Successful');
    });
    const puts = (await env.emulator.control.requests({ service: 'intune', since })).filter(
      (r) => r.method === 'PUT' && r.path.includes('DataUploadMessages'),
    );
    assert.equal(puts.length, 4, 'three throttled PUTs and the one that went through');
    assert.deepEqual(
      puts.map((p) => p.status),
      [429, 429, 429, 200],
    );
    for (let i = 1; i < puts.length; i++) {
      const gap = Date.parse(puts[i]!.at) - Date.parse(puts[i - 1]!.at);
      assert.ok(gap >= 1_000, `retry ${i} came ${gap} ms after the 429, before Retry-After`);
    }
  });

  it('applies a burst of 50 events in a second with far fewer uploads, ends on the newest state, and ignores an older event', async () => {
    const d = await seedDevice();
    await withWorker(async ({ taskQueue }) => {
      await sendEvent(taskQueue, d.deviceId, registration(d));
      await waitForDevice(d.deviceId, (r) => r.complianceStatus === 'Successful');
      const before = await uploadsFor(d.azureDeviceId);
      const sequences: PolicyAction[][] = [['QUARANTINE'], [], ['BLOCK_EMAIL'], ['SEND_ALERT']];
      const sends: Promise<void>[] = [];
      let lastOccurred = '';
      for (let i = 0; i < 50; i++) {
        lastOccurred = nextOccurredAt();
        const event =
          i % 5 === 4
            ? {
                type: 'inventory' as const,
                occurredAt: lastOccurred,
                inventory: { deviceName: `phone-${i}`, os: 'iOS', osVersion: `17.${i}` },
              }
            : compliance(sequences[i % sequences.length]!, lastOccurred);
        sends.push(sendEvent(taskQueue, d.deviceId, event));
      }
      await Promise.all(sends);
      // i = 49 is an inventory (osVersion 17.49); the newest compliance is i = 48 → ['QUARANTINE'].
      const row = await waitForDevice(
        d.deviceId,
        (r) => r.complianceStatus === 'Successful' && r.inventory?.osVersion === '17.49' && r.policyAction === 'QUARANTINE',
      );
      const state = await workflowHandle(d.deviceId).query<{ counters: { eventsApplied: number; eventsStale: number } }>('state');
      assert.equal(state.counters.eventsApplied + state.counters.eventsStale, 51, 'every event was applied or recorded stale');
      const view = await entra(d.azureDeviceId);
      const uploads = view!.messages.length - before;
      assert.ok(uploads >= 1 && uploads <= 10, `made ${uploads} uploads for 50 events`);
      assert.equal(view!.isCompliant, false);
      assert.equal((view!.inventory as Record<string, unknown>).OsVersion, '17.49');
      assert.equal(row.reportedCompliance, 'notCompliant');

      // An event older than the newest compliance applied changes nothing.
      await sendEvent(taskQueue, d.deviceId, compliance([], '2026-01-01T00:00:00.000Z'));
      await waitFor('the stale event to be recorded', async () => {
        const s = await workflowHandle(d.deviceId).query<{ counters: { eventsStale: number } }>('state');
        return s.counters.eventsStale >= state.counters.eventsStale + 1;
      });
      const after = await waitForDevice(d.deviceId, () => true);
      assert.equal(after.policyAction, 'QUARANTINE');
      assert.equal(after.version, row.version);
      assert.equal((await entra(d.azureDeviceId))!.messages.length, view!.messages.length);
      assert.ok(lastOccurred);
    });
  });

  it('keeps state and pending events across a forced continue-as-new', async () => {
    const d = await seedDevice();
    await withWorker(async ({ taskQueue }) => {
      const options = { ...FAST_POLLS, continueAsNewAfterEvents: 3 };
      await sendEvent(taskQueue, d.deviceId, registration(d), options);
      for (const actions of [['BLOCK_EMAIL'], ['SEND_ALERT'], ['QUARANTINE'], ['BLOCK_APPCONNECT']] as PolicyAction[][]) {
        await sendEvent(taskQueue, d.deviceId, compliance(actions), options);
      }
      await sendEvent(
        taskQueue,
        d.deviceId,
        { type: 'inventory', occurredAt: nextOccurredAt(), inventory: { deviceName: 'x', os: 'Android', osVersion: '14' } },
        options,
      );
      const row = await waitForDevice(
        d.deviceId,
        (r) => r.complianceStatus === 'Successful' && r.policyAction === 'BLOCK_APPCONNECT' && r.inventory?.osVersion === '14',
      );
      assert.equal(row.reportedCompliance, 'notCompliant');
      const handle = workflowHandle(d.deviceId);
      // At least one continue-as-new happened: the chain has more than one run (visibility lags a little).
      await waitFor('a continued-as-new run', async () => {
        let runs = 0;
        for await (const _ of testEnv().temporalClient.workflow.list({ query: `WorkflowId = '${handle.workflowId}'` })) runs++;
        return runs >= 2;
      });
      const state = await handle.query<{ counters: { eventsApplied: number }; lastApplied: Record<string, string> }>('state');
      assert.equal(state.counters.eventsApplied, 6);
      assert.ok(state.lastApplied.inventory);
      assert.equal((await entra(d.azureDeviceId))?.isCompliant, false);
    });
  });

  it('continues-as-new, once idle, when its history reaches maxHistoryEvents, so a replay stays short', async () => {
    const d = await seedDevice();
    await withWorker(async ({ taskQueue }) => {
      const options = { ...FAST_POLLS, maxHistoryEvents: 40 };
      await sendEvent(taskQueue, d.deviceId, registration(d), options);
      await waitForDevice(d.deviceId, (r) => r.complianceStatus === 'Successful');
      for (const actions of [['BLOCK_EMAIL'], ['SEND_ALERT'], ['QUARANTINE']] as PolicyAction[][]) {
        await sendEvent(taskQueue, d.deviceId, compliance(actions), options);
        await waitForDevice(d.deviceId, (r) => r.complianceStatus === 'Successful' && r.policyAction === actions[0]);
      }
      const handle = workflowHandle(d.deviceId);
      const runs = await waitFor('a continued-as-new run', async () => {
        const found: Array<{ status: string; historyLength: number }> = [];
        for await (const w of testEnv().temporalClient.workflow.list({ query: `WorkflowId = '${handle.workflowId}'` }))
          found.push({ status: w.status.name, historyLength: w.historyLength });
        return found.length >= 2 ? found : null;
      });
      for (const run of runs.filter((r) => r.status === 'CONTINUED_AS_NEW')) {
        // It stops at the first idle point past the bound: the last report's events after it.
        assert.ok(run.historyLength >= 40 && run.historyLength < 40 + 30, `a run of ${run.historyLength} events`);
      }
      const state = await handle.query<{ counters: { eventsApplied: number }; actions: string[] }>('state');
      assert.equal(state.counters.eventsApplied, 4);
      assert.deepEqual(state.actions, ['QUARANTINE']);
      // The next event is served by the new run with the carried state.
      await sendEvent(taskQueue, d.deviceId, compliance([]), options);
      const row = await waitForDevice(d.deviceId, (r) => r.complianceStatus === 'Successful' && r.policyAction === null);
      assert.equal(row.reportedCompliance, 'compliant');
    });
  });

  it('completes a report whose worker was SIGKILLed mid-report, and loses no event sent while it was down', async () => {
    const d = await seedDevice();
    const taskQueue = uniqueName('tq-kill');
    // The first poll (inside the upload's activity) finds the message still processing; the next
    // one waits 3 s on a durable timer: the worker is killed in that wait.
    const slowPolls = { statusPollIntervalsMs: [200, 3_000] };
    const child = await spawnWorkerProcess(taskQueue);
    let killed = false;
    try {
      await sendEvent(taskQueue, d.deviceId, registration(d), slowPolls);
      // The upload reached Microsoft and is still processing: the workflow now waits on its durable poll timer.
      await waitFor('the upload at the emulator', async () => (await uploadsFor(d.azureDeviceId)) === 1);
      const inFlight = await waitForDevice(d.deviceId, (r) => r.complianceStatus === 'In-progress' && r.lastAttemptAt !== null);
      assert.equal(
        (await timeline(d.deviceId))[0]?.outcome,
        'In-progress',
        'the attempt shows in the timeline while Microsoft processes it',
      );
      assert.equal(inFlight.reportTime, null);
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      killed = true;
      // An event while no worker runs is held by Temporal, not lost.
      await sendEvent(taskQueue, d.deviceId, compliance(['QUARANTINE']), slowPolls);
    } finally {
      if (!killed) child.kill('SIGKILL');
    }
    await withWorker(
      async () => {
        const row = await waitForDevice(
          d.deviceId,
          (r) => r.complianceStatus === 'Successful' && r.policyAction === 'QUARANTINE',
          'the report after restart',
          60_000,
        );
        assert.equal(row.reportedCompliance, 'notCompliant');
        const view = await entra(d.azureDeviceId);
        assert.equal(view?.isCompliant, false);
        assert.ok(
          view!.messages.every((m) => m.status === 'Completed'),
          'every upload completed',
        );
        const attempts = await timeline(d.deviceId);
        assert.deepEqual(
          attempts.map((a) => a.outcome),
          ['Successful', 'Successful'],
        );
        assert.equal(new Set(attempts.map((a) => a.messageId)).size, 2, 'one timeline row per upload, none duplicated by the restart');
      },
      { taskQueue },
    );
  });

  it('sends nothing while the feature is disabled, and reports every device once it is enabled', async () => {
    const env = testEnv();
    const devices = [await seedDevice(), await seedDevice()];
    await updateSettings(env.db, env.tenantId, { enabled: false });
    try {
      await withWorker(async ({ taskQueue }) => {
        for (const d of devices) {
          await sendEvent(taskQueue, d.deviceId, registration(d));
          await sendEvent(taskQueue, d.deviceId, compliance(['BLOCK_EMAIL']));
        }
        for (const d of devices) {
          const row = await waitForDevice(d.deviceId, (r) => r.policyAction === 'BLOCK_EMAIL' && r.lastAttemptAt === null && r.version > 0);
          assert.equal(row.reportTime, null);
          assert.notEqual(row.complianceStatus, 'Successful');
        }
        // Give the workflows time to try: still nothing may reach Microsoft.
        await new Promise((r) => setTimeout(r, 1_500));
        for (const d of devices) assert.equal(await uploadsFor(d.azureDeviceId), 0);

        await updateSettings(env.db, env.tenantId, { enabled: true });
        // Enabling runs a fleet operation that asks every device to report (trigger "enable").
        for (const d of devices) await workflowHandle(d.deviceId).signal(reportSignal, { trigger: 'enable', operationId: 'enable-test' });
        for (const d of devices) {
          const row = await waitForDevice(d.deviceId, (r) => r.complianceStatus === 'Successful');
          assert.equal(row.reportedCompliance, 'notCompliant');
          assert.equal((await entra(d.azureDeviceId))?.isCompliant, false);
          assert.equal((await timeline(d.deviceId))[0]!.trigger, 'enable');
        }
      });
    } finally {
      await updateSettings(env.db, env.tenantId, { enabled: true });
    }
  });
});

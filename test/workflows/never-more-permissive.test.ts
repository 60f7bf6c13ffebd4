/**
 * Every path that once left Microsoft more permissive than the MDM's latest word, closed — each on the
 * real stack (real Temporal, Postgres, the emulator over HTTPS). The rules are in
 * docs/product-rules.md ("Never more permissive than the MDM").
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { sweepDeviceFilter } from '../../activities/fleet-activities';
import { reportSignal, type DeviceWorkflowOptions } from '../../workflows/messages';
import type { DeviceState } from '../../domain/device-state';
import { call, makeApi } from '../api/helpers';
import { testEnv } from '../support/env';
import {
  compliance,
  entra,
  nextOccurredAt,
  registration,
  seedDevice,
  sendEvent,
  timeline,
  waitFor,
  waitForDevice,
  withWorker,
  workflowHandle,
  type SeededDevice,
} from '../support/device-harness';

/** Fast polls and fast retries: a report that must reach Microsoft is retried within a second. */
const FAST: DeviceWorkflowOptions = {
  statusPollIntervalsMs: [150, 300],
  microsoftRetry: { initialIntervalMs: 100, maximumIntervalMs: 400 },
};

const send = (taskQueue: string, deviceId: string, event: Parameters<typeof sendEvent>[2]) => sendEvent(taskQueue, deviceId, event, FAST);

async function microsoftHolds(d: { azureDeviceId: string }, isManaged: boolean, isCompliant: boolean, what: string) {
  return waitFor(
    `${what}: Microsoft holding managed=${isManaged} compliant=${isCompliant}`,
    async () => {
      const view = await entra(d.azureDeviceId);
      return view && view.isManaged === isManaged && view.isCompliant === isCompliant ? view : null;
    },
    60_000,
  );
}

async function registered(taskQueue: string, d: SeededDevice) {
  await send(taskQueue, d.deviceId, registration(d));
  await waitForDevice(d.deviceId, (r) => r.complianceStatus === 'Successful');
  await microsoftHolds(d, true, true, 'registered');
}

async function completed(deviceId: string): Promise<DeviceState> {
  const handle = workflowHandle(deviceId);
  const final = (await handle.result()) as DeviceState;
  assert.equal((await handle.describe()).status.name, 'COMPLETED');
  return final;
}

describe('never more permissive than the MDM (real Temporal, Postgres, Azure emulator)', function () {
  this.timeout(120_000);

  afterEach(async () => {
    await testEnv().emulator.control.clearFaults();
    await testEnv().emulator.control.setOptions({ pollsBeforeTerminal: 1 });
  });

  it('re-enrolment through the API: a compliance event sent right after the registration that follows a completed retire is applied, not refused', async () => {
    const env = testEnv();
    const d = await seedDevice();
    await withWorker(async ({ taskQueue }) => {
      const api = makeApi({ temporalClient: env.temporalClient, taskQueue, tenantId: env.tenantId });
      api.deps.deviceWorkflowOptions = FAST;
      const post = (body: unknown) => call(api.app, 'POST', `/v1/devices/${d.deviceId}/events`, { key: 'mdm', body });
      assert.equal((await post(registration(d))).status, 202);
      await waitFor('the first report', async () => (await entra(d.azureDeviceId))?.isManaged === true);
      assert.equal((await post({ type: 'retire', occurredAt: nextOccurredAt() })).status, 202);
      await completed(d.deviceId);
      await waitForDevice(d.deviceId, (r) => r.retiredAt !== null);

      assert.equal((await post(registration(d))).status, 202);
      assert.equal((await post(compliance(['QUARANTINE']))).status, 202, 'the read model still says retired: it must not decide');
      await microsoftHolds(d, true, false, 're-enrolled and quarantined');
      const row = await waitForDevice(
        d.deviceId,
        (r) => r.retiredAt === null && r.policyAction === 'QUARANTINE' && r.complianceStatus === 'Successful',
      );
      assert.equal(row.reportedCompliance, 'notCompliant');
    });
  });

  it('re-enrolment in one drain: events after a registration that opens the next lifecycle belong to it, even while the retire is still being reported', async () => {
    const env = testEnv();
    const d = await seedDevice();
    await withWorker(async ({ taskQueue }) => {
      await registered(taskQueue, d);
      // Microsoft takes several polls for each message: the retire is still in flight when the rest arrives.
      await env.emulator.control.setOptions({ pollsBeforeTerminal: 4 });
      await send(taskQueue, d.deviceId, { type: 'retire', occurredAt: nextOccurredAt() });
      await send(taskQueue, d.deviceId, registration(d));
      await send(taskQueue, d.deviceId, compliance(['QUARANTINE']));
      await microsoftHolds(d, true, false, 're-enrolled and quarantined');
      const state = await waitFor(
        'the next lifecycle settled',
        async () => {
          const s = (await workflowHandle(d.deviceId).query('state')) as DeviceState;
          return s.retiredAt === null && s.status === 'Successful' && s.actions.includes('QUARANTINE') ? s : null;
        },
        60_000,
      );
      assert.equal(state.lifecycle, 2);
      const triggers = (await timeline(d.deviceId)).map((r) => r.trigger);
      assert.ok(triggers.includes('retire'), 'the removal was reported before the next lifecycle');
    });
  });

  it('ordering holds across lifecycles: a re-delivered registration older than the retire does not resurrect the device', async () => {
    const d = await seedDevice();
    await withWorker(async ({ taskQueue }) => {
      const first = registration(d);
      await send(taskQueue, d.deviceId, first);
      await waitForDevice(d.deviceId, (r) => r.complianceStatus === 'Successful');
      await send(taskQueue, d.deviceId, { type: 'retire', occurredAt: nextOccurredAt() });
      await completed(d.deviceId);
      await send(taskQueue, d.deviceId, first); // the MDM re-sends after a client timeout
      const final = await completed(d.deviceId);
      assert.notEqual(final.retiredAt, null);
      assert.equal(final.counters.eventsStale >= 1, true);
      await microsoftHolds(d, false, false, 'still removed');
      const row = await waitForDevice(d.deviceId, (r) => r.retiredAt !== null);
      assert.equal(row.managementState, 'notManaged');
    });
  });

  it('ordering holds across lifecycles: a late retire older than the re-registration does not retire the re-enrolled device', async () => {
    const d = await seedDevice();
    await withWorker(async ({ taskQueue }) => {
      await registered(taskQueue, d);
      const lateRetire = { type: 'retire' as const, occurredAt: nextOccurredAt() };
      const retire = { type: 'retire' as const, occurredAt: nextOccurredAt() };
      await send(taskQueue, d.deviceId, retire);
      await completed(d.deviceId);
      await send(taskQueue, d.deviceId, registration(d));
      await waitForDevice(d.deviceId, (r) => r.retiredAt === null && r.complianceStatus === 'Successful');
      await send(taskQueue, d.deviceId, lateRetire);
      await send(taskQueue, d.deviceId, compliance(['RETIRE'], lateRetire.occurredAt));
      await send(taskQueue, d.deviceId, compliance(['SEND_ALERT']));
      const s = await waitFor('the alert applied', async () => {
        const st = (await workflowHandle(d.deviceId).query('state')) as DeviceState;
        return st.actions.includes('SEND_ALERT') && st.status === 'Successful' ? st : null;
      });
      assert.equal(s.retiredAt, null);
      assert.equal(s.counters.eventsStale, 2);
      await microsoftHolds(d, true, true, 'still enrolled');
    });
  });

  it('a retire while reporting is off is sent when reporting is switched back on', async () => {
    const d = await seedDevice();
    let enabled = true;
    await withWorker(
      async ({ taskQueue }) => {
        await registered(taskQueue, d);
        enabled = false;
        await send(taskQueue, d.deviceId, { type: 'retire', occurredAt: nextOccurredAt() });
        await waitForDevice(d.deviceId, (r) => r.retiredAt !== null);
        await new Promise((r) => setTimeout(r, 1_000));
        assert.equal((await entra(d.azureDeviceId))?.isManaged, true, 'nothing is sent while reporting is off');
        assert.equal((await workflowHandle(d.deviceId).describe()).status.name, 'RUNNING', 'the removal is still owed');
        enabled = true;
        // What the enable sweep does to every device it visits (retired ones included).
        await workflowHandle(d.deviceId).signal(reportSignal, { trigger: 'enable', operationId: randomUUID() });
        await microsoftHolds(d, false, false, 'removed once reporting is on');
        await completed(d.deviceId);
      },
      { isReportingEnabled: async () => enabled },
    );
    assert.equal(sweepDeviceFilter(null, 'enable').retired, undefined, 'the enable sweep visits retired devices');
    assert.equal(sweepDeviceFilter(null, 'weekly').retired, false);
  });

  it('a failed retire is retried until Microsoft confirms it, each attempt in the timeline', async () => {
    const env = testEnv();
    const d = await seedDevice();
    await withWorker(async ({ taskQueue }) => {
      await registered(taskQueue, d);
      // More failures than one activity's retries: the workflow itself must try again.
      await env.emulator.control.addFault({
        match: { method: 'PUT', service: 'intune', pathRegex: 'DataUploadMessages' },
        response: { status: 503, headers: { 'Retry-After': '0' }, body: { error: { code: 'ServiceUnavailable', message: 'down' } } },
        times: 14,
      });
      await send(taskQueue, d.deviceId, { type: 'retire', occurredAt: nextOccurredAt() });
      await microsoftHolds(d, false, false, 'removed after the outage');
      await completed(d.deviceId);
      const rows = (await timeline(d.deviceId)).filter((r) => r.trigger === 'retire');
      const [last, ...earlier] = rows.map((r) => r.outcome);
      assert.equal(last, 'Successful', 'newest first: the retry that went through');
      assert.ok(
        earlier.length >= 1 && earlier.every((o) => o === 'Failed'),
        `the failed attempts before it: ${rows.map((r) => r.outcome).join(', ')}`,
      );
    });
  });

  it('a failing registration does not swallow RETIRE: the removal reaches the Azure device id reported before, and the details follow the seed', async () => {
    const d = await seedDevice();
    await withWorker(async ({ taskQueue }) => {
      await registered(taskQueue, d);
      await send(taskQueue, d.deviceId, registration(d, { clientStatusCode: 'Account_logged_out' }));
      const failed = await waitForDevice(d.deviceId, (r) => r.complianceStatus === 'Failed');
      assert.equal(failed.clientStatusCode, 'Account_logged_out');
      await send(taskQueue, d.deviceId, compliance(['RETIRE']));
      await microsoftHolds(d, false, false, 'removed despite the failing registration');
      await completed(d.deviceId);
    });
  });

  it('a failing registration does not swallow QUARANTINE: non-compliance reaches the Azure device id reported before', async () => {
    const d = await seedDevice();
    await withWorker(async ({ taskQueue }) => {
      await registered(taskQueue, d);
      await send(taskQueue, d.deviceId, registration(d, { clientStatusCode: 'Interaction_Required' }));
      await send(taskQueue, d.deviceId, compliance(['QUARANTINE']));
      await microsoftHolds(d, true, false, 'quarantined despite the failing registration');
      const row = await waitForDevice(d.deviceId, (r) => r.policyAction === 'QUARANTINE');
      assert.equal(row.complianceStatus, 'Failed', 'the details still show the client status, as the seed says');
      assert.equal(row.lastError?.code, 'Interaction_Required');
    });
  });

  it("every upload's LastUpdateTime strictly increases, so an older upload never wins at Microsoft", async () => {
    const d = await seedDevice();
    await withWorker(async ({ taskQueue }) => {
      await registered(taskQueue, d);
      // Re-reports of an unchanged state carry no newer event time: they must still be newer uploads.
      for (let i = 0; i < 3; i++) {
        await workflowHandle(d.deviceId).signal(reportSignal, { trigger: 'manual' });
        await waitFor(
          `manual report ${i + 1}`,
          async () => (await timeline(d.deviceId)).filter((r) => r.trigger === 'manual' && r.outcome === 'Successful').length === i + 1,
        );
      }
      const times = (await entra(d.azureDeviceId))!.messages.map((m) => m.lastUpdateTime!);
      assert.equal(times.length, 4);
      for (let i = 1; i < times.length; i++)
        assert.ok(Date.parse(times[i]!) > Date.parse(times[i - 1]!), `upload ${i}: ${times[i]} after ${times[i - 1]}`);
    });
  });

  it('shows what is true: no stale client error beside Successful, and timeline rows of blocked attempts never overwrite each other across lifecycles', async () => {
    const d = await seedDevice();
    await withWorker(async ({ taskQueue }) => {
      const blockedRows = async () => (await timeline(d.deviceId)).filter((r) => r.messageId === null).length;
      await send(taskQueue, d.deviceId, registration(d, { clientStatusCode: 'User_Canceled', azureDeviceId: null }));
      // An admin's sync of a device without an Azure device id is a blocked attempt in the timeline.
      await workflowHandle(d.deviceId).signal(reportSignal, { trigger: 'manual' });
      await waitFor('a blocked row', async () => (await blockedRows()) === 1);
      await send(taskQueue, d.deviceId, { type: 'retire', occurredAt: nextOccurredAt() });
      await completed(d.deviceId);
      await send(taskQueue, d.deviceId, registration(d, { clientStatusCode: 'User_Canceled', azureDeviceId: null }));
      await workflowHandle(d.deviceId).signal(reportSignal, { trigger: 'manual' });
      await waitFor('a second blocked row, beside the first', async () => (await blockedRows()) === 2);
      await send(taskQueue, d.deviceId, registration(d));
      const row = await waitForDevice(d.deviceId, (r) => r.complianceStatus === 'Successful');
      assert.equal(row.lastError, null);
    });
  });

  it('applies events that wait for a worker in the order they arrived, whatever their kinds (a retire before a later RETIRE action)', async () => {
    const d = await seedDevice();
    const taskQueue = `tq-order-${randomUUID()}`;
    // No worker yet: the run's first task will find all three signals buffered at once.
    const retire = { type: 'retire' as const, occurredAt: nextOccurredAt() };
    await send(taskQueue, d.deviceId, registration(d));
    await send(taskQueue, d.deviceId, retire);
    await send(taskQueue, d.deviceId, compliance(['RETIRE', 'BLOCK_EMAIL']));
    await withWorker(
      async () => {
        const final = await completed(d.deviceId);
        assert.equal(final.retiredAt, retire.occurredAt, 'the retire came first; the later RETIRE action is refused');
        assert.equal(final.counters.eventsRefused, 1);
      },
      { taskQueue },
    );
  });
});

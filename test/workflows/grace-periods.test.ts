/**
 * Grace periods end to end (docs/product-rules.md, "Grace periods"): real Temporal, Postgres and the
 * Azure emulator. The tenant gives BLOCK_EMAIL a short grace; Microsoft's record of every upload
 * (the emulator's messages, with the time each was received) shows what was reported when.
 */
import assert from 'node:assert/strict';
import { updateSettings } from '../../db/data';
import type { DeviceEvent } from '../../domain/events';
import { syncUpdate } from '../../workflows/messages';
import { testEnv, uniqueName } from '../support/env';
import { recordHistories, recording } from '../support/histories';
import {
  compliance,
  entra,
  registration,
  seedDevice,
  sendEvent,
  spawnWorkerProcess,
  timeline,
  touchedWorkflowIds,
  waitForDevice,
  withWorker,
  workflowHandle,
  type SeededDevice,
} from '../support/device-harness';

const GRACE = 'PT15S';

/** Each upload of the device: when Microsoft received it, and the compliance it carried. */
async function uploadsOf(d: SeededDevice): Promise<Array<{ receivedAt: string; complianceStatus: string }>> {
  const view = await entra(d.azureDeviceId);
  return (view?.messages ?? []).flatMap((m) =>
    (m.entities as Array<Record<string, unknown>>)
      .filter((e) => typeof e.complianceStatus === 'string')
      .map((e) => ({ receivedAt: m.receivedAt, complianceStatus: e.complianceStatus as string })),
  );
}

/** A compliance event dated now: a grace runs from the MDM's occurredAt. */
function complianceNow(actions: Extract<DeviceEvent, { type: 'compliance' }>['actions']): DeviceEvent {
  return compliance(actions, new Date().toISOString());
}

async function registered(taskQueue: string, d: SeededDevice): Promise<void> {
  await sendEvent(taskQueue, d.deviceId, registration(d));
  await waitForDevice(d.deviceId, (r) => r.complianceStatus === 'Successful' && r.reportedCompliance === 'compliant');
}

describe('grace periods (real Temporal, Postgres, Azure emulator)', function () {
  this.timeout(120_000);

  before(async () => {
    const env = testEnv();
    await updateSettings(env.db, env.tenantId, { gracePeriods: { BLOCK_EMAIL: GRACE } });
  });
  after(async () => {
    const env = testEnv();
    await updateSettings(env.db, env.tenantId, { gracePeriods: {} });
  });
  beforeEach(() => touchedWorkflowIds.clear());
  afterEach(async function () {
    if (recording && this.currentTest?.state === 'passed') await recordHistories(this.currentTest.title, touchedWorkflowIds);
  });

  it('keeps BLOCK_EMAIL from Microsoft until its grace ends, across a worker SIGKILLed during the grace, then reports it', async () => {
    const d = await seedDevice();
    const taskQueue = uniqueName('tq-grace');
    const child = await spawnWorkerProcess(taskQueue);
    let graceUntil: string;
    try {
      await registered(taskQueue, d);
      await sendEvent(taskQueue, d.deviceId, complianceNow(['BLOCK_EMAIL']));
      const inGrace = await waitForDevice(d.deviceId, (r) => r.graceUntil !== null, 'the grace in the read model');
      graceUntil = inGrace.graceUntil!;
      assert.equal(inGrace.graceAction, 'BLOCK_EMAIL');
      assert.equal(inGrace.policyAction, 'BLOCK_EMAIL', 'the details show the MDM word');
      assert.equal(inGrace.reportedCompliance, 'compliant', 'and what Microsoft keeps meanwhile');
      assert.equal(inGrace.complianceStatus, 'Successful');
      const began = (await timeline(d.deviceId)).find((a) => a.trigger === 'grace');
      assert.deepEqual(began?.grace, { phase: 'began', action: 'BLOCK_EMAIL', until: graceUntil });
      // The worker dies while the workflow waits on the grace's durable timer.
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      assert.ok(Date.now() < Date.parse(graceUntil), 'the worker died during the grace (premise of this test)');
    } finally {
      child.kill('SIGKILL');
    }

    await withWorker(
      async () => {
        const row = await waitForDevice(
          d.deviceId,
          (r) => r.graceUntil === null && r.reportedCompliance === 'notCompliant' && r.complianceStatus === 'Successful',
          'the report once the grace ended',
          60_000,
        );
        assert.equal(row.policyAction, 'BLOCK_EMAIL');
        assert.equal((await entra(d.azureDeviceId))?.isCompliant, false);
        const uploads = await uploadsOf(d);
        assert.deepEqual(
          uploads.map((u) => u.complianceStatus),
          ['compliant', 'notCompliant'],
          'one compliant report, then the non-compliant one: nothing lost or repeated by the restart',
        );
        for (const u of uploads.filter((x) => x.complianceStatus === 'notCompliant')) {
          assert.ok(
            Date.parse(u.receivedAt) >= Date.parse(graceUntil),
            `non-compliant received at ${u.receivedAt}, grace until ${graceUntil}`,
          );
        }
        const rows = await timeline(d.deviceId);
        assert.deepEqual(
          rows.map((a) => [a.trigger, a.grace?.phase ?? a.outcome]),
          [
            ['grace', 'Successful'],
            ['grace', 'ended'],
            ['grace', 'began'],
            ['registration', 'Successful'],
          ],
        );
      },
      { taskQueue },
    );
  });

  it('never reports a device non-compliant when its action clears within the grace', async () => {
    const d = await seedDevice();
    await withWorker(async ({ taskQueue }) => {
      await registered(taskQueue, d);
      await sendEvent(taskQueue, d.deviceId, complianceNow(['BLOCK_EMAIL']));
      const inGrace = await waitForDevice(d.deviceId, (r) => r.graceUntil !== null, 'the grace in the read model');
      await sendEvent(taskQueue, d.deviceId, complianceNow([]));
      const cleared = await waitForDevice(d.deviceId, (r) => r.graceUntil === null && r.policyAction === null, 'the grace cleared');
      assert.equal(cleared.reportedCompliance, 'compliant');
      const phases = (await timeline(d.deviceId)).filter((a) => a.grace).map((a) => a.grace!.phase);
      assert.deepEqual(phases, ['cleared', 'began']);

      // Past the grace's end, an admin's sync reports what holds: still compliant, and nothing else was sent.
      const wait = Date.parse(inGrace.graceUntil!) - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait + 500));
      await workflowHandle(d.deviceId).executeUpdate(syncUpdate);
      await waitForDevice(d.deviceId, (r) => r.complianceStatus === 'Successful' && r.lastAttemptAt! > inGrace.graceUntil!, 'the sync');
      const uploads = await uploadsOf(d);
      assert.deepEqual(
        uploads.map((u) => u.complianceStatus),
        ['compliant', 'compliant'],
        'the registration and the sync, both compliant',
      );
      assert.equal((await entra(d.azureDeviceId))?.isCompliant, true);
    });
  });
});

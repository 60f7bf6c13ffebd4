/**
 * The write of an applied event that a report follows at once goes through the worker's read-model
 * sink, not a local activity (docs/architecture.md, "The read model"): it is in Postgres before the
 * upload reaches Microsoft, a report records one local activity (its outcome), and a sink write that
 * Postgres refuses is healed by the outcome's write. Real Temporal, Postgres and emulator.
 */
import assert from 'node:assert/strict';
import { temporal } from '@temporalio/proto';
import { getDevice } from '../../db/data';
import { READ_MODEL_SINK_PATCH } from '../../workflows/device';
import { testEnv } from '../support/env';
import { recordHistories, recording } from '../support/histories';
import {
  registration,
  seedDevice,
  sendEvent,
  touchedWorkflowIds,
  waitFor,
  waitForDevice,
  withWorker,
  workflowHandle,
} from '../support/device-harness';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/**
 * What a device workflow's history recorded: the local activities scheduled before its first upload,
 * in all, and the patches.
 */
async function recorded(deviceId: string): Promise<{ beforeUpload: number; localActivities: number; patches: string[] }> {
  const events = (await workflowHandle(deviceId).fetchHistory()).events ?? [];
  const isLocalActivity = (e: HistoryEvent) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity';
  const upload = events.findIndex((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'uploadReport');
  assert.ok(upload >= 0, 'the history holds the upload');
  const patches = events
    .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')
    .map(
      (e) => JSON.parse(Buffer.from(e.markerRecordedEventAttributes!.details!['patch-data']!.payloads![0]!.data!).toString()).id as string,
    );
  return {
    beforeUpload: events.slice(0, upload).filter(isLocalActivity).length,
    localActivities: events.filter(isLocalActivity).length,
    patches,
  };
}

/** Microsoft answers the device's next upload after `delayMs`, so the row can be read meanwhile. */
function holdNextUpload(delayMs: number) {
  return testEnv().emulator.control.addFault({
    match: { method: 'PUT', service: 'intune', pathRegex: 'DataUploadMessages' },
    delayMs,
    times: 1,
  });
}

function uploadInFlight(deviceId: string) {
  return waitFor('the upload activity in flight', async () => {
    const { raw } = await workflowHandle(deviceId).describe();
    return (raw.pendingActivities?.length ?? 0) > 0;
  });
}

describe('the read-model sink: an applied event written before its report', function () {
  this.timeout(120_000);

  beforeEach(() => touchedWorkflowIds.clear());
  afterEach(async function () {
    await testEnv().emulator.control.clearFaults();
    if (recording && this.currentTest?.state === 'passed') await recordHistories(this.currentTest.title, touchedWorkflowIds);
  });

  it('shows the applied event while Microsoft still holds the upload, written without a local activity', async () => {
    const env = testEnv();
    const d = await seedDevice();
    await holdNextUpload(3_000);
    await withWorker(async ({ taskQueue }) => {
      await sendEvent(taskQueue, d.deviceId, registration(d));
      await uploadInFlight(d.deviceId);
      const inFlight = await getDevice(env.db, env.tenantId, d.deviceId);
      assert.ok(inFlight, 'the applied event is in the read model before Microsoft answers');
      assert.equal(inFlight.azureDeviceId, d.azureDeviceId);
      assert.notEqual(inFlight.complianceStatus, 'Successful');
      assert.equal(inFlight.lastSuccessfulReportAt, null);

      const done = await waitForDevice(d.deviceId, (r) => r.complianceStatus === 'Successful');
      assert.ok(done.version > inFlight.version);
    });
    const { beforeUpload, localActivities, patches } = await recorded(d.deviceId);
    assert.equal(beforeUpload, 0, 'the applied event was not written by a local activity');
    assert.ok(localActivities >= 1, "the report's outcome is written by a local activity");
    assert.ok(patches.includes(READ_MODEL_SINK_PATCH), `patches recorded: ${patches.join(', ')}`);
  });

  it("heals a sink write that Postgres refused with the report's outcome", async () => {
    const env = testEnv();
    const d = await seedDevice();
    // Postgres refuses every write of this device made before its first attempt reached Microsoft:
    // the sink's, which shows the registration applied before the upload.
    const fn = `refuse_first_${d.deviceId.replace(/[^a-z0-9]/gi, '_').toLowerCase()}`;
    await env.db.raw(`
      create function ${fn}() returns trigger language plpgsql as $$
      begin
        if new.device_id = '${d.deviceId}' and new.last_attempt_at is null then raise exception 'refused by the test'; end if;
        return new;
      end $$;
      create trigger ${fn} before insert or update on devices for each row execute function ${fn}();`);
    await holdNextUpload(2_000);
    try {
      await withWorker(async ({ taskQueue }) => {
        await sendEvent(taskQueue, d.deviceId, registration(d));
        await uploadInFlight(d.deviceId);
        assert.equal(await getDevice(env.db, env.tenantId, d.deviceId), null, 'the sink write was refused');
        const row = await waitForDevice(d.deviceId, (r) => r.complianceStatus === 'Successful');
        assert.equal(row.azureDeviceId, d.azureDeviceId);
      });
      assert.equal((await recorded(d.deviceId)).beforeUpload, 0, 'the refused write was not retried as a local activity');
    } finally {
      await env.db.raw(`drop trigger ${fn} on devices; drop function ${fn}();`);
    }
  });
});

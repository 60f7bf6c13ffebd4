/**
 * The write of an applied event that a report follows at once, and a successful report's outcome, go
 * through the worker's read-model sink, not a local activity (docs/architecture.md, "The read
 * model"): the first is in Postgres before the upload reaches Microsoft, a report records no local
 * activity, and a sink write that Postgres refuses is handed back to the workflow, which writes it
 * again through the local activity. Real Temporal, Postgres and emulator.
 */
import assert from 'node:assert/strict';
import { temporal } from '@temporalio/proto';
import { getDevice, listReportAttempts } from '../../db/data';
import type { RegistrationEvent } from '../../domain/events';
import { FEWER_HISTORY_EVENTS_PATCH } from '../../workflows/device';
import { DEVICE_WORKFLOW_TYPE, DEVICE_WORKFLOW_TYPE_V1, deviceWorkflowId, registrationSignal } from '../../workflows/messages';
import { DeviceIdKey, TenantIdKey } from '../../workflows/search-attributes';
import { testEnv } from '../support/env';
import { recordHistories, recording } from '../support/histories';
import {
  compliance,
  FAST_POLLS,
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
 * and in all; the patches; its own search-attribute upserts, in all and from the first upload's
 * completion on; every upsert, Temporal's `TemporalChangeVersion` included; the sink writes handed
 * back to it (`readModelRewrite`). Its latest run, or the run `runId`.
 */
async function recorded(
  deviceId: string,
  runId?: string,
): Promise<{
  beforeUpload: number;
  localActivities: number;
  patches: string[];
  upsertsAfterUpload: number;
  upserts: number;
  allUpserts: number;
  rewrites: number;
}> {
  const events = (await workflowHandle(deviceId, runId).fetchHistory()).events ?? [];
  const isLocalActivity = (e: HistoryEvent) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity';
  const upload = events.findIndex((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'uploadReport');
  assert.ok(upload >= 0, 'the history holds the upload');
  const patches = events
    .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')
    .map(
      (e) => JSON.parse(Buffer.from(e.markerRecordedEventAttributes!.details!['patch-data']!.payloads![0]!.data!).toString()).id as string,
    );
  // The workflow's own upserts (a patch marker comes with one of TemporalChangeVersion alone).
  const isOurUpsert = (e: HistoryEvent) =>
    Object.keys(e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {}).some(
      (k) => k !== 'TemporalChangeVersion',
    );
  const uploaded = events.findIndex((e) => e.activityTaskCompletedEventAttributes);
  return {
    beforeUpload: events.slice(0, upload).filter(isLocalActivity).length,
    localActivities: events.filter(isLocalActivity).length,
    patches,
    upserts: events.filter(isOurUpsert).length,
    allUpserts: events.filter((e) => e.upsertWorkflowSearchAttributesEventAttributes).length,
    upsertsAfterUpload: uploaded < 0 ? 0 : events.slice(uploaded).filter(isOurUpsert).length,
    rewrites: events.filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'readModelRewrite').length,
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

/**
 * A Postgres trigger that refuses this device's writes matching `refused` (SQL on `new`); the
 * returned function lifts it, once, however often it is called.
 */
async function refuseDeviceWrites(name: string, deviceId: string, refused: string): Promise<() => Promise<void>> {
  const db = testEnv().db;
  const fn = `${name}_${deviceId.replace(/[^a-z0-9]/gi, '_').toLowerCase()}`;
  await db.raw(`
    create function ${fn}() returns trigger language plpgsql as $$
    begin
      if new.device_id = '${deviceId}' and ${refused} then raise exception 'refused by the test'; end if;
      return new;
    end $$;
    create trigger ${fn} before insert or update on devices for each row execute function ${fn}();`);
  let lifted = false;
  return async () => {
    if (!lifted) await db.raw(`drop trigger ${fn} on devices; drop function ${fn}();`);
    lifted = true;
  };
}

function uploadInFlight(deviceId: string) {
  return waitFor('the upload activity in flight', async () => {
    const { raw } = await workflowHandle(deviceId).describe();
    return (raw.pendingActivities?.length ?? 0) > 0;
  });
}

describe('the read-model sink: an applied event written before its report', function () {
  this.timeout(120_000);

  let pollsBeforeTerminal: number;
  beforeEach(async () => {
    touchedWorkflowIds.clear();
    // An upload that is done at its first status poll: the report writes nothing while it is in progress.
    pollsBeforeTerminal = (await testEnv().emulator.control.setOptions({})).pollsBeforeTerminal;
    await testEnv().emulator.control.setOptions({ pollsBeforeTerminal: 0 });
  });
  afterEach(async function () {
    await testEnv().emulator.control.setOptions({ pollsBeforeTerminal });
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
    assert.equal(localActivities, 0, "the report's outcome was not written by a local activity either");
    assert.deepEqual(patches, [], 'a new run of version 2 records no patch marker');
    assert.equal((await workflowHandle(d.deviceId).describe()).type, DEVICE_WORKFLOW_TYPE);
  });

  it("upserts a new device's search attributes once, with its report's outcome", async () => {
    const d = await seedDevice();
    await withWorker(async ({ taskQueue }) => {
      await sendEvent(taskQueue, d.deviceId, registration(d));
      await waitForDevice(d.deviceId, (r) => r.complianceStatus === 'Successful');
    });
    const { upserts, allUpserts, upsertsAfterUpload, patches } = await recorded(d.deviceId);
    assert.deepEqual(patches, []);
    assert.equal(upserts, 1, 'one upsert of the search attributes for the report');
    assert.equal(allUpserts, 1, 'no upsert of TemporalChangeVersion either');
    assert.equal(upsertsAfterUpload, 1, "the upsert comes with the report's outcome");
    const attributes = (await workflowHandle(d.deviceId).describe()).typedSearchAttributes;
    const value = (name: string) => attributes.getAll().find((p) => p.key.name === name)?.value;
    assert.equal(value('AzureComplianceStatus'), 'Successful');
    assert.equal(value('AzureClientStatusCode'), 'Success');
    assert.equal(value('DeviceId'), d.deviceId);
    assert.equal(value('Retired'), false);
  });

  it('a run started as the type before version 2 asks for its patch, and continues as new as version 2, asking for none', async () => {
    const env = testEnv();
    const d = await seedDevice();
    const workflowId = deviceWorkflowId(env.tenantId, d.deviceId);
    touchedWorkflowIds.add(workflowId);
    await withWorker(async ({ taskQueue }) => {
      // As an API of the release before version 2 started it.
      const first = await env.temporalClient.workflow.signalWithStart(DEVICE_WORKFLOW_TYPE_V1, {
        workflowId,
        taskQueue,
        args: [{ tenantId: env.tenantId, deviceId: d.deviceId, options: { ...FAST_POLLS, continueAsNewAfterEvents: 1 } }],
        signal: registrationSignal,
        signalArgs: [registration(d) as RegistrationEvent],
        typedSearchAttributes: [
          { key: TenantIdKey, value: env.tenantId },
          { key: DeviceIdKey, value: d.deviceId },
        ],
      });
      await waitForDevice(d.deviceId, (r) => r.complianceStatus === 'Successful');
      const next = await waitFor('the next run', async () => {
        const run = await workflowHandle(d.deviceId).describe();
        return run.runId !== first.signaledRunId && run;
      });
      assert.equal(next.type, DEVICE_WORKFLOW_TYPE, 'the run continued as new as version 2');
      const before = await getDevice(env.db, env.tenantId, d.deviceId);
      await sendEvent(taskQueue, d.deviceId, compliance(['QUARANTINE']));
      await waitForDevice(d.deviceId, (r) => r.complianceStatus === 'Successful' && r.version > before!.version);

      // The hook continues the second run as new too: let its successor finish its first task, so
      // that every run's recorded history is whole.
      await waitFor('the third run idle', async () => {
        const run = await workflowHandle(d.deviceId).describe();
        return run.runId !== next.runId && (run.historyLength ?? 0) >= 4;
      });

      const old = await recorded(d.deviceId, first.signaledRunId);
      assert.deepEqual(old.patches, [FEWER_HISTORY_EVENTS_PATCH], 'the run of the older type asked for the newest patch');
      const v2 = await recorded(d.deviceId, next.runId);
      assert.deepEqual(v2.patches, [], 'its next run asked for none');
      assert.equal(v2.allUpserts, v2.upserts, 'and upserted no TemporalChangeVersion');
    });
  });

  it('writes again through the local activity a sink write that Postgres refused', async () => {
    const env = testEnv();
    const d = await seedDevice();
    // Postgres refuses every write of this device made before its first attempt reached Microsoft:
    // the sink's, which shows the registration applied before the upload.
    const allow = await refuseDeviceWrites('refuse_first', d.deviceId, 'new.last_attempt_at is null');
    await holdNextUpload(2_000);
    try {
      await withWorker(async ({ taskQueue }) => {
        await sendEvent(taskQueue, d.deviceId, registration(d));
        await uploadInFlight(d.deviceId);
        assert.equal(await getDevice(env.db, env.tenantId, d.deviceId), null, 'the sink write was refused');
        const row = await waitForDevice(d.deviceId, (r) => r.complianceStatus === 'Successful');
        assert.equal(row.azureDeviceId, d.azureDeviceId);
      });
      const { beforeUpload, localActivities, rewrites } = await recorded(d.deviceId);
      assert.equal(beforeUpload, 0, 'the refused write was not retried as a local activity before the upload');
      assert.equal(rewrites, 1, 'the worker handed the refused write back to the workflow');
      assert.ok(localActivities >= 1, "the report's outcome was written durably after a lost write");
    } finally {
      await allow();
    }
  });

  it('writes a refused outcome again, with its timeline row, once Postgres takes it', async () => {
    const env = testEnv();
    const d = await seedDevice();
    // Postgres refuses this device's successful outcome until the test lets it through.
    const allow = await refuseDeviceWrites('refuse_outcome', d.deviceId, "new.compliance_status = 'Successful'");
    try {
      await withWorker(async ({ taskQueue }) => {
        // Lifted before the worker stops: its shutdown waits for the local activity the refusal holds.
        try {
          await sendEvent(taskQueue, d.deviceId, registration(d));
          await waitFor('the refused outcome handed back to the workflow', async () => (await recorded(d.deviceId)).rewrites === 1);
          // The local activity is retrying against the refusal: nothing shows the outcome yet.
          const meanwhile = await getDevice(env.db, env.tenantId, d.deviceId);
          assert.ok(meanwhile, 'the applied event was written');
          assert.notEqual(meanwhile.complianceStatus, 'Successful');
          assert.deepEqual(await listReportAttempts(env.db, env.tenantId, d.deviceId, 10), []);
        } finally {
          await allow();
        }
        const row = await waitForDevice(d.deviceId, (r) => r.complianceStatus === 'Successful');
        assert.ok(row.lastSuccessfulReportAt, 'the outcome is in the row');
      });
      const timeline = await listReportAttempts(env.db, env.tenantId, d.deviceId, 10);
      assert.deepEqual(
        timeline.map((a) => a.outcome),
        ['Successful'],
        "the lost write's timeline row was written with the rewrite",
      );
      const { localActivities, rewrites } = await recorded(d.deviceId);
      assert.equal(rewrites, 1);
      assert.equal(localActivities, 1, 'one durable write: the rewrite');
    } finally {
      await allow();
    }
  });
});

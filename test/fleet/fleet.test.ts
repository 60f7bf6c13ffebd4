/**
 * Issue 6: the weekly report and the heartbeat Schedules, the fleet sweep (weekly, bulk sync, resync)
 * and its crash recovery — against the real Temporal dev server, Postgres and the Azure emulator.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { getSettings } from '../../db/data';
import { getDevicesSkipped } from '../../db/fleet-data';
import { createFleetClient, createScheduleControl, startSweep } from '../../workers/fleet-client';
import { TENANT_HEARTBEAT_SCHEDULE_ID, WEEKLY_REPORT_SCHEDULE_ID, ensureSchedules } from '../../workers/schedules';
import { signalDeviceReport } from '../../activities/fleet-activities';
import { fleetWorkflowId } from '../../workflows/fleet-messages';
import { DEVICE_WORKFLOW_TYPE, deviceWorkflowId } from '../../workflows/messages';
import { call, makeApi } from '../api/helpers';
import { nextOccurredAt, spawnWorkerProcess, waitFor, withWorker } from '../support/device-harness';
import { testEnv, uniqueName } from '../support/env';
import {
  deleteSchedules,
  deviceRow,
  newTenant,
  operationsOf,
  register,
  rowsOf,
  seedDevices,
  send,
  testConfig,
  waitForFinished,
  waitForRow,
  waitForTrigger,
} from './helpers';

const DAY_MS = 24 * 60 * 60 * 1000;

describe('fleet sweeps and schedules (real Temporal, Postgres, Azure emulator)', function () {
  this.timeout(120_000);

  beforeEach(deleteSchedules);
  afterEach(deleteSchedules);

  it('creates the weekly report, heartbeat and drift reconciliation schedules with the configured cron, overlap SKIP and catch-up windows, and updates them when the cron changes', async () => {
    const env = testEnv();
    const t = await newTenant();
    const taskQueue = uniqueName('fleet');
    const first = await ensureSchedules(env.temporalClient, testConfig(taskQueue), t.tenantId, env.db);
    assert.deepEqual(first, { weekly: 'created', heartbeat: 'created', reconciliation: 'created' });

    const weekly = await env.temporalClient.schedule.getHandle(WEEKLY_REPORT_SCHEDULE_ID).describe();
    assert.deepEqual(weekly.spec.calendars, [calendar({ minute: 0, hour: 6, dayOfWeek: 'MONDAY' })]);
    assert.equal(weekly.policies.overlap, ScheduleOverlapPolicy.SKIP);
    assert.equal(weekly.policies.catchupWindow, DAY_MS);
    assert.equal(weekly.state.paused, false);
    assert.equal(weekly.action.type, 'startWorkflow');
    assert.equal(weekly.action.workflowType, 'fleetSweepWorkflow');
    assert.equal(weekly.action.workflowId, fleetWorkflowId(t.tenantId, 'weekly'));
    assert.equal(weekly.action.taskQueue, taskQueue);
    assert.deepEqual(weekly.action.args?.[0], {
      tenantId: t.tenantId,
      kind: 'weekly',
      filter: null,
      options: { pageSize: 1000, batchSize: 50, devicesPerSecond: 36, heartbeatTimeoutMs: 30000 },
    });

    const heartbeat = await env.temporalClient.schedule.getHandle(TENANT_HEARTBEAT_SCHEDULE_ID).describe();
    assert.deepEqual(heartbeat.spec.calendars, [calendar({ minute: 0 })]);
    assert.equal(heartbeat.policies.overlap, ScheduleOverlapPolicy.SKIP);
    assert.equal(heartbeat.policies.catchupWindow, 10 * 60 * 1000);
    assert.equal(heartbeat.action.workflowType, 'tenantHeartbeatWorkflow');

    // The next start, with another WEEKLY_REPORT_CRON and HEARTBEAT_CRON: updated, not duplicated.
    const second = await ensureSchedules(
      env.temporalClient,
      testConfig(taskQueue, { WEEKLY_REPORT_CRON: '30 7 * * 2', HEARTBEAT_CRON: '15 */2 * * *' }),
      t.tenantId,
      env.db,
    );
    assert.deepEqual(second, { weekly: 'updated', heartbeat: 'updated', reconciliation: 'updated' });
    const updated = await env.temporalClient.schedule.getHandle(WEEKLY_REPORT_SCHEDULE_ID).describe();
    assert.deepEqual(updated.spec.calendars, [calendar({ minute: 30, hour: 7, dayOfWeek: 'TUESDAY' })]);
    assert.equal(updated.policies.overlap, ScheduleOverlapPolicy.SKIP);
    assert.equal(updated.policies.catchupWindow, DAY_MS);
    const updatedHeartbeat = await env.temporalClient.schedule.getHandle(TENANT_HEARTBEAT_SCHEDULE_ID).describe();
    assert.deepEqual(updatedHeartbeat.spec.calendars, [calendar({ minute: 15, hour: { start: 0, end: 23, step: 2 } })]);
  });

  it('re-reports every non-retired device once when the weekly schedule is triggered (SKIP), with a newer report time, and not a retired device', async () => {
    const env = testEnv();
    const t = await newTenant();
    const devices = await seedDevices(t, 'weekly', 5);
    await withWorker(
      async ({ taskQueue }) => {
        await register(t, taskQueue, devices);
        const [retired, ...active] = devices;
        await send(t, taskQueue, retired!.deviceId, { type: 'retire', occurredAt: nextOccurredAt() });
        await waitForRow(t, retired!.deviceId, (r) => r.retiredAt !== null && r.complianceStatus === 'Successful', 'the retired row');
        const before = new Map(
          await Promise.all(active.map(async (d) => [d.deviceId, (await deviceRow(t, d.deviceId))!.reportTime!] as const)),
        );

        await ensureSchedules(env.temporalClient, testConfig(taskQueue, { SWEEP_DEVICES_PER_SECOND: '100' }), t.tenantId, env.db);
        await env.temporalClient.schedule.getHandle(WEEKLY_REPORT_SCHEDULE_ID).trigger(ScheduleOverlapPolicy.SKIP);

        const [op] = await waitFor('the weekly operation', async () => {
          const ops = await operationsOf(t, 'weekly');
          return ops.length > 0 ? ops : null;
        });
        const finished = await waitForFinished(t, op!.operationId);
        assert.match(finished.operationId, /^weekly-\d{4}-\d{2}-\d{2}T/);
        assert.equal(finished.devicesTotal, 4);
        assert.equal(finished.devicesSignalled, 4);
        assert.equal(await getDevicesSkipped(env.db, finished.operationId), 0);

        await waitForTrigger(t, active, 'weekly');
        for (const d of active) {
          const rows = await rowsOf(t, d.deviceId, 'weekly');
          assert.equal(rows.length, 1, `${d.deviceId}: one weekly row`);
          assert.equal(rows[0]!.outcome, 'Successful');
          const row = await waitForRow(
            t,
            d.deviceId,
            (r) => r.reportTime !== null && r.reportTime > before.get(d.deviceId)!,
            'a newer report time',
          );
          assert.equal(row.complianceStatus, 'Successful');
          assert.equal(row.reportTime, rows[0]!.completedAt);
        }
        assert.deepEqual(await rowsOf(t, retired!.deviceId, 'weekly'), []);
        assert.equal((await env.temporalClient.schedule.getHandle(WEEKLY_REPORT_SCHEDULE_ID).describe()).info.numActionsTaken, 1);
      },
      { azure: t.azure },
    );
  });

  it('finishes a sweep whose worker was SIGKILLed mid-page after restart, signalling every device exactly once', async () => {
    const env = testEnv();
    const t = await newTenant();
    const devices = await seedDevices(t, 'crash', 24);
    // Devices live on one queue (a worker that stays up); the sweep on another, first served by a
    // worker process that is killed in the middle of the page.
    await withWorker(
      async ({ taskQueue: deviceQueue }) => {
        await register(t, deviceQueue, devices);
        const sweepQueue = uniqueName('sweep');
        let child: ChildProcess | undefined = await spawnWorkerProcess(sweepQueue);
        const operationId = `weekly-${randomUUID()}`;
        try {
          await startSweep(env.temporalClient, env.db, {
            tenantId: t.tenantId,
            kind: 'weekly',
            filter: null,
            operationId,
            startedAt: new Date().toISOString(),
            taskQueue: sweepQueue,
            // One page of 24, in batches of 4 paced at 8 devices/s: the kill lands inside the page.
            options: { pageSize: 1_000, batchSize: 4, devicesPerSecond: 8, heartbeatTimeoutMs: 2_000 },
          });
          await waitFor('a few batches signalled', async () => ((await getOperationRow(operationId))?.devices_signalled ?? 0) >= 8, 30_000);
          child.kill('SIGKILL');
          await new Promise((resolve) => child!.once('exit', resolve));
          child = undefined;
          const atKill = (await getOperationRow(operationId))!;
          assert.ok(
            atKill.devices_signalled >= 8 && atKill.devices_signalled < 24,
            `killed mid-page (${atKill.devices_signalled} signalled)`,
          );
          assert.equal(atKill.finished_at, null);

          await withWorker(
            async () => {
              const op = await waitForFinished(t, operationId, 60_000);
              assert.equal(op.devicesTotal, 24);
              assert.equal(op.devicesSignalled, 24);
              assert.equal(await getDevicesSkipped(env.db, operationId), 0);
            },
            { taskQueue: sweepQueue, azure: t.azure },
          );

          // The retried page resumed from where the killed one stopped, not from the page start.
          const page = await signalPageOutcome(fleetWorkflowId(t.tenantId, operationId));
          assert.ok(page.attempt >= 2, `the page activity was retried (attempt ${page.attempt})`);
          assert.ok(
            page.result.resumedFrom !== null && page.result.resumedFrom.signalled >= atKill.devices_signalled,
            `resumed at ${JSON.stringify(page.result.resumedFrom)}`,
          );
          assert.equal(page.result.signalled, 24);

          await waitForTrigger(t, devices, 'weekly');
          // Let any duplicate report show up before counting.
          await new Promise((r) => setTimeout(r, 1_500));
          for (const d of devices)
            assert.equal((await rowsOf(t, d.deviceId, 'weekly')).length, 1, `${d.deviceId}: exactly one weekly report`);
        } finally {
          child?.kill('SIGKILL');
        }
      },
      { azure: t.azure },
    );
  });

  it('drops a report signal re-sent for the same operation and device, and skips a device whose workflow is not running', async () => {
    const env = testEnv();
    const t = await newTenant();
    // A device workflow with no worker: its history shows exactly the signals Temporal accepted.
    const handle = await env.temporalClient.workflow.start(DEVICE_WORKFLOW_TYPE, {
      workflowId: deviceWorkflowId(t.tenantId, 'dedup-0'),
      taskQueue: uniqueName('idle'),
      args: [{ tenantId: t.tenantId, deviceId: 'dedup-0' }],
    });
    try {
      const target = (operationId: string) => ({
        tenantId: t.tenantId,
        deviceId: 'dedup-0',
        request: { trigger: 'weekly' as const, operationId },
      });
      assert.equal(await signalDeviceReport(env.temporalClient, target('op-a')), 'signalled');
      assert.equal(await signalDeviceReport(env.temporalClient, target('op-a')), 'signalled');
      assert.equal(await signalDeviceReport(env.temporalClient, target('op-b')), 'signalled');
      const history = await handle.fetchHistory();
      const signals = (history.events ?? [])
        .filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'report')
        .map((e) => decode(e.workflowExecutionSignaledEventAttributes!.input!.payloads![0]!));
      assert.deepEqual(signals, [
        { trigger: 'weekly', operationId: 'op-a' },
        { trigger: 'weekly', operationId: 'op-b' },
      ]);
      assert.equal(await signalDeviceReport(env.temporalClient, { ...target('op-a'), deviceId: 'dedup-never-started' }), 'skipped');
    } finally {
      await handle.terminate('test cleanup');
    }
    assert.equal(
      await signalDeviceReport(env.temporalClient, {
        tenantId: t.tenantId,
        deviceId: 'dedup-0',
        request: { trigger: 'weekly', operationId: 'op-c' },
      }),
      'skipped',
    );
  });

  it('pauses the weekly schedule when PUT /v1/settings pauses the weekly report, and resumes it', async () => {
    const env = testEnv();
    const t = await newTenant();
    const config = testConfig(uniqueName('fleet'));
    await ensureSchedules(env.temporalClient, config, t.tenantId, env.db);
    const handle = env.temporalClient.schedule.getHandle(WEEKLY_REPORT_SCHEDULE_ID);
    assert.equal((await handle.describe()).state.paused, false);
    const api = makeApi({
      tenantId: t.tenantId,
      temporalClient: env.temporalClient,
      schedules: createScheduleControl(env.temporalClient, config, t.tenantId),
    });

    const pause = await call(api.app, 'PUT', '/v1/settings', { key: 'admin', body: { weeklyReport: { paused: true } } });
    assert.equal(pause.status, 200);
    assert.deepEqual(((await pause.json()) as { weeklyReport: unknown }).weeklyReport, { paused: true });
    assert.equal((await handle.describe()).state.paused, true);
    assert.equal((await getSettings(env.db, t.tenantId)).weeklyReportPaused, true);
    // A worker start keeps what the settings say.
    await ensureSchedules(env.temporalClient, config, t.tenantId, env.db);
    assert.equal((await handle.describe()).state.paused, true);

    const resume = await call(api.app, 'PUT', '/v1/settings', { key: 'admin', body: { weeklyReport: { paused: false } } });
    assert.equal(resume.status, 200);
    assert.equal((await handle.describe()).state.paused, false);
    assert.equal((await getSettings(env.db, t.tenantId)).weeklyReportPaused, false);
  });

  it('starts exactly one full resync sweep for a ResyncTimestamp returned by two heartbeats', async () => {
    const env = testEnv();
    const t = await newTenant();
    const devices = await seedDevices(t, 'resync', 3);
    await withWorker(
      async ({ taskQueue }) => {
        await register(t, taskQueue, devices);
        const resyncTimestamp = new Date(Date.now() - 60_000).toISOString();
        await env.emulator.control.setResyncTimestamp(t.tenantId, resyncTimestamp);
        await ensureSchedules(env.temporalClient, testConfig(taskQueue, { SWEEP_DEVICES_PER_SECOND: '100' }), t.tenantId, env.db);
        const schedule = env.temporalClient.schedule.getHandle(TENANT_HEARTBEAT_SCHEDULE_ID);

        const results = [];
        for (let i = 1; i <= 2; i++) {
          await schedule.trigger(ScheduleOverlapPolicy.SKIP);
          const workflowId = await waitFor(`heartbeat run ${i}`, async () => {
            const recent = (await schedule.describe()).info.recentActions;
            return recent.length >= i ? recent[i - 1]!.action.workflow.workflowId : null;
          });
          results.push(await env.temporalClient.workflow.getHandle(workflowId).result());
        }
        const operationId = `resync-${resyncTimestamp}`;
        assert.deepEqual(results, [
          { sent: true, at: results[0].at, resyncTimestamp, resyncOperationId: operationId },
          { sent: true, at: results[1].at, resyncTimestamp, resyncOperationId: null },
        ]);

        const op = await waitForFinished(t, operationId);
        assert.equal(op.kind, 'resync');
        assert.equal(op.devicesTotal, 3);
        assert.equal(op.devicesSignalled, 3);
        assert.deepEqual(
          (await operationsOf(t, 'resync')).map((o) => o.operationId),
          [operationId],
        );
        await waitForTrigger(t, devices, 'resync');
        for (const d of devices) assert.equal((await rowsOf(t, d.deviceId, 'resync')).length, 1);

        const settings = await getSettings(env.db, t.tenantId);
        assert.equal(settings.lastHeartbeatAt, results[1].at);
        assert.deepEqual(settings.lastHeartbeatResult, { ok: true, resyncTimestamp });
        assert.equal(settings.lastResyncHandled, resyncTimestamp);
        const api = makeApi({ tenantId: t.tenantId, temporalClient: env.temporalClient });
        const shown = await call(api.app, 'GET', '/v1/settings', { key: 'admin' });
        assert.deepEqual(((await shown.json()) as { heartbeat: unknown }).heartbeat, {
          lastAt: results[1].at,
          result: { ok: true, resyncTimestamp },
        });
        const tenant = await env.emulator.control.tenant(t.tenantId);
        assert.equal(tenant.heartbeats, 2);
      },
      { azure: t.azure },
    );
  });

  it('reports exactly the devices matching the filter of POST /v1/sync, and its operation finishes with the right counts', async () => {
    const env = testEnv();
    const t = await newTenant();
    const healthy = await seedDevices(t, 'ok', 2);
    const canceled = await seedDevices(t, 'canceled', 1);
    const unknown = await seedDevices(t, 'unknown', 1, false);
    await withWorker(
      async ({ taskQueue }) => {
        await register(t, taskQueue, healthy);
        await register(t, taskQueue, canceled, 'Failed', 'User_Canceled');
        // Not in Entra: Microsoft fails the upload.
        await register(t, taskQueue, unknown, 'Failed');
        const failed = [...canceled, ...unknown];

        const config = testConfig(taskQueue, { SWEEP_DEVICES_PER_SECOND: '100' });
        const api = makeApi({
          tenantId: t.tenantId,
          temporalClient: env.temporalClient,
          fleet: createFleetClient(env.temporalClient, config, t.tenantId, { db: env.db }),
        });
        const res = await call(api.app, 'POST', '/v1/sync', { key: 'admin', body: { complianceStatus: 'Failed' } });
        assert.equal(res.status, 202);
        const { operationId } = (await res.json()) as { operationId: string };
        assert.match(operationId, /^sync-[0-9a-f-]{36}$/);

        await waitForTrigger(t, failed, 'manual');
        const op = await waitFor('the operation to finish', async () => {
          const r = await call(api.app, 'GET', `/v1/operations/${operationId}`, { key: 'admin' });
          const body = (await r.json()) as { startedAt: string; finishedAt: string | null };
          return r.status === 200 && body.finishedAt !== null ? body : null;
        });
        assert.deepEqual(op, {
          operationId,
          kind: 'sync',
          startedAt: op.startedAt,
          finishedAt: op.finishedAt,
          devicesTotal: 2,
          devicesSignalled: 2,
          devicesSkipped: 0,
        });
        assert.ok(Date.parse(op.startedAt) <= Date.parse(op.finishedAt!));
        for (const d of failed) {
          const rows = await rowsOf(t, d.deviceId, 'manual');
          assert.equal(rows.length, 1, `${d.deviceId}: one manual report`);
          assert.equal(rows[0]!.outcome, 'Failed');
        }
        for (const d of healthy) assert.deepEqual(await rowsOf(t, d.deviceId, 'manual'), []);
      },
      { azure: t.azure },
    );
  });
});

type Range = { start: number | string; end: number | string; step: number };

/** The calendar the server stores for a cron expression (every other field: the whole range). */
function calendar(c: { minute: number; hour?: number | Range; dayOfWeek?: string }) {
  const one = (v: number | string): Range[] => [{ start: v, end: v, step: 1 }];
  return {
    second: one(0),
    minute: one(c.minute),
    hour: c.hour === undefined ? [{ start: 0, end: 23, step: 1 }] : typeof c.hour === 'number' ? one(c.hour) : [c.hour],
    dayOfMonth: [{ start: 1, end: 31, step: 1 }],
    month: [{ start: 'JANUARY', end: 'DECEMBER', step: 1 }],
    year: [],
    dayOfWeek: c.dayOfWeek === undefined ? [{ start: 'SUNDAY', end: 'SATURDAY', step: 1 }] : one(c.dayOfWeek),
    comment: '',
  };
}

async function getOperationRow(operationId: string): Promise<{ devices_signalled: number; finished_at: Date | null } | undefined> {
  return testEnv().db('operations').select('devices_signalled', 'finished_at').where({ operation_id: operationId }).first();
}

/** The last attempt number and the result of the sweep's page activity, from its history. */
async function signalPageOutcome(
  workflowId: string,
): Promise<{ attempt: number; result: { signalled: number; resumedFrom: { signalled: number } | null } }> {
  const events = (await testEnv().temporalClient.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'signalPage')!;
  const id = String(scheduled.eventId);
  const started = events.find((e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === id)!;
  const completed = events.find((e) => String(e.activityTaskCompletedEventAttributes?.scheduledEventId) === id)!;
  return {
    attempt: started.activityTaskStartedEventAttributes!.attempt!,
    result: decode(completed.activityTaskCompletedEventAttributes!.result!.payloads![0]!) as {
      signalled: number;
      resumedFrom: { signalled: number } | null;
    },
  };
}

function decode(payload: { data?: Uint8Array | null }): unknown {
  return JSON.parse(Buffer.from(payload.data!).toString('utf8'));
}

/**
 * The drift reconciliation against the real Temporal dev server, Postgres and the Azure emulator:
 * Entra changed and deleted behind the connector's back, read back in Graph JSON batches (with 429s
 * inside a batch), and each device workflow deciding from its own last confirmed report.
 */
import assert from 'node:assert/strict';
import { ScheduleOverlapPolicy, WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { countDriftFound, getSettings } from '../../db/data';
import { fleetWorkflowId } from '../../workflows/fleet-messages';
import { deviceWorkflowId, stateQuery } from '../../workflows/messages';
import { AzureDriftKey } from '../../workflows/search-attributes';
import { createScheduleControl } from '../../workers/fleet-client';
import { reconciliationScheduleId, upsertReconciliationSchedule } from '../../workers/reconciliation-schedule';
import { call, makeApi } from '../api/helpers';
import { recordHistories, recording } from '../support/histories';
import { nextOccurredAt, waitFor, withWorker } from '../support/device-harness';
import { testEnv, uniqueName } from '../support/env';
import {
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
  type FleetDevice,
  type FleetTenant,
} from './helpers';

/** Upload messages the emulator received per Azure device id. */
async function uploadsByDevice(t: FleetTenant): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const m of await testEnv().emulator.control.messages(t.tenantId)) {
    const id = (m.deviceId ?? '').toLowerCase();
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** Triggers the tenant's reconciliation Schedule and waits for the operation it starts (the `n`-th one) to finish. */
async function runReconciliation(t: FleetTenant, n: number) {
  const env = testEnv();
  await env.temporalClient.schedule.getHandle(reconciliationScheduleId(t.tenantId)).trigger(ScheduleOverlapPolicy.ALLOW_ALL);
  const ops = await waitFor(`reconciliation #${n}`, async () => {
    const all = await operationsOf(t, 'reconcile');
    return all.length >= n ? all : null;
  });
  return waitForFinished(t, ops[n - 1]!.operationId);
}

async function azureDriftOf(t: FleetTenant, d: FleetDevice): Promise<string | undefined> {
  const desc = await testEnv().temporalClient.workflow.getHandle(deviceWorkflowId(t.tenantId, d.deviceId)).describe();
  return desc.typedSearchAttributes.get(AzureDriftKey);
}

describe('drift reconciliation (real Temporal, Postgres, Azure emulator)', function () {
  this.timeout(180_000);

  let scheduleIds: string[] = [];
  afterEach(async () => {
    for (const id of scheduleIds) {
      await testEnv()
        .temporalClient.schedule.getHandle(id)
        .delete()
        .catch(() => undefined);
    }
    scheduleIds = [];
    await testEnv().emulator.control.clearFaults();
  });

  it('re-reports exactly the devices changed in Entra, marks the deleted one without re-sending it, leaves the others alone, and honours 429 inside a batch', async function () {
    const env = testEnv();
    const control = env.emulator.control;
    const t = await newTenant();
    const devices = await seedDevices(t, 'drift', 6);
    const [compliantLost, quarantinedMadeCompliant, expired, deleted, ...untouched] = devices as [
      FleetDevice,
      FleetDevice,
      FleetDevice,
      FleetDevice,
      ...FleetDevice[],
    ];
    await withWorker(
      async ({ taskQueue }) => {
        await register(t, taskQueue, devices);
        await send(t, taskQueue, quarantinedMadeCompliant.deviceId, {
          type: 'compliance',
          occurredAt: nextOccurredAt(),
          actions: ['QUARANTINE'],
        });
        await waitForRow(
          t,
          quarantinedMadeCompliant.deviceId,
          (r) => r.policyAction === 'QUARANTINE' && r.complianceStatus === 'Successful',
          'quarantine confirmed',
        );

        // Behind the connector's back: three devices changed in Entra, a fourth deleted.
        await control.setEntraDevice(t.tenantId, compliantLost.azureDeviceId, { isCompliant: false });
        await control.setEntraDevice(t.tenantId, quarantinedMadeCompliant.azureDeviceId, { isCompliant: true });
        await control.setEntraDevice(t.tenantId, expired.azureDeviceId, {
          complianceExpirationDateTime: new Date(Date.now() - 60_000).toISOString(),
        });
        await control.deleteEntraDevice(t.tenantId, deleted.azureDeviceId);
        // Microsoft throttles three read-backs inside the batch; only those are sent again.
        await control.addFault({
          match: { service: 'graph', batchItem: true, method: 'GET', pathRegex: '/devices\\?' },
          response: { status: 429, headers: { 'Retry-After': '1' } },
          times: 3,
        });
        const uploadsBefore = await uploadsByDevice(t);
        await control.clearRequests();

        const config = testConfig(taskQueue, { SWEEP_DEVICES_PER_SECOND: '100' });
        await upsertReconciliationSchedule(env.temporalClient, config, t.tenantId, await getSettings(env.db, t.tenantId));
        scheduleIds.push(reconciliationScheduleId(t.tenantId));
        const op = await runReconciliation(t, 1);
        assert.match(op.operationId, /^reconcile-\d{4}-\d{2}-\d{2}T/);
        assert.equal(op.devicesTotal, 6);
        assert.equal(op.devicesSignalled, 6, 'every device read back, throttled ones included');
        assert.equal(op.devicesSkipped, 0);

        // The read-back: Graph JSON batches, the throttled sub-requests alone in a later batch.
        const batches = await control.requests({ service: 'graph', pathIncludes: '$batch' });
        assert.equal(batches.length, 2, JSON.stringify(batches.map((b) => b.status)));
        const subRequests = batches.map((b) => ((b.body as { requests: unknown[] }).requests ?? []).length);
        assert.deepEqual(subRequests, [6, 3]);
        const firstUrl = (batches[0]!.body as { requests: Array<{ url: string }> }).requests[0]!.url;
        assert.match(
          decodeURIComponent(firstUrl),
          /^\/devices\?\$filter=deviceId eq '[0-9a-f-]{36}'&\$select=deviceId,isCompliant,isManaged,complianceExpirationDateTime$/,
        );
        assert.ok(Date.parse(batches[1]!.at) - Date.parse(batches[0]!.at) >= 1_000, 'the re-sent sub-requests waited for Retry-After');

        const changed = [compliantLost, quarantinedMadeCompliant, expired];
        for (const d of changed) {
          const rows = await waitFor(`a settled drift row of ${d.deviceId}`, async () => {
            const r = await rowsOf(t, d.deviceId, 'drift');
            return r.length > 0 && r.every((x) => x.outcome !== 'In-progress') ? r : null;
          });
          assert.equal(rows.length, 1, d.deviceId);
          assert.equal(rows[0]!.outcome, 'Successful', d.deviceId);
          assert.notEqual(rows[0]!.messageId, null);
          await waitForRow(t, d.deviceId, (r) => r.complianceStatus === 'Successful', 'confirmed again');
        }
        const kindsOf = async (d: FleetDevice) => ((await rowsOf(t, d.deviceId, 'drift'))[0]!.drift as { kinds: string[] }).kinds;
        assert.deepEqual(await kindsOf(compliantLost), ['compliance']);
        assert.deepEqual(await kindsOf(quarantinedMadeCompliant), ['compliance']);
        assert.deepEqual(await kindsOf(expired), ['expired']);
        const lost = (await rowsOf(t, compliantLost.deviceId, 'drift'))[0]!;
        assert.deepEqual(lost.reported, { complianceStatus: 'compliant', managementState: 'managed' });
        assert.deepEqual((lost.drift as { differences: unknown }).differences, [
          { kind: 'compliance', property: 'isCompliant', expected: true, found: false },
        ]);
        // Entra holds the MDM's word again.
        assert.equal((await control.entraDevice(t.tenantId, compliantLost.azureDeviceId))?.isCompliant, true);
        assert.equal((await control.entraDevice(t.tenantId, quarantinedMadeCompliant.azureDeviceId))?.isCompliant, false);
        const renewed = (await control.entraDevice(t.tenantId, expired.azureDeviceId))?.complianceExpirationDateTime;
        assert.ok(renewed && Date.parse(renewed) > Date.now(), `expiry renewed: ${renewed}`);

        // The deleted device: a drift row saying so, marked Failed in plain words, nothing sent.
        const gone = await waitFor('the drift row of the deleted device', async () => {
          const r = await rowsOf(t, deleted.deviceId, 'drift');
          return r.length > 0 ? r : null;
        });
        assert.equal(gone.length, 1);
        assert.equal(gone[0]!.outcome, 'Failed');
        assert.equal(gone[0]!.messageId, null);
        assert.equal(gone[0]!.error?.code, 'DeletedInEntra');
        assert.deepEqual((gone[0]!.drift as { kinds: string[] }).kinds, ['deleted']);
        const goneRow = await waitForRow(t, deleted.deviceId, (r) => r.lastError?.code === 'DeletedInEntra', 'marked deleted');
        assert.equal(goneRow.complianceStatus, 'Failed');
        assert.equal(goneRow.lastError?.userCanMitigate, true);

        // Exactly those four: no drift row and no upload for the untouched ones, none for the deleted one.
        for (const d of untouched) assert.deepEqual(await rowsOf(t, d.deviceId, 'drift'), [], d.deviceId);
        const uploadsAfter = await uploadsByDevice(t);
        for (const d of [...untouched, deleted]) {
          assert.equal(uploadsAfter.get(d.azureDeviceId) ?? 0, uploadsBefore.get(d.azureDeviceId) ?? 0, `no upload for ${d.deviceId}`);
        }
        for (const d of changed) assert.equal(uploadsAfter.get(d.azureDeviceId), (uploadsBefore.get(d.azureDeviceId) ?? 0) + 1, d.deviceId);
        assert.deepEqual(await countDriftFound(env.db, t.tenantId, op.operationId), { driftFound: 4, deletedInEntra: 1 });

        // Operators find them in Temporal: resolved ones back to 'none', the deleted one 'deleted'.
        assert.equal(await azureDriftOf(t, deleted), 'deleted');
        for (const d of changed)
          assert.equal(
            await waitFor(`AzureDrift of ${d.deviceId}`, async () => ((await azureDriftOf(t, d)) === 'none' ? 'none' : null)),
            'none',
          );
        assert.equal(await azureDriftOf(t, untouched[0]!), 'none');

        // The next reconciliation finds nothing new: the deleted device is not re-sent forever.
        const second = await runReconciliation(t, 2);
        assert.equal(second.devicesSignalled, 6);
        // A query is answered once the workflow took the signals already in its history: each device has seen the read-back.
        for (const d of devices) {
          const state = await env.temporalClient.workflow.getHandle(deviceWorkflowId(t.tenantId, d.deviceId)).query(stateQuery);
          assert.equal(state.forced, null, d.deviceId);
          assert.equal(state.azureDrift, d === deleted ? 'deleted' : 'none', d.deviceId);
        }
        assert.deepEqual(await countDriftFound(env.db, t.tenantId, second.operationId), { driftFound: 0, deletedInEntra: 0 });
        for (const d of devices)
          assert.equal((await rowsOf(t, d.deviceId, 'drift')).length, d === untouched[0] || d === untouched[1] ? 0 : 1, d.deviceId);

        // The MDM's next event for the deleted device sends its state again (Entra still lacks it).
        await send(t, taskQueue, deleted.deviceId, {
          type: 'inventory',
          occurredAt: nextOccurredAt(),
          inventory: { deviceName: 'back', os: 'iOS', osVersion: '18.1' },
        });
        const resent = await waitFor('a report after the MDM spoke', async () => {
          const r = await rowsOf(t, deleted.deviceId, 'inventory');
          return r.length > 0 && r[0]!.outcome !== 'In-progress' ? r : null;
        });
        assert.notEqual(resent[0]!.messageId, null);
        assert.equal((await uploadsByDevice(t)).get(deleted.azureDeviceId), (uploadsBefore.get(deleted.azureDeviceId) ?? 0) + 1);
        assert.notEqual((await deviceRow(t, deleted.deviceId))?.lastError?.code, 'DeletedInEntra');

        if (recording)
          await recordHistories(
            this.test!.title,
            devices.map((d) => deviceWorkflowId(t.tenantId, d.deviceId)),
          );
      },
      { azure: t.azure },
    );
  });

  it('ends the operation and fails the run, naming Forbidden, when the app may not read devices in Entra', async () => {
    const env = testEnv();
    const t = await newTenant();
    // The same app, consented without any Device.* or Directory.* permission.
    await env.emulator.control.seed({
      tenants: [
        {
          tenantId: t.tenantId,
          apps: [
            {
              clientId: t.azure.clientId,
              clientSecret: t.azure.clientSecret,
              roles: ['User.Read.All', 'Application.Read.All', 'update_device_attributes'],
            },
          ],
        },
      ],
    });
    const devices = await seedDevices(t, 'noread', 2);
    await withWorker(
      async ({ taskQueue }) => {
        await register(t, taskQueue, devices);
        await upsertReconciliationSchedule(env.temporalClient, testConfig(taskQueue), t.tenantId, await getSettings(env.db, t.tenantId));
        scheduleIds.push(reconciliationScheduleId(t.tenantId));
        const op = await runReconciliation(t, 1);
        assert.equal(op.devicesSignalled, 0);
        const run = env.temporalClient.workflow.getHandle(fleetWorkflowId(t.tenantId, op.operationId));
        await assert.rejects(run.result(), (err: unknown) => {
          assert.ok(err instanceof WorkflowFailedError && err.cause instanceof ActivityFailure);
          assert.ok(err.cause.cause instanceof ApplicationFailure);
          assert.equal(err.cause.cause.type, 'Forbidden');
          return true;
        });
        for (const d of devices) assert.deepEqual(await rowsOf(t, d.deviceId, 'drift'), [], d.deviceId);
      },
      { azure: t.azure },
    );
  });

  it('creates the tenant reconciliation schedule daily at its spread time, and PUT /v1/settings pauses it and changes its cron', async () => {
    const env = testEnv();
    const t = await newTenant();
    const config = testConfig(uniqueName('reconcile'));
    scheduleIds.push(reconciliationScheduleId(t.tenantId));
    assert.equal(
      await upsertReconciliationSchedule(env.temporalClient, config, t.tenantId, await getSettings(env.db, t.tenantId)),
      'created',
    );
    const handle = env.temporalClient.schedule.getHandle(reconciliationScheduleId(t.tenantId));
    const created = await handle.describe();
    assert.equal(created.state.paused, false);
    assert.equal(created.policies.overlap, ScheduleOverlapPolicy.SKIP);
    assert.equal(created.action.type, 'startWorkflow');
    assert.equal(created.action.type === 'startWorkflow' ? created.action.workflowId : null, fleetWorkflowId(t.tenantId, 'reconcile'));
    const api = makeApi({
      tenantId: t.tenantId,
      temporalClient: env.temporalClient,
      schedules: createScheduleControl(env.temporalClient, config, t.tenantId),
    });
    const view = (await (await call(api.app, 'GET', '/v1/settings', { key: 'admin' })).json()) as {
      reconciliation: { effectiveCron: string };
    };
    const [minute, hour] = view.reconciliation.effectiveCron.split(' ').map(Number);
    const cal = created.spec.calendars?.[0];
    assert.deepEqual([cal?.minute?.[0]?.start, cal?.hour?.[0]?.start], [minute, hour]);

    const res = await call(api.app, 'PUT', '/v1/settings', {
      key: 'admin',
      body: { reconciliation: { paused: true, cron: '45 4 * * 1' } },
    });
    assert.equal(res.status, 200);
    const paused = await handle.describe();
    assert.equal(paused.state.paused, true);
    assert.deepEqual([paused.spec.calendars?.[0]?.minute?.[0]?.start, paused.spec.calendars?.[0]?.hour?.[0]?.start], [45, 4]);
    // A worker start keeps what the settings say.
    assert.equal(
      await upsertReconciliationSchedule(env.temporalClient, config, t.tenantId, await getSettings(env.db, t.tenantId)),
      'updated',
    );
    assert.equal((await handle.describe()).state.paused, true);

    const bad = await call(api.app, 'PUT', '/v1/settings', {
      key: 'admin',
      body: { reconciliation: { paused: false, cron: '0 25 * * *' } },
    });
    assert.equal(bad.status, 400);
    assert.equal((await handle.describe()).state.paused, true, 'a refused change changes nothing');
  });
});

/**
 * The API against the real Temporal dev server and real Postgres: the workflow an event starts, 409
 * from Temporal's own refusal once a device workflow completed (retired), a registration starting a new
 * lifecycle, the real sync Update, and 503 + Retry-After while Temporal or Postgres is down, recovering
 * by itself when it is back (a TCP proxy plays the outage).
 */
import { strict as assert } from 'node:assert';
import { Client, Connection } from '@temporalio/client';
import { TEMPORAL_CHANNEL_ARGS } from '../../api/app';
import { loadConfig } from '../../config';
import { createDb } from '../../db';
import { createFleetClient } from '../../workers/fleet-client';
import { fleetWorkflowId } from '../../workflows/fleet-messages';
import { DEVICE_WORKFLOW_TYPE, deviceWorkflowId } from '../../workflows/messages';
import { seedDevice as seedEntraDevice, waitFor, waitForDevice, withWorker, type SeededDevice } from '../support/device-harness';
import { testEnv, uniqueName } from '../support/env';
import { freePort } from '../../lib/ports';
import { TcpProxy } from '../support/tcp-proxy';
import { PROBLEM, call, makeApi, problemOf, seedDevice, validEvents, type TestApi } from './helpers';

let clock = Date.now() - 60 * 60 * 1000;
const at = () => new Date((clock += 1000)).toISOString();

const registrationOf = (d: SeededDevice) => ({
  type: 'registration',
  occurredAt: at(),
  platform: 'iOS',
  azureDeviceId: d.azureDeviceId,
  clientStatusCode: 'Success',
  userPrincipalName: d.userPrincipalName,
});

const postEvent = (api: TestApi, deviceId: string, body: unknown) =>
  call(api.app, 'POST', `/v1/devices/${deviceId}/events`, { key: 'mdm', body });

describe('API with real Temporal and Postgres', function () {
  this.timeout(120_000);

  it('an event starts the device workflow on the task queue, with its input and search attributes', async () => {
    const env = testEnv();
    const api = makeApi({ temporalClient: env.temporalClient, taskQueue: uniqueName('api-tq') });
    const res = await postEvent(api, 'mdm-real-1', validEvents.compliance());
    assert.equal(res.status, 202);
    const handle = env.temporalClient.workflow.getHandle(deviceWorkflowId(api.tenantId, 'mdm-real-1'));
    try {
      const d = await handle.describe();
      assert.equal(d.type, DEVICE_WORKFLOW_TYPE);
      assert.equal(d.taskQueue, api.deps.config.temporal.taskQueue);
      assert.equal(d.status.name, 'RUNNING');
      assert.deepEqual(d.searchAttributes.TenantId, [api.tenantId]);
      assert.deepEqual(d.searchAttributes.DeviceId, ['mdm-real-1']);
      // A second event signals the same run.
      assert.equal((await postEvent(api, 'mdm-real-1', validEvents.inventory())).status, 202);
      assert.equal((await handle.describe()).runId, d.runId);
    } finally {
      await handle.terminate('test cleanup');
    }
  });

  it('after a retire completes the workflow, Temporal itself refuses other events (409) and a registration starts a new lifecycle', async () => {
    const env = testEnv();
    const device = await seedEntraDevice();
    await withWorker(async ({ taskQueue }) => {
      const api = makeApi({ temporalClient: env.temporalClient, taskQueue, tenantId: env.tenantId });
      const handle = env.temporalClient.workflow.getHandle(deviceWorkflowId(env.tenantId, device.deviceId));
      assert.equal((await postEvent(api, device.deviceId, registrationOf(device))).status, 202);
      await waitForDevice(device.deviceId, (r) => r.complianceStatus === 'Successful', 'the first report', 60_000);

      // The real sync Update of a live device.
      const sync = await call(api.app, 'POST', `/v1/devices/${device.deviceId}/sync`, { key: 'admin' });
      assert.equal(sync.status, 202);
      assert.deepEqual(await sync.json(), { deviceId: device.deviceId, accepted: true });
      await waitFor(
        'a manual report in the timeline',
        async () => {
          const res = await call(api.app, 'GET', `/v1/devices/${device.deviceId}/reports`, { key: 'admin' });
          const { items } = (await res.json()) as { items: Array<{ trigger: string }> };
          return items.some((i) => i.trigger === 'manual');
        },
        60_000,
      );

      assert.equal((await postEvent(api, device.deviceId, { type: 'retire', occurredAt: at() })).status, 202);
      await handle.result();
      await waitForDevice(device.deviceId, (r) => r.retiredAt !== null, 'the retired row');
      const retiredRun = await handle.describe();
      assert.equal(retiredRun.status.name, 'COMPLETED');

      // Temporal refuses a new run for anything but a registration: 409.
      const fromRow = await postEvent(api, device.deviceId, { type: 'compliance', occurredAt: at(), actions: [] });
      assert.equal(fromRow.status, 409);
      assert.ok((await problemOf(fromRow)).type.endsWith('/device-retired'));

      // A read model lagging behind: Temporal's reuse policy refuses the start, still 409, no new run.
      await env.db('devices').where({ tenant_id: env.tenantId, device_id: device.deviceId }).update({ retired_at: null });
      const fromTemporal = await postEvent(api, device.deviceId, { type: 'compliance', occurredAt: at(), actions: ['QUARANTINE'] });
      assert.equal(fromTemporal.status, 409);
      assert.equal((await problemOf(fromTemporal)).type, PROBLEM('device-retired'));
      assert.equal((await handle.describe()).runId, retiredRun.runId);
      // The same through the batch route.
      const batch = await call(api.app, 'POST', '/v1/events', {
        key: 'mdm',
        body: {
          events: [
            { deviceId: device.deviceId, type: 'inventory', occurredAt: at(), inventory: { deviceName: 'x', os: 'iOS', osVersion: '17' } },
          ],
        },
      });
      assert.equal(batch.status, 202);
      const { results } = (await batch.json()) as { results: Array<{ status: string; error: { type: string } }> };
      assert.equal(results[0]!.status, 'rejected');
      assert.equal(results[0]!.error.type, PROBLEM('device-retired'));

      // A registration is a new lifecycle: a new run.
      assert.equal((await postEvent(api, device.deviceId, registrationOf(device))).status, 202);
      const next = await handle.describe();
      assert.notEqual(next.runId, retiredRun.runId);
      assert.equal(next.status.name, 'RUNNING');
      await handle.terminate('test cleanup');
    });
  });

  it('POST /v1/sync starts a real fleet operation that GET /v1/operations/{operationId} then shows', async () => {
    const env = testEnv();
    const taskQueue = uniqueName('api-fleet-tq');
    const tenantId = uniqueName('tenant');
    const fleet = createFleetClient(env.temporalClient, loadConfig({ TEMPORAL_TASK_QUEUE: taskQueue }), tenantId, { db: env.db });
    const api = makeApi({ temporalClient: env.temporalClient, taskQueue, tenantId, fleet });
    const res = await call(api.app, 'POST', '/v1/sync', { key: 'admin', body: { complianceStatus: 'Failed' } });
    assert.equal(res.status, 202);
    const { operationId } = (await res.json()) as { operationId: string };
    try {
      const op = await call(api.app, 'GET', `/v1/operations/${operationId}`, { key: 'admin' });
      assert.equal(op.status, 200);
      const body = (await op.json()) as Record<string, unknown>;
      assert.equal(body.operationId, operationId);
      assert.equal(body.kind, 'sync');
      assert.match(String(body.startedAt), /^\d{4}-\d\d-\d\dT/);
      assert.equal(body.finishedAt, null, 'no worker runs the sweep in this test');
      assert.equal(body.devicesSignalled, 0);
    } finally {
      await env.temporalClient.workflow.getHandle(fleetWorkflowId(tenantId, operationId)).terminate('test cleanup');
    }
  });

  it('answers 503 with Retry-After within a few seconds while Temporal is down, and recovers by itself', async function () {
    this.timeout(60_000);
    const env = testEnv();
    const [host, port] = env.temporalAddress.split(':') as [string, string];
    const proxy = new TcpProxy(await freePort(), { host, port: Number(port) });
    const connection = Connection.lazy({ address: `127.0.0.1:${proxy.port}`, channelArgs: TEMPORAL_CHANNEL_ARGS });
    const client = new Client({ connection, namespace: env.namespace });
    const api = makeApi({ temporalClient: client, taskQueue: uniqueName('api-tq') });
    try {
      const res = await postEvent(api, 'mdm-outage', validEvents.compliance());
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '5');
      const p = await problemOf(res);
      assert.equal(p.type, PROBLEM('service-unavailable'));
      assert.match(p.detail, /Temporal/);

      const batch = await call(api.app, 'POST', '/v1/events', {
        key: 'mdm',
        body: {
          events: [
            { deviceId: 'a', ...validEvents.retire() },
            { deviceId: 'b', ...validEvents.retire() },
          ],
        },
      });
      assert.equal(batch.status, 503);
      assert.equal(batch.headers.get('retry-after'), '5');

      await seedDevice(api.db, api.tenantId, 'mdm-outage');
      const sync = await call(api.app, 'POST', '/v1/devices/mdm-outage/sync', { key: 'admin' });
      assert.equal(sync.status, 503);

      const ready = await call(api.app, 'GET', '/readyz');
      assert.equal(ready.status, 503);
      assert.deepEqual(await ready.json(), { status: 'unavailable', checks: { postgres: 'ok', temporal: 'failed' } });

      // Admin reads do not need Temporal.
      assert.equal((await call(api.app, 'GET', '/v1/devices/mdm-outage', { key: 'admin' })).status, 200);

      await proxy.up();
      const accepted = await waitFor(
        'the event route to recover',
        async () => {
          const r = await postEvent(api, 'mdm-outage', validEvents.compliance());
          return r.status === 202 ? r : null;
        },
        30_000,
      );
      assert.equal(accepted.status, 202);
      assert.equal((await call(api.app, 'GET', '/readyz')).status, 200);
      await env.temporalClient.workflow.getHandle(deviceWorkflowId(api.tenantId, 'mdm-outage')).terminate('test cleanup');
    } finally {
      await proxy.down();
      // Calls that timed out during the outage may still have a gRPC retry timer pending; closing the
      // channel under it throws "Channel has been shut down" from that timer. Close it once they are done.
      setTimeout(() => void connection.close().catch(() => undefined), 10_000).unref();
    }
  });

  it('answers 503 with Retry-After on admin routes while Postgres is down, still accepts events (Temporal alone takes them), and recovers by itself', async function () {
    this.timeout(60_000);
    const env = testEnv();
    const url = new URL(env.databaseUrl);
    const proxy = new TcpProxy(await freePort(), { host: url.hostname, port: Number(url.port || 5432) });
    const proxied = new URL(env.databaseUrl);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(proxy.port);
    const db = createDb(proxied.toString(), { max: 4 });
    const api = makeApi({ db });
    try {
      // An event needs only Temporal: the device workflow, not the read model, decides about it.
      assert.equal((await postEvent(api, 'mdm-pg', validEvents.compliance())).status, 202);
      assert.equal(api.temporal.signals.length, 1);
      for (const [method, path, key, body] of [
        ['GET', '/v1/devices/mdm-pg', 'admin', undefined],
        ['GET', '/v1/devices', 'admin', undefined],
        ['GET', '/v1/settings', 'admin', undefined],
        ['PUT', '/v1/settings', 'admin', { enabled: false }],
      ] as const) {
        const res = await call(api.app, method, path, { key, body });
        assert.equal(res.status, 503, `${method} ${path}`);
        assert.equal(res.headers.get('retry-after'), '5');
        assert.match((await problemOf(res)).detail, /Postgres/);
      }
      assert.equal(api.fleetCalls.length + api.scheduleCalls.length, 0);

      await proxy.up();
      await waitFor(
        'the admin route to recover',
        async () => (await call(api.app, 'GET', '/v1/settings', { key: 'admin' })).status === 200,
        30_000,
      );
      assert.equal((await postEvent(api, 'mdm-pg', validEvents.compliance())).status, 202);

      // A second outage with pooled connections cut mid-way, and a second recovery.
      await proxy.down();
      const during = await call(api.app, 'GET', '/v1/settings', { key: 'admin' });
      assert.equal(during.status, 503);
      await proxy.up();
      await waitFor(
        'the second recovery',
        async () => (await call(api.app, 'GET', '/v1/settings', { key: 'admin' })).status === 200,
        30_000,
      );
    } finally {
      await proxy.down();
      await db.destroy();
    }
  });
});

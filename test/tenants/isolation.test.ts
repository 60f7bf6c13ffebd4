// Tenant isolation at the API (real Postgres; Temporal recorded where only the ids matter, real where
// the worker reports to the emulator): a key reaches its own tenant's devices, reports, operations and
// settings only, another tenant's answer 404 by key, by path and by X-Tenant-Id; events and fleet
// operations carry the key's tenant; a tenant key seen before keeps working while Postgres is down.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createDb } from '../../db';
import { createOperation, getSettings, upsertReportAttempt } from '../../db/data';
import { setTenantState } from '../../db/tenants';
import { deviceWorkflowId } from '../../workflows/messages';
import { TenantIdKey } from '../../workflows/search-attributes';
import { ADMIN_KEY, PROBLEM, call, problemOf, seedDevice, validEvents, type FleetCall } from '../api/helpers';
import { nextOccurredAt, seedDevice as seedEntraDevice, touchedWorkflowIds, waitFor, withWorker } from '../support/device-harness';
import { testEnv } from '../support/env';
import { freePort } from '../../lib/ports';
import { TcpProxy } from '../support/tcp-proxy';
import { OPERATOR_KEY, bearer, makeTenancyApi, registerTenant, type RegisteredTenant, type TenancyApi } from './helpers';

interface Fixture {
  api: TenancyApi;
  a: RegisteredTenant;
  b: RegisteredTenant;
  fleet: Array<FleetCall & { tenantId: string }>;
  bOperationId: string;
}

/** Tenants A and B, both with a device `shared` (the same MDM id); B also has `b-only`, a report and an operation. */
async function twoTenants(): Promise<Fixture> {
  const fleet: Fixture['fleet'] = [];
  const api = makeTenancyApi({
    fleet: {
      start: async (kind, filter, tenantId) => {
        fleet.push({ kind, filter, tenantId });
        return { operationId: `op-${randomUUID()}` };
      },
    },
  });
  const { db } = api;
  const a = await registerTenant(api, 'Tenant A');
  const b = await registerTenant(api, 'Tenant B');
  for (const t of [a, b]) await setTenantState(db, t.tenantId, 'active');
  await seedDevice(db, a.tenantId, 'shared', { platform: 'iOS' });
  await seedDevice(db, b.tenantId, 'shared', { platform: 'Android' });
  await seedDevice(db, b.tenantId, 'b-only', { platform: 'Android' });
  await upsertReportAttempt(db, {
    tenantId: b.tenantId,
    deviceId: 'b-only',
    attemptKey: randomUUID(),
    at: '2026-11-28T10:00:00.000Z',
    trigger: 'compliance',
    reported: { complianceStatus: 'compliant', managementState: 'managed' },
    outcome: 'Successful',
    messageId: 'm-1',
    error: null,
    completedAt: '2026-11-28T10:00:01.000Z',
  });
  const bOperationId = `sync-${randomUUID()}`;
  await createOperation(db, {
    operationId: bOperationId,
    tenantId: b.tenantId,
    kind: 'sync',
    filter: null,
    startedAt: new Date().toISOString(),
  });
  return { api, a, b, fleet, bOperationId };
}

const deviceIds = async (res: Response) => ((await res.json()) as { items: Array<{ deviceId: string }> }).items.map((d) => d.deviceId);

describe('tenants: isolation', function () {
  this.timeout(60_000);

  it("A's admin key gets 404 for B's devices, reports, operations, and never B's row of a shared device id", async () => {
    const { api, a, bOperationId } = await twoTenants();
    const aAdmin = bearer(a.adminKey);
    for (const [method, path] of [
      ['GET', '/v1/devices/b-only'],
      ['GET', '/v1/devices/b-only/reports'],
      ['POST', '/v1/devices/b-only/sync'],
      ['GET', `/v1/operations/${bOperationId}`],
    ] as const) {
      const res = await call(api.app, method, path, { key: aAdmin });
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.equal((await problemOf(res)).type, PROBLEM('not-found'));
    }
    assert.deepEqual(api.temporal.updates, [], 'no sync reached any workflow');
    const shared = await call(api.app, 'GET', '/v1/devices/shared', { key: aAdmin });
    assert.equal(((await shared.json()) as { platform: string }).platform, 'iOS');
    assert.deepEqual(await deviceIds(await call(api.app, 'GET', '/v1/devices', { key: aAdmin })), ['shared']);
    assert.deepEqual(await deviceIds(await call(api.app, 'GET', '/v1/devices?complianceStatus=Successful', { key: aAdmin })), ['shared']);
    // The configured tenant's keys reach neither.
    assert.equal((await call(api.app, 'GET', '/v1/devices/b-only', { key: 'admin' })).status, 404);
    assert.deepEqual(await deviceIds(await call(api.app, 'GET', '/v1/devices', { key: 'admin' })), []);
  });

  it('naming another tenant with X-Tenant-Id gets a 404 with a tenant key; the operator reaches the tenant it names', async () => {
    const { api, a, b } = await twoTenants();
    const asB = { 'X-Tenant-Id': b.tenantId };
    for (const key of [bearer(a.adminKey), bearer(ADMIN_KEY)]) {
      for (const path of ['/v1/devices', '/v1/devices/b-only', '/v1/settings']) {
        assert.equal((await call(api.app, 'GET', path, { key, headers: asB })).status, 404, path);
      }
    }
    assert.equal(
      (await call(api.app, 'POST', '/v1/devices/shared/events', { key: bearer(a.mdmKey), headers: asB, body: validEvents.retire() }))
        .status,
      404,
    );
    assert.equal(api.temporal.signals.length, 0);
    // Its own tenant named explicitly is fine.
    assert.equal(
      (await call(api.app, 'GET', '/v1/devices', { key: bearer(a.adminKey), headers: { 'X-Tenant-Id': a.tenantId } })).status,
      200,
    );

    const operator = bearer(OPERATOR_KEY);
    assert.deepEqual(await deviceIds(await call(api.app, 'GET', '/v1/devices', { key: operator, headers: asB })), ['b-only', 'shared']);
    assert.equal((await call(api.app, 'GET', '/v1/devices', { key: operator, headers: { 'X-Tenant-Id': randomUUID() } })).status, 404);
    const bad = await call(api.app, 'GET', '/v1/devices', { key: operator, headers: { 'X-Tenant-Id': 'not a tenant!' } });
    assert.equal(bad.status, 400);
    assert.deepEqual(
      (await problemOf(bad)).errors.map((e) => e.path),
      ['X-Tenant-Id'],
    );
    // Events are the tenant's MDM's: the operator key may not send them.
    assert.equal(
      (await call(api.app, 'POST', '/v1/devices/x/events', { key: operator, headers: asB, body: validEvents.retire() })).status,
      403,
    );
  });

  it("settings and fleet operations change the key's own tenant only", async () => {
    const { api, a, b, fleet } = await twoTenants();
    const put = await call(api.app, 'PUT', '/v1/settings', {
      key: bearer(a.adminKey),
      body: { enabled: false, weeklyReport: { paused: true } },
    });
    assert.equal(put.status, 200);
    assert.equal((await getSettings(api.db, a.tenantId)).enabled, false);
    assert.deepEqual(await getSettings(api.db, b.tenantId).then((s) => [s.enabled, s.weeklyReportPaused]), [true, false]);
    assert.deepEqual(api.pauses, [{ paused: true, tenantId: a.tenantId }]);

    assert.equal((await call(api.app, 'PUT', '/v1/settings', { key: bearer(a.adminKey), body: { enabled: true } })).status, 200);
    assert.equal((await call(api.app, 'POST', '/v1/sync', { key: bearer(b.adminKey), body: { complianceStatus: 'Failed' } })).status, 202);
    assert.deepEqual(fleet, [
      { kind: 'enable', filter: null, tenantId: a.tenantId },
      { kind: 'sync', filter: { complianceStatus: 'Failed' }, tenantId: b.tenantId },
    ]);
    const audit = await api.db('audit_log').whereIn('tenant_id', [a.tenantId, b.tenantId]).select('tenant_id', 'action');
    assert.deepEqual(audit.map((r: { tenant_id: string; action: string }) => [r.tenant_id === a.tenantId ? 'A' : 'B', r.action]).sort(), [
      ['A', 'settings.update'],
      ['A', 'settings.update'],
      ['B', 'fleet.sync'],
    ]);
  });

  it("events go to the key's tenant's device workflows only, single and batched, and are counted by tenant", async () => {
    const { api, a, b } = await twoTenants();
    assert.equal(
      (await call(api.app, 'POST', '/v1/devices/shared/events', { key: bearer(b.mdmKey), body: validEvents.compliance() })).status,
      202,
    );
    const batch = await call(api.app, 'POST', '/v1/events', {
      key: bearer(a.mdmKey),
      body: {
        events: [
          { deviceId: 'shared', ...validEvents.inventory() },
          { deviceId: 'a-new', ...validEvents.retire() },
        ],
      },
    });
    assert.equal(batch.status, 202);
    const sent = api.temporal.signals.map((s) => [
      s.options.workflowId,
      s.options.typedSearchAttributes.find((x) => x.key.name === TenantIdKey.name)?.value,
    ]);
    assert.deepEqual(
      sent.sort(),
      [
        [deviceWorkflowId(a.tenantId, 'a-new'), a.tenantId],
        [deviceWorkflowId(a.tenantId, 'shared'), a.tenantId],
        [deviceWorkflowId(b.tenantId, 'shared'), b.tenantId],
      ].sort(),
    );
    const metrics = await (await call(api.app, 'GET', '/metrics')).text();
    assert.match(metrics, new RegExp(`mdm_events_total\\{tenant="${a.tenantId}",type="inventory",result="accepted"\\} 1`));
    assert.match(metrics, new RegExp(`mdm_events_total\\{tenant="${a.tenantId}",type="retire",result="accepted"\\} 1`));
    assert.match(metrics, new RegExp(`mdm_events_total\\{tenant="${b.tenantId}",type="compliance",result="accepted"\\} 1`));
  });

  it('a tenant key seen before keeps sending events while Postgres is down; an unseen one gets 503', async () => {
    const env = testEnv();
    const url = new URL(env.databaseUrl);
    const proxy = new TcpProxy(await freePort(), { host: url.hostname, port: Number(url.port || 5432) });
    await proxy.up();
    const proxied = new URL(env.databaseUrl);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(proxy.port);
    const db = createDb(proxied.toString(), { max: 2 });
    const api = makeTenancyApi({ db, timeouts: { dbMs: 1_000 } });
    try {
      const seen = await registerTenant(api, 'Seen');
      const unseen = await registerTenant(api, 'Unseen');
      const post = (key: string) => call(api.app, 'POST', '/v1/devices/d-1/events', { key: bearer(key), body: validEvents.compliance() });
      assert.equal((await post(seen.mdmKey)).status, 202);

      await proxy.down();
      assert.equal((await post(seen.mdmKey)).status, 202, 'known key, Postgres down');
      const unknown = await post(unseen.mdmKey);
      assert.equal(unknown.status, 503);
      assert.equal(unknown.headers.get('retry-after'), '5');
      assert.equal(api.temporal.signals.length, 2);
    } finally {
      await proxy.down();
      await db.destroy();
    }
  });

  it("with a real worker, A's report reaches A's tenant at Microsoft holding A's word, not B's for the same device id", async function () {
    this.timeout(120_000);
    const env = testEnv();
    await withWorker(async ({ taskQueue }) => {
      // Tenant A is the configured tenant (the worker holds its credentials); B is registered.
      const api = makeTenancyApi({ temporalClient: env.temporalClient, taskQueue, tenantId: env.tenantId });
      const b = await registerTenant(api, 'Tenant B');
      await setTenantState(api.db, b.tenantId, 'active');
      const device = await seedEntraDevice();
      const registration = {
        type: 'registration',
        platform: 'iOS',
        azureDeviceId: device.azureDeviceId,
        clientStatusCode: 'Success',
        userPrincipalName: device.userPrincipalName,
      };
      for (const wf of [deviceWorkflowId(env.tenantId, device.deviceId), deviceWorkflowId(b.tenantId, device.deviceId)])
        touchedWorkflowIds.add(wf);
      const send = (key: string, body: object) =>
        call(api.app, 'POST', `/v1/devices/${device.deviceId}/events`, { key, body: { ...body, occurredAt: nextOccurredAt() } });

      // B's word first: the same device id, quarantined.
      assert.equal((await send(bearer(b.mdmKey), registration)).status, 202);
      assert.equal((await send(bearer(b.mdmKey), { type: 'compliance', actions: ['QUARANTINE'] })).status, 202);
      const bRun = await env.temporalClient.workflow.getHandle(deviceWorkflowId(b.tenantId, device.deviceId)).describe();
      assert.deepEqual(bRun.typedSearchAttributes.get(TenantIdKey), b.tenantId);

      assert.equal((await send('mdm', registration)).status, 202);
      const aRow = await waitFor(
        "A's device reported",
        async () => {
          const res = await call(api.app, 'GET', `/v1/devices/${device.deviceId}`, { key: 'admin' });
          const d = (await res.json()) as { azureDeviceComplianceStatus: string | null; policyAction: string | null };
          return d.azureDeviceComplianceStatus === 'Successful' ? d : null;
        },
        60_000,
      );
      assert.equal(aRow.policyAction, null, "A's row never took B's QUARANTINE");
      // A's tenant at Microsoft holds A's word only: compliant, although B's device of that id is quarantined.
      const atMicrosoft = await env.emulator.control.entraDevice(env.tenantId, device.azureDeviceId);
      assert.equal(atMicrosoft?.isCompliant, true);
      const reported = JSON.stringify(atMicrosoft?.messages.map((m) => m.entities));
      assert.match(reported, /"complianceStatus":"compliant"/);
      assert.doesNotMatch(reported, /notCompliant/, 'no message of B reached A');
      await env.temporalClient.workflow.getHandle(deviceWorkflowId(b.tenantId, device.deviceId)).terminate('test cleanup');
    });
  });
});

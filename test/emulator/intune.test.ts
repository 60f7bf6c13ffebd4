// The Intune partner API: upload message lifecycle, failure reasons, LastUpdateTime ordering,
// message id reuse, the tenant heartbeat with ResyncTimestamp, and autoRegister.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  accessToken,
  call,
  GRAPH_SCOPE,
  INTUNE_SCOPE,
  makeCca,
  makeGraph,
  messageUrl,
  newTenant,
  provision,
  reportEntities,
  seedTenant,
  tenantService,
  uploadBody,
  useEmulatorWithTenant,
} from './helpers';

interface Status {
  Status: string;
  ErrorDetail: string | null;
  CompletedDateTime?: string;
}

describe('azure emulator: Intune partner API', () => {
  const env = useEmulatorWithTenant();
  let token: string;
  let deviceId: string;
  let userId: string;

  beforeEach(async () => {
    deviceId = randomUUID();
    userId = randomUUID();
    await env.emu.control.seed({
      tenants: [
        {
          tenantId: env.t.tenantId,
          users: [{ id: userId, userPrincipalName: 'bob@contoso.example' }],
          devices: [{ deviceId, operatingSystem: 'iOS' }],
        },
      ],
    });
    token = await accessToken(makeCca(env.emu, env.t), INTUNE_SCOPE);
    assert.equal((await provision(env.emu, env.t, token)).status, 200);
  });

  async function upload(entities: unknown[], messageId = randomUUID()): Promise<string> {
    const res = await call(messageUrl(env.emu, messageId), { method: 'PUT', token, body: uploadBody(env.t.tenantId, entities) });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return messageId;
  }

  async function poll(messageId: string): Promise<Status> {
    const res = await call(messageUrl(env.emu, messageId), { token });
    assert.equal(res.status, 200);
    return res.body as Status;
  }

  /** Polls until terminal; with the default pollsBeforeTerminal = 1 that is the second poll. */
  async function settle(messageId: string): Promise<Status> {
    for (;;) {
      const s = await poll(messageId);
      if (s.Status === 'Completed' || s.Status === 'Failed') return s;
    }
  }

  const report = (over: Partial<Parameters<typeof reportEntities>[0]> = {}): Record<string, unknown>[] =>
    reportEntities({ tenantId: env.t.tenantId, deviceId, userId, lastUpdateTime: '2026-03-01T10:00:00.000Z', ...over });

  describe('upload messages', () => {
    it('goes Pending, Processing, then Completed with CompletedDateTime, and applies the state to the Entra device', async () => {
      await env.emu.control.setClock(-86_400);
      token = await accessToken(makeCca(env.emu, env.t), INTUNE_SCOPE); // the old one is not yet valid on the shifted clock
      const messageId = await upload(report({ managed: true, compliant: false, lastCheckInTime: '2026-03-01T09:59:00.000Z' }));
      assert.deepEqual(await poll(messageId), { Status: 'Processing', ErrorDetail: null });
      const done = await poll(messageId);
      assert.equal(done.Status, 'Completed');
      assert.equal(done.ErrorDetail, null);
      // CompletedDateTime is on the emulator clock: a day behind real time here.
      const lag = Date.now() - Date.parse(done.CompletedDateTime!);
      assert.ok(lag > 86_000_000 && lag < 86_800_000, `CompletedDateTime ${done.CompletedDateTime} is not on the emulator clock`);
      assert.deepEqual(await poll(messageId), done, 'a terminal status is stable');

      const view = await env.emu.control.entraDevice(env.t.tenantId, deviceId);
      assert.ok(view);
      assert.equal(view.isManaged, true);
      assert.equal(view.isCompliant, false);
      assert.equal(view.lastCheckInTime, '2026-03-01T09:59:00.000Z');
      assert.equal(view.operatingSystem, 'iOS');
      assert.deepEqual(view.inventory, report({ managed: true, compliant: false, lastCheckInTime: '2026-03-01T09:59:00.000Z' })[0]);
      assert.equal(view.messages.length, 1);
      assert.equal(view.messages[0]!.messageId, messageId);
      assert.equal(view.messages[0]!.status, 'Completed');
      assert.equal(view.messages[0]!.completedAt, done.CompletedDateTime);
      assert.equal(view.messages[0]!.lastUpdateTime, '2026-03-01T10:00:00.000Z');
      assert.equal(view.messages[0]!.entities.length, 2);
    });

    it('holds the non-terminal status for pollsBeforeTerminal polls', async () => {
      await env.emu.control.setOptions({ pollsBeforeTerminal: 0 });
      assert.equal((await poll(await upload(report()))).Status, 'Completed');
      await env.emu.control.setOptions({ pollsBeforeTerminal: 3 });
      const id = await upload(report({ lastUpdateTime: '2026-03-02T10:00:00.000Z' }));
      const seen = [await poll(id), await poll(id), await poll(id), await poll(id)].map((s) => s.Status);
      assert.deepEqual(seen, ['Processing', 'Processing', 'Processing', 'Completed']);
    });

    it('fails a message naming the device Entra does not know, and leaves Entra unchanged', async () => {
      const unknown = randomUUID();
      const s = await settle(await upload(report({ deviceId: unknown })));
      assert.equal(s.Status, 'Failed');
      assert.equal(s.ErrorDetail, `Device '${unknown}' was not found in tenant '${env.t.tenantId}'.`);
      assert.match(s.CompletedDateTime ?? '', /Z$/);
      assert.equal(await env.emu.control.entraDevice(env.t.tenantId, unknown), null);
      const messages = await env.emu.control.messages(env.t.tenantId);
      assert.deepEqual(
        messages.map((m) => [m.deviceId, m.status, m.errorDetail]),
        [[unknown, 'Failed', s.ErrorDetail]],
      );
    });

    it('fails a message naming an unknown user', async () => {
      const stranger = randomUUID();
      const s = await settle(await upload(report({ userId: stranger })));
      assert.deepEqual([s.Status, s.ErrorDetail], ['Failed', `User '${stranger}' was not found in tenant '${env.t.tenantId}'.`]);
    });

    it('fails invalid entities with the entity, the field and the value', async () => {
      const badEnum = report();
      badEnum[1]!.complianceStatus = 'mostlyCompliant';
      const badType = report();
      badType[0]!.EntityType = 7;
      const missing = report();
      delete missing[0]!.LastCheckInTime;
      const failures = [];
      for (const entities of [badEnum, badType, missing]) failures.push((await settle(await upload(entities))).ErrorDetail);
      assert.deepEqual(failures, [
        `Entity 1 (EntityType 4, DeviceId '${deviceId}'): invalid value "mostlyCompliant" for 'complianceStatus' (expected 'compliant' or 'notCompliant').`,
        `Entity 0 (EntityType 7, DeviceId '${deviceId}'): unsupported EntityType 7 (expected 1 or 4).`,
        `Entity 0 (EntityType 1, DeviceId '${deviceId}'): required field 'LastCheckInTime' is missing or not an ISO-8601 date-time.`,
      ]);
      const view = await env.emu.control.entraDevice(env.t.tenantId, deviceId);
      assert.deepEqual([view?.isCompliant, view?.isManaged], [null, null]);
    });

    it('fails every message of a tenant that is not (or no longer) provisioned', async () => {
      assert.equal((await provision(env.emu, env.t, token, 2)).status, 200);
      const s = await settle(await upload(report()));
      assert.deepEqual(
        [s.Status, s.ErrorDetail],
        ['Failed', `Tenant '${env.t.tenantId}' is not provisioned for partner compliance (PartnerTenants Provisioned is 2, expected 1).`],
      );
      assert.equal((await env.emu.control.tenant(env.t.tenantId)).provisioned, 2);
    });

    it('rejects a malformed envelope or Content with 400', async () => {
      const put = (body: unknown): Promise<number> =>
        call(messageUrl(env.emu, randomUUID()), { method: 'PUT', token, body }).then((r) => r.status);
      assert.equal(await put({ TenantId: env.t.tenantId, UploadTime: new Date().toISOString(), Content: report() }), 400);
      assert.equal(await put({ TenantId: env.t.tenantId, UploadTime: new Date().toISOString(), Content: '[{"EntityType":' }), 400);
      assert.equal(await put({ TenantId: env.t.tenantId, UploadTime: new Date().toISOString(), Content: '[]' }), 400);
      assert.equal(await put({ TenantId: env.t.tenantId, Content: JSON.stringify(report()) }), 400);
      assert.equal(await put('not json'), 400);
      assert.deepEqual(await env.emu.control.messages(env.t.tenantId), []);
    });

    it('never lets an older LastUpdateTime overwrite a newer state, though the older message still completes', async () => {
      const newer = await settle(await upload(report({ compliant: true, managed: true, lastUpdateTime: '2026-03-01T12:00:00.000Z' })));
      const older = await settle(await upload(report({ compliant: false, managed: false, lastUpdateTime: '2026-03-01T11:00:00.000Z' })));
      assert.deepEqual([newer.Status, older.Status], ['Completed', 'Completed']);
      let view = await env.emu.control.entraDevice(env.t.tenantId, deviceId);
      assert.deepEqual([view?.isCompliant, view?.isManaged, view?.inventory?.LastUpdateTime], [true, true, '2026-03-01T12:00:00.000Z']);
      await settle(await upload(report({ compliant: false, managed: false, lastUpdateTime: '2026-03-01T13:00:00.000Z' })));
      view = await env.emu.control.entraDevice(env.t.tenantId, deviceId);
      assert.deepEqual([view?.isCompliant, view?.isManaged, view?.inventory?.LastUpdateTime], [false, false, '2026-03-01T13:00:00.000Z']);
    });

    it('answers a retried PUT with the current status and a different body under the same id with 409', async () => {
      const messageId = randomUUID();
      const entities = report();
      await upload(entities, messageId);
      const done = await settle(messageId);
      const retry = await call(messageUrl(env.emu, messageId), {
        method: 'PUT',
        token,
        body: uploadBody(env.t.tenantId, entities, '2026-03-01T10:05:00.000Z'),
      });
      assert.deepEqual([retry.status, retry.body], [200, { Id: messageId, Status: done.Status }]);
      const conflicting = await call(messageUrl(env.emu, messageId), {
        method: 'PUT',
        token,
        body: uploadBody(env.t.tenantId, report({ compliant: false })),
      });
      assert.equal(conflicting.status, 409);
      assert.equal((conflicting.body as { error: { code: string } }).error.code, 'Conflict');
      assert.equal((await env.emu.control.messages(env.t.tenantId)).length, 1);
    });

    it('answers 404 for an unknown message id', async () => {
      const res = await call(messageUrl(env.emu, randomUUID()), { token });
      assert.equal(res.status, 404);
    });
  });

  describe('protocol checks', () => {
    it('requires the exact api-version of each service', async () => {
      const wrong = await call(messageUrl(env.emu, randomUUID()).replace('api-version=1.2', 'api-version=1.6'), { token });
      assert.equal(wrong.status, 400);
      assert.equal(
        (wrong.body as { error: { message: string } }).error.message,
        "The api-version '1.6' is not supported by PartnerDeviceDataSyncService; use '1.2'.",
      );
      const missing = await call(`${tenantService(env.emu)}/PartnerCompliancePolicies`, { token });
      assert.equal(missing.status, 400);
    });

    it('requires a token for api.manage.microsoft.com: a Graph token is 401 with WWW-Authenticate', async () => {
      const graphToken = await accessToken(makeCca(env.emu, env.t), GRAPH_SCOPE);
      const res = await call(messageUrl(env.emu, randomUUID()), { token: graphToken });
      assert.equal(res.status, 401);
      assert.equal(
        (res.body as { error: { code: string; message: string } }).error.message,
        'Access token validation failure. Invalid audience.',
      );
      assert.match(
        res.headers.get('www-authenticate') ?? '',
        /^Bearer realm="", authorization_uri=".*", client_id="0000000a-0000-0000-c000-000000000000"$/,
      );
      assert.equal((await call(messageUrl(env.emu, randomUUID()))).status, 401);
    });

    it('answers 403 without the partner permission', async () => {
      const limited = newTenant();
      await seedTenant(env.emu, limited, { roles: ['Device.ReadWrite.All'] });
      const limitedToken = await accessToken(makeCca(env.emu, limited), INTUNE_SCOPE);
      const res = await call(messageUrl(env.emu, randomUUID()), { token: limitedToken });
      assert.equal(res.status, 403);
      assert.equal((res.body as { error: { code: string } }).error.code, 'Authorization_RequestDenied');
    });

    it('answers 404 when assigning a policy that does not exist', async () => {
      const res = await call(`${tenantService(env.emu)}/PartnerCompliancePolicies(guid'${randomUUID()}')/Assign?api-version=1.6`, {
        method: 'POST',
        token,
        body: { assignments: [] },
      });
      assert.equal(res.status, 404);
    });
  });

  describe('tenant heartbeat (P6)', () => {
    const heartbeat = (): Promise<{ status: number; body: unknown }> =>
      call(`${tenantService(env.emu)}/PartnerTenantHeartbeat(guid'${env.t.tenantId}')?api-version=1.6`, {
        method: 'PUT',
        token,
        headers: { Prefer: 'return-content' },
        body: { Timestamp: new Date().toISOString() },
      });

    it('records each heartbeat and returns ResyncTimestamp only while one is set', async () => {
      const first = await heartbeat();
      assert.equal(first.status, 200);
      const firstBody = first.body as Record<string, unknown>;
      assert.equal(firstBody.ContextId, env.t.tenantId);
      assert.equal('ResyncTimestamp' in firstBody, false);
      let view = await env.emu.control.tenant(env.t.tenantId);
      assert.equal(view.heartbeats, 1);
      assert.equal(view.lastHeartbeatAt, firstBody.LastHeartbeatDateTime);

      await env.emu.control.setResyncTimestamp(env.t.tenantId, '2026-03-05T08:00:00.000Z');
      const second = (await heartbeat()).body as Record<string, unknown>;
      assert.equal(second.ResyncTimestamp, '2026-03-05T08:00:00.000Z');
      await env.emu.control.setResyncTimestamp(env.t.tenantId, null);
      const third = (await heartbeat()).body as Record<string, unknown>;
      assert.equal('ResyncTimestamp' in third, false);
      view = await env.emu.control.tenant(env.t.tenantId);
      assert.deepEqual([view.heartbeats, view.resyncTimestamp], [3, null]);
    });

    it('rejects a heartbeat for another tenant with 403 and one without Timestamp with 400', async () => {
      const other = await call(`${tenantService(env.emu)}/PartnerTenantHeartbeat(guid'${randomUUID()}')?api-version=1.6`, {
        method: 'PUT',
        token,
        body: { Timestamp: new Date().toISOString() },
      });
      assert.equal(other.status, 403);
      const empty = await call(`${tenantService(env.emu)}/PartnerTenantHeartbeat(guid'${env.t.tenantId}')?api-version=1.6`, {
        method: 'PUT',
        token,
        body: {},
      });
      assert.equal(empty.status, 400);
    });
  });

  describe('autoRegister', () => {
    it('creates the user on a UPN lookup and the device on its first report, with the reported Os', async () => {
      await env.emu.control.setOptions({ autoRegister: true });
      const graph = makeGraph(env.emu, makeCca(env.emu, env.t));
      const user = (await graph.api("/users('new.hire@contoso.example')").get()) as { id: string; userPrincipalName: string };
      assert.equal(user.userPrincipalName, 'new.hire@contoso.example');
      const again = (await graph.api("/users('new.hire@contoso.example')").get()) as { id: string };
      assert.equal(again.id, user.id);

      const newDevice = randomUUID();
      const s = await settle(await upload(report({ deviceId: newDevice, userId: user.id, os: 'Android', compliant: true })));
      assert.equal(s.Status, 'Completed');
      const view = await env.emu.control.entraDevice(env.t.tenantId, newDevice);
      assert.deepEqual([view?.operatingSystem, view?.isCompliant, view?.isManaged], ['Android', true, true]);
      const listed = (await graph.api('/devices').filter(`deviceId eq '${newDevice}'`).get()) as {
        value: Array<{ operatingSystem: string }>;
      };
      assert.deepEqual(
        listed.value.map((d) => d.operatingSystem),
        ['Android'],
      );
    });

    it('is off by default: an unknown UPN is 404', async () => {
      const token2 = await accessToken(makeCca(env.emu, env.t), GRAPH_SCOPE);
      const res = await call(`${env.emu.url}/v1.0/users('nobody@contoso.example')`, { token: token2 });
      assert.equal(res.status, 404);
      assert.equal((res.body as { error: { code: string } }).error.code, 'Request_ResourceNotFound');
    });
  });
});

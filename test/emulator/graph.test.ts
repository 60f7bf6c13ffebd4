// Graph (G1-G7): device and user reads, the PATCH restriction for non-Windows devices, deletion,
// query options, correlation headers, role checks and the $batch envelope rules.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { GraphError } from '@microsoft/microsoft-graph-client';
import { accessToken, call, GRAPH_SCOPE, INTUNE_SCOPE, makeCca, makeGraph, newTenant, seedTenant, useEmulatorWithTenant } from './helpers';

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
}

describe('azure emulator: Graph', () => {
  const env = useEmulatorWithTenant();
  let token: string;
  const iosId = randomUUID();
  const iosObjectId = randomUUID();
  const windowsId = randomUUID();

  beforeEach(async () => {
    await env.emu.control.seed({
      tenants: [
        {
          tenantId: env.t.tenantId,
          devices: [
            { id: iosObjectId, deviceId: iosId, displayName: 'iPhone', operatingSystem: 'iOS', operatingSystemVersion: '17.4' },
            { deviceId: windowsId, displayName: 'Laptop', operatingSystem: 'Windows' },
          ],
        },
      ],
    });
    token = await accessToken(makeCca(env.emu, env.t), GRAPH_SCOPE);
  });

  const graphUrl = (p: string): string => `${env.emu.url}/v1.0${p}`;

  it('gets a device by object id and by the deviceId alternate key, with $select', async () => {
    const byId = await call(graphUrl(`/devices/${iosObjectId}`), { token });
    const byKey = await call(graphUrl(`/devices(deviceId='${iosId}')`), { token });
    assert.deepEqual(byId.body, byKey.body);
    const d = byId.body as Record<string, unknown>;
    assert.equal(d['@odata.context'], `${env.emu.url}/v1.0/$metadata#devices/$entity`);
    assert.deepEqual([d.id, d.deviceId, d.operatingSystem, d.isCompliant, d.isManaged], [iosObjectId, iosId, 'iOS', null, null]);
    const selected = await call(graphUrl(`/devices?$filter=deviceId eq '${iosId}'&$select=id,isCompliant`), { token });
    assert.deepEqual((selected.body as { value: unknown[] }).value, [{ id: iosObjectId, isCompliant: null }]);
  });

  it("lets the control plane change a device behind the connector's back and delete it; a read-back in a $batch sees it, 429 per item", async () => {
    const expires = '2026-01-01T00:00:00.000Z';
    const changed = await env.emu.control.setEntraDevice(env.t.tenantId, iosId, {
      isCompliant: true,
      isManaged: false,
      complianceExpirationDateTime: expires,
    });
    assert.deepEqual([changed.isCompliant, changed.isManaged, changed.complianceExpirationDateTime], [true, false, expires]);
    await assert.rejects(env.emu.control.setEntraDevice(env.t.tenantId, iosId, { complianceExpirationDateTime: 'soon' }), /400/);
    await env.emu.control.deleteEntraDevice(env.t.tenantId, windowsId);
    assert.equal(await env.emu.control.entraDevice(env.t.tenantId, windowsId), null);
    // A deleted device stays deleted even for autoRegister lookups.
    await env.emu.control.setOptions({ autoRegister: true });
    await env.emu.control.addFault({
      match: { service: 'graph', batchItem: true, pathRegex: `deviceId eq '${iosId}'` },
      response: { status: 429, headers: { 'Retry-After': '2' } },
      times: 1,
    });
    const select = '$select=deviceId,isCompliant,isManaged,complianceExpirationDateTime';
    const url = (id: string) => `/devices?$filter=${encodeURIComponent(`deviceId eq '${id}'`)}&${select}`;
    const batch = (ids: string[]) =>
      call(graphUrl('/$batch'), {
        token,
        method: 'POST',
        body: { requests: ids.map((id, i) => ({ id: String(i), method: 'GET', url: url(id) })) },
      });
    const first = (await batch([iosId, windowsId])).body as {
      responses: Array<{ id: string; status: number; headers: Record<string, string>; body: { value?: unknown[] } }>;
    };
    const byId = new Map(first.responses.map((r) => [r.id, r]));
    assert.equal(byId.get('0')?.status, 429);
    assert.equal(byId.get('0')?.headers['Retry-After'], '2');
    assert.deepEqual(byId.get('1')?.body.value, []);
    const again = (await batch([iosId])).body as { responses: Array<{ status: number; body: { value: unknown[] } }> };
    assert.deepEqual(again.responses[0]?.body.value, [
      { deviceId: iosId, isCompliant: true, isManaged: false, complianceExpirationDateTime: expires },
    ]);
  });

  it('rejects an unsupported filter with 400 Request_UnsupportedQuery', async () => {
    const res = await call(graphUrl("/devices?$filter=startswith(displayName,'i')"), { token });
    assert.equal(res.status, 400);
    assert.equal((res.body as { error: { code: string } }).error.code, 'Request_UnsupportedQuery');
  });

  it('echoes client-request-id and sends request-id on every Graph response', async () => {
    const res = await call(graphUrl('/devices'), { token, headers: { 'client-request-id': 'corr-1' } });
    assert.equal(res.headers.get('client-request-id'), 'corr-1');
    assert.match(res.headers.get('request-id') ?? '', /^[0-9a-f-]{36}$/);
  });

  it('refuses isCompliant on a non-Windows device (403) but lets extensionAttributes change', async () => {
    const graph = makeGraph(env.emu, makeCca(env.emu, env.t));
    const err = await rejection(graph.api(`/devices(deviceId='${iosId}')`).patch({ isCompliant: true }));
    assert.ok(err instanceof GraphError);
    assert.deepEqual(
      [err.statusCode, err.code, err.message],
      [403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.'],
    );
    await graph.api(`/devices/${iosObjectId}`).patch({ extensionAttributes: { extensionAttribute3: 'mdm' } });
    const d = (await graph.api(`/devices/${iosObjectId}`).get()) as { isCompliant: unknown; extensionAttributes: Record<string, unknown> };
    assert.equal(d.isCompliant, null);
    assert.equal(d.extensionAttributes.extensionAttribute3, 'mdm');
  });

  it('applies isCompliant and isManaged on a Windows device with 204', async () => {
    const res = await call(graphUrl(`/devices(deviceId='${windowsId}')`), {
      method: 'PATCH',
      token,
      body: { isCompliant: true, isManaged: true, displayName: 'Laptop 2' },
    });
    assert.equal(res.status, 204);
    const view = await env.emu.control.entraDevice(env.t.tenantId, windowsId);
    assert.deepEqual([view?.isCompliant, view?.isManaged], [true, true]);
    const readOnly = await call(graphUrl(`/devices(deviceId='${windowsId}')`), {
      method: 'PATCH',
      token,
      body: { deviceId: randomUUID() },
    });
    assert.equal(readOnly.status, 400);
    const unknown = await call(graphUrl(`/devices(deviceId='${randomUUID()}')`), { method: 'PATCH', token, body: { isCompliant: true } });
    assert.equal(unknown.status, 404);
  });

  it('refuses app-only device deletion unless allowed, then deletes with 204', async () => {
    assert.equal((await call(graphUrl(`/devices/${iosObjectId}`), { method: 'DELETE', token })).status, 403);
    await env.emu.control.setOptions({ allowAppDeviceDelete: true });
    assert.equal((await call(graphUrl(`/devices/${iosObjectId}`), { method: 'DELETE', token })).status, 204);
    assert.equal((await call(graphUrl(`/devices/${iosObjectId}`), { token })).status, 404);
  });

  it('finds users by UPN and by id', async () => {
    const userId = randomUUID();
    await env.emu.control.seed({
      tenants: [{ tenantId: env.t.tenantId, users: [{ id: userId, userPrincipalName: "o'brien@contoso.example" }] }],
    });
    const graph = makeGraph(env.emu, makeCca(env.emu, env.t));
    const byUpn = (await graph.api("/users('o''brien@contoso.example')").get()) as { id: string };
    const byId = (await graph.api(`/users/${userId}`).get()) as { userPrincipalName: string };
    assert.equal(byUpn.id, userId);
    assert.equal(byId.userPrincipalName, "o'brien@contoso.example");
  });

  it('answers 403 when the app lacks the permission, and 401 for a token of the other audience', async () => {
    const limited = newTenant();
    await seedTenant(env.emu, limited, { roles: ['User.Read.All'] });
    const limitedToken = await accessToken(makeCca(env.emu, limited), GRAPH_SCOPE);
    const denied = await call(graphUrl('/devices'), { token: limitedToken });
    assert.equal(denied.status, 403);
    assert.equal((denied.body as { error: { code: string } }).error.code, 'Authorization_RequestDenied');
    const intuneToken = await accessToken(makeCca(env.emu, env.t), INTUNE_SCOPE);
    const wrongAudience = await call(graphUrl('/devices'), { token: intuneToken });
    assert.equal(wrongAudience.status, 401);
    assert.ok(wrongAudience.headers.get('www-authenticate'));
  });

  it('validates the $batch envelope: duplicate ids and a body without Content-Type are 400', async () => {
    const dup = await call(graphUrl('/$batch'), {
      method: 'POST',
      token,
      body: {
        requests: [
          { id: '1', method: 'GET', url: '/devices' },
          { id: '1', method: 'GET', url: '/devices' },
        ],
      },
    });
    assert.equal(dup.status, 400);
    const noType = await call(graphUrl('/$batch'), {
      method: 'POST',
      token,
      body: { requests: [{ id: '1', method: 'PATCH', url: `/devices/${iosObjectId}`, body: { extensionAttributes: {} } }] },
    });
    assert.equal(noType.status, 400);
    const ok = await call(graphUrl('/$batch'), {
      method: 'POST',
      token,
      body: {
        requests: [
          {
            id: '1',
            method: 'PATCH',
            url: `/devices/${iosObjectId}`,
            headers: { 'Content-Type': 'application/json' },
            body: { extensionAttributes: { extensionAttribute1: 'x' } },
          },
        ],
      },
    });
    assert.deepEqual(
      (ok.body as { responses: Array<{ id: string; status: number }> }).responses.map((r) => [r.id, r.status]),
      [['1', 204]],
    );
  });
});

// A new device's two directory lookups (G5 user, G2 device) in one Graph JSON batch, against the
// emulator with the real Graph client: what is sent, and that each item keeps the meaning it has as
// a request of its own (docs/microsoft-protocol.md, "A new device's lookups in one batch").
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { AzureComplianceClient, type DeviceUpload } from '../../activities/azure/client';
import { AzureApiError } from '../../activities/azure/errors';
import { lookupBatch, lookupResults } from '../../activities/azure/entra-lookup';
import { toTemporalFailure } from '../../activities/azure/temporal-failure';
import { deviceUpload, newWorld, rejectionOf, useTestEmulator, type World } from './helpers';

/** A first report: no inventory from the MDM yet, no user id known. */
function firstReport(w: World, overrides: Partial<DeviceUpload> = {}): DeviceUpload {
  return deviceUpload(w, { inventory: null, ...overrides });
}

type Env = ReturnType<typeof useTestEmulator>;

/** The Graph requests the emulator received since `since`: method, path and the batch's item URLs. */
async function graphCalls(env: Env, since: string): Promise<Array<{ method: string; path: string; items?: string[] }>> {
  const graph = await env.emu.control.requests({ service: 'graph', since });
  return graph.map((e) => {
    const items = (e.body as { requests?: Array<{ url: string }> } | undefined)?.requests;
    return { method: e.method, path: e.path, ...(items ? { items: items.map((i) => decodeURIComponent(i.url)) } : {}) };
  });
}

async function onboardedClient(env: Env): Promise<{ w: World; client: AzureComplianceClient; since: string }> {
  const w = await newWorld(env.emu);
  const client = new AzureComplianceClient(w.cfg);
  await client.ensureTenantOnboarded();
  return { w, client, since: new Date().toISOString() };
}

describe("Azure client: a new device's user and device lookups in one Graph batch", function () {
  const env = useTestEmulator();

  it('looks both up in one $batch, then sends the name Entra has; a later report of the same user needs only the device', async () => {
    const { w, client, since } = await onboardedClient(env);
    const sent = await client.uploadDeviceState(firstReport(w));
    assert.equal(sent.userId, w.user.id);
    assert.deepEqual(sent.knownDevice, { displayName: "Alice's iPhone", operatingSystem: 'iOS' });
    assert.deepEqual(await graphCalls(env, since), [
      {
        method: 'POST',
        path: '/v1.0/$batch',
        items: [`/users('${w.user.upn}')`, `/devices(deviceId='${w.device.deviceId}')?$select=displayName,operatingSystem`],
      },
    ]);
    const message = await env.emu.control.requests({ service: 'intune', since, pathIncludes: 'DataUploadMessages' });
    const entities = JSON.parse((message[0]!.body as { Content: string }).Content) as Array<Record<string, unknown>>;
    assert.ok(entities.some((e) => e.DeviceName === "Alice's iPhone" && e.UserId === w.user.id));

    // The user is known now: the next device-only lookup is a plain GET, no batch.
    const later = new Date().toISOString();
    await client.uploadDeviceState(firstReport(w));
    assert.deepEqual(
      (await graphCalls(env, later)).map((c) => `${c.method} ${c.path}`),
      [`GET /v1.0/devices(deviceId='${w.device.deviceId}')?$select=displayName,operatingSystem`],
    );
  });

  it('with inventory from the MDM, looks up only the user (no batch)', async () => {
    const { w, client, since } = await onboardedClient(env);
    await client.uploadDeviceState(firstReport(w, { inventory: { deviceName: 'iPhone', os: 'iOS', osVersion: '17.5' } }));
    assert.deepEqual(
      (await graphCalls(env, since)).map((c) => `${c.method} ${c.path}`),
      [`GET /v1.0/users('${w.user.upn}')`],
    );
  });

  it('a user Entra does not know fails the report for good (UserNotFound naming user and device), nothing uploaded', async () => {
    const { w, client, since } = await onboardedClient(env);
    const ghost = `ghost.${randomUUID().slice(0, 8)}@contoso.example`;
    const err = await rejectionOf(client.uploadDeviceState(firstReport(w, { userPrincipalName: ghost })));
    assert.ok(err instanceof AzureApiError, String(err));
    assert.equal(err.reason, 'UserNotFound');
    assert.equal(err.status, 404);
    const failure = toTemporalFailure(err, { deviceId: w.device.deviceId, operation: 'upload' });
    assert.equal(failure.nonRetryable, true);
    assert.ok(failure.message.includes(ghost), failure.message);
    assert.ok(failure.message.includes(w.device.deviceId), failure.message);
    assert.deepEqual(await env.emu.control.requests({ service: 'intune', since, pathIncludes: 'DataUploadMessages' }), []);
  });

  it('a device Entra will not show (403 on its item) leaves its name unknown and the upload goes ahead', async () => {
    const { w, client, since } = await onboardedClient(env);
    await env.emu.control.addFault({
      match: { service: 'graph', batchItem: true, method: 'GET', pathRegex: '^/v1\\.0/devices\\(' },
      response: { status: 403, body: { error: { code: 'Authorization_RequestDenied', message: 'Insufficient privileges' } } },
      times: 1,
    });
    const sent = await client.uploadDeviceState(firstReport(w));
    assert.equal(sent.userId, w.user.id);
    assert.deepEqual(sent.knownDevice, {});
    const message = await env.emu.control.requests({ service: 'intune', since, pathIncludes: 'DataUploadMessages' });
    const entities = JSON.parse((message[0]!.body as { Content: string }).Content) as Array<Record<string, unknown>>;
    // Without Entra's name the inventory entity names the device by its id.
    assert.ok(
      entities.some((e) => e.DeviceName === w.device.deviceId),
      JSON.stringify(entities),
    );
  });

  for (const item of ['users', 'devices'] as const) {
    it(`a 429 on the ${item} item fails the call as Throttled with its Retry-After, nothing uploaded; the retry succeeds`, async () => {
      const { w, client, since } = await onboardedClient(env);
      await env.emu.control.addFault({
        match: { service: 'graph', batchItem: true, method: 'GET', pathRegex: `^/v1\\.0/${item}\\(` },
        response: { status: 429, headers: { 'Retry-After': '3' } },
        times: 1,
      });
      const err = await rejectionOf(client.uploadDeviceState(firstReport(w)));
      assert.ok(err instanceof AzureApiError, String(err));
      assert.equal(err.reason, 'Throttled');
      assert.equal(err.retryAfterMs, 3_000);
      const failure = toTemporalFailure(err, { deviceId: w.device.deviceId, operation: 'upload' });
      assert.equal(failure.nonRetryable, false);
      assert.equal(failure.nextRetryDelay, 3_000);
      assert.deepEqual(await env.emu.control.requests({ service: 'intune', since, pathIncludes: 'DataUploadMessages' }), []);

      // What Temporal's retry does (without the wait: the emulator's fault was for one item only).
      const sent = await client.uploadDeviceState(firstReport(w));
      assert.deepEqual(sent.knownDevice, { displayName: "Alice's iPhone", operatingSystem: 'iOS' });
      assert.equal((await env.emu.control.requests({ service: 'intune', since, pathIncludes: 'DataUploadMessages' })).length, 1);
    });
  }
});

describe("Azure client: a new device's lookups batch (pure)", () => {
  const upn = "o'brien@contoso.example";
  const device = '6b1a1c52-43b5-4e1e-9a57-0b5a2f6d0c11';

  it('quotes the UPN as OData asks and selects only the name and OS', () => {
    assert.deepEqual(lookupBatch(upn, device), {
      requests: [
        { id: 'user', method: 'GET', url: "/users('o''brien@contoso.example')" },
        { id: 'device', method: 'GET', url: `/devices(deviceId='${device}')?$select=displayName,operatingSystem` },
      ],
    });
  });

  it('matches items by id in any order, and an item missing from the answer is a retryable failure of that lookup', () => {
    const both = lookupResults(
      {
        responses: [
          { id: 'device', status: 200, body: { displayName: 'Pixel', operatingSystem: 'Android' } },
          { id: 'user', status: 200, body: { id: 'u-1' } },
        ],
      },
      upn,
      device,
    );
    assert.deepEqual(both, { user: { id: 'u-1' }, device: { displayName: 'Pixel', operatingSystem: 'Android' } });

    const missing = lookupResults({ responses: [{ id: 'user', status: 200, body: {} }] }, upn, device);
    assert.ok(missing.user instanceof AzureApiError && missing.user.reason === 'Transient', 'a user without an id');
    assert.ok(missing.device instanceof AzureApiError && missing.device.reason === 'Transient', 'no device item');
    assert.match(missing.device.message, /without its GET \/v1\.0\/devices\(deviceId='.*'\) \(in \$batch\) item/);
  });

  it('maps each item as its own request would be: 404 user → UserNotFound, 404 device → DeviceNotFound, 503 → Transient', () => {
    const r = lookupResults(
      {
        responses: [
          { id: 'user', status: 404, body: { error: { code: 'Request_ResourceNotFound', message: 'gone' } } },
          { id: 'device', status: 404, body: { error: { code: 'Request_ResourceNotFound' } } },
        ],
      },
      upn,
      device,
    );
    assert.ok(r.user instanceof AzureApiError && r.user.reason === 'UserNotFound' && r.user.message.includes(upn), String(r.user));
    assert.ok(r.device instanceof AzureApiError && r.device.reason === 'DeviceNotFound', String(r.device));
    const busy = lookupResults({ responses: [{ id: 'user', status: 503, headers: {} }] }, upn, device);
    assert.ok(busy.user instanceof AzureApiError && busy.user.reason === 'Transient' && busy.user.status === 503);
  });
});

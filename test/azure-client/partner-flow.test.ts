// The Microsoft client driving the Intune partner protocol end to end against the emulator, with the
// real msal-node and Graph client over HTTPS (G5, G6, P1–P5 of docs/microsoft-protocol.md).
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { AzureComplianceClient } from '../../activities/azure/client';
import { AzureApiError } from '../../activities/azure/errors';
import { toTemporalFailure } from '../../activities/azure/temporal-failure';
import { describeUploadFailure } from '../../activities/azure/upload-errors';
import { deviceErrorFor, FAILURE_GUIDANCE, isRetryableReason } from '../../domain/failure-reasons';
import { deviceUpload, GRAPH_SCOPE, INTUNE_SCOPE, memoryLogger, newWorld, rejectionOf, useTestEmulator } from './helpers';

/** Polls P5 until a terminal status; returns every status seen. */
async function pollUntilTerminal(
  client: AzureComplianceClient,
  messageId: string,
): Promise<Array<Awaited<ReturnType<AzureComplianceClient['getUploadStatus']>>>> {
  const seen = [];
  for (let i = 0; i < 10; i++) {
    const s = await client.getUploadStatus(messageId);
    seen.push(s);
    if (s.status === 'Completed' || s.status === 'Failed') return seen;
  }
  throw new Error(`message ${messageId} did not reach a terminal status: ${JSON.stringify(seen)}`);
}

describe('Azure client: the partner compliance flow against the emulator', function () {
  const env = useTestEmulator({ pollsBeforeTerminal: 1 });

  it('discovers the endpoints, provisions the tenant, creates both policies, uploads, and Entra shows the reported state', async () => {
    const w = await newWorld(env.emu);
    const logger = memoryLogger();
    const client = new AzureComplianceClient(w.cfg, logger, {
      enrollmentUrl: 'https://mdm.example/enroll',
      remediationUrl: 'https://mdm.example/remediate',
      policyDisplayName: 'Neurons compliance',
    });

    assert.deepEqual(await client.discoverEndpoints(), {
      tenantDataSyncUrl: `${env.emu.url}/intune/PartnerTenantDataSyncService`,
      deviceDataSyncUrl: `${env.emu.url}/intune/PartnerDeviceDataSyncService`,
    });

    const onboarded = await client.ensureTenantOnboarded();
    const tenant = await env.emu.control.tenant(w.tenantId);
    assert.equal(tenant.provisioned, 1);
    const policies = tenant.policies as Array<{ Id: string; Platform: string; DisplayName: string; PartnerManagedCompliance: boolean }>;
    assert.deepEqual(
      policies.map((p) => [p.Platform, p.DisplayName, p.PartnerManagedCompliance]),
      [
        ['Android', 'Neurons compliance (Android)', true],
        ['iOS', 'Neurons compliance (iOS)', true],
      ],
    );
    assert.deepEqual(onboarded, {
      provisioned: true,
      policyIds: { Android: policies.find((p) => p.Platform === 'Android')!.Id, iOS: policies.find((p) => p.Platform === 'iOS')!.Id },
    });
    const [p1] = await env.emu.control.requests({ service: 'intune', pathIncludes: 'PartnerTenants(' });
    assert.equal(p1!.method, 'PUT');
    assert.deepEqual(p1!.body, {
      Provisioned: 1,
      PartnerEnrollmentUrl: 'https://mdm.example/enroll',
      PartnerRemediationUrl: 'https://mdm.example/remediate',
    });

    const u = deviceUpload(w);
    assert.deepEqual(await client.uploadDeviceState(u), { messageId: u.messageId, userId: w.user.id });
    const statuses = await pollUntilTerminal(client, u.messageId);
    const entra = await env.emu.control.entraDevice(w.tenantId, w.device.deviceId);
    assert.ok(entra);
    const message = entra.messages.find((m) => m.messageId === u.messageId)!;
    assert.deepEqual(statuses, [
      { status: 'Processing', errorDetail: null, completedAt: null },
      { status: 'Completed', errorDetail: null, completedAt: message.completedAt },
    ]);
    assert.equal(entra.isManaged, true);
    assert.equal(entra.isCompliant, true);
    assert.equal(entra.lastCheckInTime, '2026-03-02T09:15:00.000Z');
    const expectedInventory = {
      EntityType: 1,
      TenantId: w.tenantId,
      DeviceId: w.device.deviceId,
      DeviceName: "Alice's iPhone 15",
      UserId: w.user.id,
      DeviceManagementState: 'managed',
      LastCheckInTime: '2026-03-02T09:15:00.000Z',
      LastUpdateTime: '2026-03-02T09:14:30.000Z',
      Os: 'iOS',
      OsVersion: '17.5.1',
      EasIds: [],
      State: 0,
      Model: 'iPhone15,4',
      Manufacturer: 'Apple',
      SerialNumber: 'F2LZK0ABCD12',
    };
    assert.deepEqual(entra.inventory, expectedInventory);

    // The P4 wire body: TenantId, UploadTime and Content = the JSON string of exactly two entities.
    const [put] = await env.emu.control.requests({ service: 'intune', pathIncludes: `DataUploadMessages(guid'${u.messageId}')` });
    assert.equal(put!.method, 'PUT');
    assert.equal(put!.path, `/intune/PartnerDeviceDataSyncService/DataUploadMessages(guid'${u.messageId}')?api-version=1.2`);
    const body = put!.body as { TenantId: string; UploadTime: string; Content: string };
    assert.deepEqual(Object.keys(body).sort(), ['Content', 'TenantId', 'UploadTime']);
    assert.equal(body.TenantId, w.tenantId);
    assert.ok(!Number.isNaN(Date.parse(body.UploadTime)));
    assert.deepEqual(JSON.parse(body.Content), [
      expectedInventory,
      {
        EntityType: 4,
        TenantId: w.tenantId,
        DeviceId: w.device.deviceId,
        UserId: w.user.id,
        LastUpdateTime: '2026-03-02T09:14:30.000Z',
        complianceStatus: 'compliant',
      },
    ]);

    // Nothing but this host, no instance discovery; bearer + telemetry on Graph.
    const all = await env.emu.control.requests();
    assert.equal(all.filter((e) => e.path.includes('/common/discovery/instance')).length, 0);
    const tokenRequests = all.filter((e) => e.service === 'token');
    assert.deepEqual(tokenRequests.map((e) => (e.body as Record<string, string>).scope).sort(), [GRAPH_SCOPE, INTUNE_SCOPE].sort());
    for (const e of tokenRequests) {
      assert.equal((e.body as Record<string, string>).grant_type, 'client_credentials');
      assert.equal((e.body as Record<string, string>).client_id, w.clientId);
    }
    const graph = all.filter((e) => e.service === 'graph');
    assert.deepEqual(
      graph.map((e) => `${e.method} ${decodeURIComponent(e.path)}`),
      [
        "GET /v1.0/servicePrincipals?$filter=appId eq '0000000a-0000-0000-c000-000000000000'",
        `GET /v1.0/servicePrincipals/${graph[1]!.path.split('/')[3]}/endPoints`,
        `GET /v1.0/users('${w.user.upn}')`,
      ],
    );
    for (const e of graph) {
      assert.equal(e.hasBearer, true);
      assert.equal(e.status, 200);
      assert.ok(e.clientRequestId, 'client-request-id header');
      assert.ok(e.sdkVersion?.startsWith('graph-js/3.0.7'), `SdkVersion header: ${e.sdkVersion}`);
      assert.equal(e.retryAttempt, undefined);
    }
    for (const e of all.filter((x) => x.service === 'intune')) assert.equal(e.hasBearer, true);

    // Never a secret or a token in the logs.
    const logged = JSON.stringify(logger.lines);
    assert.ok(!logged.includes(w.clientSecret));
    const { token } = await client.getAccessToken('graph');
    assert.ok(!logged.includes(token));
  });

  it('caches discovery and onboarding for the life of the client (until resetCaches)', async () => {
    const w = await newWorld(env.emu);
    const client = new AzureComplianceClient(w.cfg);
    const first = await client.ensureTenantOnboarded(['iOS', 'Android']);
    await env.emu.control.clearRequests();
    assert.deepEqual(await client.ensureTenantOnboarded(['Android', 'iOS']), first);
    await client.discoverEndpoints();
    assert.deepEqual(await env.emu.control.requests(), []);

    client.resetCaches();
    assert.deepEqual(await client.ensureTenantOnboarded(), first);
    assert.deepEqual((await env.emu.control.requests({ service: 'graph' })).length, 2);
  });

  it('a second client gets 409 for each policy and reuses the existing ones', async () => {
    const w = await newWorld(env.emu);
    const first = await new AzureComplianceClient(w.cfg).ensureTenantOnboarded();
    await env.emu.control.clearRequests();
    const second = await new AzureComplianceClient(w.cfg).ensureTenantOnboarded();
    assert.deepEqual(second, first);
    const calls = await env.emu.control.requests({ service: 'intune' });
    assert.deepEqual(
      calls.map((e) => `${e.method} ${e.path.replace(/^\/intune\/PartnerTenantDataSyncService\//, '')} ${e.status}`),
      [
        `PUT PartnerTenants(guid'${w.tenantId}')?api-version=1.6 200`,
        'POST PartnerCompliancePolicies?api-version=1.6 409',
        'GET PartnerCompliancePolicies?api-version=1.6 200',
        'POST PartnerCompliancePolicies?api-version=1.6 409',
        'GET PartnerCompliancePolicies?api-version=1.6 200',
      ],
    );
    assert.equal((await env.emu.control.tenant(w.tenantId)).policies.length, 2);
  });

  it('re-sending an upload with the same message id creates no second message', async () => {
    const w = await newWorld(env.emu);
    const client = new AzureComplianceClient(w.cfg);
    await client.ensureTenantOnboarded();
    const u = deviceUpload(w);
    await client.uploadDeviceState(u);
    assert.deepEqual(await client.uploadDeviceState(u), { messageId: u.messageId, userId: w.user.id });
    const puts = await env.emu.control.requests({ service: 'intune', pathIncludes: `DataUploadMessages(guid'${u.messageId}')` });
    assert.deepEqual(
      puts.map((e) => `${e.method} ${e.status}`),
      ['PUT 200', 'PUT 200'],
    );
    const messages = await env.emu.control.messages(w.tenantId);
    assert.deepEqual(
      messages.map((m) => m.messageId),
      [u.messageId],
    );
    assert.equal((await pollUntilTerminal(client, u.messageId)).at(-1)!.status, 'Completed');
  });

  it('treats a 409 for a reused message id as an upload an earlier attempt already made', async () => {
    const w = await newWorld(env.emu);
    const client = new AzureComplianceClient(w.cfg);
    await client.ensureTenantOnboarded();
    const u = deviceUpload(w);
    await client.uploadDeviceState(u);
    // Same id, different body (e.g. a retry after the state moved on): the service answers 409.
    assert.deepEqual(await client.uploadDeviceState({ ...u, complianceStatus: 'notCompliant' }), {
      messageId: u.messageId,
      userId: w.user.id,
    });
    const puts = await env.emu.control.requests({ service: 'intune', pathIncludes: `DataUploadMessages(guid'${u.messageId}')` });
    assert.deepEqual(
      puts.map((e) => e.status),
      [200, 409],
    );
    assert.equal((await env.emu.control.messages(w.tenantId)).length, 1);
  });

  it('an upload for a device Entra does not know ends Failed and maps to a non-retryable DeviceNotFound naming the device', async () => {
    const w = await newWorld(env.emu);
    const client = new AzureComplianceClient(w.cfg);
    await client.ensureTenantOnboarded();
    const unknownDevice = randomUUID();
    const u = deviceUpload(w, { azureDeviceId: unknownDevice });
    await client.uploadDeviceState(u);
    const last = (await pollUntilTerminal(client, u.messageId)).at(-1)!;
    const expectedDetail = `Device '${unknownDevice}' was not found in tenant '${w.tenantId}'.`;
    const [msg] = await env.emu.control.messages(w.tenantId);
    assert.deepEqual(last, { status: 'Failed', errorDetail: expectedDetail, completedAt: msg!.completedAt });

    assert.deepEqual(describeUploadFailure(last.errorDetail!), {
      reason: 'DeviceNotFound',
      message: `Intune rejected the report: the device is not known to Entra ID: ${expectedDetail}`,
    });
    // What the device's lastError then says (activities/device-activities.ts).
    const { reason, message } = describeUploadFailure(last.errorDetail!);
    assert.equal(isRetryableReason(reason), false);
    assert.deepEqual(deviceErrorFor(reason, message), {
      code: 'DeviceNotFound',
      message: `Intune rejected the report: the device is not known to Entra ID: ${expectedDetail}`,
      userCanMitigate: true,
      remediation: FAILURE_GUIDANCE.DeviceNotFound.remediation,
    });
    assert.ok(message.includes(unknownDevice), message);
    const entra = await env.emu.control.entraDevice(w.tenantId, w.device.deviceId);
    assert.equal(entra!.isCompliant, null);
  });

  it('an upload before the tenant is provisioned ends Failed with TenantNotProvisioned', async () => {
    const w = await newWorld(env.emu);
    const client = new AzureComplianceClient(w.cfg);
    const u = deviceUpload(w);
    await client.uploadDeviceState(u);
    const last = (await pollUntilTerminal(client, u.messageId)).at(-1)!;
    assert.equal(last.status, 'Failed');
    assert.equal(describeUploadFailure(last.errorDetail!).reason, 'TenantNotProvisioned');
  });

  it('resolves a user once per UPN and fails a UPN Entra does not know with a non-retryable UserNotFound naming the user', async () => {
    const w = await newWorld(env.emu);
    const client = new AzureComplianceClient(w.cfg);
    assert.equal(await client.resolveUserId(w.user.upn), w.user.id);
    assert.equal(await client.resolveUserId(w.user.upn.toUpperCase()), w.user.id);
    assert.equal((await env.emu.control.requests({ service: 'graph', pathIncludes: '/users(' })).length, 1);

    const ghost = `ghost.${randomUUID().slice(0, 8)}@contoso.example`;
    const err = await rejectionOf(client.resolveUserId(ghost));
    assert.ok(err instanceof AzureApiError);
    assert.equal(err.reason, 'UserNotFound');
    assert.equal(err.status, 404);
    assert.equal(err.code, 'Request_ResourceNotFound');
    const failure = toTemporalFailure(err, { deviceId: w.device.deviceId, operation: 'reportDevice' });
    assert.equal(failure.type, 'UserNotFound');
    assert.equal(failure.nonRetryable, true);
    assert.ok(failure.message.includes(ghost), failure.message);
    assert.ok(failure.message.includes(w.device.deviceId), failure.message);
    assert.deepEqual(failure.details, [
      { reason: 'UserNotFound', status: 404, code: 'Request_ResourceNotFound', message: failure.message, deviceId: w.device.deviceId },
    ]);
  });

  it('without inventory, sends the name Entra has, the platform as Os and an empty OsVersion', async () => {
    const w = await newWorld(env.emu);
    const client = new AzureComplianceClient(w.cfg);
    await client.ensureTenantOnboarded();
    const u = deviceUpload(w, { inventory: null, platform: 'iOS', managementState: 'managed', complianceStatus: 'notCompliant' });
    await client.uploadDeviceState(u);
    assert.equal((await pollUntilTerminal(client, u.messageId)).at(-1)!.status, 'Completed');
    const entra = await env.emu.control.entraDevice(w.tenantId, w.device.deviceId);
    assert.equal(entra!.isManaged, true);
    assert.equal(entra!.isCompliant, false);
    assert.deepEqual(
      { DeviceName: entra!.inventory!.DeviceName, Os: entra!.inventory!.Os, OsVersion: entra!.inventory!.OsVersion },
      { DeviceName: "Alice's iPhone", Os: 'iOS', OsVersion: '' },
    );
  });

  it('sends the tenant heartbeat and returns the ResyncTimestamp Microsoft asks for', async () => {
    const w = await newWorld(env.emu);
    const client = new AzureComplianceClient(w.cfg);
    const first = await client.sendHeartbeat();
    assert.equal(first.resyncTimestamp, null);
    let tenant = await env.emu.control.tenant(w.tenantId);
    assert.equal(tenant.heartbeats, 1);
    const [hb] = await env.emu.control.requests({ service: 'intune', pathIncludes: 'PartnerTenantHeartbeat' });
    assert.equal(hb!.path, `/intune/PartnerTenantDataSyncService/PartnerTenantHeartbeat(guid'${w.tenantId}')?api-version=1.6`);
    assert.deepEqual(hb!.body, { Timestamp: first.at });

    await env.emu.control.setResyncTimestamp(w.tenantId, '2026-03-01T00:00:00.000Z');
    assert.equal((await client.sendHeartbeat()).resyncTimestamp, '2026-03-01T00:00:00.000Z');
    tenant = await env.emu.control.tenant(w.tenantId);
    assert.equal(tenant.heartbeats, 2);
  });
});

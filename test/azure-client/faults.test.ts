// Microsoft's failures (docs/microsoft-protocol.md) from the client's point of view: every failure goes through
// toTemporalFailure, and the client never retries by itself (no Graph RetryHandler: Temporal owns
// retries), except one token refresh after a 401.
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { AzureComplianceClient, type DeviceUpload } from '../../activities/azure/client';
import { AzureApiError } from '../../activities/azure/errors';
import { toTemporalFailure, type AzureFailureDetail } from '../../activities/azure/temporal-failure';
import { newWorld, rejectionOf, sleep, useTestEmulator, type World } from './helpers';

const USERS = '^/v1\\.0/users\\(';

async function failureOf(
  p: Promise<unknown>,
  context?: { deviceId?: string; operation?: string },
): Promise<{ err: AzureApiError; failure: ApplicationFailure; detail: AzureFailureDetail }> {
  const err = await rejectionOf(p);
  assert.ok(err instanceof AzureApiError, `expected AzureApiError, got ${String(err)}`);
  const failure = toTemporalFailure(err, context);
  const detail = (failure.details ?? [])[0] as AzureFailureDetail;
  return { err, failure, detail };
}

function upload(w: World): DeviceUpload {
  return {
    messageId: randomUUID(),
    azureDeviceId: w.device.deviceId,
    userPrincipalName: w.user.upn,
    managementState: 'managed',
    complianceStatus: 'notCompliant',
    inventory: { deviceName: 'iPhone', os: 'iOS', osVersion: '17.5' },
    platform: 'iOS',
    lastCheckInTime: '2026-03-02T09:15:00.000Z',
    lastUpdateTime: '2026-03-02T09:15:00.000Z',
  };
}

describe("Azure client: Microsoft's failures through toTemporalFailure", function () {
  const env = useTestEmulator();

  it('Graph 429 with Retry-After: 2 → Throttled after exactly 2000 ms, one request only (no SDK retry)', async () => {
    const w = await newWorld(env.emu);
    const client = new AzureComplianceClient(w.cfg);
    await client.getAccessToken('graph');
    await env.emu.control.addFault({
      match: { service: 'graph', pathRegex: USERS },
      response: { status: 429, headers: { 'Retry-After': '2' } },
      times: 1,
    });

    const { err, failure, detail } = await failureOf(client.resolveUserId(w.user.upn), {
      deviceId: w.device.deviceId,
      operation: 'reportDevice',
    });
    assert.equal(err.status, 429);
    assert.equal(err.code, 'TooManyRequests');
    assert.equal(err.retryAfterMs, 2000);
    assert.equal(failure.type, 'Throttled');
    assert.equal(failure.nonRetryable, false);
    assert.equal(failure.nextRetryDelay, 2000);
    assert.deepEqual(detail, {
      reason: 'Throttled',
      status: 429,
      code: 'TooManyRequests',
      message: failure.message,
      deviceId: w.device.deviceId,
    });
    assert.ok(failure.message.includes(w.device.deviceId));
    const users = await env.emu.control.requests({ service: 'graph', pathIncludes: '/users(' });
    assert.deepEqual(
      users.map((e) => [e.status, e.retryAttempt]),
      [[429, undefined]],
    );

    // What Temporal does with it: wait nextRetryDelay, then call again; the journal shows the gap.
    await sleep(Number(failure.nextRetryDelay));
    assert.equal(await client.resolveUserId(w.user.upn), w.user.id);
    const after = await env.emu.control.requests({ service: 'graph', pathIncludes: '/users(' });
    assert.deepEqual(
      after.map((e) => e.status),
      [429, 200],
    );
    assert.ok(Date.parse(after[1]!.at) - Date.parse(after[0]!.at) >= 2000);
  });

  it('a Retry-After given as an HTTP-date is honoured too', async () => {
    const w = await newWorld(env.emu);
    const client = new AzureComplianceClient(w.cfg);
    const at = new Date(Math.ceil(Date.now() / 1000) * 1000 + 5000);
    await env.emu.control.addFault({
      match: { service: 'graph', pathRegex: USERS },
      response: { status: 503, headers: { 'Retry-After': at.toUTCString() } },
      times: 1,
    });
    const { failure } = await failureOf(client.resolveUserId(w.user.upn));
    assert.equal(failure.type, 'Throttled');
    const delay = Number(failure.nextRetryDelay);
    assert.ok(delay > 3000 && delay <= 6000, `delay ${delay}`);
  });

  it('Graph 503 without Retry-After → retryable Transient with Temporal backoff', async () => {
    const w = await newWorld(env.emu);
    const client = new AzureComplianceClient(w.cfg);
    await env.emu.control.addFault({ match: { service: 'graph', pathRegex: USERS }, response: { status: 503 }, times: 1 });
    const { err, failure, detail } = await failureOf(client.resolveUserId(w.user.upn));
    assert.equal(failure.type, 'Transient');
    assert.equal(failure.nonRetryable, false);
    assert.equal(failure.nextRetryDelay, undefined);
    assert.equal(err.code, 'serviceNotAvailable');
    assert.deepEqual([detail.reason, detail.status], ['Transient', 503]);
    assert.equal((await env.emu.control.requests({ service: 'graph', pathIncludes: '/users(' })).length, 1);
  });

  it('Graph 504 with Retry-After: 0 → Throttled with a zero delay', async () => {
    const w = await newWorld(env.emu);
    const client = new AzureComplianceClient(w.cfg);
    await env.emu.control.addFault({
      match: { service: 'graph', pathRegex: USERS },
      response: { status: 504, headers: { 'Retry-After': '0' } },
      times: 1,
    });
    const { failure } = await failureOf(client.resolveUserId(w.user.upn));
    assert.equal(failure.type, 'Throttled');
    assert.equal(failure.nextRetryDelay, 0);
  });

  it('Graph 500 → retryable Transient, not retried by the client', async () => {
    const w = await newWorld(env.emu);
    const client = new AzureComplianceClient(w.cfg);
    await env.emu.control.addFault({ match: { service: 'graph', pathRegex: USERS }, response: { status: 500 }, times: 1 });
    const { err, failure } = await failureOf(client.resolveUserId(w.user.upn));
    assert.equal(failure.type, 'Transient');
    assert.equal(failure.nonRetryable, false);
    assert.deepEqual([err.status, err.code], [500, 'generalException']);
    assert.equal((await env.emu.control.requests({ service: 'graph', pathIncludes: '/users(' })).length, 1);
  });

  it('Graph 502 with a text/html body → retryable Transient whose message names the status', async () => {
    const w = await newWorld(env.emu);
    const client = new AzureComplianceClient(w.cfg);
    await env.emu.control.addFault({
      match: { service: 'graph', pathRegex: USERS },
      response: { status: 502, headers: { 'Content-Type': 'text/html' }, body: '<html><body><h1>502 Bad Gateway</h1></body></html>' },
      times: 1,
    });
    const { err, failure } = await failureOf(client.resolveUserId(w.user.upn));
    assert.equal(failure.type, 'Transient');
    assert.equal(failure.nonRetryable, false);
    assert.equal(err.status, 502);
    assert.ok(failure.message.includes('HTTP 502'), failure.message);
    assert.ok(failure.message.includes('text/html'), failure.message);
  });

  it('a gateway 503 with a text/html body keeps its Retry-After → Throttled', async () => {
    const w = await newWorld(env.emu);
    const client = new AzureComplianceClient(w.cfg);
    await env.emu.control.addFault({
      match: { service: 'graph', pathRegex: USERS },
      response: { status: 503, headers: { 'Content-Type': 'text/html', 'Retry-After': '4' }, body: '<html>Service Unavailable</html>' },
      times: 1,
    });
    const { failure } = await failureOf(client.resolveUserId(w.user.upn));
    assert.equal(failure.type, 'Throttled');
    assert.equal(failure.nextRetryDelay, 4000);
  });

  it('partner API 503 with Retry-After on the upload → Throttled naming the device', async () => {
    const w = await newWorld(env.emu);
    const client = new AzureComplianceClient(w.cfg);
    await client.ensureTenantOnboarded();
    await env.emu.control.addFault({
      match: { service: 'intune', method: 'PUT', pathRegex: 'DataUploadMessages' },
      response: { status: 503, headers: { 'Retry-After': '3' } },
      times: 1,
    });
    const { err, failure } = await failureOf(client.uploadDeviceState(upload(w)), {
      deviceId: w.device.deviceId,
      operation: 'uploadDeviceState',
    });
    assert.equal(err.service, 'intune');
    assert.equal(failure.type, 'Throttled');
    assert.equal(failure.nextRetryDelay, 3000);
    assert.ok(failure.message.includes(w.device.deviceId), failure.message);
  });

  it('Graph 403 → non-retryable Forbidden', async () => {
    const w = await newWorld(env.emu);
    const client = new AzureComplianceClient(w.cfg);
    await env.emu.control.addFault({ match: { service: 'graph', pathRegex: USERS }, response: { status: 403 }, times: 1 });
    const { err, failure, detail } = await failureOf(client.resolveUserId(w.user.upn), { deviceId: w.device.deviceId });
    assert.equal(failure.type, 'Forbidden');
    assert.equal(failure.nonRetryable, true);
    assert.deepEqual([err.status, err.code, detail.reason], [403, 'Authorization_RequestDenied', 'Forbidden']);
  });

  it('a real 403 from a missing permission (app without User.Read.All) → non-retryable Forbidden', async () => {
    const w = await newWorld(env.emu);
    const clientId = randomUUID();
    await env.emu.control.seed({
      tenants: [
        {
          tenantId: w.tenantId,
          apps: [{ clientId, clientSecret: 's3cret-value', roles: ['Application.Read.All', 'update_device_attributes'] }],
        },
      ],
    });
    const client = new AzureComplianceClient({ ...w.cfg, clientId, clientSecret: 's3cret-value' });
    const { failure } = await failureOf(client.resolveUserId(w.user.upn));
    assert.equal(failure.type, 'Forbidden');
    assert.equal(failure.nonRetryable, true);
  });

  it('partner API 400 → non-retryable InvalidRequest', async () => {
    const w = await newWorld(env.emu);
    const client = new AzureComplianceClient(w.cfg);
    await client.ensureTenantOnboarded();
    await env.emu.control.addFault({
      match: { service: 'intune', method: 'PUT', pathRegex: 'DataUploadMessages' },
      response: { status: 400 },
      times: 1,
    });
    const { failure } = await failureOf(client.uploadDeviceState(upload(w)), { deviceId: w.device.deviceId });
    assert.equal(failure.type, 'InvalidRequest');
    assert.equal(failure.nonRetryable, true);
  });

  it('a Graph response slower than requestTimeoutMs → retryable Transient timeout', async () => {
    const w = await newWorld(env.emu, { requestTimeoutMs: 300 });
    const client = new AzureComplianceClient(w.cfg);
    await client.getAccessToken('graph');
    await env.emu.control.addFault({ match: { service: 'graph', pathRegex: USERS }, delayMs: 3000, times: 1 });
    const started = Date.now();
    const { err, failure } = await failureOf(client.resolveUserId(w.user.upn));
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 300 && elapsed < 2500, `elapsed ${elapsed} ms`);
    assert.equal(failure.type, 'Transient');
    assert.equal(failure.nonRetryable, false);
    assert.equal(err.code, 'Timeout');
    assert.ok(failure.message.includes('timed out after 300 ms'), failure.message);
  });

  it('a partner-API response slower than requestTimeoutMs → retryable Transient timeout', async () => {
    const w = await newWorld(env.emu, { requestTimeoutMs: 300 });
    const client = new AzureComplianceClient(w.cfg);
    await client.getAccessToken('intune');
    await client.discoverEndpoints();
    await env.emu.control.addFault({ match: { service: 'intune', pathRegex: 'PartnerTenantHeartbeat' }, delayMs: 3000, times: 1 });
    const started = Date.now();
    const { err, failure } = await failureOf(client.sendHeartbeat());
    assert.ok(Date.now() - started < 2500);
    assert.equal(failure.type, 'Transient');
    assert.equal(err.code, 'Timeout');
  });

  it('a token endpoint slower than requestTimeoutMs → retryable Transient timeout', async () => {
    const w = await newWorld(env.emu, { requestTimeoutMs: 300 });
    const client = new AzureComplianceClient(w.cfg);
    await env.emu.control.addFault({ match: { service: 'token' }, delayMs: 3000, times: 1 });
    const started = Date.now();
    const { err, failure } = await failureOf(client.getAccessToken('graph'));
    assert.ok(Date.now() - started < 2500);
    assert.equal(failure.type, 'Transient');
    assert.deepEqual([err.service, err.code], ['token', 'Timeout']);
  });

  it('a refused connection → retryable Transient network error', async () => {
    const w = await newWorld(env.emu);
    // A port that was just free: nothing listens on it any more.
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const client = new AzureComplianceClient({ ...w.cfg, graphBaseUrl: `https://localhost:${port}` });
    await client.getAccessToken('graph');
    const { err, failure } = await failureOf(client.resolveUserId(w.user.upn));
    assert.equal(failure.type, 'Transient');
    assert.equal(err.code, 'NetworkError');
    assert.ok(/ECONNREFUSED/.test(err.message), err.message);
  });

  it('a Graph 401 twice → one token refresh, then retryable Unauthorized', async () => {
    const w = await newWorld(env.emu);
    const client = new AzureComplianceClient(w.cfg);
    await client.getAccessToken('graph');
    await env.emu.control.clearRequests();
    await env.emu.control.addFault({ match: { service: 'graph', pathRegex: USERS }, response: { status: 401 }, times: 2 });
    const { err, failure } = await failureOf(client.resolveUserId(w.user.upn));
    assert.equal(failure.type, 'Unauthorized');
    assert.equal(failure.nonRetryable, false);
    assert.equal(err.code, 'InvalidAuthenticationToken');
    assert.ok(err.message.includes('even after a token refresh'), err.message);
    const journal = await env.emu.control.requests();
    assert.deepEqual(
      journal.map((e) => `${e.service} ${e.status}`),
      ['graph 401', 'token 200', 'graph 401'],
    );
  });

  it('a partner-API 401 twice → one token refresh, then retryable Unauthorized', async () => {
    const w = await newWorld(env.emu);
    const client = new AzureComplianceClient(w.cfg);
    await client.discoverEndpoints();
    await client.getAccessToken('intune');
    await env.emu.control.clearRequests();
    await env.emu.control.addFault({ match: { service: 'intune' }, response: { status: 401 }, times: 2 });
    const { failure } = await failureOf(client.sendHeartbeat());
    assert.equal(failure.type, 'Unauthorized');
    const journal = await env.emu.control.requests();
    assert.deepEqual(
      journal.map((e) => `${e.service} ${e.status}`),
      ['intune 401', 'token 200', 'intune 401'],
    );
    assert.equal((journal[1]!.body as Record<string, string>).scope, 'https://api.manage.microsoft.com//.default');
  });
});

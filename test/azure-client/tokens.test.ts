// Tokens: msal-node's cache and renewal, the single refresh after a 401 (revoked or expired token),
// and token-endpoint failures (throttling without msal-node's 60 s self-throttle, bad credentials).
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { AzureComplianceClient } from '../../activities/azure/client';
import { AzureApiError } from '../../activities/azure/errors';
import { toTemporalFailure } from '../../activities/azure/temporal-failure';
import { GRAPH_SCOPE, INTUNE_SCOPE, newWorld, rejectionOf, sleep, useTestEmulator } from './helpers';

describe('Azure client: tokens', function () {
  const env = useTestEmulator();

  it('serves the second call from the cache, per audience, with the exact scopes', async () => {
    const w = await newWorld(env.emu);
    const client = new AzureComplianceClient(w.cfg);
    const t0 = Date.now();
    const first = await client.getAccessToken('graph');
    assert.equal(first.fromCache, false);
    assert.ok(first.expiresOn);
    const lifetime = first.expiresOn.getTime() - t0;
    assert.ok(lifetime > 3590_000 && lifetime <= 3601_000, `lifetime ${lifetime}`);
    const second = await client.getAccessToken('graph');
    assert.deepEqual(second, { token: first.token, fromCache: true, expiresOn: second.expiresOn });
    assert.equal(second.expiresOn!.getTime(), first.expiresOn.getTime());

    const intune = await client.getAccessToken('intune');
    assert.equal(intune.fromCache, false);
    assert.notEqual(intune.token, first.token);
    assert.equal((await client.getAccessToken('intune')).fromCache, true);

    const tokenRequests = await env.emu.control.requests({ service: 'token' });
    assert.deepEqual(
      tokenRequests.map((e) => (e.body as Record<string, string>).scope),
      [GRAPH_SCOPE, INTUNE_SCOPE],
    );
    assert.deepEqual(
      tokenRequests.map((e) => (e.body as Record<string, string>).client_secret),
      ['[redacted]', '[redacted]'],
    );
    assert.equal(tokenRequests[0]!.path.split('?')[0], `/${w.tenantId}/oauth2/v2.0/token`);
  });

  it('shares one MSAL application (and its cache) between clients with the same credentials', async () => {
    const w = await newWorld(env.emu);
    const a = await new AzureComplianceClient(w.cfg).getAccessToken('graph');
    const b = await new AzureComplianceClient(w.cfg).getAccessToken('graph');
    assert.equal(a.fromCache, false);
    assert.deepEqual([b.fromCache, b.token], [true, a.token]);
    assert.equal((await env.emu.control.requests({ service: 'token' })).length, 1);
  });

  it('renews the token once the clock passes exp − 300 s (short-lived tokens: tokenLifetimeSeconds 302)', async () => {
    // msal-node decides with the local clock, so the emulator issues tokens that live 302 s: the
    // renewal point exp − 300 s is then 2 s after issue on both clocks.
    await env.emu.control.setOptions({ tokenLifetimeSeconds: 302 });
    try {
      const w = await newWorld(env.emu);
      const client = new AzureComplianceClient(w.cfg);
      const first = await client.getAccessToken('graph');
      assert.equal(first.fromCache, false);
      assert.equal((await client.getAccessToken('graph')).fromCache, true);
      await sleep(3100);
      const renewed = await client.getAccessToken('graph');
      assert.equal(renewed.fromCache, false);
      assert.notEqual(renewed.token, first.token);
      assert.equal((await env.emu.control.requests({ service: 'token' })).length, 2);
    } finally {
      await env.emu.control.setOptions({ tokenLifetimeSeconds: 3599 });
    }
  });

  it('a revoked token leads to exactly one refresh and the call succeeds', async () => {
    const w = await newWorld(env.emu);
    const second = `bob.${w.tenantId.slice(0, 8)}@contoso.example`;
    const secondId = randomUUID();
    await env.emu.control.seed({ tenants: [{ tenantId: w.tenantId, users: [{ id: secondId, userPrincipalName: second }] }] });
    const client = new AzureComplianceClient(w.cfg);
    assert.equal(await client.resolveUserId(w.user.upn), w.user.id);
    const revokedAt = new Date().toISOString();
    await env.emu.control.revokeTokens();

    assert.equal(await client.resolveUserId(second), secondId);
    const tokens = await env.emu.control.requests({ service: 'token' });
    assert.equal(tokens.length, 2);
    assert.ok(tokens[1]!.at >= revokedAt);
    assert.deepEqual(
      tokens.map((e) => (e.body as Record<string, string>).scope),
      [GRAPH_SCOPE, GRAPH_SCOPE],
    );
    const lookups = await env.emu.control.requests({ service: 'graph', pathIncludes: `/users('${second}')` });
    assert.deepEqual(
      lookups.map((e) => e.status),
      [401, 200],
    );
    // The refreshed token went to msal-node's cache: the next call needs no new token.
    assert.equal((await client.getAccessToken('graph')).fromCache, true);
  });

  it('a revoked partner-API token leads to exactly one refresh and the call succeeds', async () => {
    const w = await newWorld(env.emu);
    const client = new AzureComplianceClient(w.cfg);
    await client.sendHeartbeat();
    await env.emu.control.revokeTokens();
    await env.emu.control.clearRequests();
    await client.sendHeartbeat();
    const journal = await env.emu.control.requests();
    assert.deepEqual(
      journal.map((e) => `${e.service} ${e.status}`),
      ['intune 401', 'token 200', 'intune 200'],
    );
    assert.equal((journal[1]!.body as Record<string, string>).scope, INTUNE_SCOPE);
    assert.equal((await env.emu.control.tenant(w.tenantId)).heartbeats, 2);
  });

  it('a token expired by the emulator clock (msal-node still trusts it) is refreshed once and the call succeeds', async () => {
    const w = await newWorld(env.emu);
    const client = new AzureComplianceClient(w.cfg);
    assert.equal(await client.resolveUserId(w.user.upn), w.user.id);
    await env.emu.control.setClock(3600);
    try {
      const other = `carol.${w.tenantId.slice(0, 8)}@contoso.example`;
      await env.emu.control.seed({ tenants: [{ tenantId: w.tenantId, users: [{ userPrincipalName: other }] }] });
      // msal-node's local clock did not move: it still serves the old token from its cache.
      assert.equal((await client.getAccessToken('graph')).fromCache, true);
      await env.emu.control.clearRequests();
      await client.resolveUserId(other);
      const journal = await env.emu.control.requests();
      assert.deepEqual(
        journal.map((e) => `${e.service} ${e.status}`),
        ['graph 401', 'token 200', 'graph 200'],
      );
    } finally {
      await env.emu.control.setClock(0);
    }
  });

  it('token endpoint 429 with Retry-After: 1 → Throttled 1000 ms; after 1 s the next call reaches the server', async () => {
    const w = await newWorld(env.emu);
    const client = new AzureComplianceClient(w.cfg);
    await env.emu.control.addFault({ match: { service: 'token' }, response: { status: 429, headers: { 'Retry-After': '1' } }, times: 1 });
    const err = await rejectionOf(client.getAccessToken('graph'));
    assert.ok(err instanceof AzureApiError);
    assert.deepEqual([err.service, err.status, err.reason, err.retryAfterMs], ['token', 429, 'Throttled', 1000]);
    const failure = toTemporalFailure(err, { operation: 'reportDevice', deviceId: w.device.deviceId });
    assert.equal(failure.type, 'Throttled');
    assert.equal(failure.nonRetryable, false);
    assert.equal(failure.nextRetryDelay, 1000);

    // Right away, msal-node refuses by itself (no request) for what is left of that second.
    const local = await rejectionOf(client.getAccessToken('graph'));
    assert.ok(local instanceof AzureApiError);
    assert.equal(local.reason, 'Throttled');
    assert.equal(local.status, null);
    assert.ok(local.retryAfterMs !== null && local.retryAfterMs > 0 && local.retryAfterMs <= 1000, `retryAfterMs ${local.retryAfterMs}`);
    assert.equal((await env.emu.control.requests({ service: 'token' })).length, 1);

    await sleep(1100);
    const ok = await client.getAccessToken('graph');
    assert.equal(ok.fromCache, false);
    assert.deepEqual(
      (await env.emu.control.requests({ service: 'token' })).map((e) => e.status),
      [429, 200],
    );
  });

  it('token endpoint 503 → retryable; 500 → retryable Transient', async () => {
    const w = await newWorld(env.emu);
    const client = new AzureComplianceClient(w.cfg);
    await env.emu.control.addFault({ match: { service: 'token' }, response: { status: 503, headers: { 'Retry-After': '1' } }, times: 1 });
    const e503 = await rejectionOf(client.getAccessToken('graph'));
    assert.ok(e503 instanceof AzureApiError);
    assert.deepEqual([e503.status, e503.code, e503.reason], [503, 'temporarily_unavailable', 'Throttled']);
    assert.equal(toTemporalFailure(e503).nextRetryDelay, 1000);

    await sleep(1100);
    await env.emu.control.addFault({ match: { service: 'token' }, response: { status: 500 }, times: 1 });
    const e500 = await rejectionOf(client.getAccessToken('graph'));
    assert.ok(e500 instanceof AzureApiError);
    assert.deepEqual([e500.status, e500.code, e500.reason], [500, 'server_error', 'Transient']);
    assert.equal(toTemporalFailure(e500).type, 'Transient');
    assert.equal(toTemporalFailure(e500).nonRetryable, false);
  });

  it('token endpoint 502 with a text/html body → retryable Transient whose message names the status', async () => {
    const w = await newWorld(env.emu);
    const client = new AzureComplianceClient(w.cfg);
    await env.emu.control.addFault({
      match: { service: 'token' },
      response: { status: 502, headers: { 'Content-Type': 'text/html', 'Retry-After': '1' }, body: '<html>Bad Gateway</html>' },
      times: 1,
    });
    const err = await rejectionOf(client.getAccessToken('graph'));
    assert.ok(err instanceof AzureApiError);
    const failure = toTemporalFailure(err);
    assert.equal(failure.type, 'Transient');
    assert.equal(err.status, 502);
    assert.ok(failure.message.includes('HTTP 502') && failure.message.includes('text/html'), failure.message);
  });

  it('a wrong client secret → non-retryable InvalidCredentials that never shows the secret', async () => {
    const w = await newWorld(env.emu);
    const wrongSecret = `wrong-${randomUUID()}`;
    const client = new AzureComplianceClient({ ...w.cfg, clientSecret: wrongSecret });
    const err = await rejectionOf(client.getAccessToken('graph'));
    assert.ok(err instanceof AzureApiError);
    assert.deepEqual([err.status, err.code, err.reason], [401, 'invalid_client', 'InvalidCredentials']);
    const failure = toTemporalFailure(err, { deviceId: w.device.deviceId });
    assert.equal(failure.type, 'InvalidCredentials');
    assert.equal(failure.nonRetryable, true);
    assert.ok(failure.message.includes('AADSTS7000215'), failure.message);
    assert.ok(!failure.message.includes(wrongSecret) && !failure.message.includes(w.clientSecret));
    // The right secret still works: a new secret is a new MSAL application, not the failed one.
    assert.equal((await new AzureComplianceClient(w.cfg).getAccessToken('graph')).fromCache, false);
  });

  it('an app unknown to the tenant → non-retryable InvalidCredentials (unauthorized_client)', async () => {
    const w = await newWorld(env.emu);
    const client = new AzureComplianceClient({ ...w.cfg, clientId: randomUUID() });
    const err = await rejectionOf(client.getAccessToken('intune'));
    assert.ok(err instanceof AzureApiError);
    assert.deepEqual([err.status, err.code, err.reason], [400, 'unauthorized_client', 'InvalidCredentials']);
    assert.equal(toTemporalFailure(err).nonRetryable, true);
  });

  it('an unknown tenant → non-retryable failure', async () => {
    const w = await newWorld(env.emu);
    const client = new AzureComplianceClient({ ...w.cfg, tenantId: randomUUID() });
    const err = await rejectionOf(client.getAccessToken('graph'));
    assert.ok(err instanceof AzureApiError);
    assert.equal(err.reason, 'InvalidCredentials');
    assert.equal(toTemporalFailure(err).nonRetryable, true);
  });
});

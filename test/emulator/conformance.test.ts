// The emulator's contract (docs/microsoft-protocol.md), checked with the real msal-node and Graph client.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { BatchRequestContent, GraphError } from '@microsoft/microsoft-graph-client';
import {
  accessToken,
  call,
  GRAPH_SCOPE,
  INTUNE_SCOPE,
  makeCca,
  makeGraph,
  messageUrl,
  reportEntities,
  sleep,
  uploadBody,
  useEmulatorWithTenant,
} from './helpers';

describe('azure emulator: conformance with the real libraries', () => {
  const env = useEmulatorWithTenant();

  it('1. serves a token from the network, then from the cache, then from the network once exp - 300 s has passed', async () => {
    // 301 s of lifetime puts MSAL's renewal point (exp - 300 s) one second after issue.
    await env.emu.control.setOptions({ tokenLifetimeSeconds: 301 });
    const cca = makeCca(env.emu, env.t);
    const first = await cca.acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] });
    const second = await cca.acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] });
    assert.equal(first?.fromCache, false);
    assert.equal(second?.fromCache, true);
    assert.equal(second?.accessToken, first?.accessToken);
    await sleep(2100);
    const third = await cca.acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] });
    assert.equal(third?.fromCache, false);
    assert.notEqual(third?.accessToken, first?.accessToken);
    const tokenRequests = await env.emu.control.requests({ service: 'token' });
    assert.equal(tokenRequests.length, 2);
    assert.deepEqual(
      tokenRequests.map((r) => r.status),
      [200, 200],
    );
  });

  it('2. reaches nothing but the emulator, and never instance discovery, with knownAuthorities (with and without authorityMetadata)', async () => {
    const seen: string[] = [];
    const realFetch = globalThis.fetch;
    globalThis.fetch = (input: string | URL | Request, init?: RequestInit) => {
      seen.push(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
      return realFetch(input, init);
    };
    try {
      const discovering = makeCca(env.emu, env.t);
      await makeGraph(env.emu, discovering).api('/devices').get();
      const base = `${env.emu.url}/${env.t.tenantId}`;
      const configured = makeCca(env.emu, env.t, {
        authorityMetadata: JSON.stringify({
          token_endpoint: `${base}/oauth2/v2.0/token`,
          authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
          issuer: `${base}/v2.0`,
          jwks_uri: `${base}/discovery/v2.0/keys`,
        }),
      });
      await env.emu.control.clearRequests();
      await accessToken(configured, INTUNE_SCOPE);
      assert.deepEqual(
        (await env.emu.control.requests()).map((r) => r.service),
        ['token'],
      );
    } finally {
      globalThis.fetch = realFetch;
    }
    const hosts = new Set(seen.filter((u) => !u.includes('/_emulator/')).map((u) => new URL(u).host));
    assert.deepEqual([...hosts], [`localhost:${env.emu.port}`]);
    assert.equal(
      seen.some((u) => u.includes('/discovery/instance')),
      false,
    );
  });

  it('2b. answers the metadata MSAL fetches without authorityMetadata with a same-origin issuer', async () => {
    await accessToken(makeCca(env.emu, env.t), GRAPH_SCOPE);
    const journal = await env.emu.control.requests();
    assert.deepEqual(
      journal.map((r) => [r.service, r.method, r.path.split('?')[0], r.status]),
      [
        ['identity', 'GET', `/${env.t.tenantId}/v2.0/.well-known/openid-configuration`, 200],
        ['token', 'POST', `/${env.t.tenantId}/oauth2/v2.0/token`, 200],
      ],
    );
  });

  it('3. receives Authorization, client-request-id and SdkVersion only when customHosts names localhost', async () => {
    const cca = makeCca(env.emu, env.t);
    await makeGraph(env.emu, cca).api('/devices').get();
    const [withHosts] = await env.emu.control.requests({ service: 'graph' });
    assert.equal(withHosts?.hasBearer, true);
    assert.match(withHosts?.clientRequestId ?? '', /^[0-9a-f-]{36}$/);
    assert.match(withHosts?.sdkVersion ?? '', /^graph-js\/3\.0\.7/);

    await env.emu.control.clearRequests();
    const err = await makeGraph(env.emu, cca, { customHosts: false })
      .api('/devices')
      .get()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(err instanceof GraphError);
    assert.equal(err.statusCode, 401);
    assert.equal(err.code, 'InvalidAuthenticationToken');
    const [withoutHosts] = await env.emu.control.requests({ service: 'graph' });
    assert.equal(withoutHosts?.hasBearer, false);
    assert.equal(withoutHosts?.clientRequestId, undefined);
    assert.equal(withoutHosts?.sdkVersion, undefined);
    assert.equal(withoutHosts?.status, 401);
  });

  it('4. three 429s with Retry-After: 0 then 200 succeed within one api() call; four surface as GraphError 429', async () => {
    const graph = makeGraph(env.emu, makeCca(env.emu, env.t));
    await env.emu.control.addFault({
      match: { service: 'graph', pathRegex: '^/v1\\.0/devices' },
      response: { status: 429, headers: { 'Retry-After': '0' } },
      times: 3,
    });
    const ok = (await graph.api('/devices').get()) as { value: unknown[] };
    assert.deepEqual(ok.value, []);
    const journal = await env.emu.control.requests({ service: 'graph' });
    assert.deepEqual(
      journal.map((r) => [r.status, r.retryAttempt, r.faulted ?? false]),
      [
        [429, undefined, true],
        [429, '1', true],
        [429, '2', true],
        [200, '3', false],
      ],
    );

    await env.emu.control.clearRequests();
    await env.emu.control.addFault({
      match: { service: 'graph', pathRegex: '^/v1\\.0/devices' },
      response: { status: 429, headers: { 'Retry-After': '0' } },
      times: 4,
    });
    const err = await graph
      .api('/devices')
      .get()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(err instanceof GraphError);
    assert.equal(err.statusCode, 429);
    assert.equal(err.code, 'TooManyRequests');
    assert.equal(err.message, 'Please retry again later.');
    assert.deepEqual(
      (await env.emu.control.requests({ service: 'graph' })).map((r) => r.status),
      [429, 429, 429, 429],
    );
  });

  it('5. a 21-step batch fails in the client; a hand-built 21-request batch gets 400', async () => {
    const steps = Array.from({ length: 21 }, (_, i) => ({ id: String(i + 1), request: new Request(`${env.emu.url}/v1.0/devices`) }));
    assert.throws(
      () => new BatchRequestContent(steps),
      (e: Error) => e.name === 'Limit Exceeded Error',
    );

    const token = await accessToken(makeCca(env.emu, env.t), GRAPH_SCOPE);
    const requests = Array.from({ length: 21 }, (_, i) => ({ id: String(i + 1), method: 'GET', url: '/devices' }));
    const res = await call(`${env.emu.url}/v1.0/$batch`, { method: 'POST', token, body: { requests } });
    assert.equal(res.status, 400);
    assert.equal((res.body as { error: { code: string; message: string } }).error.code, 'BadRequest');
    assert.equal((res.body as { error: { message: string } }).error.message, 'The batch contains 21 requests; the maximum is 20.');
    const twenty = await call(`${env.emu.url}/v1.0/$batch`, { method: 'POST', token, body: { requests: requests.slice(0, 20) } });
    assert.equal(twenty.status, 200);
    assert.equal((twenty.body as { responses: unknown[] }).responses.length, 20);
  });

  it('6. runs the partner flow end to end: discovery, provisioning, policy, assignment, upload, status, Entra device', async () => {
    const deviceId = randomUUID();
    const upn = 'alice@contoso.example';
    await env.emu.control.seed({
      tenants: [
        {
          tenantId: env.t.tenantId,
          users: [{ userPrincipalName: upn }],
          devices: [{ deviceId, operatingSystem: 'iOS', displayName: 'iPhone' }],
        },
      ],
    });
    const cca = makeCca(env.emu, env.t);
    const graph = makeGraph(env.emu, cca);

    const sps = (await graph.api('/servicePrincipals').filter("appId eq '0000000a-0000-0000-c000-000000000000'").get()) as {
      value: Array<{ id: string }>;
    };
    assert.equal(sps.value.length, 1);
    const endpoints = (await graph.api(`/servicePrincipals/${sps.value[0]!.id}/endPoints`).get()) as {
      value: Array<{ providerName: string; uri: string }>;
    };
    const uriOf = (name: string): string => endpoints.value.find((e) => e.providerName === name)!.uri;
    const tenantSync = uriOf('PartnerTenantDataSyncService');
    const deviceSync = uriOf('PartnerDeviceDataSyncService');
    assert.equal(tenantSync, `${env.emu.url}/intune/PartnerTenantDataSyncService`);
    assert.equal(deviceSync, `${env.emu.url}/intune/PartnerDeviceDataSyncService`);

    const token = await accessToken(cca, INTUNE_SCOPE);
    const p1 = await call(`${tenantSync}/PartnerTenants(guid'${env.t.tenantId}')?api-version=1.6`, {
      method: 'PUT',
      token,
      body: {
        Provisioned: 1,
        PartnerEnrollmentUrl: 'https://mdm.example.com/enroll',
        PartnerRemediationUrl: 'https://mdm.example.com/fix',
      },
    });
    assert.equal(p1.status, 200);
    const p1Body = p1.body as Record<string, unknown>;
    assert.deepEqual(
      { ...p1Body, Key: typeof p1Body.Key },
      { Key: 'string', ContextId: env.t.tenantId, Provisioned: 1, HttpStatusCode: 200, ErrorDetail: null },
    );

    const policy = {
      DisplayName: 'MDM compliance',
      Description: 'Reported by the partner',
      Platform: 'iOS',
      PartnerManagedCompliance: true,
    };
    const p2 = await call(`${tenantSync}/PartnerCompliancePolicies?api-version=1.6`, { method: 'POST', token, body: policy });
    assert.equal(p2.status, 201);
    const created = p2.body as Record<string, unknown>;
    assert.equal(created['odata.metadata'], `${tenantSync}/$metadata#PartnerCompliancePolicies/@Element`);
    assert.equal(created.DisplayName, 'MDM compliance');
    assert.equal(created.Platform, 'iOS');
    assert.equal(created.PartnerManagedCompliance, true);
    const again = await call(`${tenantSync}/PartnerCompliancePolicies?api-version=1.6`, { method: 'POST', token, body: policy });
    assert.equal(again.status, 409);
    const list = await call(`${tenantSync}/PartnerCompliancePolicies?api-version=1.6`, { token });
    const policyId = (list.body as { value: Array<{ Id: string }> }).value[0]!.Id;
    assert.equal(policyId, created.Id);

    const groupId = randomUUID();
    const p3 = await call(`${tenantSync}/PartnerCompliancePolicies(guid'${policyId}')/Assign?api-version=1.6`, {
      method: 'POST',
      token,
      body: { assignments: [groupId] },
    });
    assert.equal(p3.status, 200);
    assert.equal((p3.body as { value: string }).value, JSON.stringify({ assignments: [groupId] }));

    const user = (await graph.api(`/users('${upn}')`).get()) as { id: string; userPrincipalName: string };
    assert.equal(user.userPrincipalName, upn);
    const messageId = randomUUID();
    const lastUpdateTime = '2026-03-01T10:00:00.000Z';
    const entities = reportEntities({ tenantId: env.t.tenantId, deviceId, userId: user.id, lastUpdateTime });
    const p4 = await call(messageUrl(env.emu, messageId), { method: 'PUT', token, body: uploadBody(env.t.tenantId, entities) });
    assert.equal(p4.status, 200);
    assert.deepEqual(p4.body, { Id: messageId, Status: 'Pending' });
    const poll1 = await call(messageUrl(env.emu, messageId), { token });
    assert.deepEqual(poll1.body, { Status: 'Processing', ErrorDetail: null });
    const poll2 = await call(messageUrl(env.emu, messageId), { token });
    const done = poll2.body as Record<string, unknown>;
    assert.equal(done.Status, 'Completed');
    assert.equal(done.ErrorDetail, null);
    assert.match(String(done.CompletedDateTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const device = (await graph.api(`/devices(deviceId='${deviceId}')`).get()) as Record<string, unknown>;
    assert.equal(device.isCompliant, true);
    assert.equal(device.isManaged, true);
    assert.equal(device.operatingSystem, 'iOS');
    assert.equal(device.operatingSystemVersion, '17.4');

    const view = await env.emu.control.tenant(env.t.tenantId);
    assert.equal(view.provisioned, 1);
    assert.deepEqual(view.assignments, [{ policyId, assignments: [groupId] }]);
  });
});

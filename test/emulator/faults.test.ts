// Each kind of failure Microsoft answers (docs/microsoft-protocol.md), asserted at the protocol level with the real
// libraries, plus the fault mechanics themselves (FIFO, times, probability, delay).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { AuthError, ServerError } from '@azure/msal-node';
import { BatchRequestContent, BatchResponseContent, GraphError } from '@microsoft/microsoft-graph-client';
import { accessToken, call, GRAPH_SCOPE, makeCca, makeGraph, sleep, useEmulatorWithTenant } from './helpers';

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
}

function gapMs(a: { at: string } | undefined, b: { at: string } | undefined): number {
  return Date.parse(b!.at) - Date.parse(a!.at);
}

describe('azure emulator: fault table', () => {
  const env = useEmulatorWithTenant();

  describe('Graph', () => {
    it('429 with Retry-After: 1 is waited for and retried with Retry-Attempt', async () => {
      const graph = makeGraph(env.emu, makeCca(env.emu, env.t));
      await env.emu.control.addFault({
        match: { service: 'graph', method: 'GET', pathRegex: '/devices' },
        response: { status: 429, headers: { 'Retry-After': '1' } },
        times: 1,
      });
      await graph.api('/devices').get();
      const [first, second] = await env.emu.control.requests({ service: 'graph' });
      assert.deepEqual([first?.status, first?.faulted, second?.status, second?.retryAttempt], [429, true, 200, '1']);
      assert.ok(gapMs(first, second) >= 1000, `retry came ${gapMs(first, second)} ms after the 429`);
    });

    it("a 429 body and headers follow Graph's error shape", async () => {
      const token = await accessToken(makeCca(env.emu, env.t), GRAPH_SCOPE);
      await env.emu.control.addFault({
        match: { service: 'graph' },
        response: { status: 429, headers: { 'Retry-After': '10' } },
        times: 1,
      });
      const res = await call(`${env.emu.url}/v1.0/devices`, { token, headers: { 'client-request-id': 'abc-123' } });
      assert.equal(res.status, 429);
      assert.equal(res.headers.get('retry-after'), '10');
      assert.equal(res.headers.get('client-request-id'), 'abc-123');
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      const body = res.body as { error: { code: string; message: string; innerError: Record<string, string> } };
      assert.equal(body.error.code, 'TooManyRequests');
      assert.equal(body.error.message, 'Please retry again later.');
      assert.deepEqual(
        { ...body.error.innerError, date: 'x', 'request-id': 'x' },
        {
          code: '429',
          message: 'Please retry after',
          status: '429',
          date: 'x',
          'request-id': 'x',
          'client-request-id': 'abc-123',
        },
      );
      assert.equal(body.error.innerError['request-id'], res.headers.get('request-id'));
    });

    it('a 429 inside $batch is returned per item and not retried by the SDK', async () => {
      const graph = makeGraph(env.emu, makeCca(env.emu, env.t));
      const deviceA = randomUUID();
      const deviceB = randomUUID();
      await env.emu.control.seed({ tenants: [{ tenantId: env.t.tenantId, devices: [{ deviceId: deviceA }, { deviceId: deviceB }] }] });
      await env.emu.control.addFault({
        match: { batchItem: true, pathRegex: deviceA },
        response: { status: 429, headers: { 'Retry-After': '1' } },
        times: 1,
      });
      const content = new BatchRequestContent([
        { id: 'a', request: new Request(`${env.emu.url}/devices(deviceId='${deviceA}')`, { method: 'GET' }) },
        { id: 'b', request: new Request(`${env.emu.url}/devices(deviceId='${deviceB}')`, { method: 'GET' }) },
      ]);
      const raw = (await graph.api('/$batch').post(await content.getContent())) as { responses: Array<{ id: string }> };
      assert.deepEqual(
        raw.responses.map((r) => r.id),
        ['b', 'a'],
      ); // order differs from the request on purpose
      const batch = new BatchResponseContent(raw);
      const a = batch.getResponseById('a');
      const b = batch.getResponseById('b');
      assert.equal(a.status, 429);
      assert.equal(a.headers.get('Retry-After'), '1');
      assert.equal(((await a.json()) as { error: { code: string } }).error.code, 'TooManyRequests');
      assert.equal(b.status, 200);
      assert.equal(((await b.json()) as { deviceId: string }).deviceId, deviceB);
      const journal = await env.emu.control.requests({ service: 'graph' });
      assert.deepEqual(
        journal.map((r) => [r.path, r.status, r.faulted ?? false]),
        [['/v1.0/$batch', 200, false]],
      );
    });

    it('a failed dependsOn parent gives its dependant 424', async () => {
      const token = await accessToken(makeCca(env.emu, env.t), GRAPH_SCOPE);
      const res = await call(`${env.emu.url}/v1.0/$batch`, {
        method: 'POST',
        token,
        body: {
          requests: [
            { id: '1', method: 'GET', url: `/devices/${randomUUID()}` },
            { id: '2', method: 'GET', url: '/devices', dependsOn: ['1'] },
          ],
        },
      });
      const statuses = Object.fromEntries(
        (res.body as { responses: Array<{ id: string; status: number }> }).responses.map((r) => [r.id, r.status]),
      );
      assert.deepEqual(statuses, { '1': 404, '2': 424 });
    });

    it('503 and 504 with Retry-After: 0 are retried like 429', async () => {
      const graph = makeGraph(env.emu, makeCca(env.emu, env.t));
      await env.emu.control.addFault({ match: { service: 'graph' }, response: { status: 503, headers: { 'Retry-After': '0' } }, times: 1 });
      await env.emu.control.addFault({ match: { service: 'graph' }, response: { status: 504, headers: { 'Retry-After': '0' } }, times: 1 });
      await graph.api('/devices').get();
      const journal = await env.emu.control.requests({ service: 'graph' });
      assert.deepEqual(
        journal.map((r) => [r.status, r.retryAttempt]),
        [
          [503, undefined],
          [504, '1'],
          [200, '2'],
        ],
      );
    });

    it('500 generalException is not retried', async () => {
      const graph = makeGraph(env.emu, makeCca(env.emu, env.t));
      await env.emu.control.addFault({ match: { service: 'graph' }, response: { status: 500 }, times: 1 });
      const err = await rejection(graph.api('/devices').get());
      assert.ok(err instanceof GraphError);
      assert.equal(err.statusCode, 500);
      assert.equal(err.code, 'generalException');
      assert.deepEqual(
        (await env.emu.control.requests({ service: 'graph' })).map((r) => r.status),
        [500],
      );
    });

    it('a revoked token gets 401 InvalidAuthenticationToken with WWW-Authenticate; a fresh token works', async () => {
      const cca = makeCca(env.emu, env.t);
      const graph = makeGraph(env.emu, cca);
      await graph.api('/devices').get();
      const token = await accessToken(cca, GRAPH_SCOPE);
      await env.emu.control.revokeTokens();
      const err = await rejection(graph.api('/devices').get());
      assert.ok(err instanceof GraphError);
      assert.equal(err.statusCode, 401);
      assert.equal(err.code, 'InvalidAuthenticationToken');
      assert.equal(err.message, 'Access token has expired or is not yet valid.');
      const raw = await call(`${env.emu.url}/v1.0/devices`, { token });
      assert.equal(raw.status, 401);
      assert.equal(
        raw.headers.get('www-authenticate'),
        `Bearer realm="", authorization_uri="${env.emu.url}/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`,
      );
      const refreshed = await cca.acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE], skipCache: true });
      assert.equal(refreshed?.fromCache, false);
      assert.equal((await call(`${env.emu.url}/v1.0/devices`, { token: refreshed!.accessToken })).status, 200);
    });

    it('a token past exp on the emulator clock gets 401 while MSAL still serves it from cache', async () => {
      const cca = makeCca(env.emu, env.t);
      await accessToken(cca, GRAPH_SCOPE);
      await env.emu.control.setClock(3600);
      const cached = await cca.acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] });
      assert.equal(cached?.fromCache, true);
      const expired = await call(`${env.emu.url}/v1.0/devices`, { token: cached!.accessToken });
      assert.equal(expired.status, 401);
      assert.equal((expired.body as { error: { message: string } }).error.message, 'Access token has expired or is not yet valid.');
      assert.ok(expired.headers.get('www-authenticate')?.startsWith('Bearer realm=""'));
      const fresh = await cca.acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE], skipCache: true });
      assert.equal((await call(`${env.emu.url}/v1.0/devices`, { token: fresh!.accessToken })).status, 200);
    });

    it('an unknown device is 404 Request_ResourceNotFound by key and an empty value by filter', async () => {
      const graph = makeGraph(env.emu, makeCca(env.emu, env.t));
      const unknown = randomUUID();
      const err = await rejection(graph.api(`/devices(deviceId='${unknown}')`).get());
      assert.ok(err instanceof GraphError);
      assert.equal(err.statusCode, 404);
      assert.equal(err.code, 'Request_ResourceNotFound');
      assert.equal(err.message, `Resource '${unknown}' does not exist or one of its queried reference-property objects are not present.`);
      const list = (await graph.api('/devices').filter(`deviceId eq '${unknown}'`).get()) as { value: unknown[] };
      assert.deepEqual(list.value, []);
    });

    it('a non-JSON 502 reaches the caller as GraphError 502', async () => {
      const graph = makeGraph(env.emu, makeCca(env.emu, env.t));
      await env.emu.control.addFault({
        match: { service: 'graph' },
        response: { status: 502, headers: { 'Content-Type': 'text/html' }, body: '<html><body>Bad Gateway</body></html>' },
        times: 1,
      });
      const err = await rejection(graph.api('/devices').get());
      assert.ok(err instanceof GraphError);
      assert.equal(err.statusCode, 502);
      assert.deepEqual(
        (await env.emu.control.requests({ service: 'graph' })).map((r) => [r.status, r.faulted]),
        [[502, true]],
      );
    });
  });

  describe('token endpoint', () => {
    it('429 carries Retry-After: 1, so MSAL throttles for one second and not sixty', async () => {
      await env.emu.control.addFault({ match: { service: 'token' }, response: { status: 429 }, times: 1 });
      const cca = makeCca(env.emu, env.t);
      const first = await rejection(cca.acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] }));
      assert.ok(first instanceof ServerError);
      assert.equal(first.errorCode, 'temporarily_unavailable');
      const throttled = await rejection(cca.acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] }));
      assert.ok(throttled instanceof ServerError);
      assert.equal((await env.emu.control.requests({ service: 'token' })).length, 1, 'the throttled call must not reach the server');
      let token: string | undefined;
      for (let i = 0; i < 20 && !token; i++) {
        await sleep(250);
        token = await accessToken(cca, GRAPH_SCOPE).catch(() => undefined);
      }
      assert.ok(token, 'MSAL was still throttled 5 s after a Retry-After: 1');
      const journal = await env.emu.control.requests({ service: 'token' });
      assert.deepEqual(
        journal.map((r) => [r.status, r.faulted ?? false]),
        [
          [429, true],
          [200, false],
        ],
      );
      assert.ok(gapMs(journal[0], journal[1]) >= 1000);
    });

    it('429 and 503 bodies are AAD errors with Retry-After unless the fault sets it', async () => {
      await env.emu.control.addFault({ match: { service: 'token' }, response: { status: 503 }, times: 1 });
      await env.emu.control.addFault({ match: { service: 'token' }, response: { status: 429, headers: { 'Retry-After': '0' } }, times: 1 });
      const url = `${env.emu.url}/${env.t.tenantId}/oauth2/v2.0/token`;
      const form = new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: env.t.clientId,
        client_secret: env.t.clientSecret,
        scope: GRAPH_SCOPE,
      });
      const post = (): Promise<Response> =>
        fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: form });
      const unavailable = await post();
      assert.equal(unavailable.status, 503);
      assert.equal(unavailable.headers.get('retry-after'), '1');
      const body = (await unavailable.json()) as { error: string; error_codes: number[]; error_description: string };
      assert.equal(body.error, 'temporarily_unavailable');
      assert.deepEqual(body.error_codes, [90033]);
      assert.match(
        body.error_description,
        /^AADSTS90033: .* Trace ID: [0-9a-f-]{36} Correlation ID: [0-9a-f-]{36} Timestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/,
      );
      const explicit = await post();
      assert.equal(explicit.status, 429);
      assert.equal(explicit.headers.get('retry-after'), '0');
    });

    it('400/401 errors surface as ServerError with the AADSTS number and are not throttled', async () => {
      const wrongSecret = makeCca(env.emu, { ...env.t, clientSecret: 'not-the-secret' });
      const err = await rejection(wrongSecret.acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] }));
      assert.ok(err instanceof ServerError);
      assert.equal(err.errorCode, 'invalid_client');
      assert.equal(String(err.errorNo), '7000215'); // error_codes holds numbers, as Entra sends them
      await rejection(wrongSecret.acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] }));
      assert.deepEqual(
        (await env.emu.control.requests({ service: 'token' })).map((r) => r.status),
        [401, 401],
      );
    });

    it('a non-JSON 502 becomes a token parsing error in MSAL', async () => {
      await env.emu.control.addFault({
        match: { service: 'token' },
        response: { status: 502, headers: { 'Content-Type': 'text/html' }, body: '<html>Bad Gateway</html>' },
        times: 1,
      });
      const err = await rejection(makeCca(env.emu, env.t).acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] }));
      assert.ok(err instanceof AuthError);
      assert.equal(err.errorCode, 'token_parsing_error');
    });
  });

  describe('mechanics', () => {
    it('faults fire in FIFO order, each for its count', async () => {
      const token = await accessToken(makeCca(env.emu, env.t), GRAPH_SCOPE);
      await env.emu.control.addFault({ match: { service: 'graph' }, response: { status: 503 }, times: 1 });
      await env.emu.control.addFault({ match: { service: 'graph' }, response: { status: 500 }, times: 2 });
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await call(`${env.emu.url}/v1.0/devices`, { token })).status);
      assert.deepEqual(statuses, [503, 500, 500, 200]);
    });

    it('matches on method and path regex, and a probability of 0 never fires', async () => {
      const token = await accessToken(makeCca(env.emu, env.t), GRAPH_SCOPE);
      await env.emu.control.addFault({ match: { method: 'POST', pathRegex: '/devices' }, response: { status: 500 } });
      await env.emu.control.addFault({ match: { pathRegex: "deviceId eq 'zzz'" }, response: { status: 418 } });
      await env.emu.control.addFault({ match: { service: 'graph' }, response: { status: 500 }, probability: 0 });
      assert.equal((await call(`${env.emu.url}/v1.0/devices`, { token })).status, 200);
      assert.equal((await call(`${env.emu.url}/v1.0/devices?$filter=deviceId eq 'zzz'`, { token })).status, 418);
    });

    it('delayMs without a response delays the normal answer; a client timeout fires first', async () => {
      const token = await accessToken(makeCca(env.emu, env.t), GRAPH_SCOPE);
      await env.emu.control.addFault({ match: { service: 'graph' }, delayMs: 400, times: 2 });
      const aborted = await rejection(
        fetch(`${env.emu.url}/v1.0/devices`, { headers: { Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(100) }),
      );
      assert.equal((aborted as Error).name, 'TimeoutError');
      const slow = await call(`${env.emu.url}/v1.0/devices`, { token });
      assert.equal(slow.status, 200);
      await sleep(400); // let the aborted request's delay finish so it is journalled
      const journal = await env.emu.control.requests({ service: 'graph' });
      assert.deepEqual(
        journal.map((r) => [r.status, r.faulted]),
        [
          [200, true],
          [200, true],
        ],
      );
    });

    it('rejects an invalid fault spec with 400', async () => {
      await assert.rejects(env.emu.control.addFault({ match: { pathRegex: '(' }, response: { status: 500 } }), /failed with 400/);
      await assert.rejects(env.emu.control.addFault({ match: {}, response: { status: 99 } }), /failed with 400/);
    });
  });
});

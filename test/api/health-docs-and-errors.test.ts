/**
 * The routes without auth (api/routes/health.ts, api/routes/docs.ts) and the cross-cutting behaviour
 * of docs/http-contract.md: /healthz, /readyz, /metrics, /openapi.json (an OpenAPI 3.1 document
 * listing exactly the contract's routes), /docs, request ids, 404 problems.
 */
import { strict as assert } from 'node:assert';
import { createDb } from '../../db';
import { PROBLEM, call, makeApi, problemOf, validEvents } from './helpers';

/** Every route of docs/http-contract.md, as `METHOD path`. */
const CONTRACT_ROUTES = [
  'POST /v1/devices/{deviceId}/events',
  'POST /v1/events',
  'GET /v1/devices/{deviceId}',
  'GET /v1/devices',
  'GET /v1/devices/{deviceId}/reports',
  'POST /v1/devices/{deviceId}/sync',
  'POST /v1/sync',
  'GET /v1/settings',
  'PUT /v1/settings',
  'GET /healthz',
  'GET /readyz',
  'GET /metrics',
  'GET /openapi.json',
  'GET /docs',
  // Extension: follow a fleet operation started by POST /v1/sync.
  'GET /v1/operations/{operationId}',
  // Tenants (the operator's routes; Microsoft's consent redirect).
  'POST /v1/tenants',
  'GET /v1/tenants',
  'GET /v1/tenants/consent-callback',
  'GET /v1/tenants/{tenantId}',
  'PUT /v1/tenants/{tenantId}',
  'DELETE /v1/tenants/{tenantId}',
].sort();

type Json = Record<string, unknown>;

/**
 * Structural checks of OpenAPI 3.1 (the parts a generator can get wrong): required fields, every
 * $ref resolves, path templates and path parameters agree, security names exist, every operation
 * documents its responses with descriptions.
 */
function openApi31Problems(doc: Json): string[] {
  const problems: string[] = [];
  if (typeof doc.openapi !== 'string' || !/^3\.1\.\d+$/.test(doc.openapi)) problems.push(`openapi is ${String(doc.openapi)}`);
  const info = doc.info as Json | undefined;
  if (!info || typeof info.title !== 'string' || typeof info.version !== 'string') problems.push('info.title/version missing');
  const components = (doc.components ?? {}) as Json;
  const schemes = (components.securitySchemes ?? {}) as Json;
  const resolve = (ref: string): unknown => {
    if (!ref.startsWith('#/')) return undefined;
    return ref
      .slice(2)
      .split('/')
      .reduce<unknown>(
        (node, key) => (node && typeof node === 'object' ? (node as Json)[key.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined),
        doc,
      );
  };
  const walk = (node: unknown, where: string): void => {
    if (Array.isArray(node)) node.forEach((n, i) => walk(n, `${where}[${i}]`));
    else if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        if (k === '$ref') {
          if (typeof v !== 'string' || resolve(v) === undefined) problems.push(`${where}: unresolved $ref ${String(v)}`);
        } else walk(v, `${where}.${k}`);
      }
    }
  };
  walk(doc, '#');
  const operationIds = new Set<string>();
  for (const [path, item] of Object.entries((doc.paths ?? {}) as Record<string, Json>)) {
    if (!path.startsWith('/')) problems.push(`path ${path} does not start with /`);
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    for (const [method, op] of Object.entries(item) as Array<[string, Json]>) {
      if (!['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'].includes(method)) continue;
      const at = `${method.toUpperCase()} ${path}`;
      if (typeof op.operationId === 'string') {
        if (operationIds.has(op.operationId)) problems.push(`${at}: duplicate operationId`);
        operationIds.add(op.operationId);
      }
      const params = ((op.parameters ?? []) as Json[]).map((p) => (typeof p.$ref === 'string' ? (resolve(p.$ref) as Json) : p));
      for (const p of params) {
        if (typeof p.name !== 'string' || !['query', 'header', 'path', 'cookie'].includes(String(p.in)))
          problems.push(`${at}: bad parameter ${JSON.stringify(p)}`);
        if (p.in === 'path' && p.required !== true) problems.push(`${at}: path parameter ${String(p.name)} not required`);
        if (!p.schema && !p.content) problems.push(`${at}: parameter ${String(p.name)} without schema`);
      }
      const pathParams = params.filter((p) => p.in === 'path').map((p) => p.name);
      if (JSON.stringify([...pathParams].sort()) !== JSON.stringify([...templated].sort())) {
        problems.push(`${at}: path parameters ${JSON.stringify(pathParams)} vs template ${JSON.stringify(templated)}`);
      }
      const responses = op.responses as Record<string, Json> | undefined;
      if (!responses || Object.keys(responses).length === 0) problems.push(`${at}: no responses`);
      for (const [code, res] of Object.entries(responses ?? {})) {
        if (!/^([1-5]\d\d|[1-5]XX|default)$/.test(code)) problems.push(`${at}: bad status ${code}`);
        if (typeof res.description !== 'string') problems.push(`${at} ${code}: no description`);
      }
      for (const requirement of (op.security ?? []) as Json[]) {
        for (const name of Object.keys(requirement)) if (!(name in schemes)) problems.push(`${at}: unknown security scheme ${name}`);
      }
    }
  }
  return problems;
}

describe('API: health, metrics and docs routes', () => {
  it('GET /healthz answers 200 { status: "ok" }', async () => {
    const api = makeApi();
    const res = await call(api.app, 'GET', '/healthz');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok' });
  });

  it('GET /readyz answers 200 when Postgres and Temporal answer', async () => {
    const api = makeApi();
    const res = await call(api.app, 'GET', '/readyz');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ready', checks: { postgres: 'ok', temporal: 'ok' } });
  });

  it('GET /readyz answers 503 naming Temporal when it does not answer within the timeout', async () => {
    const api = makeApi({ timeouts: { readinessMs: 200 } });
    api.temporal.onSystemInfo = () => new Promise(() => undefined);
    const res = await call(api.app, 'GET', '/readyz');
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), { status: 'unavailable', checks: { postgres: 'ok', temporal: 'failed' } });
  });

  it('GET /readyz answers 503 naming Postgres when it is unreachable', async function () {
    this.timeout(15_000);
    const deadDb = createDb('postgres://postgres@127.0.0.1:1/none');
    try {
      const api = makeApi({ db: deadDb });
      const res = await call(api.app, 'GET', '/readyz');
      assert.equal(res.status, 503);
      assert.deepEqual(await res.json(), { status: 'unavailable', checks: { postgres: 'failed', temporal: 'ok' } });
    } finally {
      await deadDb.destroy();
    }
  });

  it('GET /metrics serves Prometheus text with request counts by route pattern, latency histograms and Node metrics', async () => {
    const api = makeApi();
    await call(api.app, 'POST', '/v1/devices/dev-1/events', { key: 'mdm', body: validEvents.compliance() });
    await call(api.app, 'POST', '/v1/devices/dev-2/events', { key: 'mdm', body: validEvents.compliance() });
    await call(api.app, 'GET', '/v1/devices/dev-1', { key: 'mdm' });
    await call(api.app, 'GET', '/nowhere');
    const res = await call(api.app, 'GET', '/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    assert.match(text, /http_requests_total\{route="\/v1\/devices\/:deviceId\/events",method="POST",status="202"\} 2/);
    assert.match(text, /http_requests_total\{route="\/v1\/devices\/:deviceId",method="GET",status="403"\} 1/);
    assert.match(text, /http_requests_total\{route="unmatched",method="GET",status="404"\} 1/);
    assert.match(
      text,
      /http_request_duration_seconds_bucket\{le="0.005",route="\/v1\/devices\/:deviceId\/events",method="POST",status="202"\}/,
    );
    assert.match(text, /process_cpu_user_seconds_total/);
    assert.match(text, /nodejs_eventloop_lag_seconds/);
    assert.ok(!text.includes('dev-1'), 'raw paths never become labels');
  });

  it('GET /openapi.json is an OpenAPI 3.1 document listing exactly the routes of the contract', async () => {
    const api = makeApi();
    const res = await call(api.app, 'GET', '/openapi.json');
    assert.equal(res.status, 200);
    const doc = (await res.json()) as Json;
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(openApi31Problems(doc), []);
    const routes = Object.entries(doc.paths as Record<string, Json>)
      .flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    assert.deepEqual(routes, CONTRACT_ROUTES);
  });

  it('the document uses the bearer scheme for both roles and documents every status the routes answer', async () => {
    const api = makeApi();
    const doc = (await (await call(api.app, 'GET', '/openapi.json')).json()) as {
      components: { securitySchemes: Record<string, { type: string; scheme: string }>; schemas: Record<string, Json> };
      paths: Record<
        string,
        Record<string, { security?: Array<Record<string, string[]>>; responses: Record<string, { content?: Record<string, unknown> }> }>
      >;
    };
    assert.deepEqual(doc.components.securitySchemes.mdmKey!.scheme, 'bearer');
    assert.deepEqual(doc.components.securitySchemes.adminKey!.type, 'http');
    const codes = (m: string, p: string) => Object.keys(doc.paths[p]![m]!.responses).sort();
    assert.deepEqual(codes('post', '/v1/devices/{deviceId}/events'), ['202', '400', '401', '403', '409', '413', '415', '500', '503']);
    assert.deepEqual(codes('post', '/v1/events'), ['202', '400', '401', '403', '413', '415', '500', '503']);
    assert.deepEqual(codes('get', '/v1/devices/{deviceId}'), ['200', '400', '401', '403', '404', '500', '503']);
    assert.deepEqual(codes('get', '/v1/devices'), ['200', '400', '401', '403', '500', '503']);
    assert.deepEqual(codes('post', '/v1/devices/{deviceId}/sync'), ['202', '400', '401', '403', '404', '409', '413', '500', '503']);
    assert.deepEqual(codes('get', '/readyz'), ['200', '503']);
    assert.deepEqual(doc.paths['/v1/events']!.post!.security, [{ mdmKey: [] }]);
    assert.deepEqual(doc.paths['/v1/settings']!.put!.security, [{ adminKey: [] }]);
    assert.equal(doc.paths['/healthz']!.get!.security, undefined);
    assert.ok(doc.paths['/v1/events']!.post!.responses['400']!.content!['application/problem+json']);
    // The event schema is the domain's: strict objects, the contract's enums.
    const event = JSON.stringify(doc.components.schemas.DeviceEvent);
    assert.match(event, /"additionalProperties":false/);
    assert.match(event, /"BLOCK_APPCONNECT"/);
    assert.match(event, /"Account_logged_out"/);
    const batch = JSON.stringify(doc.components.schemas.BatchEvents);
    assert.match(batch, /"maxItems":1000/);
    assert.match(batch, /"deviceId"/);
  });

  it('GET /docs renders the document as a self-contained page without scripts', async () => {
    const api = makeApi();
    const res = await call(api.app, 'GET', '/docs');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const html = await res.text();
    assert.ok(!/<script/i.test(html));
    assert.ok(
      !/https?:\/\/(?!azure-compliance-connector\/problems)/.test(
        html.replace(/https:\/\/azure-compliance-connector\/problems\/[a-z-]+/g, ''),
      ),
      'no external resources',
    );
    for (const route of CONTRACT_ROUTES) {
      const [method, path] = route.split(' ');
      assert.ok(html.includes(`${method} ${path!.replace(/&/g, '&amp;')}`), route);
    }
    assert.match(html, /DeviceDetails/);
  });
});

describe('API: request ids, 404 and error shape', () => {
  it('echoes a sane X-Request-Id and logs it on every line of the request', async () => {
    const api = makeApi();
    const res = await call(api.app, 'GET', '/healthz', { headers: { 'X-Request-Id': 'req-abc.123' } });
    assert.equal(res.headers.get('x-request-id'), 'req-abc.123');
    const lines = api.logs.map((l) => JSON.parse(l) as { reqId?: string });
    assert.ok(lines.length > 0);
    assert.ok(lines.every((l) => l.reqId === 'req-abc.123'));
  });

  it('replaces an insane X-Request-Id with a generated one, also on error responses', async () => {
    const api = makeApi();
    const res = await call(api.app, 'POST', '/v1/devices/mdm-42/events', {
      key: 'mdm',
      rawBody: '{',
      headers: { 'X-Request-Id': 'bad id\twith<stuff>' },
    });
    assert.equal(res.status, 400);
    const id = res.headers.get('x-request-id') ?? '';
    assert.match(id, /^[0-9a-f-]{36}$/);
    const res2 = await call(api.app, 'GET', '/nowhere');
    assert.match(res2.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    assert.notEqual(res2.headers.get('x-request-id'), id);
  });

  it('answers an unknown route with 404 problem+json', async () => {
    const api = makeApi();
    const res = await call(api.app, 'GET', '/v2/whatever');
    assert.equal(res.status, 404);
    const p = await problemOf(res);
    assert.deepEqual(Object.keys(p).sort(), ['detail', 'errors', 'status', 'title', 'type']);
    assert.equal(p.type, PROBLEM('not-found'));
    assert.equal(p.status, 404);
    assert.deepEqual(p.errors, []);
  });

  it('answers an unknown /v1 route or method with 404', async () => {
    const api = makeApi();
    assert.equal((await call(api.app, 'GET', '/v1/nothing', { key: 'admin' })).status, 404);
    assert.equal((await call(api.app, 'DELETE', '/v1/devices/mdm-42', { key: 'admin' })).status, 404);
  });
});

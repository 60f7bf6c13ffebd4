/**
 * Auth (docs/http-contract.md, Conventions): 401 for a missing or unknown key, 403 for a valid key of the other role on
 * every route, keys compared in constant time and never logged.
 */
import { strict as assert } from 'node:assert';
import { createAuthenticator } from '../../api/auth';
import { ADMIN_KEY, MDM_KEY, PROBLEM, call, makeApi, problemOf, validEvents, type TestApi } from './helpers';

const MDM_ROUTES: Array<[string, string, unknown]> = [
  ['POST', '/v1/devices/mdm-42/events', validEvents.compliance()],
  ['POST', '/v1/events', { events: [{ deviceId: 'mdm-42', ...validEvents.compliance() }] }],
];
const ADMIN_ROUTES: Array<[string, string, unknown]> = [
  ['GET', '/v1/devices/mdm-42', undefined],
  ['GET', '/v1/devices', undefined],
  ['GET', '/v1/devices/mdm-42/reports', undefined],
  ['POST', '/v1/devices/mdm-42/sync', undefined],
  ['POST', '/v1/sync', {}],
  ['GET', '/v1/settings', undefined],
  ['PUT', '/v1/settings', { enabled: false }],
  ['GET', '/v1/operations/op-1', undefined],
];

describe('API: authentication and roles', () => {
  for (const [method, path, body] of [...MDM_ROUTES, ...ADMIN_ROUTES]) {
    it(`${method} ${path}: 401 without a key, with an unknown key, and with a malformed header`, async () => {
      const api = makeApi();
      for (const key of ['none', 'Bearer not-a-key-0123456789', `Basic ${ADMIN_KEY}`, `Bearer`, `Bearer ${MDM_KEY} extra`, ADMIN_KEY]) {
        const res = await call(api.app, method, path, { key, body });
        assert.equal(res.status, 401, `key ${key}`);
        const p = await problemOf(res);
        assert.equal(p.type, PROBLEM('unauthorized'));
        assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="azure-compliance-connector"');
      }
      assert.equal(api.temporal.signalAttempts.length + api.temporal.updates.length + api.fleetCalls.length + api.scheduleCalls.length, 0);
    });
  }

  /** Each route answers 403 to a valid key of the other role, and `sideEffects` counts nothing. */
  function forbiddenWithKeyOfOtherRole(
    routes: Array<[string, string, unknown]>,
    key: 'admin' | 'mdm',
    nothing: string,
    sideEffects: (api: TestApi) => number,
  ): void {
    for (const [method, path, body] of routes) {
      it(`${method} ${path}: 403 with the ${key} key, nothing ${nothing}`, async () => {
        const api = makeApi();
        const res = await call(api.app, method, path, { key, body });
        assert.equal(res.status, 403);
        assert.equal((await problemOf(res)).type, PROBLEM('forbidden'));
        assert.equal(sideEffects(api), 0);
      });
    }
  }

  forbiddenWithKeyOfOtherRole(MDM_ROUTES, 'admin', 'signalled', (api) => api.temporal.signalAttempts.length);
  forbiddenWithKeyOfOtherRole(
    ADMIN_ROUTES,
    'mdm',
    'done',
    (api) => api.temporal.updates.length + api.fleetCalls.length + api.scheduleCalls.length,
  );

  it('checks the key before validating: an invalid body with no key is 401, with the wrong role 403', async () => {
    const api = makeApi();
    assert.equal((await call(api.app, 'POST', '/v1/devices/bad%20id/events', { rawBody: '{' })).status, 401);
    assert.equal((await call(api.app, 'POST', '/v1/devices/bad%20id/events', { key: 'admin', rawBody: '{' })).status, 403);
  });

  it('accepts the scheme case-insensitively and extra spaces before the key', async () => {
    const api = makeApi();
    assert.equal((await call(api.app, 'GET', '/v1/settings', { key: `bearer ${ADMIN_KEY}` })).status, 200);
    assert.equal((await call(api.app, 'GET', '/v1/settings', { key: `BEARER   ${ADMIN_KEY}` })).status, 200);
  });

  it('the operations routes need no key', async () => {
    const api = makeApi();
    for (const path of ['/healthz', '/readyz', '/metrics', '/openapi.json', '/docs']) {
      assert.equal((await call(api.app, 'GET', path)).status, 200, path);
    }
  });

  it('never logs a key, valid or not', async () => {
    const api = makeApi();
    const unknown = 'Bearer unknown-secret-key-0123456789';
    await call(api.app, 'GET', '/v1/settings', { key: 'admin' });
    await call(api.app, 'GET', '/v1/settings', { key: 'mdm' });
    await call(api.app, 'POST', '/v1/devices/mdm-42/events', { key: 'mdm', body: validEvents.compliance() });
    await call(api.app, 'POST', '/v1/devices/mdm-42/events', { key: unknown, body: validEvents.compliance() });
    api.temporal.onSignal = () => {
      throw new Error('failure while holding a request');
    };
    await call(api.app, 'POST', '/v1/devices/mdm-42/events', { key: 'mdm', body: validEvents.compliance() });
    assert.ok(api.logs.length >= 5);
    for (const line of api.logs) {
      assert.ok(!line.includes(MDM_KEY) && !line.includes(ADMIN_KEY) && !line.includes('unknown-secret-key'), line);
      assert.ok(!/authorization/i.test(line), line);
    }
  });

  it('the authenticator tells the two roles apart, and rejects what is not exactly a key', () => {
    const auth = createAuthenticator({ mdm: MDM_KEY, admin: ADMIN_KEY });
    assert.equal(auth(`Bearer ${MDM_KEY}`), 'mdm');
    assert.equal(auth(`Bearer ${ADMIN_KEY}`), 'admin');
    assert.equal(auth(`Bearer ${MDM_KEY.slice(0, -1)}`), null);
    assert.equal(auth(`Bearer ${MDM_KEY}x`), null);
    assert.equal(auth(`Bearer ${MDM_KEY.toUpperCase()}`), null);
    assert.equal(auth(undefined), null);
    assert.equal(auth(''), null);
    assert.equal(auth(`Bearer ${'x'.repeat(10_000)}`), null);
    const none = createAuthenticator({});
    assert.equal(none(`Bearer ${MDM_KEY}`), null, 'no configured key: nobody gets in');
  });
});

// The console for a registered tenant's own admin key (api/console): the session is bound to the
// key's tenant, shows that tenant's devices only, changes that tenant's settings only, and ends when
// the tenant's keys are rotated.
import assert from 'node:assert/strict';
import { getSettings } from '../../db/data';
import { call, consoleSession, seedDevice } from '../api/helpers';
import { OPERATOR_KEY, bearer, makeTenancyApi, registerTenant } from './helpers';

const deviceIdsOf = (html: string): string[] => [...html.matchAll(/<tr data-device-id="([^"]+)"/g)].map((m) => m[1]!);
const csrfOf = (html: string): string => /name="_csrf" value="([^"]+)"/.exec(html)![1]!;

describe("tenants: the console with a tenant's own admin key", () => {
  it("shows and changes the key's tenant only, and signs out when its keys are rotated", async () => {
    const api = makeTenancyApi();
    const b = await registerTenant(api, 'Tenant B');
    await seedDevice(api.db, b.tenantId, 'b-device');
    await seedDevice(api.db, api.tenantId, 'configured-device');

    const cookie = await consoleSession(api, b.adminKey);
    const page = async (path: string) => call(api.app, 'GET', path, { headers: { Cookie: cookie } });
    const devices = await page('/console/devices');
    assert.equal(devices.status, 200);
    assert.deepEqual(deviceIdsOf(await devices.text()), ['b-device']);
    assert.equal((await page('/console/devices/configured-device')).status, 404, "the configured tenant's device");
    assert.equal((await page('/console/devices/b-device')).status, 200);

    const settings = await page('/console/settings');
    const res = await api.app.request('/console/settings/weekly', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: cookie },
      body: new URLSearchParams({ _csrf: csrfOf(await settings.text()), paused: 'true' }).toString(),
    });
    assert.ok(res.status === 200 || res.status === 303, `weekly pause answered ${res.status}`);
    assert.equal((await getSettings(api.db, b.tenantId)).weeklyReportPaused, true);
    assert.equal((await getSettings(api.db, api.tenantId)).weeklyReportPaused, false);
    assert.deepEqual(api.pauses, [{ paused: true, tenantId: b.tenantId }]);
    const audit = await api.db('audit_log').where({ tenant_id: b.tenantId }).first();
    assert.match(audit.actor, /^console \(admin, session /);

    assert.equal(
      (await call(api.app, 'PUT', `/v1/tenants/${b.tenantId}`, { key: bearer(OPERATOR_KEY), body: { rotateKeys: true } })).status,
      200,
    );
    const after = await page('/console/devices');
    assert.equal(after.status, 303);
    assert.match(after.headers.get('location') ?? '', /^\/console\/sign-in/);
  });

  it('the operator and MDM keys do not sign in to the console', async () => {
    const api = makeTenancyApi();
    const b = await registerTenant(api);
    await assert.rejects(consoleSession(api, OPERATOR_KEY), /sign-in answered 401: .*operator key does not sign in/s);
    await assert.rejects(consoleSession(api, b.mdmKey), /sign-in answered 401: .*MDM key/s);
  });
});

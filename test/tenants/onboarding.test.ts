// The operator's tenant routes (api/routes/tenants.ts) on the real Postgres and the real Temporal
// server: registration, Microsoft's consent redirect (a forged or replayed state refused), the
// onboarding and offboarding workflows started for the tenant, its keys, settings and listing.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/common';
import { apiKeyDigest, ensureActiveTenant, getTenant } from '../../db/tenants';
import { TenantIdKey } from '../../workflows/search-attributes';
import {
  TENANT_OFFBOARDING_WORKFLOW_TYPE,
  TENANT_ONBOARDING_WORKFLOW_TYPE,
  tenantOffboardingWorkflowId,
  tenantOnboardingWorkflowId,
} from '../../workflows/tenant-messages';
import { PROBLEM, call, problemOf, validEvents } from '../api/helpers';
import { testEnv, uniqueName } from '../support/env';
import { OPERATOR_KEY, bearer, consentCallback, makeTenancyApi, registerTenant, type TenancyApi } from './helpers';

const operator = bearer(OPERATOR_KEY);

function realApi(): TenancyApi {
  return makeTenancyApi({ temporalClient: testEnv().temporalClient, taskQueue: uniqueName('tenancy-tq') });
}

async function tenantRows(tenantId: string) {
  const { db } = testEnv();
  const [tenants, keys, consents] = await Promise.all([
    db('tenants').where({ tenant_id: tenantId }),
    db('tenant_api_keys').where({ tenant_id: tenantId }),
    db('consent_requests').where({ tenant_id: tenantId }),
  ]);
  return { tenants, keys, consents };
}

describe('tenants: registration and onboarding through the consent redirect', function () {
  this.timeout(60_000);

  it("POST /v1/tenants answers Microsoft's admin-consent link and the tenant's keys once; only their digests are kept", async () => {
    const env = testEnv();
    const api = realApi();
    const t = await registerTenant(api, 'Contoso Ltd');
    assert.equal(t.consentUrl.origin + t.consentUrl.pathname, `${env.azure.authorityHost}/${t.tenantId}/adminconsent`);
    assert.equal(t.consentUrl.searchParams.get('client_id'), env.azure.clientId);
    assert.equal(t.consentUrl.searchParams.get('redirect_uri'), 'http://localhost/v1/tenants/consent-callback');
    assert.match(t.consentUrl.searchParams.get('state') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(t.mdmKey, t.adminKey);

    const rows = await tenantRows(t.tenantId);
    assert.deepEqual(rows.keys.map((k: { key_digest: string; role: string }) => [k.role, k.key_digest]).sort(), [
      ['admin', apiKeyDigest(t.adminKey)],
      ['mdm', apiKeyDigest(t.mdmKey)],
    ]);
    const stored = JSON.stringify(rows);
    assert.ok(!stored.includes(t.mdmKey) && !stored.includes(t.adminKey), 'no key in clear in the registry');
    for (const line of api.logs) assert.ok(!line.includes(t.mdmKey) && !line.includes(t.adminKey), line);

    const view = (await (await call(api.app, 'GET', `/v1/tenants/${t.tenantId}`, { key: operator })).json()) as Record<string, unknown>;
    assert.equal(view.state, 'pending-consent');
    assert.equal(view.displayName, 'Contoso Ltd');
    assert.deepEqual(view.devices, { total: 0, Successful: 0, Failed: 0, 'In-progress': 0 });
    assert.deepEqual(view.token, { ok: null, checkedAt: null, error: null });
    assert.deepEqual(view.settings, { enabled: true, weeklyReport: { paused: false, cron: null } });
  });

  it('the consent link returns to API_PUBLIC_URL when it is set', async () => {
    const api = makeTenancyApi({ env: { API_PUBLIC_URL: 'https://connector.example.com/' } });
    const t = await registerTenant(api);
    assert.equal(t.consentUrl.searchParams.get('redirect_uri'), 'https://connector.example.com/v1/tenants/consent-callback');
  });

  it('only the operator registers tenants; bad input is a 400 naming the field and writes nothing; a tenant is registered once', async () => {
    const api = realApi();
    const tenantId = randomUUID();
    const body = { tenantId, displayName: 'Fabrikam' };
    assert.equal((await call(api.app, 'POST', '/v1/tenants', { body })).status, 401);
    assert.equal((await call(api.app, 'POST', '/v1/tenants', { key: 'admin', body })).status, 403);
    assert.equal((await call(api.app, 'POST', '/v1/tenants', { key: 'mdm', body })).status, 403);

    const cases: Array<[unknown, string]> = [
      [{ tenantId: 'not-a-guid', displayName: 'x' }, 'tenantId'],
      [{ tenantId, displayName: '  ' }, 'displayName'],
      [{ tenantId }, 'displayName'],
      [{ tenantId, displayName: 'x', color: 'blue' }, ''],
    ];
    for (const [bad, field] of cases) {
      const res = await call(api.app, 'POST', '/v1/tenants', { key: operator, body: bad });
      assert.equal(res.status, 400, JSON.stringify(bad));
      const p = await problemOf(res);
      assert.ok(
        p.errors.some((e) => e.path === field || (field === '' && /color/.test(e.message + e.path))),
        JSON.stringify(p.errors),
      );
    }
    assert.deepEqual(await tenantRows(tenantId), { tenants: [], keys: [], consents: [] });

    assert.equal((await call(api.app, 'POST', '/v1/tenants', { key: operator, body })).status, 201);
    const again = await call(api.app, 'POST', '/v1/tenants', { key: operator, body });
    assert.equal(again.status, 409);
    assert.equal((await problemOf(again)).type, PROBLEM('tenant-exists'));
    assert.equal((await tenantRows(tenantId)).keys.length, 2, 'the second attempt issued no keys');
    // The configured tenant is not registered through the API.
    const configured = await call(api.app, 'POST', '/v1/tenants', {
      key: operator,
      body: { tenantId: testEnv().azure.tenantId, displayName: 'x' },
    });
    assert.equal(configured.status, 409);
  });

  it('the consent redirect makes the tenant consented and starts its onboarding workflow; a replayed or forged state is refused', async () => {
    const env = testEnv();
    const api = realApi();
    const t = await registerTenant(api);
    const state = t.consentUrl.searchParams.get('state')!;

    const forged = await consentCallback(api, { admin_consent: 'True', tenant: t.tenantId, state: 'a'.repeat(43) });
    assert.equal(forged.status, 400);
    const forgedProblem = await problemOf(forged);
    assert.equal(forgedProblem.type, PROBLEM('consent-state-invalid'));
    assert.deepEqual(
      forgedProblem.errors.map((e) => e.path),
      ['state'],
    );
    const otherTenant = await consentCallback(api, { admin_consent: 'True', tenant: randomUUID(), state });
    assert.equal(otherTenant.status, 400);
    assert.deepEqual(
      (await problemOf(otherTenant)).errors.map((e) => e.path),
      ['tenant'],
    );
    assert.equal((await consentCallback(api, { admin_consent: 'True', tenant: t.tenantId })).status, 400, 'no state');
    assert.equal((await getTenant(env.db, t.tenantId))?.state, 'pending-consent', 'nothing changed');

    const ok = await consentCallback(api, { admin_consent: 'True', tenant: t.tenantId, state });
    assert.equal(ok.status, 200, await ok.clone().text());
    assert.equal(((await ok.json()) as { state: string }).state, 'consented');
    const tenant = await getTenant(env.db, t.tenantId);
    assert.equal(tenant?.state, 'consented');
    assert.ok(tenant?.consentedAt);

    const handle = env.temporalClient.workflow.getHandle(tenantOnboardingWorkflowId(t.tenantId));
    try {
      const d = await handle.describe();
      assert.equal(d.type, TENANT_ONBOARDING_WORKFLOW_TYPE);
      assert.equal(d.taskQueue, api.deps.config.temporal.taskQueue);
      assert.deepEqual(d.typedSearchAttributes.get(TenantIdKey), t.tenantId);

      const replay = await consentCallback(api, { admin_consent: 'True', tenant: t.tenantId, state });
      assert.equal(replay.status, 409);
      assert.equal((await problemOf(replay)).type, PROBLEM('consent-state-used'));
    } finally {
      await handle.terminate('test cleanup');
    }
  });

  it('a declined consent leaves the tenant pending with the reason, and the same link works afterwards', async () => {
    const env = testEnv();
    const api = realApi();
    const t = await registerTenant(api);
    const state = t.consentUrl.searchParams.get('state')!;
    const declined = await consentCallback(api, {
      error: 'access_denied',
      error_description: 'AADSTS65004: User declined to consent to access the app.',
      state,
    });
    assert.equal(declined.status, 200);
    assert.equal(((await declined.json()) as { state: string }).state, 'pending-consent');
    const tenant = await getTenant(env.db, t.tenantId);
    assert.equal(tenant?.state, 'pending-consent');
    assert.match(tenant?.stateReason ?? '', /did not grant consent \(access_denied\): AADSTS65004/);
    await assert.rejects(env.temporalClient.workflow.getHandle(tenantOnboardingWorkflowId(t.tenantId)).describe(), WorkflowNotFoundError);

    assert.equal((await consentCallback(api, { admin_consent: 'True', tenant: t.tenantId, state })).status, 200);
    await env.temporalClient.workflow.getHandle(tenantOnboardingWorkflowId(t.tenantId)).terminate('test cleanup');
  });

  it("the tenant's own keys act for it; rotating them stops the old ones at once; a new consent link can be asked for", async () => {
    const api = realApi();
    const t = await registerTenant(api);
    assert.equal((await call(api.app, 'GET', '/v1/settings', { key: bearer(t.adminKey) })).status, 200);
    assert.equal((await call(api.app, 'GET', '/v1/settings', { key: bearer(t.mdmKey) })).status, 403);
    assert.equal((await call(api.app, 'GET', '/v1/tenants', { key: bearer(t.adminKey) })).status, 403, 'a tenant admin is no operator');

    const rotated = await call(api.app, 'PUT', `/v1/tenants/${t.tenantId}`, {
      key: operator,
      body: { rotateKeys: true, requestConsent: true },
    });
    assert.equal(rotated.status, 200);
    const body = (await rotated.json()) as { mdmApiKey: string; adminApiKey: string; consentUrl: string; state: string };
    assert.equal((await call(api.app, 'GET', '/v1/settings', { key: bearer(t.adminKey) })).status, 401, 'the old admin key');
    assert.equal(
      (await call(api.app, 'POST', '/v1/devices/d-1/events', { key: bearer(t.mdmKey), body: validEvents.retire() })).status,
      401,
    );
    assert.equal((await call(api.app, 'GET', '/v1/settings', { key: bearer(body.adminApiKey) })).status, 200, 'the new admin key');
    const newState = new URL(body.consentUrl).searchParams.get('state');
    assert.ok(newState && newState !== t.consentUrl.searchParams.get('state'));

    // The configured tenant's keys live in the environment.
    const configured = await call(api.app, 'PUT', `/v1/tenants/${api.tenantId}`, { key: operator, body: { rotateKeys: true } });
    assert.equal(configured.status, 404, 'not registered in this test');
    await ensureActiveTenant(testEnv().db, api.tenantId, 'configured');
    const refused = await call(api.app, 'PUT', `/v1/tenants/${api.tenantId}`, { key: operator, body: { rotateKeys: true } });
    assert.equal(refused.status, 409);
    assert.deepEqual(
      (await problemOf(refused)).errors.map((e) => e.path),
      ['rotateKeys'],
    );
  });

  it("PUT /v1/tenants/{id} changes that tenant's settings only; a bad cron is a 400 naming it and changes nothing", async () => {
    const api = realApi();
    const t = await registerTenant(api);
    const other = await registerTenant(api);
    const bad = await call(api.app, 'PUT', `/v1/tenants/${t.tenantId}`, {
      key: operator,
      body: { displayName: 'Renamed', settings: { weeklyReport: { paused: true, cron: 'every monday' } } },
    });
    assert.equal(bad.status, 400);
    assert.deepEqual(
      (await problemOf(bad)).errors.map((e) => e.path),
      ['settings.weeklyReport.cron'],
    );
    assert.deepEqual(api.pauses, []);
    assert.equal((await getTenant(testEnv().db, t.tenantId))?.displayName, 'Contoso');

    const res = await call(api.app, 'PUT', `/v1/tenants/${t.tenantId}`, {
      key: operator,
      body: { displayName: 'Renamed', settings: { weeklyReport: { paused: true, cron: '30 2 * * 2' } } },
    });
    assert.equal(res.status, 200, await res.clone().text());
    const view = (await res.json()) as { displayName: string; settings: unknown };
    assert.equal(view.displayName, 'Renamed');
    assert.deepEqual(view.settings, { enabled: true, weeklyReport: { paused: true, cron: '30 2 * * 2' } });
    assert.deepEqual(api.pauses, [{ paused: true, tenantId: t.tenantId }]);
    const otherSettings = await call(api.app, 'GET', '/v1/settings', { key: bearer(other.adminKey) });
    assert.deepEqual(((await otherSettings.json()) as { weeklyReport: unknown }).weeklyReport, { paused: false });
    assert.equal((await call(api.app, 'PUT', `/v1/tenants/${randomUUID()}`, { key: operator, body: {} })).status, 404);
  });

  it('GET /v1/tenants pages through every tenant by id with a cursor', async () => {
    const api = realApi();
    const mine = new Set<string>();
    for (let i = 0; i < 3; i++) mine.add((await registerTenant(api)).tenantId);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor ? `?limit=2&cursor=${cursor}` : '?limit=2';
      const res = await call(api.app, 'GET', `/v1/tenants${q}`, { key: operator });
      assert.equal(res.status, 200);
      const page = (await res.json()) as { items: Array<{ tenantId: string }>; nextCursor: string | null };
      assert.ok(page.items.length <= 2);
      seen.push(...page.items.map((i) => i.tenantId));
      cursor = page.nextCursor;
    } while (cursor !== null);
    assert.deepEqual(seen, [...seen].sort(), 'ordered by tenant id');
    assert.equal(new Set(seen).size, seen.length, 'no tenant twice');
    for (const id of mine) assert.ok(seen.includes(id));
    const bad = await call(api.app, 'GET', '/v1/tenants?cursor=%21%21', { key: operator });
    assert.equal(bad.status, 400);
    assert.deepEqual(
      (await problemOf(bad)).errors.map((e) => e.path),
      ['cursor'],
    );
  });

  it('DELETE offboards: the tenant is offboarding, its keys stop, its offboarding workflow runs; asked again, the same operation', async () => {
    const env = testEnv();
    const api = realApi();
    const t = await registerTenant(api);
    assert.equal((await call(api.app, 'DELETE', `/v1/tenants/${t.tenantId}?reportNotManaged=maybe`, { key: operator })).status, 400);
    assert.equal((await call(api.app, 'DELETE', `/v1/tenants/${t.tenantId}`, { key: bearer(t.adminKey) })).status, 403);
    assert.equal((await call(api.app, 'DELETE', `/v1/tenants/${randomUUID()}`, { key: operator })).status, 404);
    assert.equal((await call(api.app, 'DELETE', `/v1/tenants/${api.tenantId}`, { key: operator })).status, 409, 'the configured tenant');
    assert.equal((await call(api.app, 'GET', '/v1/settings', { key: bearer(t.adminKey) })).status, 200);

    const res = await call(api.app, 'DELETE', `/v1/tenants/${t.tenantId}?reportNotManaged=true`, { key: operator });
    assert.equal(res.status, 202);
    const { operationId, state } = (await res.json()) as { operationId: string; state: string };
    assert.equal(state, 'offboarding');
    assert.equal((await getTenant(env.db, t.tenantId))?.state, 'offboarding');
    assert.equal((await call(api.app, 'GET', '/v1/settings', { key: bearer(t.adminKey) })).status, 401, 'its keys stopped');

    const handle = env.temporalClient.workflow.getHandle(tenantOffboardingWorkflowId(t.tenantId));
    try {
      const d = await handle.describe();
      assert.equal(d.type, TENANT_OFFBOARDING_WORKFLOW_TYPE);
      assert.deepEqual(d.typedSearchAttributes.get(TenantIdKey), t.tenantId);
      const again = await call(api.app, 'DELETE', `/v1/tenants/${t.tenantId}`, { key: operator });
      assert.equal(again.status, 202);
      assert.equal(((await again.json()) as { operationId: string }).operationId, operationId);
      const record = await env.db('tenant_offboardings').where({ operation_id: operationId }).first();
      assert.equal(record.report_not_managed, true);
      assert.equal(record.display_name, 'Contoso');
      // The operator follows it like any operation.
      const op = await call(api.app, 'GET', `/v1/operations/${operationId}`, { key: operator });
      assert.equal(op.status, 200);
      assert.equal(((await op.json()) as { kind: string }).kind, 'offboarding');
      assert.equal((await call(api.app, 'PUT', `/v1/tenants/${t.tenantId}`, { key: operator, body: {} })).status, 409);
    } finally {
      await handle.terminate('test cleanup');
    }
  });
});

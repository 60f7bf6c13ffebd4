/**
 * The worker's side of many tenants: onboarding after consent (activation calls seen at the
 * emulator, the tenant's Schedules, `active`), offboarding (Schedules gone, devices reported
 * `notManaged` when asked, data removed, the record kept) and a revoked consent contained while
 * another tenant keeps reporting — real Temporal, Postgres and the Azure emulator, one worker
 * holding the partner app's credentials for every tenant.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ScheduleNotFoundError } from '@temporalio/client';
import { fromMsalError } from '../../activities/azure/msal-errors';
import { CONSENT_FAILURES_BEFORE_REVOKED } from '../../activities/tenant-health';
import { getTenant, type TenantState } from '../../db/tenants';
import { loadConfig } from '../../config';
import { createScheduleControl } from '../../workers/fleet-client';
import { ensureSchedulesOfActiveTenants, spreadWeeklyCron, tenantScheduleIds } from '../../workers/schedules';
import { startTenantOffboarding, startTenantOnboarding } from '../../workers/tenant-lifecycle-client';
import { deviceWorkflowId, stateQuery } from '../../workflows/messages';
import type { TenantOffboardingInput, TenantOffboardingResult, TenantOnboardingResult } from '../../workflows/tenant-messages';
import type { DeviceState } from '../../domain/device-state';
import { compliance, nextOccurredAt, waitFor, withWorker } from '../support/device-harness';
import { testEnv, uniqueName } from '../support/env';
import {
  register,
  registrationOf,
  testConfig,
  rowsOf,
  seedDevices,
  send,
  waitForRow,
  type FleetDevice,
  type FleetTenant,
} from '../fleet/helpers';
import { call } from '../api/helpers';
import { guidFrom, prng } from '../../scripts/simulator/fleet';
import { bearer, consentCallback, makeTenancyApi, registerTenant } from './helpers';

/** A customer tenant whose administrator consented to the partner app (the test environment's app). */
async function customerTenant(state: TenantState, name = 'Contoso'): Promise<FleetTenant> {
  const env = testEnv();
  const tenantId = randomUUID();
  await env.emulator.control.seed({
    tenants: [{ tenantId, apps: [{ clientId: env.azure.clientId, clientSecret: env.azure.clientSecret }] }],
  });
  await env.db('tenants').insert({ tenant_id: tenantId, display_name: `${name} ${tenantId.slice(0, 8)}`, state });
  await env.db('settings').insert({ tenant_id: tenantId }).onConflict('tenant_id').ignore();
  return { tenantId, azure: { ...env.azure, tenantId } };
}

async function onboard(t: FleetTenant, taskQueue: string): Promise<TenantOnboardingResult> {
  const env = testEnv();
  const workflowId = await startTenantOnboarding(env.temporalClient, { tenantId: t.tenantId }, taskQueue);
  return env.temporalClient.workflow.getHandle(workflowId).result();
}

async function offboard(input: TenantOffboardingInput, taskQueue: string): Promise<TenantOffboardingResult> {
  const env = testEnv();
  const started = await startTenantOffboarding(env.temporalClient, input, taskQueue);
  return env.temporalClient.workflow.getHandle(started.workflowId).result();
}

async function scheduleExists(id: string): Promise<boolean> {
  try {
    await testEnv().temporalClient.schedule.getHandle(id).describe();
    return true;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return false;
    throw err;
  }
}

async function deleteTenantSchedulesOf(t: FleetTenant): Promise<void> {
  const ids = tenantScheduleIds(t.tenantId, testEnv().azure.tenantId);
  for (const id of [ids.weekly, ids.heartbeat]) {
    await testEnv()
      .temporalClient.schedule.getHandle(id)
      .delete()
      .catch(() => undefined);
  }
}

describe('tenant lifecycle on the worker (real Temporal, Postgres, Azure emulator)', function () {
  this.timeout(120_000);

  it('onboards a consented tenant: provisioned at Intune with a policy per platform and a heartbeat, its own Schedules, then active', async () => {
    const env = testEnv();
    const t = await customerTenant('consented');
    const since = new Date().toISOString();
    try {
      await withWorker(async ({ taskQueue }) => {
        const result = await onboard(t, taskQueue);
        assert.deepEqual(result, { tenantId: t.tenantId, activated: true, catchUpOperationId: null });

        const tenant = await getTenant(env.db, t.tenantId);
        assert.equal(tenant?.state, 'active');
        const row = await env.db('tenants').where({ tenant_id: t.tenantId }).first();
        assert.ok(row.activated_at instanceof Date);
        assert.equal(row.token_ok, true);

        // The activation calls, at the emulator, for this tenant.
        const atIntune = await env.emulator.control.tenant(t.tenantId);
        assert.equal(atIntune.provisioned, 1);
        assert.equal(atIntune.policies.length, 2);
        assert.equal(atIntune.heartbeats, 1);
        const journal = await env.emulator.control.requests({ service: 'intune', since, tenantId: t.tenantId });
        const policies = journal.filter((e) => e.method === 'POST' && e.path.includes('PartnerCompliancePolicies'));
        assert.deepEqual(policies.map((e) => (e.body as { Platform: string }).Platform).sort(), ['Android', 'iOS']);
        const provision = journal.filter((e) => e.method === 'PUT' && e.path.includes(`PartnerTenants(guid'${t.tenantId}')`));
        assert.equal(provision.length, 1);
        assert.equal((provision[0]!.body as { Provisioned: number }).Provisioned, 1);
        assert.equal(journal.filter((e) => e.path.includes(`PartnerTenantHeartbeat(guid'${t.tenantId}')`)).length, 1);
        assert.ok((await env.db('settings').where({ tenant_id: t.tenantId }).first()).last_heartbeat_at instanceof Date);

        // Its own Schedules: ids carrying the tenant, its spread weekly time, found by TenantId.
        const ids = tenantScheduleIds(t.tenantId, env.azure.tenantId);
        assert.deepEqual(ids, {
          weekly: `weekly-azure-compliance-report:${t.tenantId}`,
          heartbeat: `azure-tenant-heartbeat:${t.tenantId}`,
        });
        const weekly = await env.temporalClient.schedule.getHandle(ids.weekly).describe();
        assert.equal(weekly.action.type, 'startWorkflow');
        assert.equal((weekly.action.args?.[0] as { tenantId: string }).tenantId, t.tenantId);
        const [minute, hour, , , dayOfWeek] = spreadWeeklyCron(t.tenantId).split(' ');
        assert.deepEqual(weekly.spec.calendars?.[0]?.minute, [{ start: Number(minute), end: Number(minute), step: 1 }]);
        assert.deepEqual(weekly.spec.calendars?.[0]?.hour, [{ start: Number(hour), end: Number(hour), step: 1 }]);
        assert.equal(dayOfWeek, '1');
        // The operator sets the tenant's own cron, then takes it back: the Schedule follows at once.
        const control = createScheduleControl(env.temporalClient, testConfig('unused'), env.azure.tenantId);
        await control.setWeeklyReportCron('15 3 * * 2', t.tenantId);
        const own = (await env.temporalClient.schedule.getHandle(ids.weekly).describe()).spec.calendars?.[0];
        assert.deepEqual(
          [own?.minute, own?.hour, own?.dayOfWeek],
          [[{ start: 15, end: 15, step: 1 }], [{ start: 3, end: 3, step: 1 }], [{ start: 'TUESDAY', end: 'TUESDAY', step: 1 }]],
        );
        await control.setWeeklyReportCron(null, t.tenantId);
        const back = (await env.temporalClient.schedule.getHandle(ids.weekly).describe()).spec.calendars?.[0];
        assert.deepEqual(back?.minute, [{ start: Number(minute), end: Number(minute), step: 1 }]);

        // The tenant's heartbeat Schedule runs for this tenant, and its run is found by TenantId.
        const heartbeat = env.temporalClient.schedule.getHandle(ids.heartbeat);
        await heartbeat.trigger();
        const run = await waitFor('the heartbeat run', async () => (await heartbeat.describe()).info.recentActions[0]?.action.workflow);
        const sent = (await env.temporalClient.workflow.getHandle(run.workflowId).result()) as { sent: boolean; resyncTimestamp: unknown };
        assert.deepEqual([sent.sent, sent.resyncTimestamp], [true, null]);
        assert.equal((await env.emulator.control.tenant(t.tenantId)).heartbeats, 2);
        assert.deepEqual((await env.temporalClient.workflow.getHandle(run.workflowId).describe()).searchAttributes.TenantId, [t.tenantId]);

        const described = await env.temporalClient.workflow.getHandle(`tenant-onboarding:${t.tenantId}`).describe();
        assert.deepEqual(described.searchAttributes.TenantId, [t.tenantId]);
      });
    } finally {
      await deleteTenantSchedulesOf(t);
    }
  });

  it('onboards end to end: POST /v1/tenants, the consent link at the emulator, its redirect to the callback, activation, then the MDM key reports to this tenant only', async () => {
    const env = testEnv();
    const taskQueue = uniqueName('e2e-tenant');
    const api = makeTenancyApi({ temporalClient: env.temporalClient, taskQueue });
    const t = await registerTenant(api, 'Woodgrove');
    await env.emulator.control.addTenant(t.tenantId, 'Woodgrove');
    const tenant: FleetTenant = { tenantId: t.tenantId, azure: { ...env.azure, tenantId: t.tenantId } };
    const [device] = await seedDevices(tenant, uniqueName('wg'), 1);
    const since = new Date().toISOString();
    try {
      await withWorker(
        async () => {
          // The administrator follows the consent link; Microsoft redirects the browser to the callback.
          const consent = await fetch(t.consentUrl, { redirect: 'manual' });
          assert.equal(consent.status, 302);
          const back = new URL(consent.headers.get('location')!);
          assert.equal(back.pathname, '/v1/tenants/consent-callback');
          assert.equal((await consentCallback(api, Object.fromEntries(back.searchParams))).status, 200);

          const active = await waitFor('the tenant active', async () => {
            const row = await getTenant(env.db, t.tenantId);
            return row?.state === 'active' ? row : null;
          });
          assert.ok(active.activatedAt);
          const atIntune = await env.emulator.control.tenant(t.tenantId);
          assert.deepEqual([atIntune.provisioned, atIntune.policies.length, atIntune.heartbeats], [1, 2, 1]);

          const res = await call(api.app, 'POST', `/v1/devices/${device!.deviceId}/events`, {
            key: bearer(t.mdmKey),
            body: registrationOf(device!),
          });
          assert.equal(res.status, 202, await res.clone().text());
          await waitForRow(tenant, device!.deviceId, (r) => r.complianceStatus === 'Successful', 'reported');
          assert.equal((await env.emulator.control.entraDevice(t.tenantId, device!.azureDeviceId))?.isCompliant, true);
          // Nothing of this tenant reached another tenant at Microsoft.
          const uploads = await env.emulator.control.requests({ service: 'intune', since, pathIncludes: 'DataUploadMessages' });
          assert.ok(uploads.length > 0);
          assert.deepEqual([...new Set(uploads.map((e) => e.tenantId))], [t.tenantId]);
        },
        { taskQueue },
      );
    } finally {
      await deleteTenantSchedulesOf(tenant);
    }
  });

  it('at worker start, creates the Schedules of every active tenant and of no other', async () => {
    const env = testEnv();
    const active = await customerTenant('active', 'Active');
    const revoked = await customerTenant('consent-revoked', 'Revoked');
    const pending = await customerTenant('pending-consent', 'Pending');
    const config = { ...loadConfig({ TEMPORAL_TASK_QUEUE: uniqueName('start') }), azure: env.azure };
    const activeIds = (await env.db('tenants').where({ state: 'active' }).select('tenant_id')).map(
      (r: { tenant_id: string }) => r.tenant_id,
    );
    try {
      const handled = await ensureSchedulesOfActiveTenants(env.temporalClient, config, env.db);
      assert.ok(handled >= 1 && handled === activeIds.length, `${handled} of ${activeIds.length}`);
      assert.ok(await scheduleExists(tenantScheduleIds(active.tenantId, env.azure.tenantId).weekly));
      assert.ok(await scheduleExists(tenantScheduleIds(active.tenantId, env.azure.tenantId).heartbeat));
      for (const t of [revoked, pending])
        assert.equal(await scheduleExists(tenantScheduleIds(t.tenantId, env.azure.tenantId).weekly), false);
    } finally {
      for (const tenantId of activeIds) await deleteTenantSchedulesOf({ tenantId, azure: env.azure });
    }
  });

  it('offboards a tenant: Schedules gone, every device reported notManaged at Microsoft, deprovisioned, workflows ended, data removed, the record kept', async () => {
    const env = testEnv();
    const t = await customerTenant('consented', 'Fabrikam');
    const devices = await seedDevices(t, uniqueName('off'), 3);
    await withWorker(async ({ taskQueue }) => {
      await onboard(t, taskQueue);
      await register(t, taskQueue, devices);
      const ids = tenantScheduleIds(t.tenantId, env.azure.tenantId);
      assert.ok(await scheduleExists(ids.weekly));

      const operationId = `offboard-${randomUUID()}`;
      const result = await offboard({ tenantId: t.tenantId, reportNotManaged: true, operationId, notManagedWaitMs: 60_000 }, taskQueue);
      assert.deepEqual(result, {
        tenantId: t.tenantId,
        operationId,
        devicesReported: 3,
        devicesRemoved: 3,
        deprovisioned: true,
        workflowsTerminated: 0,
      });

      // Schedules stopped.
      assert.equal(await scheduleExists(ids.weekly), false);
      assert.equal(await scheduleExists(ids.heartbeat), false);
      // Every device reported notManaged (a retire), and the tenant deprovisioned.
      for (const d of devices) {
        const view = await env.emulator.control.entraDevice(t.tenantId, d.azureDeviceId);
        assert.equal(view?.isManaged, false, d.deviceId);
        const last = view!.messages.at(-1)!.entities as Array<{ DeviceManagementState?: string }>;
        assert.equal(last.find((e) => e.DeviceManagementState)?.DeviceManagementState, 'notManaged');
        const run = await env.temporalClient.workflow.getHandle(deviceWorkflowId(t.tenantId, d.deviceId)).describe();
        assert.notEqual(run.status.name, 'RUNNING');
      }
      assert.equal((await env.emulator.control.tenant(t.tenantId)).provisioned, 2);
      // Data removed; the record of the offboarding kept and completed.
      for (const table of ['devices', 'report_attempts', 'settings', 'operations', 'tenants']) {
        assert.equal((await env.db(table).where({ tenant_id: t.tenantId })).length, 0, table);
      }
      const record = await env.db('tenant_offboardings').where({ operation_id: operationId }).first();
      assert.equal(record.tenant_id, t.tenantId);
      assert.equal(record.report_not_managed, true);
      assert.ok(record.completed_at instanceof Date);
      assert.deepEqual([record.devices_reported, record.devices_removed], [3, 3]);
    });
  });

  it('offboards without reporting notManaged when not asked: nothing sent for the devices, their workflows ended, data removed', async () => {
    const env = testEnv();
    const t = await customerTenant('consented', 'Northwind');
    const devices = await seedDevices(t, uniqueName('keep'), 2);
    await withWorker(async ({ taskQueue }) => {
      await onboard(t, taskQueue);
      await register(t, taskQueue, devices);
      const uploadsBefore = (await env.emulator.control.messages(t.tenantId)).length;
      const operationId = `offboard-${randomUUID()}`;
      const result = await offboard({ tenantId: t.tenantId, reportNotManaged: false, operationId }, taskQueue);
      assert.equal(result.devicesReported, null);
      assert.equal(result.devicesRemoved, 2);
      assert.equal(result.workflowsTerminated, 2);
      assert.equal((await env.emulator.control.messages(t.tenantId)).length, uploadsBefore);
      for (const d of devices) {
        assert.equal((await env.emulator.control.entraDevice(t.tenantId, d.azureDeviceId))?.isManaged, true);
        const run = await env.temporalClient.workflow.getHandle(deviceWorkflowId(t.tenantId, d.deviceId)).describe();
        assert.equal(run.status.name, 'TERMINATED');
      }
      assert.equal((await env.db('devices').where({ tenant_id: t.tenantId })).length, 0);
    });
  });

  it('offboards a consent-revoked tenant at once even when asked to report notManaged: Microsoft cannot be reached for it', async () => {
    const env = testEnv();
    const t = await customerTenant('consented', 'Gone');
    await withWorker(async ({ taskQueue }) => {
      await onboard(t, taskQueue);
      await env.emulator.control.revokeConsent(t.tenantId, env.azure.clientId);
      await env.db('tenants').where({ tenant_id: t.tenantId }).update({ state: 'consent-revoked', revoked_at: new Date() });
      const operationId = `offboard-${randomUUID()}`;
      const result = await offboard({ tenantId: t.tenantId, reportNotManaged: true, operationId }, taskQueue);
      assert.deepEqual([result.devicesReported, result.deprovisioned], [null, false]);
      assert.equal((await env.db('tenants').where({ tenant_id: t.tenantId })).length, 0);
      assert.ok((await env.db('tenant_offboardings').where({ operation_id: operationId }).first()).completed_at instanceof Date);
    });
  });

  it('contains a tenant whose consent is revoked (consent-revoked, its reason, no more token requests) while another tenant keeps reporting, and catches it up when consent comes back', async () => {
    const env = testEnv();
    const a = await customerTenant('consented', 'Alpha');
    const c = await customerTenant('consented', 'Charlie');
    const aDevices = await seedDevices(a, uniqueName('alpha'), 3);
    const cDevices = await seedDevices(c, uniqueName('charlie'), 4);
    try {
      await withWorker(async ({ taskQueue }) => {
        await onboard(a, taskQueue);
        await onboard(c, taskQueue);
        await register(a, taskQueue, aDevices);
        await register(c, taskQueue, cDevices);

        // The administrator of C deletes the partner's enterprise app: Entra refuses C's tokens (AADSTS700016),
        // and the tokens already issued for C stop working.
        await env.emulator.control.revokeConsent(c.tenantId, env.azure.clientId, 'service-principal');
        const revokedAt = new Date().toISOString();

        const changeAll = async (t: FleetTenant, devices: FleetDevice[], actions: Parameters<typeof compliance>[0]) => {
          for (const d of devices) await send(t, taskQueue, d.deviceId, compliance(actions));
        };
        await changeAll(c, cDevices, ['QUARANTINE']);
        const tenant = await waitFor('C consent-revoked', async () => {
          const r = await getTenant(env.db, c.tenantId);
          return r?.state === 'consent-revoked' ? r : null;
        });
        assert.match(tenant.stateReason ?? '', /admin consent is missing or was taken away/);
        assert.match(tenant.stateReason ?? '', /AADSTS700016/);
        assert.equal((await env.db('tenants').where({ tenant_id: c.tenantId }).first()).token_ok, false);

        // Every device of C settles: Failed with ConsentRevoked, or skipped (nothing sent); then C's token endpoint is left alone.
        const cState = (d: FleetDevice) =>
          env.temporalClient.workflow.getHandle(deviceWorkflowId(c.tenantId, d.deviceId)).query(stateQuery);
        const settled = async (d: FleetDevice, applied: (s: DeviceState) => boolean = () => true) => {
          const state = await waitFor(`${d.deviceId} settled`, async () => {
            const s = await cState(d);
            return applied(s) && (s.reportingOff === true || (s.status === 'Failed' && s.retry == null)) ? s : null;
          });
          assert.ok(state.reportingOff === true || state.lastError?.code === 'ConsentRevoked', `${d.deviceId}: ${state.lastError?.code}`);
          return state;
        };
        for (const d of cDevices) await settled(d);
        const tokenCalls = async () =>
          (await env.emulator.control.requests({ service: 'token', since: revokedAt, tenantId: c.tenantId })).length;
        const afterContainment = await tokenCalls();
        // Bounded: the threshold, plus the reports already running when it was reached.
        assert.ok(afterContainment <= CONSENT_FAILURES_BEFORE_REVOKED + cDevices.length * 2, `${afterContainment} token calls`);
        // A new inventory for each device of C: a new state to report, which waits.
        for (const d of cDevices) {
          await send(c, taskQueue, d.deviceId, {
            type: 'inventory',
            occurredAt: nextOccurredAt(),
            inventory: { deviceName: `${d.deviceId}-renamed`, os: 'iOS', osVersion: '18.1' },
          });
        }
        // A and its devices are untouched meanwhile.
        await changeAll(a, aDevices, ['BLOCK_EMAIL']);
        for (const d of aDevices) {
          await waitForRow(
            a,
            d.deviceId,
            (r) => r.reportedCompliance === 'notCompliant' && r.complianceStatus === 'Successful',
            'reported',
          );
        }
        assert.equal((await getTenant(env.db, a.tenantId))?.state, 'active');
        // Each new state of C was applied and its report skipped without calling Microsoft.
        for (const d of cDevices) {
          const state = await settled(d, (s) => s.inventory?.deviceName === `${d.deviceId}-renamed`);
          assert.equal(state.reportingOff, true, d.deviceId);
        }
        assert.equal(await tokenCalls(), afterContainment, 'no token request for a consent-revoked tenant');
        assert.equal((await getTenant(env.db, c.tenantId))?.state, 'consent-revoked');

        // Consent granted again: the onboarding activates C, and every device reports its current state.
        for (const d of cDevices) assert.equal((await env.emulator.control.entraDevice(c.tenantId, d.azureDeviceId))?.isCompliant, true);
        await env.emulator.control.grantConsent(c.tenantId, env.azure.clientId);
        await env.db('tenants').where({ tenant_id: c.tenantId }).update({ state: 'consented' });
        const again = await onboard(c, taskQueue);
        assert.equal(again.activated, true);
        assert.match(again.catchUpOperationId ?? '', /^enable-reconsent-/);
        assert.equal((await getTenant(env.db, c.tenantId))?.state, 'active');
        for (const d of cDevices) {
          await waitFor(`${d.deviceId} reported by the catch-up`, async () =>
            (await rowsOf(c, d.deviceId, 'enable')).some((r) => r.outcome === 'Successful'),
          );
          const row = await waitForRow(c, d.deviceId, (r) => r.complianceStatus === 'Successful', 'caught up');
          // What changed while C was contained reaches Microsoft now.
          assert.equal(row.reportedCompliance, 'notCompliant');
          const atMicrosoft = await env.emulator.control.entraDevice(c.tenantId, d.azureDeviceId);
          assert.equal(atMicrosoft?.isCompliant, false);
          assert.equal(atMicrosoft?.inventory?.DeviceName, `${d.deviceId}-renamed`);
        }
      });
    } finally {
      await deleteTenantSchedulesOf(a);
      await deleteTenantSchedulesOf(c);
    }
  });
});

describe('tenants: pure rules', () => {
  it('spreads tenants without a cron over Monday 00:00-11:59 UTC, the same time for the same tenant', () => {
    // A fixed set of tenant ids (seeded), so the spread checked is the same on every run: with random
    // ids the fullest of 720 minutes holds 7 tenants about once in 200 runs.
    const random = prng(500);
    const crons = Array.from({ length: 500 }, () => spreadWeeklyCron(guidFrom(random)));
    for (const cron of crons) assert.match(cron, /^([0-5]?\d) (\d|1[01]) \* \* 1$/);
    // 500 tenants over 720 minutes: every hour used, no minute crowded.
    const hours = new Set(crons.map((c) => c.split(' ')[1]));
    assert.equal(hours.size, 12);
    const perMinute = new Map<string, number>();
    for (const c of crons) perMinute.set(c, (perMinute.get(c) ?? 0) + 1);
    assert.ok(Math.max(...perMinute.values()) <= 6, `at most ${Math.max(...perMinute.values())} tenants in one minute`);
    const id = randomUUID();
    assert.equal(spreadWeeklyCron(id), spreadWeeklyCron(id.toUpperCase()));
  });

  it('keeps the single tenant on its Schedule ids, and gives every other tenant ids of its own', () => {
    const env = randomUUID();
    assert.deepEqual(tenantScheduleIds(env, env), { weekly: 'weekly-azure-compliance-report', heartbeat: 'azure-tenant-heartbeat' });
    assert.deepEqual(tenantScheduleIds('t-1', env), {
      weekly: 'weekly-azure-compliance-report:t-1',
      heartbeat: 'azure-tenant-heartbeat:t-1',
    });
  });

  it("maps the identity platform's consent errors to ConsentRevoked, and an unknown app in the partner's own tenant to InvalidCredentials", () => {
    const aad = (error: string, code: number, text: string) => ({
      name: 'ServerError',
      errorCode: error,
      errorMessage: `AADSTS${code}: ${text} Trace ID: x Correlation ID: y Timestamp: z`,
      errorNo: String(code),
    });
    const ctx = { operation: 'getAccessToken(intune)' };
    const consent = aad('invalid_grant', 65001, "The user or administrator has not consented to use the application with ID 'x'.");
    assert.equal(fromMsalError(consent, ctx, { status: 400 }).reason, 'ConsentRevoked');
    assert.equal(fromMsalError(consent, { ...ctx, customerTenant: true }, { status: 400 }).reason, 'ConsentRevoked');
    const notInDirectory = aad('unauthorized_client', 700016, "Application with identifier 'x' was not found in the directory 'y'.");
    assert.equal(fromMsalError(notInDirectory, { ...ctx, customerTenant: true }, { status: 400 }).reason, 'ConsentRevoked');
    assert.equal(fromMsalError(notInDirectory, ctx, { status: 400 }).reason, 'InvalidCredentials');
    const badSecret = aad('invalid_client', 7000215, 'Invalid client secret provided.');
    assert.equal(fromMsalError(badSecret, { ...ctx, customerTenant: true }, { status: 401 }).reason, 'InvalidCredentials');
  });
});

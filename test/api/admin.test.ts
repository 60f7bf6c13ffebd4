/**
 * The admin routes of docs/http-contract.md through app.request() over the real test database: device details exactly as the
 * contract shows them, the feature switch blanking status and report time, the filtered list and its
 * pagination edges, the timeline, sync, bulk sync, settings and operations.
 */
import { strict as assert } from 'node:assert';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import { encodeCursor } from '../../api/routes/devices';
import { createOperation, updateOperationProgress, updateSettings, upsertReportAttempt } from '../../db/data';
import { deviceWorkflowId } from '../../workflows/messages';
import { defaultReconciliationCron } from '../../workers/reconciliation-schedule';
import { DEVICE_DETAILS_CONTRACT_FIELDS, PROBLEM, call, makeApi, problemOf, seedDevice, type TestApi } from './helpers';

const get = (api: TestApi, path: string, key = 'admin') => call(api.app, 'GET', path, { key });

describe('API: GET /v1/devices/{deviceId}', () => {
  it("answers the contract's JSON exactly, extended with userPrincipalName and inventory", async () => {
    const api = makeApi();
    await seedDevice(api.db, api.tenantId, 'mdm-42');
    const res = await get(api, '/v1/devices/mdm-42');
    assert.equal(res.status, 200);
    const body = (await res.json()) as Record<string, unknown>;
    const { updatedAt, ...rest } = body;
    assert.match(String(updatedAt), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual(rest, {
      deviceId: 'mdm-42',
      platform: 'iOS',
      azureDeviceIdentifier: '007c8232-9489-4074-9b35-345b16f0a72d',
      azureDeviceComplianceStatus: 'Successful',
      azureClientStatusCode: 'Success',
      azureDeviceComplianceReportTime: '2026-11-28T10:00:02.120Z',
      policyAction: 'QUARANTINE',
      reportedCompliance: 'notCompliant',
      managementState: 'managed',
      lastAttemptAt: '2026-11-28T10:00:01.900Z',
      lastSuccessfulReportAt: '2026-11-28T10:00:02.120Z',
      lastError: null,
      retiredAt: null,
      graceUntil: null,
      gracePendingAction: null,
      userPrincipalName: 'alex@contoso.com',
      inventory: { deviceName: "Alex's iPhone", os: 'iOS', osVersion: '17.4.1' },
    });
    assert.deepEqual(Object.keys(body).slice(0, DEVICE_DETAILS_CONTRACT_FIELDS.length), DEVICE_DETAILS_CONTRACT_FIELDS);
  });

  it('shows lastError with userCanMitigate and remediation', async () => {
    const api = makeApi();
    const lastError = {
      code: 'User_Canceled',
      message: 'The user canceled the sign-in',
      userCanMitigate: true,
      remediation: 'Repeat the sign-in in Microsoft Authenticator',
    };
    await seedDevice(api.db, api.tenantId, 'mdm-err', {
      complianceStatus: 'Failed',
      reportTime: null,
      clientStatusCode: 'User_Canceled',
      azureDeviceId: null,
      lastError,
    });
    const body = (await (await get(api, '/v1/devices/mdm-err')).json()) as Record<string, unknown>;
    assert.deepEqual(body.lastError, lastError);
    assert.equal(body.azureDeviceComplianceStatus, 'Failed');
    assert.equal(body.azureDeviceComplianceReportTime, null);
    assert.equal(body.azureDeviceIdentifier, null);
  });

  it('reads status and report time null while the feature is disabled, and never blanks lastSuccessfulReportAt', async () => {
    const api = makeApi();
    await seedDevice(api.db, api.tenantId, 'mdm-42');
    await updateSettings(api.db, api.tenantId, { enabled: false });
    const body = (await (await get(api, '/v1/devices/mdm-42')).json()) as Record<string, unknown>;
    assert.equal(body.azureDeviceComplianceStatus, null);
    assert.equal(body.azureDeviceComplianceReportTime, null);
    assert.equal(body.lastSuccessfulReportAt, '2026-11-28T10:00:02.120Z');
    assert.equal(body.lastAttemptAt, '2026-11-28T10:00:01.900Z');
    assert.equal(body.azureClientStatusCode, 'Success');
  });

  it('answers 404 problem+json for a device never seen', async () => {
    const api = makeApi();
    const res = await get(api, '/v1/devices/never-seen');
    assert.equal(res.status, 404);
    assert.equal((await problemOf(res)).type, PROBLEM('not-found'));
  });

  it('answers 400 for an invalid deviceId', async () => {
    const api = makeApi();
    const res = await get(api, `/v1/devices/${'x'.repeat(129)}`);
    assert.equal(res.status, 400);
    assert.deepEqual(
      (await problemOf(res)).errors.map((e) => e.path),
      ['deviceId'],
    );
  });

  it("does not show another tenant's device", async () => {
    const api = makeApi();
    await seedDevice(api.db, `${api.tenantId}-other`, 'mdm-x');
    assert.equal((await get(api, '/v1/devices/mdm-x')).status, 404);
  });
});

describe('API: GET /v1/devices (list)', () => {
  async function seedMany(api: TestApi, n: number): Promise<string[]> {
    const ids = Array.from({ length: n }, (_, i) => `dev-${String(i).padStart(3, '0')}`);
    for (const id of ids) await seedDevice(api.db, api.tenantId, id);
    return ids;
  }

  async function allPages(api: TestApi, query: string): Promise<{ pages: string[][]; cursors: Array<string | null> }> {
    const pages: string[][] = [];
    const cursors: Array<string | null> = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor === null ? query : `${query}&cursor=${encodeURIComponent(cursor)}`;
      const res = await get(api, `/v1/devices?${q}`);
      assert.equal(res.status, 200);
      const body = (await res.json()) as { items: Array<{ deviceId: string }>; nextCursor: string | null };
      pages.push(body.items.map((d) => d.deviceId));
      cursor = body.nextCursor;
      cursors.push(cursor);
    } while (cursor !== null && pages.length < 50);
    return { pages, cursors };
  }

  it('pages through every device in deviceId order; a page that ends exactly at the end has nextCursor null', async () => {
    const api = makeApi();
    const ids = await seedMany(api, 6);
    const { pages, cursors } = await allPages(api, 'limit=3');
    assert.deepEqual(pages, [ids.slice(0, 3), ids.slice(3, 6)]);
    assert.equal(cursors[1], null, 'exact boundary: no empty third page');
  });

  it('ends with a short page whose nextCursor is null', async () => {
    const api = makeApi();
    const ids = await seedMany(api, 7);
    const { pages, cursors } = await allPages(api, 'limit=3');
    assert.deepEqual(pages, [ids.slice(0, 3), ids.slice(3, 6), ids.slice(6)]);
    assert.deepEqual(
      cursors.map((c) => c === null),
      [false, false, true],
    );
  });

  it('answers an empty list with nextCursor null when no device exists', async () => {
    const api = makeApi();
    assert.deepEqual(await (await get(api, '/v1/devices')).json(), { items: [], nextCursor: null });
  });

  it('limit=1 pages one at a time; the default limit is 100 and the maximum 500', async () => {
    const api = makeApi();
    const ids = await seedMany(api, 3);
    const { pages } = await allPages(api, 'limit=1');
    assert.deepEqual(
      pages,
      ids.map((id) => [id]),
    );
    const def = (await (await get(api, '/v1/devices')).json()) as { items: unknown[]; nextCursor: string | null };
    assert.equal(def.items.length, 3);
    assert.equal((await get(api, '/v1/devices?limit=500')).status, 200);
  });

  it('the cursor is base64url of the last deviceId of the page', async () => {
    const api = makeApi();
    await seedMany(api, 3);
    const body = (await (await get(api, '/v1/devices?limit=2')).json()) as { nextCursor: string };
    assert.equal(body.nextCursor, encodeCursor('dev-001'));
    assert.equal(Buffer.from(body.nextCursor, 'base64url').toString(), 'dev-001');
  });

  it('returns full device details as items', async () => {
    const api = makeApi();
    await seedDevice(api.db, api.tenantId, 'mdm-42');
    const list = (await (await get(api, '/v1/devices')).json()) as { items: unknown[] };
    const one = await (await get(api, '/v1/devices/mdm-42')).json();
    assert.deepEqual(list.items, [one]);
  });

  it('filters by complianceStatus, clientStatusCode and retired', async () => {
    const api = makeApi();
    await seedDevice(api.db, api.tenantId, 'a-ok');
    await seedDevice(api.db, api.tenantId, 'b-failed-canceled', {
      complianceStatus: 'Failed',
      clientStatusCode: 'User_Canceled',
      reportTime: null,
    });
    await seedDevice(api.db, api.tenantId, 'c-failed-internal', {
      complianceStatus: 'Failed',
      clientStatusCode: 'Internal_Error',
      reportTime: null,
    });
    await seedDevice(api.db, api.tenantId, 'd-retired', { retiredAt: '2026-11-28T11:00:00.000Z' });
    const ids = async (q: string) =>
      ((await (await get(api, `/v1/devices?${q}`)).json()) as { items: Array<{ deviceId: string }> }).items.map((d) => d.deviceId);
    assert.deepEqual(await ids('complianceStatus=Failed'), ['b-failed-canceled', 'c-failed-internal']);
    assert.deepEqual(await ids('complianceStatus=Failed&clientStatusCode=User_Canceled&retired=false&limit=100'), ['b-failed-canceled']);
    assert.deepEqual(await ids('retired=true'), ['d-retired']);
    assert.deepEqual(await ids('retired=false'), ['a-ok', 'b-failed-canceled', 'c-failed-internal']);
    assert.deepEqual(await ids('complianceStatus=In-progress'), []);
  });

  it('while disabled, items read status null and a status filter matches nothing', async () => {
    const api = makeApi();
    await seedDevice(api.db, api.tenantId, 'a-ok');
    await updateSettings(api.db, api.tenantId, { enabled: false });
    const all = (await (await get(api, '/v1/devices')).json()) as { items: Array<Record<string, unknown>> };
    assert.equal(all.items[0]!.azureDeviceComplianceStatus, null);
    assert.equal(all.items[0]!.azureDeviceComplianceReportTime, null);
    assert.deepEqual(await (await get(api, '/v1/devices?complianceStatus=Successful')).json(), { items: [], nextCursor: null });
  });

  describe('400 per invalid query parameter', () => {
    const cases: Array<[string, string]> = [
      ['limit=0', 'limit'],
      ['limit=501', 'limit'],
      ['limit=-1', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=1.5', 'limit'],
      ['limit=', 'limit'],
      ['complianceStatus=Unknown', 'complianceStatus'],
      ['clientStatusCode=OK', 'clientStatusCode'],
      ['retired=yes', 'retired'],
      ['cursor=!!!', 'cursor'],
      [`cursor=${encodeCursor('bad id with spaces')}`, 'cursor'],
      ['cursor=ZGV2LTAwMQ%3D%3D', 'cursor'], // padded base64, not base64url
      ['complainceStatus=Failed', 'complainceStatus'],
    ];
    for (const [query, path] of cases) {
      it(`rejects ?${query} naming ${path}`, async () => {
        const api = makeApi();
        const res = await get(api, `/v1/devices?${query}`);
        assert.equal(res.status, 400);
        const p = await problemOf(res);
        assert.equal(p.type, PROBLEM('validation'));
        assert.deepEqual(
          p.errors.map((e) => e.path),
          [path],
          JSON.stringify(p.errors),
        );
      });
    }
  });
});

describe('API: GET /v1/devices/{deviceId}/reports', () => {
  async function seedAttempts(api: TestApi, deviceId: string, n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      await upsertReportAttempt(api.db, {
        tenantId: api.tenantId,
        deviceId,
        attemptKey: `k${i}`,
        at: new Date(Date.parse('2026-11-28T10:00:00.000Z') + i * 1000).toISOString(),
        trigger: i === 0 ? 'registration' : 'compliance',
        reported: { complianceStatus: 'notCompliant', managementState: 'managed' },
        outcome: i === n - 1 ? 'In-progress' : 'Successful',
        messageId: i === n - 1 ? null : `msg-${i}`,
        error: null,
        completedAt: null,
      });
    }
  }

  it('lists attempts newest first with exactly the contract fields', async () => {
    const api = makeApi();
    await seedDevice(api.db, api.tenantId, 'mdm-42');
    await seedAttempts(api, 'mdm-42', 3);
    const res = await get(api, '/v1/devices/mdm-42/reports');
    assert.equal(res.status, 200);
    const { items } = (await res.json()) as { items: Array<Record<string, unknown>> };
    assert.deepEqual(items[0], {
      at: '2026-11-28T10:00:02.000Z',
      trigger: 'compliance',
      reported: { complianceStatus: 'notCompliant', managementState: 'managed' },
      outcome: 'In-progress',
      messageId: null,
      error: null,
    });
    assert.deepEqual(
      items.map((i) => i.at),
      ['2026-11-28T10:00:02.000Z', '2026-11-28T10:00:01.000Z', '2026-11-28T10:00:00.000Z'],
    );
    assert.equal(items[2]!.trigger, 'registration');
    assert.equal(items[2]!.messageId, 'msg-0');
  });

  it('honours limit (default 50, 1..200)', async () => {
    const api = makeApi();
    await seedDevice(api.db, api.tenantId, 'mdm-42');
    await seedAttempts(api, 'mdm-42', 55);
    assert.equal(((await (await get(api, '/v1/devices/mdm-42/reports')).json()) as { items: unknown[] }).items.length, 50);
    assert.equal(((await (await get(api, '/v1/devices/mdm-42/reports?limit=2')).json()) as { items: unknown[] }).items.length, 2);
    for (const bad of ['0', '201', 'x']) {
      const res = await get(api, `/v1/devices/mdm-42/reports?limit=${bad}`);
      assert.equal(res.status, 400);
      assert.deepEqual(
        (await problemOf(res)).errors.map((e) => e.path),
        ['limit'],
      );
    }
  });

  it('answers an empty timeline for a device with no attempt, and 404 for an unknown device', async () => {
    const api = makeApi();
    await seedDevice(api.db, api.tenantId, 'quiet');
    assert.deepEqual(await (await get(api, '/v1/devices/quiet/reports')).json(), { items: [] });
    assert.equal((await get(api, '/v1/devices/unknown/reports')).status, 404);
  });
});

describe('API: POST /v1/devices/{deviceId}/sync', () => {
  const sync = (api: TestApi, id: string) => call(api.app, 'POST', `/v1/devices/${id}/sync`, { key: 'admin' });

  it("runs the workflow's sync Update and answers 202", async () => {
    const api = makeApi();
    await seedDevice(api.db, api.tenantId, 'mdm-42');
    const res = await sync(api, 'mdm-42');
    assert.equal(res.status, 202);
    assert.deepEqual(await res.json(), { deviceId: 'mdm-42', accepted: true });
    assert.deepEqual(api.temporal.updates, [{ workflowId: deviceWorkflowId(api.tenantId, 'mdm-42'), update: 'sync' }]);
  });

  it('answers 404 for an unknown device without calling Temporal', async () => {
    const api = makeApi();
    assert.equal((await sync(api, 'nope')).status, 404);
    assert.equal(api.temporal.updates.length, 0);
  });

  it('answers 409 device-retired for a retired row without calling Temporal', async () => {
    const api = makeApi();
    await seedDevice(api.db, api.tenantId, 'gone', { retiredAt: '2026-11-28T10:00:00.000Z' });
    const res = await sync(api, 'gone');
    assert.equal(res.status, 409);
    assert.ok((await problemOf(res)).type.endsWith('/device-retired'));
    assert.equal(api.temporal.updates.length, 0);
  });

  it("answers 409 device-retired when the Update's validator rejects it (DeviceRetired)", async () => {
    const api = makeApi();
    await seedDevice(api.db, api.tenantId, 'mdm-42');
    api.temporal.onUpdate = () => {
      throw new WorkflowUpdateFailedError(
        'Workflow Update failed',
        ApplicationFailure.create({ type: 'DeviceRetired', message: 'retired', nonRetryable: true }),
      );
    };
    const res = await sync(api, 'mdm-42');
    assert.equal(res.status, 409);
    assert.equal((await problemOf(res)).type, PROBLEM('device-retired'));
  });

  it('answers 409 device-not-running when the workflow is gone', async () => {
    const api = makeApi();
    await seedDevice(api.db, api.tenantId, 'mdm-42');
    api.temporal.onUpdate = (id) => {
      throw new WorkflowNotFoundError('not found', id, undefined);
    };
    const res = await sync(api, 'mdm-42');
    assert.equal(res.status, 409);
    assert.equal((await problemOf(res)).type, PROBLEM('device-not-running'));
  });
});

describe('API: POST /v1/sync', () => {
  it('starts a sync fleet operation for every device without a body, and answers 202 { operationId }', async () => {
    const api = makeApi();
    const res = await call(api.app, 'POST', '/v1/sync', { key: 'admin' });
    assert.equal(res.status, 202);
    assert.deepEqual(await res.json(), { operationId: 'op-1' });
    assert.deepEqual(api.fleetCalls, [{ kind: 'sync', filter: null }]);
  });

  it('passes the filter body, and {} means every device', async () => {
    const api = makeApi();
    await call(api.app, 'POST', '/v1/sync', { key: 'admin', body: { complianceStatus: 'Failed', clientStatusCode: 'User_Canceled' } });
    await call(api.app, 'POST', '/v1/sync', { key: 'admin', body: {} });
    assert.deepEqual(api.fleetCalls, [
      { kind: 'sync', filter: { complianceStatus: 'Failed', clientStatusCode: 'User_Canceled' } },
      { kind: 'sync', filter: null },
    ]);
  });

  for (const [body, path] of [
    [{ complianceStatus: 'Broken' }, 'complianceStatus'],
    [{ clientStatusCode: 'Nope' }, 'clientStatusCode'],
    [{ retired: true }, 'retired'],
    [[], ''],
  ] as const) {
    it(`rejects the filter ${JSON.stringify(body)} naming "${path}", starting nothing`, async () => {
      const api = makeApi();
      const res = await call(api.app, 'POST', '/v1/sync', { key: 'admin', body });
      assert.equal(res.status, 400);
      assert.deepEqual(
        (await problemOf(res)).errors.map((e) => e.path),
        [path],
      );
      assert.equal(api.fleetCalls.length, 0);
    });
  }
});

describe('API: GET /v1/operations/{operationId}', () => {
  it('answers the operation, and 404 for an unknown one', async () => {
    const api = makeApi();
    await createOperation(api.db, {
      operationId: `op-${api.tenantId}`,
      tenantId: api.tenantId,
      kind: 'sync',
      filter: null,
      startedAt: '2026-11-28T10:00:00.000Z',
    });
    await updateOperationProgress(api.db, `op-${api.tenantId}`, { devicesTotal: 10, devicesSignalled: 4 });
    const res = await get(api, `/v1/operations/op-${api.tenantId}`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      operationId: `op-${api.tenantId}`,
      kind: 'sync',
      startedAt: '2026-11-28T10:00:00.000Z',
      finishedAt: null,
      devicesTotal: 10,
      devicesSignalled: 4,
      devicesSkipped: 0,
    });
    assert.equal((await get(api, '/v1/operations/op-unknown')).status, 404);
  });
});

describe('API: /v1/settings', () => {
  const put = (api: TestApi, body: unknown) => call(api.app, 'PUT', '/v1/settings', { key: 'admin', body });
  const defaultReconciliation = (api: TestApi) => ({ paused: false, cron: null, effectiveCron: defaultReconciliationCron(api.tenantId) });

  it('GET shows the drift reconciliation daily by default, at a time spread from the tenant id', async () => {
    const a = makeApi();
    const b = makeApi();
    const ra = ((await (await get(a, '/v1/settings')).json()) as { reconciliation: { effectiveCron: string } }).reconciliation;
    assert.deepEqual(ra, defaultReconciliation(a));
    assert.match(ra.effectiveCron, /^\d{1,2} \d{1,2} \* \* \*$/);
    assert.equal(defaultReconciliationCron(a.tenantId), defaultReconciliationCron(a.tenantId));
    // Two tenants almost never share a minute of the day (1 in 1,440): these two do not.
    assert.notEqual(defaultReconciliationCron(a.tenantId), defaultReconciliationCron(b.tenantId));
  });

  it('changing reconciliation.paused or .cron updates the reconciliation schedule, only on a change; null returns to the default', async () => {
    const api = makeApi();
    const res = await put(api, { reconciliation: { paused: true, cron: '30 2 * * *' } });
    assert.equal(res.status, 200);
    assert.deepEqual(((await res.json()) as { reconciliation: unknown }).reconciliation, {
      paused: true,
      cron: '30 2 * * *',
      effectiveCron: '30 2 * * *',
    });
    await put(api, { reconciliation: { paused: true } });
    const back = await put(api, { reconciliation: { paused: false, cron: null, effectiveCron: 'ignored' } });
    assert.deepEqual(((await back.json()) as { reconciliation: unknown }).reconciliation, defaultReconciliation(api));
    assert.deepEqual(
      api.reconciliationCalls.map((c) => ({ paused: c.reconciliationPaused, cron: c.reconciliationCron })),
      [
        { paused: true, cron: '30 2 * * *' },
        { paused: false, cron: null },
      ],
    );
    assert.deepEqual(api.scheduleCalls, []);
  });
  const defaultSettings = (api: TestApi) => ({
    enabled: true,
    weeklyReport: { paused: false },
    reconciliation: defaultReconciliation(api),
    gracePeriods: {},
    heartbeat: { lastAt: null, result: null },
  });
  const gracePeriodsOf = async (api: TestApi) =>
    ((await (await get(api, '/v1/settings')).json()) as { gracePeriods: unknown }).gracePeriods;

  it('GET answers { enabled, weeklyReport: { paused } } plus the heartbeat extension', async () => {
    const api = makeApi();
    const res = await get(api, '/v1/settings');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), defaultSettings(api));
  });

  it('turning enabled from false to true starts the enable fleet operation once', async () => {
    const api = makeApi();
    assert.equal((await put(api, { enabled: false, weeklyReport: { paused: false } })).status, 200);
    assert.deepEqual(api.fleetCalls, []);
    const res = await put(api, { enabled: true, weeklyReport: { paused: false } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), defaultSettings(api));
    assert.deepEqual(api.fleetCalls, [{ kind: 'enable', filter: null }]);
    await put(api, { enabled: true });
    assert.equal(api.fleetCalls.length, 1, 'true → true starts nothing');
    assert.deepEqual(api.scheduleCalls, []);
  });

  it('changing weeklyReport.paused pauses or resumes the schedule, only on a change', async () => {
    const api = makeApi();
    await put(api, { weeklyReport: { paused: true } });
    await put(api, { weeklyReport: { paused: true } });
    await put(api, { enabled: true, weeklyReport: { paused: false } });
    assert.deepEqual(api.scheduleCalls, [true, false]);
    assert.deepEqual(await (await get(api, '/v1/settings')).json(), defaultSettings(api));
  });

  it('accepts back exactly what GET answered (the read-only heartbeat is ignored)', async () => {
    const api = makeApi();
    const current = (await (await get(api, '/v1/settings')).json()) as Record<string, unknown>;
    const res = await put(api, { ...current, enabled: false });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ...defaultSettings(api), enabled: false });
  });

  it('stores grace periods per policy action, answers them, and replaces them whole ({} for none)', async () => {
    const api = makeApi();
    const res = await put(api, { gracePeriods: { BLOCK_EMAIL: 'PT24H', QUARANTINE: 'P2D' } });
    assert.equal(res.status, 200);
    assert.deepEqual(((await res.json()) as { gracePeriods: unknown }).gracePeriods, { BLOCK_EMAIL: 'PT24H', QUARANTINE: 'P2D' });
    assert.deepEqual(await gracePeriodsOf(api), {
      BLOCK_EMAIL: 'PT24H',
      QUARANTINE: 'P2D',
    });
    await put(api, { enabled: true });
    assert.deepEqual(
      await gracePeriodsOf(api),
      {
        BLOCK_EMAIL: 'PT24H',
        QUARANTINE: 'P2D',
      },
      'left out, they stay',
    );
    await put(api, { gracePeriods: {} });
    assert.deepEqual(await gracePeriodsOf(api), {});
    assert.deepEqual(api.fleetCalls, []);
  });

  it('undoes the change and answers 503 when the enable operation cannot start, so a retry runs it', async () => {
    let fail = true;
    const started: string[] = [];
    const api = makeApi({
      fleet: {
        start: async (kind) => {
          if (fail) {
            const err = new Error('14 UNAVAILABLE: no connection') as Error & { code: number; details: string; metadata: object };
            Object.assign(err, { code: 14, details: 'no connection', metadata: {} });
            throw err;
          }
          started.push(kind);
          return { operationId: 'op-enable' };
        },
      },
    });
    await put(api, { enabled: false });
    const res = await put(api, { enabled: true });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '5');
    assert.equal(((await (await get(api, '/v1/settings')).json()) as { enabled: boolean }).enabled, false);
    fail = false;
    assert.equal((await put(api, { enabled: true })).status, 200);
    assert.deepEqual(started, ['enable']);
  });

  for (const [body, path] of [
    [{ enabled: 'yes' }, 'enabled'],
    [{ weeklyReport: { paused: 1 } }, 'weeklyReport.paused'],
    [{ weeklyReport: { pause: true } }, 'weeklyReport.pause'],
    [{ enable: true }, 'enable'],
    [{ weeklyReport: true }, 'weeklyReport'],
    [{ reconciliation: { cron: '61 * * * *' } }, 'reconciliation.cron'],
    [{ reconciliation: { cron: 'daily' } }, 'reconciliation.cron'],
    [{ reconciliation: { cron: 5 } }, 'reconciliation.cron'],
    [{ reconciliation: { paused: 'no' } }, 'reconciliation.paused'],
    [{ reconciliation: { every: '1d' } }, 'reconciliation.every'],
    [{ gracePeriods: { BLOCK_EMAIL: 'tomorrow' } }, 'gracePeriods.BLOCK_EMAIL'],
    [{ gracePeriods: { QUARANTINE: 'P1M' } }, 'gracePeriods.QUARANTINE'],
    [{ gracePeriods: { RETIRE: 'PT0S' } }, 'gracePeriods.RETIRE'],
    [{ gracePeriods: { SEND_ALERT: 'PT1H' } }, 'gracePeriods.SEND_ALERT'],
    [{ gracePeriods: { BLOCK_EMAIL: 3600 } }, 'gracePeriods.BLOCK_EMAIL'],
    [{ gracePeriods: ['PT1H'] }, 'gracePeriods'],
  ] as const) {
    it(`PUT rejects ${JSON.stringify(body)} naming "${path}" and changes nothing`, async () => {
      const api = makeApi();
      const res = await put(api, body);
      assert.equal(res.status, 400);
      assert.deepEqual(
        (await problemOf(res)).errors.map((e) => e.path),
        [path],
      );
      assert.deepEqual(api.fleetCalls, []);
      assert.deepEqual(api.scheduleCalls, []);
      assert.deepEqual(api.reconciliationCalls, []);
      assert.deepEqual(((await (await get(api, '/v1/settings')).json()) as { reconciliation: unknown }).reconciliation, {
        paused: false,
        cron: null,
        effectiveCron: defaultReconciliationCron(api.tenantId),
      });
      assert.deepEqual(await gracePeriodsOf(api), {});
    });
  }
});

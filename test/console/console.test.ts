/**
 * The admin console in real Chromium on the real stack: the API app served on a socket, a real worker
 * on its own task queue, the Temporal dev server, Postgres and the Azure emulator. A tenant of its own
 * holds three Successful devices, two that Microsoft fails (Entra does not know them) and one whose
 * registration was User_Canceled.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createFleetClient, createScheduleControl } from '../../workers/fleet-client';
import { CSV_COLUMNS } from '../../api/console/csv';
import { SESSION_COOKIE } from '../../api/console/session';
import { withWorker } from '../support/device-harness';
import { testEnv, uniqueName } from '../support/env';
import { ADMIN_KEY, MDM_KEY, call, makeApi, type TestApi } from '../api/helpers';
import { compliance } from '../support/device-harness';
import {
  deleteSchedules,
  newTenant,
  register,
  seedDevices,
  send,
  testConfig,
  waitForRow,
  waitForTrigger,
  type FleetDevice,
  type FleetTenant,
} from '../fleet/helpers';
import { WEEKLY_REPORT_SCHEDULE_ID, ensureSchedules } from '../../workers/schedules';
import { PHONE, WIDE, launchChromium, newContext, reloadUntil, screenshot, seriousViolations, signIn } from './browser';

type Json = Record<string, unknown>;

describe('admin console (real Chromium)', function () {
  this.timeout(180_000);

  let tenant: FleetTenant;
  let taskQueue: string;
  let api: TestApi;
  let baseURL: string;
  let server: ReturnType<typeof serve>;
  let browser: Browser;
  let stopWorker: () => void;
  let worker: Promise<unknown>;
  let good: FleetDevice[];
  let unknownToEntra: FleetDevice[];
  let canceled: FleetDevice[];

  const adminGet = async (path: string): Promise<Json> => {
    const res = await call(api.app, 'GET', path, { key: 'admin' });
    assert.equal(res.status, 200, `${path}: ${res.status}`);
    return (await res.json()) as Json;
  };

  /** Every device the API lists for a query, across its pages. */
  const allDevices = async (query = ''): Promise<Json[]> => {
    const items: Json[] = [];
    let cursor: string | null = null;
    do {
      const sep = query === '' ? '?' : `?${query}&`;
      const page = await adminGet(`/v1/devices${sep}limit=500${cursor ? `&cursor=${cursor}` : ''}`);
      items.push(...(page.items as Json[]));
      cursor = page.nextCursor as string | null;
    } while (cursor !== null);
    return items;
  };

  const auditRows = async (action: string): Promise<number> => {
    const [r] = await testEnv().db('audit_log').where({ tenant_id: tenant.tenantId, action }).count<{ count: string }[]>({ count: '*' });
    return Number(r!.count);
  };

  async function signedInPage(viewport = WIDE): Promise<{ context: BrowserContext; page: Page }> {
    const context = await newContext(browser, baseURL, viewport);
    const page = await context.newPage();
    assert.equal(await signIn(page, ADMIN_KEY), 303);
    return { context, page };
  }

  before(async function () {
    const env = testEnv();
    tenant = await newTenant();
    taskQueue = uniqueName('console-tq');
    let release!: () => void;
    const stopped = new Promise<void>((resolve) => (release = resolve));
    stopWorker = release;
    worker = withWorker(() => stopped, { azure: tenant.azure, taskQueue });

    good = await seedDevices(tenant, 'console-ok', 3);
    unknownToEntra = await seedDevices(tenant, 'console-unknown', 2, false);
    canceled = await seedDevices(tenant, 'console-canceled', 1);
    await register(tenant, taskQueue, good, 'Successful');
    await register(tenant, taskQueue, unknownToEntra, 'Failed');
    await register(tenant, taskQueue, canceled, 'Failed', 'User_Canceled');
    await send(tenant, taskQueue, good[0]!.deviceId, compliance(['QUARANTINE', 'BLOCK_EMAIL']));
    await send(tenant, taskQueue, good[1]!.deviceId, compliance(['SEND_ALERT']));
    await waitForRow(
      tenant,
      good[0]!.deviceId,
      (r) => r.policyAction === 'QUARANTINE' && r.complianceStatus === 'Successful',
      'QUARANTINE reported',
    );
    await waitForRow(
      tenant,
      good[1]!.deviceId,
      (r) => r.policyAction === 'SEND_ALERT' && r.complianceStatus === 'Successful',
      'SEND_ALERT reported',
    );

    api = makeApi({
      temporalClient: env.temporalClient,
      taskQueue,
      tenantId: tenant.tenantId,
      fleet: createFleetClient(env.temporalClient, testConfig(taskQueue), tenant.tenantId, { db: env.db }),
      schedules: createScheduleControl(env.temporalClient, testConfig(taskQueue), tenant.tenantId),
    });
    server = serve({ fetch: api.app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    stopWorker?.();
    await worker;
  });

  it('GET / redirects to the console, which asks to sign in; a wrong key and the mdm key are refused, the admin key signs in with a strict HttpOnly cookie', async () => {
    const context = await newContext(browser, baseURL);
    const page = await context.newPage();
    const root = await page.goto('/');
    assert.equal(new URL(page.url()).pathname, '/console/sign-in');
    assert.equal(new URL(page.url()).searchParams.get('next'), '/console');
    assert.equal(root!.status(), 200);

    assert.equal(await signIn(page, 'not-the-admin-key-0123456789'), 401);
    assert.match((await page.textContent('[role=alert]')) ?? '', /not the admin API key/);
    assert.equal(await signIn(page, MDM_KEY), 401);
    assert.match((await page.textContent('[role=alert]')) ?? '', /MDM key/);
    assert.equal(
      (await context.cookies()).some((c) => c.name === SESSION_COOKIE),
      false,
    );

    assert.equal(await signIn(page, ADMIN_KEY), 303);
    assert.equal(new URL(page.url()).pathname, '/console');
    assert.equal(await page.textContent('h1'), 'Overview');
    const cookie = (await context.cookies()).find((c) => c.name === SESSION_COOKIE)!;
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.equal(cookie.secure, false, 'plain http here: Secure only behind TLS');
    assert.equal(cookie.path, '/console');
    const hours = (cookie.expires * 1000 - Date.now()) / 3_600_000;
    assert.ok(hours > 7.9 && hours <= 8, `expires in ${hours} h`);

    await Promise.all([page.waitForURL('**/console/sign-in'), page.click('button:has-text("Sign out")')]);
    assert.equal(
      (await context.cookies()).some((c) => c.name === SESSION_COOKIE),
      false,
    );
    await page.goto('/console/devices');
    assert.equal(new URL(page.url()).pathname, '/console/sign-in');
    await context.close();
  });

  it('works without JavaScript: signs in, shows times as UTC text, and re-reports a device', async () => {
    const context = await browser.newContext({ baseURL, viewport: WIDE, javaScriptEnabled: false });
    const page = await context.newPage();
    assert.equal(await signIn(page, ADMIN_KEY), 303);
    const target = good[0]!.deviceId;
    await page.goto(`/console/devices/${target}`);
    const time = page.locator('[data-field=azureDeviceComplianceReportTime] time');
    const iso = (await time.getAttribute('datetime'))!;
    assert.equal(await time.textContent(), `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`);
    await Promise.all([page.waitForURL(`**/console/devices/${target}?done=sync`), page.click('button:has-text("Re-report now")')]);
    assert.match((await page.textContent('[role=status]')) ?? '', /Re-report requested/);
    // Settled before the next tests count statuses.
    await waitForTrigger(tenant, [good[0]!], 'manual');
    await context.close();
  });

  it("shows times in the viewer's time zone with the UTC value on hover, and moves a visible focus by keyboard", async () => {
    const { context, page } = await signedInPage();
    await page.goto(`/console/devices/${good[0]!.deviceId}`);
    const time = page.locator('[data-field=azureDeviceComplianceReportTime] time');
    const iso = (await time.getAttribute('datetime'))!;
    assert.equal(await time.getAttribute('title'), `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`);
    const paris = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'medium', timeZone: 'Europe/Paris' }).format(
      new Date(iso),
    );
    assert.equal(await time.textContent(), paris);

    await page.keyboard.press('Tab');
    const first = (await page.evaluate(
      '[document.activeElement.textContent, getComputedStyle(document.activeElement).outlineStyle, document.activeElement.getBoundingClientRect().left >= 0]',
    )) as [string, string, boolean];
    assert.deepEqual(first, ['Skip to content', 'solid', true]);
    await page.keyboard.press('Tab');
    const second = (await page.evaluate('[document.activeElement.textContent, getComputedStyle(document.activeElement).outlineStyle]')) as [
      string,
      string,
    ];
    assert.deepEqual(second, ['Azure compliance connector', 'solid']);
    await context.close();
  });

  it('marks the session cookie Secure behind TLS and refuses a tampered cookie', async () => {
    const signInPage = await call(api.app, 'GET', '/console/sign-in', { headers: { 'X-Forwarded-Proto': 'https' } });
    const csrfCookie = signInPage.headers.get('set-cookie')!;
    assert.match(csrfCookie, /; Secure/);
    const token = /acc_sign_in_csrf=([^;]+)/.exec(csrfCookie)![1]!;
    const res = await api.app.request('/console/sign-in', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Forwarded-Proto': 'https', Cookie: `acc_sign_in_csrf=${token}` },
      body: new URLSearchParams({ key: ADMIN_KEY, _csrf: token, next: '/console/devices' }).toString(),
    });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/console/devices');
    const session = res.headers.get('set-cookie')!;
    assert.match(session, /^acc_session=[^;]+; Max-Age=28800; Path=\/console; HttpOnly; Secure; SameSite=Strict/);
    const value = /acc_session=([^;]+)/.exec(session)![1]!;

    const ok = await call(api.app, 'GET', '/console/devices', { headers: { Cookie: `acc_session=${value}` } });
    assert.equal(ok.status, 200);
    const [payload, mac] = value.split('.');
    const forged = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), tenantId: 'another-tenant' }),
    ).toString('base64url');
    const refused = await call(api.app, 'GET', '/console/devices', { headers: { Cookie: `acc_session=${forged}.${mac}` } });
    assert.equal(refused.status, 303);
    assert.equal(refused.headers.get('location'), '/console/sign-in?next=%2Fconsole%2Fdevices');
  });

  it("shows on the overview exactly the API's counts by compliance status, client status code and policy action", async () => {
    const { context, page } = await signedInPage();
    const devices = await allDevices();
    assert.equal(devices.length, 6);
    const countBy = (field: string) => {
      const m: Record<string, number> = {};
      for (const d of devices) {
        const v = d[field] === null ? 'null' : String(d[field]);
        m[v] = (m[v] ?? 0) + 1;
      }
      return m;
    };
    const shown = async (tableId: string) =>
      Object.fromEntries(
        (
          await page.$$eval(`#${tableId} tbody tr`, (rows) =>
            rows.map((r) => [r.getAttribute('data-value'), Number(r.querySelector('td')!.getAttribute('data-count'))] as const),
          )
        ).filter(([, n]) => n > 0),
      );
    assert.deepEqual(await shown('chart-status'), countBy('azureDeviceComplianceStatus'));
    assert.deepEqual(await shown('chart-status'), { Successful: 3, Failed: 3 });
    assert.deepEqual(await shown('chart-client-status'), countBy('azureClientStatusCode'));
    assert.deepEqual(await shown('chart-policy-action'), countBy('policyAction'));
    assert.deepEqual(await shown('chart-policy-action'), { QUARANTINE: 1, SEND_ALERT: 1, null: 4 });
    assert.equal(await page.getAttribute('#device-total', 'data-count'), '6');
    const lastHour = await testEnv().db('report_attempts').where({ tenant_id: tenant.tenantId }).count<{ count: string }[]>({ count: '*' });
    const attempts = Number(lastHour[0]!.count);
    assert.match((await page.textContent('#health-last-hour')) ?? '', new RegExp(`^${attempts} report attempts; 2 failed 0 throttled`));
    assert.equal(
      await page.textContent('#health-budget'),
      `about ${((attempts * 2) / 3600).toFixed(2)} calls/s on average over the last hour, of 80 calls/s allowed (AZURE_MAX_CALLS_PER_SECOND)`,
    );
    assert.match((await page.textContent('#health-backlog')) ?? '', new RegExp(`\\d+ reports waiting on ${taskQueue}-microsoft`));
    await context.close();
  });

  it('filters the list to Failed, opens a device, and shows exactly what GET /v1/devices/{id} answers under the four Azure Device Details labels', async () => {
    const { context, page } = await signedInPage();
    await page.goto('/console/devices');
    await page.selectOption('select[name=complianceStatus]', 'Failed');
    await Promise.all([page.waitForURL('**/console/devices?**'), page.click('button:has-text("Apply")')]);
    const listed = await page.$$eval('#device-list tbody tr', (rows) => rows.map((r) => r.getAttribute('data-device-id')));
    const failed = await allDevices('complianceStatus=Failed');
    assert.deepEqual(
      listed,
      failed.map((d) => d.deviceId),
    );
    assert.deepEqual([...listed].sort(), [...unknownToEntra, ...canceled].map((d) => d.deviceId).sort());

    const target = unknownToEntra[0]!.deviceId;
    await Promise.all([page.waitForURL(`**/console/devices/${target}`), page.click(`a:text-is("${target}")`)]);
    const labels = await page.$$eval('#azure-device-details dt', (dts) => dts.map((dt) => dt.textContent));
    assert.deepEqual(labels, [
      'Azure Device Identifier',
      'Azure Device Compliance Status',
      'Azure Client Status Code',
      'Azure Device Compliance Report Time',
    ]);
    const fromApi = await adminGet(`/v1/devices/${target}`);
    const shown = Object.fromEntries(
      await page.$$eval('[data-field]', (els) => els.map((e) => [e.getAttribute('data-field'), e.getAttribute('data-value')] as const)),
    );
    const raw = (v: unknown) => (v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v));
    for (const field of Object.keys(shown)) assert.equal(shown[field], raw(fromApi[field]), field);
    assert.deepEqual(Object.keys(shown).sort(), [
      'azureClientStatusCode',
      'azureDeviceComplianceReportTime',
      'azureDeviceComplianceStatus',
      'azureDeviceIdentifier',
      'lastAttemptAt',
      'lastError',
      'lastSuccessfulReportAt',
      'managementState',
      'platform',
      'policyAction',
      'reportedCompliance',
      'retiredAt',
      'updatedAt',
      'userPrincipalName',
    ]);
    assert.equal(fromApi.azureDeviceComplianceStatus, 'Failed');
    assert.equal((fromApi.lastError as Json).code, 'DeviceNotFound');
    assert.equal(await page.textContent('[data-field=lastError] .badge'), 'DeviceNotFound');
    assert.match((await page.textContent('[data-field=lastError]')) ?? '', /Can the device user fix it\? Yes, the user can/);
    const temporalLink = await page.getAttribute('a:has-text("Temporal UI")', 'href');
    assert.match(temporalLink!, new RegExp(`/namespaces/default/workflows/${encodeURIComponent(`device:${tenant.tenantId}:${target}`)}$`));
    await context.close();
  });

  it('Re-report now adds a manual row to the timeline and an audit row naming the console session', async () => {
    const { context, page } = await signedInPage();
    const target = unknownToEntra[1]!.deviceId;
    await page.goto(`/console/devices/${target}`);
    assert.equal(await page.locator('#report-timeline tr[data-trigger=manual]').count(), 0);
    const syncsBefore = await auditRows('device.sync');
    await Promise.all([page.waitForURL(`**/console/devices/${target}?done=sync`), page.click('button:has-text("Re-report now")')]);
    assert.match((await page.textContent('[role=status]')) ?? '', /Re-report requested/);
    await reloadUntil(
      page,
      'a settled manual row',
      async () => (await page.locator('#report-timeline tr[data-trigger=manual]:not([data-outcome=In-progress])').count()) === 1,
    );
    const reports = await adminGet(`/v1/devices/${target}/reports`);
    const manual = (reports.items as Json[]).filter((r) => r.trigger === 'manual');
    assert.equal(manual.length, 1);
    assert.equal(await page.getAttribute('#report-timeline tr[data-trigger=manual]', 'data-outcome'), manual[0]!.outcome);
    assert.equal(await auditRows('device.sync'), syncsBefore + 1);

    await page.goto('/console');
    const first = page.locator('#audit-trail tbody tr').first();
    assert.equal(await first.getAttribute('data-action'), 'device.sync');
    assert.match((await first.textContent()) ?? '', new RegExp(`console \\(admin, session [0-9a-f]{8}\\)Re-reported a device${target}`));
    await context.close();
  });

  it('refuses a form posted without its CSRF token (403) and changes nothing', async () => {
    const { context, page } = await signedInPage();
    const target = good[2]!.deviceId;
    await page.goto(`/console/devices/${target}`);
    const syncsBefore = await auditRows('device.sync');
    await page.locator('form[action$="/sync"] input[name=_csrf]').evaluate((el) => el.remove());
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.click('button:has-text("Re-report now")'),
    ]);
    assert.equal(response.status(), 403);
    assert.equal(await page.textContent('h1'), 'Form refused');
    assert.equal(await auditRows('device.sync'), syncsBefore);

    // The same form with another session's token is refused too.
    const other = await signedInPage();
    await other.page.goto(`/console/devices/${target}`);
    const otherToken = await other.page.getAttribute('form[action$="/sync"] input[name=_csrf]', 'value');
    await page.goto(`/console/devices/${target}`);
    await page.locator('form[action$="/sync"] input[name=_csrf]').evaluate((el, t) => el.setAttribute('value', t), otherToken!);
    const [second] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.click('button:has-text("Re-report now")'),
    ]);
    assert.equal(second.status(), 403);
    assert.equal(await auditRows('device.sync'), syncsBefore);
    await other.context.close();
    await context.close();
  });

  it('exports as CSV exactly the rows of the filtered list', async () => {
    const { context, page } = await signedInPage();
    for (const query of ['complianceStatus=Failed', 'clientStatusCode=User_Canceled', `q=${encodeURIComponent('console-ok-0')}`]) {
      await page.goto(`/console/devices?${query}`);
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('a:has-text("Export this list as CSV")')]);
      const lines = readFileSync((await download.path())!, 'utf8')
        .trimEnd()
        .split('\r\n');
      assert.deepEqual(lines[0]!.split(','), [...CSV_COLUMNS]);
      const rows = lines.slice(1).map((l) => Object.fromEntries(l.split(',').map((v, i) => [CSV_COLUMNS[i]!, v])));
      const listed = await page.$$eval('#device-list tbody tr', (trs) => trs.map((r) => r.getAttribute('data-device-id')));
      assert.deepEqual(
        rows.map((r) => r.deviceId),
        listed,
        query,
      );
      const expected = query.startsWith('q=') ? good.map((d) => d.deviceId) : (await allDevices(query)).map((d) => d.deviceId);
      assert.deepEqual(
        rows.map((r) => r.deviceId),
        expected,
        query,
      );
      for (const r of rows) {
        const d = await adminGet(`/v1/devices/${r.deviceId}`);
        assert.equal(r.azureDeviceComplianceStatus, d.azureDeviceComplianceStatus ?? '');
        assert.equal(r.azureClientStatusCode, d.azureClientStatusCode ?? '');
        assert.equal(r.azureDeviceComplianceReportTime, d.azureDeviceComplianceReportTime ?? '');
        assert.equal(r.lastErrorCode, (d.lastError as Json | null)?.code ?? '');
      }
    }
    assert.deepEqual(
      await (async () => {
        await page.goto('/console/devices?clientStatusCode=User_Canceled');
        return page.$$eval('#device-list tbody tr', (trs) => trs.map((r) => r.getAttribute('data-device-id')));
      })(),
      [canceled[0]!.deviceId],
    );
    await context.close();
  });

  it('starts a bulk re-report of the Failed devices after a confirmation stating their number, and shows its progress to the end', async () => {
    const { context, page } = await signedInPage();
    await page.goto('/console/operations');
    await page.selectOption('select[name=complianceStatus]', 'Failed');
    await Promise.all([page.waitForURL('**/console/operations/new?**'), page.click('button:has-text("Review")')]);
    const expected = (await allDevices('complianceStatus=Failed&retired=false')).length;
    assert.equal(expected, 3);
    assert.equal(await page.getAttribute('#bulk-count', 'data-count'), String(expected));
    assert.match((await page.textContent('#bulk-count')) ?? '', /This reports 3 devices to Microsoft again/);
    const fleetBefore = await auditRows('fleet.sync');
    await Promise.all([page.waitForURL('**/console/operations/sync-*'), page.click('button:has-text("Re-report 3 devices")')]);
    const operationId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
    const progress = page.locator('#operation-progress');
    await reloadUntil(page, 'the operation to finish', async () => (await progress.getAttribute('data-finished')) === 'true');
    assert.equal(await progress.getAttribute('data-total'), '3');
    assert.equal(await progress.getAttribute('data-done'), '3');
    assert.equal(await page.getAttribute('#operation-progress progress', 'value'), '3');
    assert.equal(await page.getAttribute('#operation-progress progress', 'max'), '3');
    assert.match((await progress.textContent()) ?? '', /Finished.*3 of 3 devices handled/);
    const op = await adminGet(`/v1/operations/${operationId}`);
    assert.equal(op.devicesTotal, 3);
    assert.equal((op.devicesSignalled as number) + (op.devicesSkipped as number), 3);
    assert.notEqual(op.finishedAt, null);
    assert.equal(await auditRows('fleet.sync'), fleetBefore + 1);
    await context.close();
  });

  it('has no serious or critical axe-core violation on any page, at 1280×800 and at 390 px, and writes a screenshot of each', async () => {
    const target = unknownToEntra[0]!.deviceId;
    const [operation] = await testEnv().db('operations').select('operation_id').where({ tenant_id: tenant.tenantId }).limit(1);
    const pages: Array<[string, (p: Page) => Promise<unknown>]> = [
      ['overview', (p) => p.goto('/console')],
      ['devices', (p) => p.goto('/console/devices')],
      ['devices-failed', (p) => p.goto('/console/devices?complianceStatus=Failed&sort=lastReport')],
      ['devices-empty', (p) => p.goto('/console/devices?q=no-such-device')],
      ['device', (p) => p.goto(`/console/devices/${target}`)],
      ['operations', (p) => p.goto('/console/operations')],
      ['operations-confirm', (p) => p.goto('/console/operations/new?complianceStatus=Failed')],
      ['operation', (p) => p.goto(`/console/operations/${(operation as { operation_id: string }).operation_id}`)],
      ['settings', (p) => p.goto('/console/settings')],
      [
        'settings-confirm-off',
        async (p) => {
          await p.goto('/console/settings');
          await Promise.all([p.waitForURL('**/console/settings/reporting'), p.click('button:has-text("Turn reporting off")')]);
        },
      ],
      ['not-found', (p) => p.goto('/console/devices/no-such-device')],
    ];
    const found: string[] = [];
    for (const viewport of [WIDE, PHONE]) {
      const context = await newContext(browser, baseURL, viewport);
      const page = await context.newPage();
      await page.goto('/console/sign-in');
      await screenshot(page, 'sign-in');
      for (const v of await seriousViolations(page)) found.push(`sign-in@${viewport.width}: ${v.id} ${v.targets.join(' | ')}`);
      assert.equal(await signIn(page, ADMIN_KEY), 303);
      for (const [name, open] of pages) {
        await open(page);
        await screenshot(page, name);
        for (const v of await seriousViolations(page))
          found.push(`${name}@${viewport.width}: ${v.id} (${v.impact}) ${v.help}: ${v.targets.join(' | ')}`);
        if (viewport === PHONE) {
          const overflow = (await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')) as number;
          assert.equal(overflow, 0, `${name} scrolls sideways at 390 px`);
        }
      }
      await context.close();
    }
    assert.deepEqual(found, []);
    const settings = await adminGet('/v1/settings');
    assert.equal(settings.enabled, true, 'opening the confirmation changed nothing');
  });

  it('turns reporting off only after the confirmation, after which the API shows it off; turning it on again needs none', async () => {
    const { context, page } = await signedInPage();
    await page.goto('/console/settings');
    assert.match((await page.textContent('#reporting-state')) ?? '', /^On/);
    await Promise.all([page.waitForURL('**/console/settings/reporting'), page.click('button:has-text("Turn reporting off")')]);
    assert.equal(await page.textContent('h1'), 'Turn reporting off?');
    assert.match((await page.textContent('.notice')) ?? '', /no device change, weekly report or re-report is sent to Microsoft Intune/);
    assert.equal((await adminGet('/v1/settings')).enabled, true, 'not off before the confirmation');

    await Promise.all([page.waitForURL('**/console/settings?done=off'), page.click('button:has-text("Yes, turn reporting off")')]);
    assert.match((await page.textContent('#reporting-state')) ?? '', /^Off/);
    assert.equal((await adminGet('/v1/settings')).enabled, false);
    await page.goto('/console');
    assert.match((await page.textContent('.notice')) ?? '', /Reporting to Microsoft is off/);
    assert.equal(await page.locator('#audit-trail tbody tr').first().getAttribute('data-action'), 'settings.update');
    assert.match((await page.locator('#audit-trail tbody tr').first().textContent()) ?? '', /reporting off/);

    await page.goto('/console/settings');
    await Promise.all([page.waitForURL('**/console/settings?done=on'), page.click('button:has-text("Turn reporting on")')]);
    assert.equal((await adminGet('/v1/settings')).enabled, true);
    await context.close();
  });

  it("pauses and resumes the weekly report from Settings: Temporal's Schedule follows, and its next run is shown", async () => {
    const env = testEnv();
    await ensureSchedules(env.temporalClient, testConfig(taskQueue), tenant.tenantId, env.db);
    try {
      const schedule = env.temporalClient.schedule.getHandle(WEEKLY_REPORT_SCHEDULE_ID);
      const next = (await schedule.describe()).info.nextActionTimes[0]!.toISOString();
      const { context, page } = await signedInPage();
      await page.goto('/console/settings');
      assert.match((await page.textContent('#weekly-state')) ?? '', /^Running Schedule 0 6 \* \* 1 \(cron, UTC\)\. Next run: /);
      assert.equal(await page.getAttribute('#weekly-state time', 'datetime'), next);
      await page.goto('/console');
      assert.equal(await page.getAttribute('#health-weekly time', 'datetime'), next);

      await page.goto('/console/settings');
      await Promise.all([page.waitForURL('**/console/settings?done=paused'), page.click('button:has-text("Pause the weekly report")')]);
      assert.match((await page.textContent('#weekly-state')) ?? '', /^Paused .*Next run: none while paused/);
      assert.deepEqual((await adminGet('/v1/settings')).weeklyReport, { paused: true });
      assert.equal((await schedule.describe()).state.paused, true);

      await Promise.all([page.waitForURL('**/console/settings?done=resumed'), page.click('button:has-text("Resume the weekly report")')]);
      assert.deepEqual((await adminGet('/v1/settings')).weeklyReport, { paused: false });
      assert.equal((await schedule.describe()).state.paused, false);
      await context.close();
    } finally {
      await deleteSchedules();
    }
  });

  it('records in the audit trail what the admin API key did too', async () => {
    const before = await auditRows('settings.update');
    const res = await call(api.app, 'PUT', '/v1/settings', { key: 'admin', body: { weeklyReport: { paused: true } } });
    assert.equal(res.status, 200);
    await call(api.app, 'PUT', '/v1/settings', { key: 'admin', body: { weeklyReport: { paused: false } } });
    assert.equal(await auditRows('settings.update'), before + 2);
    const { context, page } = await signedInPage();
    await page.goto('/console');
    const rows = page.locator('#audit-trail tbody tr');
    assert.match((await rows.nth(0).textContent()) ?? '', /admin API keyChanged the settingsweekly report resumed$/);
    assert.match((await rows.nth(1).textContent()) ?? '', /admin API keyChanged the settingsweekly report paused$/);
    await context.close();
  });
});

/**
 * Console pages as plain HTTP (the Hono app's `app.request`, a real Postgres, a tenant of its own):
 * cursor pagination in both sorts across many devices, the search, bad query input, and the CSV's
 * quoting. The browser tests (console.test.ts) cover what needs a browser and the running workers.
 */
import { strict as assert } from 'node:assert';
import { createSessionCodec } from '../../api/console/session';
import { recordHeartbeat, upsertReportAttempt } from '../../db/data';
import { ADMIN_KEY, call, consoleSession, makeApi, seedDevice, type TestApi } from '../api/helpers';

const deviceIdsOf = (html: string): string[] => [...html.matchAll(/<tr data-device-id="([^"]+)"/g)].map((m) => m[1]!);
const nextLinkOf = (html: string): string | null => /<a href="([^"]+)" rel="next">/.exec(html)?.[1]?.replace(/&amp;/g, '&') ?? null;

describe('console pages over HTTP', () => {
  let api: TestApi;
  let cookie: string;
  /** 120 devices: report times with ties and gaps (every 7th never reported), users and Azure ids to search. */
  const devices: Array<{ deviceId: string; reportTime: string | null; user: string; azure: string }> = [];

  before(async () => {
    api = makeApi();
    for (let i = 0; i < 120; i++) {
      const deviceId = `page-${String(i).padStart(3, '0')}`;
      const reportTime = i % 7 === 0 ? null : new Date(Date.UTC(2026, 10, 1) + (i % 40) * 60_000).toISOString();
      const azure = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
      const user = i === 42 ? 'Grace.Hopper@contoso.com' : `user${i}@contoso.com`;
      await seedDevice(api.db, api.tenantId, deviceId, {
        reportTime,
        azureDeviceId: azure,
        userPrincipalName: user,
        complianceStatus: reportTime ? 'Successful' : 'Failed',
      });
      devices.push({ deviceId, reportTime, user, azure });
    }
    cookie = await consoleSession(api);
  });

  const page = async (path: string): Promise<{ status: number; html: string }> => {
    const res = await call(api.app, 'GET', path, { headers: { Cookie: cookie } });
    return { status: res.status, html: await res.text() };
  };

  async function walk(first: string): Promise<{ ids: string[]; pages: number }> {
    const ids: string[] = [];
    let pages = 0;
    let next: string | null = first;
    while (next !== null) {
      const { status, html } = await page(next);
      assert.equal(status, 200);
      ids.push(...deviceIdsOf(html));
      pages += 1;
      next = nextLinkOf(html);
    }
    return { ids, pages };
  }

  it('pages through every device in device id order, 50 a page, as the API orders them', async () => {
    const { ids, pages } = await walk('/console/devices');
    assert.equal(pages, 3);
    assert.deepEqual(
      ids,
      devices.map((d) => d.deviceId),
    );
  });

  it('pages through every device by report time, newest first, ties by device id, never-reported last', async () => {
    const expected = [...devices]
      .sort((a, b) => {
        if (a.reportTime !== b.reportTime) {
          if (a.reportTime === null) return 1;
          if (b.reportTime === null) return -1;
          return a.reportTime < b.reportTime ? 1 : -1;
        }
        return a.deviceId < b.deviceId ? -1 : 1;
      })
      .map((d) => d.deviceId);
    const { ids, pages } = await walk('/console/devices?sort=lastReport');
    assert.equal(pages, 3);
    assert.deepEqual(ids, expected);
  });

  it('searches by part of a device id, an Azure device id or a user, case-insensitively, within the other filters', async () => {
    assert.deepEqual(deviceIdsOf((await page('/console/devices?q=page-11')).html), [
      'page-110',
      'page-111',
      'page-112',
      'page-113',
      'page-114',
      'page-115',
      'page-116',
      'page-117',
      'page-118',
      'page-119',
    ]);
    assert.deepEqual(deviceIdsOf((await page('/console/devices?q=000000000077')).html), ['page-077']);
    assert.deepEqual(deviceIdsOf((await page('/console/devices?q=grace.HOPPER')).html), ['page-042']);
    assert.deepEqual(deviceIdsOf((await page('/console/devices?q=page-1&complianceStatus=Failed')).html), [
      'page-105',
      'page-112',
      'page-119',
    ]);
    // LIKE wildcards are searched literally.
    assert.deepEqual(deviceIdsOf((await page('/console/devices?q=page_0')).html), []);
  });

  it('answers 400 naming the field for a bad filter or a forged cursor', async () => {
    for (const [query, field] of [
      ['complianceStatus=Broken', 'complianceStatus'],
      ['clientStatusCode=OK', 'clientStatusCode'],
      ['policyAction=NUKE', 'policyAction'],
      ['retired=maybe', 'retired'],
      ['sort=random', 'sort'],
      ['cursor=not-a-cursor', 'cursor'],
    ] as const) {
      const { status, html } = await page(`/console/devices?${query}`);
      assert.equal(status, 400, query);
      assert.match(html, new RegExp(`Invalid ${field}:`), query);
    }
  });

  it('exports a CSV that quotes commas and quotes and defuses spreadsheet formulas', async () => {
    await seedDevice(api.db, api.tenantId, 'zz-csv', { userPrincipalName: '=HYPERLINK("x"),evil@contoso.com' });
    const res = await call(api.app, 'GET', '/console/devices.csv?q=zz-csv', { headers: { Cookie: cookie } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/csv; charset=utf-8');
    assert.equal(res.headers.get('content-disposition'), 'attachment; filename="devices.csv"');
    const lines = (await res.text()).split('\r\n');
    assert.equal(lines.length, 3);
    assert.equal(lines[2], '');
    assert.ok(lines[1]!.startsWith(`zz-csv,iOS,"'=HYPERLINK(""x""),evil@contoso.com",`), lines[1]);
  });

  it('sends the console pages with a strict Content-Security-Policy, uncached, and follows only console paths after sign-in', async () => {
    const res = await call(api.app, 'GET', '/console', { headers: { Cookie: cookie } });
    assert.equal(res.status, 200);
    assert.equal(
      res.headers.get('content-security-policy'),
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const signInNext = await call(api.app, 'GET', '/console/sign-in?next=https://evil.example/console');
    const html = await signInNext.text();
    assert.match(html, /name="next" value="\/console"/);
  });

  it('refuses a correctly signed session of another tenant, an expired one, and one signed with another admin key', async () => {
    const codec = createSessionCodec(ADMIN_KEY);
    const open = (value: string) => call(api.app, 'GET', '/console/devices', { headers: { Cookie: `acc_session=${value}` } });
    assert.equal((await open(codec.issue(api.tenantId, 'admin').value)).status, 200);
    const otherTenant = await open(codec.issue('another-tenant', 'admin').value);
    assert.equal(otherTenant.status, 303);
    assert.equal(otherTenant.headers.get('location'), '/console/sign-in?next=%2Fconsole%2Fdevices');
    assert.equal((await open(codec.issue(api.tenantId, 'admin', Date.now() - 8 * 3600 * 1000 - 1000).value)).status, 303);
    assert.equal((await open(createSessionCodec('a-rotated-admin-key-0123456789abcdef').issue(api.tenantId, 'admin').value)).status, 303);
  });

  it('refuses every form that changes something when its CSRF token is missing or forged (403), and changes nothing', async () => {
    const count = async (table: string) =>
      Number((await api.db(table).where({ tenant_id: api.tenantId }).count<{ count: string }[]>({ count: '*' }))[0]!.count);
    const before = {
      audit: await count('audit_log'),
      operations: await count('operations'),
      settings: await call(api.app, 'GET', '/v1/settings', { key: 'admin' }).then((r) => r.json()),
    };
    const forms: Array<[string, Record<string, string>]> = [
      ['/console/devices/page-001/sync', {}],
      ['/console/operations', { complianceStatus: 'Failed' }],
      ['/console/settings/reporting', { enabled: 'false', confirm: 'yes' }],
      ['/console/settings/weekly', { paused: 'true' }],
      ['/console/sign-out', {}],
    ];
    for (const [path, fields] of forms) {
      for (const token of [undefined, 'forged-token']) {
        const body = new URLSearchParams({ ...fields, ...(token ? { _csrf: token } : {}) }).toString();
        const res = await api.app.request(path, {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: cookie },
          body,
        });
        assert.equal(res.status, 403, `${path} with ${token ?? 'no token'}`);
        assert.match(await res.text(), /<h1>Form refused<\/h1>/);
        assert.equal(res.headers.get('set-cookie'), null, `${path}: the session stays`);
      }
    }
    const signIn = await api.app.request('/console/sign-in', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ key: ADMIN_KEY }).toString(),
    });
    assert.equal(signIn.status, 403);
    assert.doesNotMatch(signIn.headers.get('set-cookie') ?? '', /acc_session=/);
    assert.equal(await count('audit_log'), before.audit);
    assert.equal(await count('operations'), before.operations);
    assert.deepEqual(await call(api.app, 'GET', '/v1/settings', { key: 'admin' }).then((r) => r.json()), before.settings);
    assert.equal(api.fleetCalls.length, 0);
    assert.deepEqual(api.scheduleCalls, []);
    assert.deepEqual(api.temporal.updates, []);
  });

  it("tells the token's health from the last heartbeat and the last hour's credential failures, and counts throttled reports", async () => {
    const tokenText = async () => {
      const html = (await page('/console')).html;
      return /<dd id="health-token">(.*?)<\/dd>/s
        .exec(html)![1]!
        .replace(/<[^>]+>/g, '')
        .replace(/&#39;/g, "'");
    };
    assert.match(await tokenText(), /^Not checked yet No heartbeat was sent yet/);
    await recordHeartbeat(api.db, api.tenantId, new Date().toISOString(), { ok: true, resyncTimestamp: null });
    assert.match(await tokenText(), /^Working The last heartbeat got a token and Microsoft accepted it\./);
    await recordHeartbeat(api.db, api.tenantId, new Date().toISOString(), {
      ok: false,
      error: { type: 'InvalidCredentials', message: 'AADSTS7000215' },
    });
    assert.match(await tokenText(), /^Failing The last heartbeat failed: InvalidCredentials — AADSTS7000215/);

    const attempt = (key: string, code: string, minutesAgo: number) =>
      upsertReportAttempt(api.db, {
        tenantId: api.tenantId,
        deviceId: 'page-001',
        attemptKey: key,
        at: new Date(Date.now() - minutesAgo * 60_000).toISOString(),
        trigger: 'compliance',
        reported: { complianceStatus: 'compliant', managementState: 'managed' },
        outcome: 'Failed',
        messageId: null,
        error: { code, message: code },
        completedAt: null,
      });
    await attempt('a1', 'Unauthorized', 5);
    await attempt('a2', 'Throttled', 10);
    await attempt('a3', 'Throttled', 20);
    await attempt('old', 'InvalidCredentials', 90);
    await recordHeartbeat(api.db, api.tenantId, new Date().toISOString(), { ok: true, resyncTimestamp: null });
    assert.match(await tokenText(), /^Failing 1 report in the last hour was refused for the partner app's credentials/);
    const html = (await page('/console')).html;
    const lastHour = /<dd id="health-last-hour">(.*?)<\/dd>/s.exec(html)![1]!.replace(/<[^>]+>/g, '');
    assert.match(lastHour, /^3 report attempts; 3 failed 2 throttled/);
  });
});

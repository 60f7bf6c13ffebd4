/**
 * The admin console: server-rendered pages on the API's own app, over the same data. Everything a
 * page changes goes through the JSON API's own admin routes (an in-process request with the admin key),
 * so a console action and an API call behave, and are audited, the same way. Works without JavaScript.
 */
import type { Context } from 'hono';
import type { Child } from 'hono/jsx';
import { CALLS_PER_REPORT } from '../../config';
import { listAudit, type AuditActorEnv } from '../../db/audit';
import {
  deviceCounts,
  recentOperations,
  searchDevices,
  timelineSince,
  type ConsoleDeviceFilter,
  type DevicePageAfter,
} from '../../db/console-views';
import { countDevices, getSettings } from '../../db/data';
import { CLIENT_STATUS_CODES, COMPLIANCE_STATUSES, POLICY_ACTIONS, isDeviceId } from '../../domain/constants';
import { GRACE_ACTIONS, type GracePeriods } from '../../domain/grace';
import { sweepDeviceFilter } from '../../activities/fleet-activities';
import { TRIGGER_BY_KIND } from '../../workflows/fleet-messages';
import { deviceWorkflowId } from '../../workflows/messages';
import type { Principal } from '../auth';
import type { App, AppEnv, RouteContext } from '../context';
import { DependencyUnavailable } from '../dependencies';
import { toDeviceDetails } from '../routes/devices';
import { CONSOLE_CSS, CONSOLE_JS } from './assets';
import { Layout, type ChartRow, type NavPage } from './components';
import { microsoftBacklog, weeklySchedule } from './health';
import { DevicePage, type ReportItem } from './pages/device';
import { DevicesPage, type DeviceDetails, type DeviceListQuery } from './pages/devices';
import { ConfirmBulkPage, OperationPage, OperationsPage, type BulkFilter } from './pages/operations';
import { OverviewPage } from './pages/overview';
import { ConfirmDisablePage, SettingsPage } from './pages/settings';
import { ErrorPage, SignInPage } from './pages/sign-in';
import {
  CSRF_FIELD,
  checkSignInCsrf,
  clearSessionCookie,
  createSessionCodec,
  readSessionCookie,
  setSessionCookie,
  signInCsrf,
  type Session,
} from './session';
import { devicesCsv } from './csv';

type C = Context<AppEnv>;

const PAGE_SIZE = 50;
const CSV_PAGE_SIZE = 500;

const CONSOLE_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

/** Only console paths are followed after sign-in (no open redirect). */
function safeNext(next: unknown): string {
  if (typeof next !== 'string' || next.length > 2000) return '/console';
  try {
    const url = new URL(next, 'http://console.invalid');
    if (url.origin !== 'http://console.invalid' || !(url.pathname === '/console' || url.pathname.startsWith('/console/')))
      return '/console';
    return `${url.pathname}${url.search}`;
  } catch {
    return '/console';
  }
}

/** The list cursor: where the last page ended, opaque to the browser. */
function encodeListCursor(after: DevicePageAfter): string {
  return Buffer.from(JSON.stringify([after.deviceId, after.reportTime]), 'utf8').toString('base64url');
}

function decodeListCursor(cursor: string): DevicePageAfter | null {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (!Array.isArray(v) || v.length !== 2 || !isDeviceId(v[0])) return null;
    const t = v[1] as unknown;
    if (t !== null && (typeof t !== 'string' || Number.isNaN(Date.parse(t)))) return null;
    return { deviceId: v[0], reportTime: t as string | null };
  } catch {
    return null;
  }
}

/** A query parameter or form field the console cannot use: a 400 page naming it. */
class BadInput extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

function oneOf(c: C, field: string, allowed: readonly string[]): string | undefined {
  const v = c.req.query(field);
  if (v === undefined || v === '') return undefined;
  if (!allowed.includes(v)) throw new BadInput(field, `${field} must be one of ${allowed.join(', ')}`);
  return v;
}

function parseListQuery(c: C): { query: DeviceListQuery; after: DevicePageAfter | undefined } {
  const query: DeviceListQuery = { sort: (oneOf(c, 'sort', ['deviceId', 'lastReport']) ?? 'deviceId') as DeviceListQuery['sort'] };
  const complianceStatus = oneOf(c, 'complianceStatus', COMPLIANCE_STATUSES);
  const clientStatusCode = oneOf(c, 'clientStatusCode', CLIENT_STATUS_CODES);
  const policyAction = oneOf(c, 'policyAction', [...POLICY_ACTIONS, 'none']);
  const retired = oneOf(c, 'retired', ['true', 'false']) as DeviceListQuery['retired'];
  if (complianceStatus) query.complianceStatus = complianceStatus;
  if (clientStatusCode) query.clientStatusCode = clientStatusCode;
  if (policyAction) query.policyAction = policyAction;
  if (retired) query.retired = retired;
  const q = c.req.query('q')?.trim();
  if (q) {
    if (q.length > 200) throw new BadInput('q', 'the search is limited to 200 characters');
    query.q = q;
  }
  const cursor = c.req.query('cursor');
  let after: DevicePageAfter | undefined;
  if (cursor !== undefined && cursor !== '') {
    const decoded = decodeListCursor(cursor);
    if (decoded === null) throw new BadInput('cursor', 'this page link is not valid any more');
    after = decoded;
  }
  return { query, after };
}

function toConsoleFilter(q: DeviceListQuery): ConsoleDeviceFilter {
  const f: ConsoleDeviceFilter = {};
  if (q.complianceStatus) f.complianceStatus = q.complianceStatus;
  if (q.clientStatusCode) f.clientStatusCode = q.clientStatusCode;
  if (q.policyAction) f.policyAction = q.policyAction;
  if (q.retired) f.retired = q.retired === 'true';
  if (q.q) f.search = q.q;
  return f;
}

function bulkFilterOf(source: Record<string, unknown>): BulkFilter {
  const f: BulkFilter = {};
  const status = source.complianceStatus;
  const code = source.clientStatusCode;
  if (typeof status === 'string' && status !== '') {
    if (!(COMPLIANCE_STATUSES as readonly string[]).includes(status))
      throw new BadInput('complianceStatus', `complianceStatus must be one of ${COMPLIANCE_STATUSES.join(', ')}`);
    f.complianceStatus = status;
  }
  if (typeof code === 'string' && code !== '') {
    if (!(CLIENT_STATUS_CODES as readonly string[]).includes(code))
      throw new BadInput('clientStatusCode', `clientStatusCode must be one of ${CLIENT_STATUS_CODES.join(', ')}`);
    f.clientStatusCode = code;
  }
  return f;
}

export function registerConsole(app: App, ctx: RouteContext): void {
  const { deps, guard } = ctx;
  const { db, config } = deps;
  const adminKey = config.keys.admin;
  const codec = adminKey ? createSessionCodec(adminKey) : null;
  const temporalHost = config.temporal.address?.split(':')[0] ?? '127.0.0.1';
  const temporalUiUrl = (deviceId: string, tenantId: string) =>
    `http://${temporalHost}:${config.local.temporalUiPort}/namespaces/${encodeURIComponent(config.temporal.namespace)}/workflows/${encodeURIComponent(deviceWorkflowId(tenantId, deviceId))}`;

  async function render(
    c: C,
    status: 200 | 400 | 401 | 403 | 404 | 409 | 500 | 503,
    title: string,
    page: NavPage,
    body: Child,
    session?: Session,
    refreshSeconds?: number,
  ) {
    const csrf = session && codec ? codec.csrfToken(session) : undefined;
    const el = (
      <Layout title={title} page={page} session={session} csrf={csrf} refreshSeconds={refreshSeconds}>
        {body}
      </Layout>
    );
    return c.html(`<!DOCTYPE html>${String(await el)}`, status, CONSOLE_HEADERS);
  }

  /** A console page's failures as pages: a dependency down is a 503 that says to retry, bad input a 400 naming the field. */
  async function rendered(c: C, session: Session | undefined, fn: () => Promise<Response>): Promise<Response> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof BadInput) {
        return render(
          c,
          400,
          'Invalid request',
          'none',
          <ErrorPage
            title="Invalid request"
            message={`Invalid ${err.field}: ${err.message}.`}
            back={{ href: '/console', label: 'Back to the overview' }}
          />,
          session,
        );
      }
      if (err instanceof DependencyUnavailable) {
        const name = err.dependency === 'postgres' ? 'Postgres' : 'Temporal';
        return render(
          c,
          503,
          'Try again shortly',
          'none',
          <ErrorPage
            title="Try again shortly"
            message={`${name} did not answer (${err.reason}). Nothing was changed; reload the page in a few seconds.`}
          />,
          session,
        );
      }
      c.get('log').error({ err }, 'console page failed');
      return render(
        c,
        500,
        'Unexpected error',
        'none',
        <ErrorPage
          title="Unexpected error"
          message={`Something went wrong; it was logged with request id ${c.get('requestId')}. Reload the page, or report that id.`}
        />,
        session,
      );
    }
  }

  /**
   * The signed-in session, or null (expired, forged, no admin key configured; a session of ADMIN_API_KEY
   * for another tenant than the configured one; a session whose tenant key was rotated or offboarded).
   */
  async function sessionOf(c: C): Promise<Session | null> {
    if (!codec) return null;
    const s = codec.verify(readSessionCookie(c));
    if (s === null) return null;
    if (s.kd === undefined) return s.tenantId === deps.tenantId ? s : null;
    const principal = await ctx.keys.resolveDigest(s.kd);
    return principal !== null && principal.role === 'admin' && principal.tenantId === s.tenantId ? s : null;
  }

  /** The console acts through the JSON API as the session's tenant admin. */
  const principalOf = (session: Session): Principal => ({
    role: 'admin',
    tenantId: session.tenantId,
    source: session.kd === undefined ? 'environment' : 'tenant',
    keyDigest: session.kd ?? '',
  });

  function toSignIn(c: C): Response {
    const next = c.req.method === 'GET' ? `${c.req.path}${new URL(c.req.url).search}` : '/console';
    return c.redirect(`/console/sign-in?next=${encodeURIComponent(next)}`, 303);
  }

  type PageHandler = (c: C, session: Session) => Promise<Response>;
  /** Runs `fn` for the signed-in session; otherwise to the sign-in page (or a 503 page when Postgres is needed and down). */
  async function signedIn(c: C, fn: (session: Session) => Promise<Response>): Promise<Response> {
    let session: Session | null;
    try {
      session = await sessionOf(c);
    } catch (err) {
      return rendered(c, undefined, () => Promise.reject(err));
    }
    return session ? fn(session) : toSignIn(c);
  }
  const page = (handler: PageHandler) => async (c: C) => signedIn(c, (session) => rendered(c, session, () => handler(c, session)));
  /** A form that changes something: signed in, and its CSRF token bound to the session. */
  const action = (handler: (c: C, session: Session, form: Record<string, unknown>) => Promise<Response>) => async (c: C) =>
    signedIn(c, (session) =>
      rendered(c, session, async () => {
        const form = (await c.req.parseBody()) as Record<string, unknown>;
        if (!codec!.checkCsrf(session, form[CSRF_FIELD])) {
          return render(
            c,
            403,
            'Form refused',
            'none',
            <ErrorPage
              title="Form refused"
              message="This form did not carry the console's security token (it expired, or it was not sent from the console). Nothing was changed. Go back, reload the page and try again."
              back={{ href: '/console', label: 'Back to the overview' }}
            />,
            session,
          );
        }
        return handler(c, session, form);
      }),
    );

  /** One call to the JSON API's admin routes, as the signed-in admin; the audit trail names the session. */
  async function adminApi(
    c: C,
    session: Session,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    // The session was checked: the call acts as its tenant's admin (an in-process principal, never a header).
    const env: AuditActorEnv & { consolePrincipal: Principal } = {
      auditActor: `console (${session.role}, session ${session.sid.slice(0, 8)})`,
      consolePrincipal: principalOf(session),
    };
    const headers: Record<string, string> = { 'X-Request-Id': c.get('requestId') };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await app.request(path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) }, env);
    const text = await res.text();
    return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
  }

  // A 400 names each refused field (e.g. gracePeriods.BLOCK_EMAIL): the admin reads which value to fix.
  const problemText = (body: Record<string, unknown>): string => {
    const text = String(body.detail ?? body.title ?? 'The request failed');
    const errors = Array.isArray(body.errors) ? (body.errors as Array<{ path?: unknown; message?: unknown }>) : [];
    return errors.length === 0 ? text : `${text}: ${errors.map((e) => `${String(e.path)}: ${String(e.message)}`).join('; ')}`;
  };
  const statusOf = (s: number) => ([400, 401, 403, 404, 409, 503].includes(s) ? s : 500) as 400 | 401 | 403 | 404 | 409 | 500 | 503;

  app.get('/', (c) => c.redirect('/console', 302));

  app.get('/console/assets/console.css', (c) =>
    c.body(CONSOLE_CSS, 200, { 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'public, max-age=3600' }),
  );
  app.get('/console/assets/console.js', (c) =>
    c.body(CONSOLE_JS, 200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'public, max-age=3600' }),
  );

  // ---- sign-in / sign-out ------------------------------------------------------------------------------
  app.get('/console/sign-in', async (c) => {
    const next = safeNext(c.req.query('next'));
    if (await sessionOf(c).catch(() => null)) return c.redirect(next, 303);
    if (!codec)
      return render(
        c,
        503,
        'Sign in',
        'none',
        <ErrorPage
          title="The console is off"
          message="No ADMIN_API_KEY is configured, so nobody can sign in. Set it and restart the API."
        />,
      );
    return render(c, 200, 'Sign in', 'none', <SignInPage csrf={signInCsrf(c)} next={next} />);
  });

  app.post('/console/sign-in', ctx.limitBody, async (c) => {
    if (!codec) return c.redirect('/console/sign-in', 303);
    const form = (await c.req.parseBody()) as Record<string, unknown>;
    const next = safeNext(form.next);
    if (!checkSignInCsrf(c, form[CSRF_FIELD])) {
      return render(
        c,
        403,
        'Sign in',
        'none',
        <SignInPage
          csrf={signInCsrf(c)}
          next={next}
          error="The sign-in form expired or did not come from this page. Enter the key again."
        />,
      );
    }
    const key = typeof form.key === 'string' ? form.key : '';
    return rendered(c, undefined, async () => {
      // A tenant's admin key signs in to that tenant's console; ADMIN_API_KEY to the configured tenant's.
      const principal = key === '' || /\s/.test(key) ? null : await ctx.keys.resolve(`Bearer ${key}`, undefined);
      if (principal?.role !== 'admin' || principal.tenantId === null) {
        const error =
          principal?.role === 'mdm'
            ? 'That is the MDM key, which may only send events. Sign in with the admin API key.'
            : principal?.role === 'operator'
              ? "The operator key does not sign in to the console: sign in with the tenant's admin key."
              : 'That key is not the admin API key of this deployment, nor a tenant admin key. Check ADMIN_API_KEY (or your tenant admin key) and try again.';
        return render(c, 401, 'Sign in', 'none', <SignInPage csrf={signInCsrf(c)} next={next} error={error} />);
      }
      const { value } = codec.issue(
        principal.tenantId,
        'admin',
        undefined,
        principal.source === 'tenant' ? principal.keyDigest : undefined,
      );
      setSessionCookie(c, value);
      return c.redirect(next, 303);
    });
  });

  app.post(
    '/console/sign-out',
    ctx.limitBody,
    action(async (c) => {
      clearSessionCookie(c);
      return c.redirect('/console/sign-in', 303);
    }),
  );

  // ---- overview ---------------------------------------------------------------------------------------------
  app.get(
    '/console',
    page(async (c, session) => {
      const tenantId = session.tenantId;
      const since = new Date(Date.now() - 60 * 60 * 1000).toISOString();
      const [settings, counts, lastHour, running, lastWeekly, audit, backlog, weekly] = await Promise.all([
        guard.db(() => getSettings(db, tenantId)),
        guard.db(() => deviceCounts(db, tenantId)),
        guard.db(() => timelineSince(db, tenantId, since)),
        guard.db(() => recentOperations(db, tenantId, 20)),
        guard.db(() => recentOperations(db, tenantId, 1, 'weekly')),
        guard.db(() => listAudit(db, tenantId, 20)),
        microsoftBacklog(ctx),
        weeklySchedule(ctx, tenantId),
      ]);
      const enabled = settings.enabled;
      const sum = (pick: (r: (typeof counts)[number]) => boolean) => counts.filter(pick).reduce((n, r) => n + r.count, 0);
      const total = sum(() => true);
      const byStatus: ChartRow[] = enabled
        ? [
            ...(['Successful', 'Failed', 'In-progress'] as const).map((s): ChartRow => ({
              value: s,
              label: s,
              count: sum((r) => r.complianceStatus === s),
              tone: s === 'Successful' ? 'ok' : s === 'Failed' ? 'bad' : 'wait',
              href: `/console/devices?complianceStatus=${s}`,
            })),
            { value: 'null', label: 'Not reported', count: sum((r) => r.complianceStatus === null), tone: 'off' },
          ]
        : [{ value: 'null', label: 'Reporting off', count: total, tone: 'off' }];
      const byClientStatus: ChartRow[] = [
        ...CLIENT_STATUS_CODES.map((code): ChartRow => ({
          value: code,
          label: code,
          count: sum((r) => r.clientStatusCode === code),
          tone: code === 'Success' ? 'ok' : 'bad',
          href: `/console/devices?clientStatusCode=${code}`,
        })),
        { value: 'null', label: 'Unknown', count: sum((r) => r.clientStatusCode === null), tone: 'off' as const },
      ].filter((r) => r.count > 0);
      const byPolicyAction: ChartRow[] = [
        ...POLICY_ACTIONS.map((a): ChartRow => ({
          value: a,
          label: a,
          count: sum((r) => r.policyAction === a),
          tone: a === 'SEND_ALERT' ? 'wait' : 'bad',
          href: `/console/devices?policyAction=${a}`,
        })),
        {
          value: 'null',
          label: 'None',
          count: sum((r) => r.policyAction === null),
          tone: 'ok' as const,
          href: '/console/devices?policyAction=none',
        },
      ].filter((r) => r.count > 0);
      const data = {
        enabled,
        total,
        retired: sum((r) => r.retired),
        byStatus,
        byClientStatus,
        byPolicyAction,
        heartbeat: { lastAt: settings.lastHeartbeatAt, result: settings.lastHeartbeatResult },
        lastHour,
        budget: { maxCallsPerSecond: config.azureMaxCallsPerSecond, callsPerReport: CALLS_PER_REPORT },
        backlog,
        weekly,
        lastWeeklyOperation: lastWeekly[0] ?? null,
        running: running.filter((op) => op.finishedAt === null),
        audit,
      };
      return render(c, 200, 'Overview', 'overview', <OverviewPage d={data} />, session);
    }),
  );

  // ---- devices ---------------------------------------------------------------------------------------------
  async function listPage(tenantId: string, query: DeviceListQuery, limit: number, after?: DevicePageAfter) {
    const settings = await guard.db(() => getSettings(db, tenantId));
    // As the API: while reporting is off every status reads null, so a status filter matches nothing.
    if (!settings.enabled && query.complianceStatus) return { enabled: false, rows: [] };
    const rows = await guard.db(() => searchDevices(db, tenantId, toConsoleFilter(query), query.sort, limit, after));
    return { enabled: settings.enabled, rows };
  }

  app.get(
    '/console/devices',
    page(async (c, session) => {
      const { query, after } = parseListQuery(c);
      const { enabled, rows } = await listPage(session.tenantId, query, PAGE_SIZE + 1, after);
      const pageRows = rows.slice(0, PAGE_SIZE);
      const last = pageRows[pageRows.length - 1];
      const nextCursor =
        rows.length > PAGE_SIZE && last ? encodeListCursor({ deviceId: last.deviceId, reportTime: last.reportTime }) : null;
      const items: DeviceDetails[] = pageRows.map((r) => toDeviceDetails(r, enabled));
      return render(
        c,
        200,
        'Devices',
        'devices',
        <DevicesPage query={query} items={items} enabled={enabled} nextCursor={nextCursor} isFirstPage={after === undefined} />,
        session,
      );
    }),
  );

  app.get(
    '/console/devices.csv',
    page(async (c, session) => {
      const { query } = parseListQuery(c);
      const items: DeviceDetails[] = [];
      let after: DevicePageAfter | undefined;
      for (;;) {
        const { enabled, rows } = await listPage(session.tenantId, query, CSV_PAGE_SIZE, after);
        items.push(...rows.map((r) => toDeviceDetails(r, enabled)));
        const last = rows[rows.length - 1];
        if (rows.length < CSV_PAGE_SIZE || !last) break;
        after = { deviceId: last.deviceId, reportTime: last.reportTime };
      }
      return c.body(devicesCsv(items), 200, {
        'Content-Type': 'text/csv; charset=utf-8',
        'Content-Disposition': 'attachment; filename="devices.csv"',
        'Cache-Control': 'no-store',
      });
    }),
  );

  async function devicePage(
    c: C,
    session: Session,
    deviceId: string,
    notice?: { tone: 'ok' | 'error'; text: string },
    status: 200 | 400 | 404 | 409 | 503 = 200,
  ) {
    const [details, reports, settings] = await Promise.all([
      adminApi(c, session, 'GET', `/v1/devices/${encodeURIComponent(deviceId)}`),
      adminApi(c, session, 'GET', `/v1/devices/${encodeURIComponent(deviceId)}/reports?limit=50`),
      adminApi(c, session, 'GET', '/v1/settings'),
    ]);
    if (details.status === 404) {
      return render(
        c,
        404,
        'No such device',
        'devices',
        <ErrorPage
          title="No such device"
          message={`No device "${deviceId}" was ever seen. Search the device list for it by device ID, Azure device ID or user.`}
          back={{ href: '/console/devices', label: 'Back to the devices' }}
        />,
        session,
      );
    }
    for (const r of [details, reports, settings]) {
      if (r.status !== 200)
        return render(c, statusOf(r.status), 'Device', 'devices', <ErrorPage title="Device" message={problemText(r.body)} />, session);
    }
    const d = details.body as unknown as DeviceDetails;
    const items = (reports.body.items ?? []) as ReportItem[];
    return render(
      c,
      status,
      `Device ${deviceId}`,
      'devices',
      <DevicePage
        d={d}
        reports={items}
        enabled={settings.body.enabled === true}
        csrf={codec!.csrfToken(session)}
        temporalUiUrl={temporalUiUrl(deviceId, session.tenantId)}
        notice={notice}
      />,
      session,
    );
  }

  const deviceIdOf = (c: C): string | null => {
    const id = c.req.param('deviceId');
    return id !== undefined && isDeviceId(id) ? id : null;
  };
  const noSuchDevicePage = (c: C, session: Session) =>
    render(
      c,
      404,
      'No such device',
      'devices',
      <ErrorPage
        title="No such device"
        message="That is not a device ID (1 to 128 characters of A-Z a-z 0-9 . _ : -)."
        back={{ href: '/console/devices', label: 'Back to the devices' }}
      />,
      session,
    );

  app.get(
    '/console/devices/:deviceId',
    page(async (c, session) => {
      const deviceId = deviceIdOf(c);
      if (deviceId === null) return noSuchDevicePage(c, session);
      const done =
        c.req.query('done') === 'sync'
          ? { tone: 'ok' as const, text: 'Re-report requested: the device is being reported now; its row appears in the timeline below.' }
          : undefined;
      return devicePage(c, session, deviceId, done);
    }),
  );

  app.post(
    '/console/devices/:deviceId/sync',
    ctx.limitBody,
    action(async (c, session) => {
      const deviceId = deviceIdOf(c);
      if (deviceId === null) return noSuchDevicePage(c, session);
      const res = await adminApi(c, session, 'POST', `/v1/devices/${encodeURIComponent(deviceId)}/sync`);
      if (res.status === 202) return c.redirect(`/console/devices/${encodeURIComponent(deviceId)}?done=sync`, 303);
      return devicePage(
        c,
        session,
        deviceId,
        { tone: 'error', text: `Not re-reported: ${problemText(res.body)}` },
        statusOf(res.status) as 400 | 404 | 409 | 503,
      );
    }),
  );

  // ---- operations ------------------------------------------------------------------------------------------
  app.get(
    '/console/operations',
    page(async (c, session) => {
      const operations = await guard.db(() => recentOperations(db, session.tenantId, 30));
      return render(
        c,
        200,
        'Operations',
        'operations',
        <OperationsPage operations={operations} />,
        session,
        operations.some((o) => o.finishedAt === null) ? 5 : undefined,
      );
    }),
  );

  app.get(
    '/console/operations/new',
    page(async (c, session) => {
      const filter = bulkFilterOf(c.req.query());
      // The devices the bulk re-report's sweep will visit: the filter it applies itself (never retired devices).
      const count = await guard.db(() => countDevices(db, session.tenantId, sweepDeviceFilter(filter, TRIGGER_BY_KIND.sync)));
      return render(
        c,
        200,
        'Confirm the bulk re-report',
        'operations',
        <ConfirmBulkPage filter={filter} count={count} csrf={codec!.csrfToken(session)} />,
        session,
      );
    }),
  );

  app.post(
    '/console/operations',
    ctx.limitBody,
    action(async (c, session, form) => {
      const filter = bulkFilterOf(form);
      const res = await adminApi(c, session, 'POST', '/v1/sync', filter);
      if (res.status !== 202) {
        return render(
          c,
          statusOf(res.status),
          'Operations',
          'operations',
          <ErrorPage
            title="The bulk re-report did not start"
            message={problemText(res.body)}
            back={{ href: '/console/operations', label: 'Back to the operations' }}
          />,
          session,
        );
      }
      return c.redirect(`/console/operations/${encodeURIComponent(String(res.body.operationId))}`, 303);
    }),
  );

  app.get(
    '/console/operations/:operationId',
    page(async (c, session) => {
      const operationId = c.req.param('operationId') ?? '';
      const res = await adminApi(c, session, 'GET', `/v1/operations/${encodeURIComponent(operationId)}`);
      if (res.status !== 200) {
        return render(
          c,
          statusOf(res.status),
          'Operation',
          'operations',
          <ErrorPage
            title="No such operation"
            message={problemText(res.body)}
            back={{ href: '/console/operations', label: 'Back to the operations' }}
          />,
          session,
        );
      }
      const op = res.body as unknown as Parameters<typeof OperationPage>[0]['op'];
      return render(c, 200, 'Operation', 'operations', <OperationPage op={op} />, session, op.finishedAt === null ? 2 : undefined);
    }),
  );

  // ---- settings --------------------------------------------------------------------------------------------
  /** A settings change the API refused: the page says nothing changed, and why. */
  function settingsNotChanged(c: C, session: Session, res: { status: number; body: Record<string, unknown> }) {
    return render(
      c,
      statusOf(res.status),
      'Settings',
      'settings',
      <ErrorPage title="Not changed" message={problemText(res.body)} back={{ href: '/console/settings', label: 'Back to the settings' }} />,
      session,
    );
  }

  async function settingsPage(c: C, session: Session, notice?: string) {
    const [res, schedule] = await Promise.all([adminApi(c, session, 'GET', '/v1/settings'), weeklySchedule(ctx, session.tenantId)]);
    if (res.status !== 200)
      return render(
        c,
        statusOf(res.status),
        'Settings',
        'settings',
        <ErrorPage title="Settings" message={problemText(res.body)} />,
        session,
      );
    const s = res.body as { enabled: boolean; weeklyReport: { paused: boolean }; gracePeriods?: GracePeriods };
    const data = {
      enabled: s.enabled,
      weeklyPaused: s.weeklyReport.paused,
      cron: config.weeklyReportCron,
      schedule,
      gracePeriods: s.gracePeriods ?? {},
    };
    return render(c, 200, 'Settings', 'settings', <SettingsPage s={data} csrf={codec!.csrfToken(session)} notice={notice} />, session);
  }

  app.get(
    '/console/settings',
    page(async (c, session) => {
      const done = c.req.query('done');
      const notice =
        done === 'off'
          ? 'Reporting is now off.'
          : done === 'on'
            ? "Reporting is now on: every device's current state is being reported."
            : done === 'paused'
              ? 'The weekly report is paused.'
              : done === 'resumed'
                ? 'The weekly report is resumed.'
                : done === 'grace'
                  ? 'The grace periods are saved.'
                  : undefined;
      return settingsPage(c, session, notice);
    }),
  );

  app.post(
    '/console/settings/reporting',
    ctx.limitBody,
    action(async (c, session, form) => {
      if (form.enabled !== 'true' && form.enabled !== 'false') throw new BadInput('enabled', 'enabled must be true or false');
      const enabled = form.enabled === 'true';
      if (!enabled && form.confirm !== 'yes') {
        return render(c, 200, 'Turn reporting off?', 'settings', <ConfirmDisablePage csrf={codec!.csrfToken(session)} />, session);
      }
      const res = await adminApi(c, session, 'PUT', '/v1/settings', { enabled });
      if (res.status !== 200) return settingsNotChanged(c, session, res);
      return c.redirect(`/console/settings?done=${enabled ? 'on' : 'off'}`, 303);
    }),
  );

  app.post(
    '/console/settings/weekly',
    ctx.limitBody,
    action(async (c, session, form) => {
      if (form.paused !== 'true' && form.paused !== 'false') throw new BadInput('paused', 'paused must be true or false');
      const paused = form.paused === 'true';
      const res = await adminApi(c, session, 'PUT', '/v1/settings', { weeklyReport: { paused } });
      if (res.status !== 200) return settingsNotChanged(c, session, res);
      return c.redirect(`/console/settings?done=${paused ? 'paused' : 'resumed'}`, 303);
    }),
  );

  app.post(
    '/console/settings/grace',
    ctx.limitBody,
    action(async (c, session, form) => {
      // Empty fields mean no grace; the API checks each duration and names the one it refuses.
      const gracePeriods = Object.fromEntries(
        GRACE_ACTIONS.map((a) => [a, typeof form[a] === 'string' ? form[a].trim() : ''] as const).filter(([, v]) => v !== ''),
      );
      const res = await adminApi(c, session, 'PUT', '/v1/settings', { gracePeriods });
      if (res.status !== 200) return settingsNotChanged(c, session, res);
      return c.redirect('/console/settings?done=grace', 303);
    }),
  );

  app.get(
    '/console/*',
    page(async (c, session) =>
      render(
        c,
        404,
        'Not found',
        'none',
        <ErrorPage
          title="Not found"
          message={`There is no console page ${c.req.path}.`}
          back={{ href: '/console', label: 'Back to the overview' }}
        />,
        session,
      ),
    ),
  );
}

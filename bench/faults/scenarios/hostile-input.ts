/**
 * Hostile input: ≥ 10,000 generated malformed, oversize and pathological requests on every route the
 * API documents (and some it does not), with the MDM key, the admin key, a wrong key and none, over
 * several keep-alive connections. No request may get a 5xx or go unanswered, and none may create a
 * device: every body is invalid by construction (a strict schema rejects what it does not know).
 * The regex worst cases (long strings that almost match a pattern) go last and one at a time, so a
 * request that blocks the API cannot hide what the others found and is named: the run stops at the
 * first one left unanswered.
 */
import http from 'node:http';
import { prng } from '../../../scripts/simulator/fleet';

export interface HostileResult {
  requests: number;
  byStatus: Record<string, number>;
  /** Answers ≥ 500 (0 is the invariant). */
  serverErrors: number;
  /** Requests that got no answer: timeout, reset, closed connection (0 is the invariant). */
  unanswered: number;
  longestMs: number;
  longestRequest: string;
  /** Devices in the read model after the run minus before (0 is the invariant). */
  devicesCreated: number;
  /** The first regex worst case left unanswered (it blocked the API); those after it were not sent. */
  blockedBy: string | null;
  notSent: number;
  examples: { serverError: string[]; unanswered: string[] };
  seconds: number;
  connections: number;
}

interface HostileRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Short description for the report. */
  what: string;
}

const MIB = 1024 * 1024;
const EVENT_TYPES = ['registration', 'compliance', 'inventory', 'retire'];
const GUID = '007c8232-9489-4074-9b35-345b16f0a72d';

/** Values that break parsers, validators and the code behind them. */
const NASTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  '\uFFFF\uD800',
  '../../../../etc/passwd',
  '%00%2e%2e%2f',
  "'; DROP TABLE devices; --",
  '<script>alert(1)</script>',
  '${jndi:ldap://127.0.0.1/a}',
  '__proto__',
  'constructor',
  '😀'.repeat(300),
  'a'.repeat(5000),
  '-1',
  'NaN',
  '1e309',
  'null',
  'true',
];
/** The ones a client can put in a header at all (printable ASCII). */
const HEADER_SAFE_NASTY = NASTY_STRINGS.filter((v) => /^[\x20-\x7e]*$/.test(v));
const NASTY_VALUES: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1e308,
  -0,
  [],
  {},
  [[[]]],
  { __proto__: { polluted: true } },
  { constructor: { prototype: { polluted: true } } },
  ...NASTY_STRINGS,
];

/** An event that is certainly invalid: each carries at least one violation a strict schema rejects. */
function invalidEvent(random: () => number, pick: <T>(xs: readonly T[]) => T): Record<string, unknown> {
  const type = pick([...EVENT_TYPES, ...NASTY_STRINGS.slice(0, 6)]);
  const base: Record<string, unknown> = { type, occurredAt: new Date().toISOString() };
  if (type === 'registration')
    Object.assign(base, { platform: 'iOS', azureDeviceId: GUID, clientStatusCode: 'Success', userPrincipalName: 'alex@contoso.com' });
  if (type === 'compliance') base.actions = ['QUARANTINE'];
  if (type === 'inventory') base.inventory = { deviceName: 'x', os: 'iOS', osVersion: '17' };
  // The violation that makes it invalid whatever else is right.
  switch (Math.floor(random() * 8)) {
    case 0:
      base[pick(['unexpected', '__proto__x', 'Type', 'occurredat'])] = pick(NASTY_VALUES);
      break;
    case 1:
      base.occurredAt = pick(['', 'yesterday', '2026-13-45T99:99:99Z', '9999-12-31T23:59:59Z', 12345, null, 'a'.repeat(300)]);
      break;
    case 2:
      base.type = pick(['', 'REGISTRATION', 'delete', 'unregister', null, 7, ['registration']]);
      break;
    case 3:
      Object.assign(base, {
        type: 'registration',
        platform: pick(['Windows', 'ios', '', null]),
        azureDeviceId: GUID,
        clientStatusCode: 'Success',
        userPrincipalName: 'alex@contoso.com',
      });
      break;
    case 4:
      Object.assign(base, {
        type: 'registration',
        platform: 'Android',
        azureDeviceId: pick([null, 'not-a-guid', `${GUID}x`, '']),
        clientStatusCode: 'Success',
        userPrincipalName: 'a@b.c',
      });
      break;
    case 5:
      Object.assign(base, {
        type: 'compliance',
        actions: pick([['WIPE'], 'QUARANTINE', [null], Array.from({ length: 5000 }, () => 'SEND_ALERT'), [{}], null]),
      });
      break;
    case 6:
      Object.assign(base, {
        type: 'inventory',
        inventory: pick([
          { deviceName: 'x' },
          { deviceName: 'a'.repeat(300), os: 'iOS', osVersion: '1' },
          { deviceName: 'x', os: 'iOS', osVersion: '1', extra: 1 },
          'inventory',
          [],
          null,
        ]),
      });
      break;
    default:
      Object.assign(base, {
        type: 'registration',
        platform: 'iOS',
        azureDeviceId: GUID,
        clientStatusCode: pick(['success', 'Unknown', '', 0]),
        userPrincipalName: 'alex@contoso.com',
      });
  }
  return base;
}

/** Bodies that are not even an event: broken JSON, wrong shapes, deep nesting. */
function malformedBody(pick: <T>(xs: readonly T[]) => T): string {
  return pick([
    '{',
    '{"type":',
    '}{',
    'null',
    '[]',
    '"event"',
    '1e999999',
    '{"a":1,"a":2}',
    '\u0000\u0001\u0002',
    '{"type":"registration"'.repeat(200),
    '['.repeat(20_000) + ']'.repeat(20_000),
    '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000),
    JSON.stringify({ events: 'all' }),
    JSON.stringify({ events: [] }),
    JSON.stringify({ events: Array.from({ length: 1_001 }, () => ({ deviceId: 'x' })) }),
    JSON.stringify({ enabled: 'yes' }),
    JSON.stringify({ weeklyReport: { paused: 'no' } }),
    JSON.stringify({ complianceStatus: 42 }),
  ]);
}

/** Near-misses of the API's patterns, long enough that a backtracking regex would take seconds. */
function regexWorstCases(): Array<{ field: string; value: string }> {
  const out: Array<{ field: string; value: string }> = [];
  for (const n of [10_000, 100_000, 1_000_000 - 200]) {
    out.push({ field: 'userPrincipalName', value: `a@${'a'.repeat(n)}` });
    out.push({ field: 'userPrincipalName', value: `${'a'.repeat(n)}@` });
    out.push({ field: 'userPrincipalName', value: `a@${'.a'.repeat(n / 2)}@` });
    out.push({ field: 'azureDeviceId', value: `${'0'.repeat(n)}` });
    out.push({ field: 'occurredAt', value: `2026-01-01T${'0'.repeat(n)}` });
  }
  return out;
}

export function generateHostileRequests(o: {
  count: number;
  seed: number;
  keys: { mdm: string; admin: string };
  paths: Array<{ method: string; path: string }>;
  knownDeviceId: string;
}): {
  spread: HostileRequest[];
  worstCases: HostileRequest[];
} {
  const random = prng(o.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const auths: Array<[string, Record<string, string>]> = [
    ['mdm', { Authorization: `Bearer ${o.keys.mdm}` }],
    ['admin', { Authorization: `Bearer ${o.keys.admin}` }],
    ['no key', {}],
    ['wrong key', { Authorization: 'Bearer not-a-key' }],
    [
      'malformed auth',
      { Authorization: pick(['Basic YTpi', 'Bearer', `Bearer ${'k'.repeat(8_000)}`, `bearer ${o.keys.mdm} ${o.keys.admin}`]) },
    ],
  ];
  const deviceIds = [
    'hostile-1',
    'a b',
    '',
    '.',
    '..',
    '%2F',
    '%00',
    'x'.repeat(129),
    'x'.repeat(4_000),
    '😀',
    '<id>',
    "id'",
    o.knownDeviceId.replace(/./g, 'Z'),
  ];
  const fill = (p: string) => p.replace(/\{[^}]+\}/g, () => encodeURIComponent(pick(deviceIds)));
  const extraPaths = [
    '/',
    '/v1',
    '/v1/',
    '/v1/devices/',
    '/v1//devices',
    '/v2/devices',
    '/v1/devices/x/events/extra',
    '/%',
    '/v1/devices/%E0%A4%A',
    `/${'a'.repeat(6_000)}`,
    '/v1/devices?limit=-1',
    '/v1/devices?limit=100000',
    '/v1/devices?cursor=%%%',
    '/v1/devices?cursor=eyJ4IjoxfQ',
    '/v1/devices?complianceStatus=<x>&complianceStatus=Failed',
    '/v1/devices?retired=maybe',
    `/v1/devices?${'q=1&'.repeat(2_000)}`,
    '/v1/devices/x/reports?limit=abc',
  ];
  const contentTypes = [
    'application/json',
    'application/json; charset=utf-8',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/json; charset=utf-16',
    '',
  ];
  const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'];
  const out: HostileRequest[] = [];
  while (out.length < o.count) {
    const [authName, authHeaders] = pick(auths);
    const roll = random();
    const route = roll < 0.85 ? pick(o.paths) : { method: pick(methods), path: pick(extraPaths) };
    const method = random() < 0.1 ? pick(methods) : route.method;
    const path = fill(route.path);
    const headers: Record<string, string> = { ...authHeaders };
    let body: Buffer | undefined;
    let what: string;
    const kind = random();
    if (method === 'GET' || method === 'HEAD' || method === 'DELETE' || method === 'OPTIONS') {
      what = 'no body';
      if (kind < 0.05) {
        body = Buffer.from(malformedBody(pick));
        what = 'body on a bodiless method';
      }
    } else if (kind < 0.006) {
      body = Buffer.alloc(MIB + 1 + Math.floor(random() * MIB), 0x61);
      what = 'oversize body (> 1 MiB)';
    } else if (kind < 0.4) {
      body = Buffer.from(malformedBody(pick));
      what = 'malformed body';
    } else if (kind < 0.8) {
      const event = invalidEvent(random, pick);
      body = Buffer.from(JSON.stringify(route.path === '/v1/events' ? { events: [{ deviceId: pick(deviceIds), ...event }] } : event));
      what = `invalid ${String(event.type)} event`;
    } else {
      body = Buffer.from(JSON.stringify(pick(NASTY_VALUES)) ?? 'undefined');
      what = 'nasty JSON value';
    }
    if (body) {
      const ct = pick(contentTypes);
      if (ct) headers['Content-Type'] = ct;
    }
    if (random() < 0.02) headers['X-Tenant-Id'] = pick(HEADER_SAFE_NASTY);
    out.push({ method, path, headers, ...(body ? { body } : {}), what: `${method} ${path.slice(0, 80)} (${authName}, ${what})` });
  }
  // The regex worst cases, each on the single-event and the batch route, with the MDM key.
  const worstCases: HostileRequest[] = [];
  for (const { field, value } of regexWorstCases()) {
    const event: Record<string, unknown> = {
      type: 'registration',
      occurredAt: new Date().toISOString(),
      platform: 'iOS',
      azureDeviceId: GUID,
      clientStatusCode: 'Success',
      userPrincipalName: 'alex@contoso.com',
      [field]: value,
    };
    const headers = { Authorization: `Bearer ${o.keys.mdm}`, 'Content-Type': 'application/json' };
    worstCases.push({
      method: 'POST',
      path: '/v1/devices/hostile-regex/events',
      headers,
      body: Buffer.from(JSON.stringify(event)),
      what: `POST single event, ${field} of ${value.length} characters (regex worst case)`,
    });
    worstCases.push({
      method: 'POST',
      path: '/v1/events',
      headers,
      body: Buffer.from(JSON.stringify({ events: [{ deviceId: 'hostile-regex', ...event }] })),
      what: `POST batch, ${field} of ${value.length} characters (regex worst case)`,
    });
  }
  return { spread: out, worstCases };
}

/** Sends the requests over `connections` keep-alive connections, each request bounded by `timeoutMs`. */
export async function sendHostile(o: {
  apiUrl: string;
  requests: HostileRequest[];
  connections: number;
  timeoutMs: number;
  maxMs: number;
  /** Stop at the first request left unanswered (the API is blocked: what follows would only time out). */
  stopAtFirstUnanswered?: boolean;
}): Promise<Omit<HostileResult, 'devicesCreated'>> {
  const base = new URL(o.apiUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.connections, maxFreeSockets: o.connections });
  const byStatus: Record<string, number> = {};
  const examples = { serverError: [] as string[], unanswered: [] as string[] };
  let serverErrors = 0;
  let unanswered = 0;
  let longestMs = 0;
  let longestRequest = '';
  let sent = 0;
  let next = 0;
  let blockedBy: string | null = null;
  const started = performance.now();
  /** The last status answered on each connection, to tell when a request failed on a connection reused after an answer. */
  const lastStatus = new WeakMap<object, number>();
  const one = (r: HostileRequest) =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const headers: Record<string, string | number> = { ...r.headers };
      if (r.body) headers['Content-Length'] = r.body.length;
      let req: http.ClientRequest;
      try {
        req = http.request({ hostname: base.hostname, port: base.port, path: r.path, method: r.method, headers, agent }, (res) => {
          // Taken now: the response lets go of its socket once it ends.
          const socket = res.socket;
          res.on('data', () => undefined);
          res.on('end', () => {
            const ms = performance.now() - t0;
            const status = res.statusCode ?? 0;
            byStatus[String(status)] = (byStatus[String(status)] ?? 0) + 1;
            if (socket) lastStatus.set(socket, status);
            if (status >= 500) {
              serverErrors++;
              if (examples.serverError.length < 10) examples.serverError.push(`${status}: ${r.what}`);
            }
            if (ms > longestMs) {
              longestMs = ms;
              longestRequest = r.what;
            }
            resolve();
          });
          res.on('error', () => fail('response error'));
        });
      } catch (err) {
        throw new Error(`the hostile client could not send ${r.what}: ${(err as Error).message}`);
      }
      let done = false;
      const fail = (why: string) => {
        if (done) return;
        done = true;
        unanswered++;
        if (o.stopAtFirstUnanswered) blockedBy ??= r.what;
        if (examples.unanswered.length < 10) examples.unanswered.push(`${why}: ${r.what}`);
        const ms = performance.now() - t0;
        if (ms > longestMs) {
          longestMs = ms;
          longestRequest = `${r.what} (unanswered)`;
        }
        resolve();
      };
      req.setTimeout(o.timeoutMs, () => {
        req.destroy(new Error(`no answer within ${o.timeoutMs} ms`));
      });
      req.on('error', (err) => {
        const before = req.reusedSocket && req.socket ? lastStatus.get(req.socket) : undefined;
        fail(before !== undefined ? `${err.message} (on a kept-alive connection whose last answer was ${before})` : err.message);
      });
      req.end(r.body);
    });
  await Promise.all(
    Array.from({ length: o.connections }, async () => {
      while (next < o.requests.length && performance.now() - started < o.maxMs && blockedBy === null) {
        const r = o.requests[next++]!;
        sent++;
        await one(r);
      }
    }),
  );
  agent.destroy();
  return {
    requests: sent,
    byStatus,
    serverErrors,
    unanswered,
    longestMs: Math.round(longestMs),
    longestRequest,
    examples,
    seconds: Math.round((performance.now() - started) / 100) / 10,
    connections: o.connections,
    blockedBy,
    notSent: o.requests.length - sent,
  };
}

/** The figures of two sends taken together. */
export function combineHostile(
  a: Omit<HostileResult, 'devicesCreated'>,
  b: Omit<HostileResult, 'devicesCreated'>,
): Omit<HostileResult, 'devicesCreated'> {
  const byStatus = { ...a.byStatus };
  for (const [k, v] of Object.entries(b.byStatus)) byStatus[k] = (byStatus[k] ?? 0) + v;
  const longest = b.longestMs > a.longestMs ? b : a;
  return {
    requests: a.requests + b.requests,
    byStatus,
    serverErrors: a.serverErrors + b.serverErrors,
    unanswered: a.unanswered + b.unanswered,
    longestMs: longest.longestMs,
    longestRequest: longest.longestRequest,
    examples: {
      serverError: [...a.examples.serverError, ...b.examples.serverError].slice(0, 10),
      unanswered: [...a.examples.unanswered, ...b.examples.unanswered].slice(0, 10),
    },
    seconds: Math.round((a.seconds + b.seconds) * 10) / 10,
    connections: Math.max(a.connections, b.connections),
    blockedBy: a.blockedBy ?? b.blockedBy,
    notSent: a.notSent + b.notSent,
  };
}

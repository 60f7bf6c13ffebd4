/**
 * Validation is linear and bounded: every string field of every route, fed about 1 MiB of the worst
 * input for its pattern, is refused with 400 naming the field (or 413 past 1 MiB), and no pattern ever
 * runs on more characters than the field's maximum.
 *
 * Why this proves it without timing anything: a pattern that is only ever run on at most N characters
 * costs at most a bounded amount whatever its shape, and everything else validation does (JSON
 * parsing, length checks, enum and key look-ups) is one pass over the input. So the spy below, which
 * records the length of the string every regular expression runs on, is the proof; it wraps
 * RegExp.prototype.exec and .test, which every regex use goes through (zod's checks, String#match,
 * #replace, #split — checked first by the spy's own self-test). Through the real server, each hostile
 * request is answered while /healthz requests sent alongside are answered too; were validation to
 * block the event loop for minutes (the old userPrincipalName pattern took about half an hour on 1 MiB),
 * the test would not finish within mocha's timeout.
 */
import { strict as assert } from 'node:assert';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_BODY_BYTES } from '../../api/app';
import { SettingsUpdateSchema, SyncFilterSchema } from '../../api/schemas';
import { startApiServer } from '../../api/server';
import { DEVICE_ID_MAX_LENGTH } from '../../domain/constants';
import { MAX_OCCURRED_AT_LENGTH, MAX_TEXT_LENGTH } from '../../domain/event-schemas';
import { validateBatchEvents, validateDeviceEvent, validateDeviceId } from '../../domain/validation';
import { ADMIN_KEY, MDM_KEY, call, makeApi, problemOf, validEvents, type TestApi } from './helpers';

/** Leaves room for the rest of the event in a body of at most 1 MiB. */
const HUGE = MAX_BODY_BYTES - 4096;
const GUID = '007c8232-9489-4074-9b35-345b16f0a72d';

// ---- the spy -------------------------------------------------------------------------------------

interface PatternRun {
  source: string;
  length: number;
}

/** Runs `fn` and returns every regex run during it (pattern and input length). */
function recordPatternRuns<T>(fn: () => T): { result: T; runs: PatternRun[] } {
  const runs: PatternRun[] = [];
  const proto = RegExp.prototype;
  const { exec, test } = proto;
  proto.exec = function (this: RegExp, input: string) {
    runs.push({ source: this.source, length: String(input).length });
    return exec.call(this, input);
  };
  proto.test = function (this: RegExp, input: string) {
    runs.push({ source: this.source, length: String(input).length });
    return exec.call(this, input) !== null;
  };
  try {
    return { result: fn(), runs };
  } finally {
    proto.exec = exec;
    proto.test = test;
  }
}

const longest = (runs: PatternRun[]): number => Math.max(0, ...runs.map((r) => r.length));

/**
 * What a field of at most `limit` characters may show the spy: limits count characters (code points),
 * the spy measures String#length (UTF-16 units, up to two per character). The schemas refuse a value
 * longer than 2 × limit units before zod counts its characters (with a one-character-class scan).
 */
const unitsOf = (limit: number): number => 2 * limit;

// ---- the hostile inputs ---------------------------------------------------------------------------

/** Worst input for the old `^[^\s@]+@[^\s@]+\.[^\s@]+$` (quadratic): many dots, then a failing end. */
const worstUpn = (size: number) => `a@${'a.'.repeat(Math.floor((size - 3) / 2))} `;

interface HostileEventCase {
  field: string;
  /** The path named by the 400 of the single-event route / of a batch item. */
  path: string;
  /** The longest string a pattern may see while this field is validated. */
  limit: number;
  event: (size: number) => Record<string, unknown>;
}

const EVENT_CASES: HostileEventCase[] = [
  { field: 'type', path: 'type', limit: MAX_TEXT_LENGTH, event: (n) => ({ ...validEvents.retire(), type: `retire${'x'.repeat(n)}` }) },
  {
    field: 'occurredAt',
    path: 'occurredAt',
    limit: MAX_OCCURRED_AT_LENGTH,
    event: (n) => ({ ...validEvents.retire(), occurredAt: `2026-11-28T10:00:00.${'1'.repeat(n)}X` }),
  },
  {
    field: 'platform',
    path: 'platform',
    limit: MAX_TEXT_LENGTH,
    event: (n) => ({ ...validEvents.registration(), platform: 'iOS'.repeat(n / 3) }),
  },
  {
    field: 'azureDeviceId',
    path: 'azureDeviceId',
    limit: 36,
    event: (n) => ({ ...validEvents.registration(), azureDeviceId: `${GUID}${'a'.repeat(n)}` }),
  },
  {
    field: 'clientStatusCode',
    path: 'clientStatusCode',
    limit: MAX_TEXT_LENGTH,
    event: (n) => ({ ...validEvents.registration(), clientStatusCode: `Success${'_'.repeat(n)}` }),
  },
  {
    field: 'userPrincipalName',
    path: 'userPrincipalName',
    limit: MAX_TEXT_LENGTH,
    event: (n) => ({ ...validEvents.registration(), userPrincipalName: worstUpn(n) }),
  },
  {
    field: 'actions[0]',
    path: 'actions[0]',
    limit: MAX_TEXT_LENGTH,
    event: (n) => ({ ...validEvents.compliance(), actions: [`QUARANTINE${'E'.repeat(n)}`] }),
  },
  ...(['deviceName', 'os', 'osVersion', 'model', 'manufacturer', 'serialNumber', 'imei', 'ownership'] as const).map((f) => ({
    field: `inventory.${f}`,
    path: `inventory.${f}`,
    limit: MAX_TEXT_LENGTH,
    event: (n: number) => {
      const e = validEvents.inventory();
      return { ...e, inventory: { ...e.inventory, [f]: 'x'.repeat(n) } };
    },
  })),
];

function pathsOf(v: { ok: boolean; errors?: Array<{ path: string }> }): string[] {
  return (v.errors ?? []).map((e) => e.path);
}

// ---- the pure validator -----------------------------------------------------------------------------

describe('validation of hostile input: linear and bounded (pure validator, regex spy)', () => {
  it("the spy sees every regex run, also through String#match/#replace/#split (the spy's self-test)", () => {
    const s = 'a'.repeat(1000);
    const { runs } = recordPatternRuns(() => {
      s.match(/a+$/);
      s.replace(/b/g, '');
      s.split(/,/);
      /x/.test(s);
    });
    assert.deepEqual([...new Set(runs.filter((r) => r.length === 1000).map((r) => r.source))], ['a+$', 'b', ',', 'x']);
  });

  for (const c of EVENT_CASES) {
    it(`${c.field}: about 1 MiB of the worst input is refused naming it; no pattern runs on more than ${c.limit} characters (${unitsOf(c.limit)} UTF-16 units)`, () => {
      const event = c.event(HUGE);
      const single = recordPatternRuns(() => validateDeviceEvent(event));
      assert.equal(single.result.ok, false);
      assert.deepEqual(pathsOf(single.result), [c.path]);
      assert.ok(longest(single.runs) <= unitsOf(c.limit), `a pattern ran on ${longest(single.runs)} characters`);

      const batch = recordPatternRuns(() => validateBatchEvents({ events: [{ deviceId: 'mdm-1', ...event }] }));
      assert.ok(batch.result.ok, 'the envelope is fine');
      assert.deepEqual(
        batch.result.items.map((i) => [i.index, i.ok, pathsOf(i)]),
        [[0, false, [c.path]]],
      );
      assert.ok(longest(batch.runs) <= unitsOf(c.limit), `a pattern ran on ${longest(batch.runs)} characters`);
    });
  }

  it(`deviceId (path and batch item): 1 MiB is refused naming deviceId; no pattern runs on more than ${DEVICE_ID_MAX_LENGTH} characters`, () => {
    const id = `${'a'.repeat(MAX_BODY_BYTES)}!`;
    const path = recordPatternRuns(() => validateDeviceId(id));
    assert.deepEqual(path.result, {
      ok: false,
      errors: [{ path: 'deviceId', message: `Must be at most ${DEVICE_ID_MAX_LENGTH} characters` }],
    });
    assert.ok(longest(path.runs) <= unitsOf(DEVICE_ID_MAX_LENGTH), `a pattern ran on ${longest(path.runs)} characters`);
    const batch = recordPatternRuns(() => validateBatchEvents({ events: [{ deviceId: id.slice(0, HUGE), ...validEvents.retire() }] }));
    assert.ok(batch.result.ok);
    assert.deepEqual(pathsOf(batch.result.items[0]!), ['deviceId']);
    assert.ok(longest(batch.runs) <= unitsOf(DEVICE_ID_MAX_LENGTH), `a pattern ran on ${longest(batch.runs)} characters`);
  });

  it('an unknown key of 1 MiB is named by its first 256 characters; no pattern runs on the whole key', () => {
    const key = 'k'.repeat(HUGE);
    const { result, runs } = recordPatternRuns(() => validateDeviceEvent({ ...validEvents.retire(), [key]: 1 }));
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.errors.length, 1);
    assert.equal(result.errors[0]!.message, `Unknown field "${'k'.repeat(MAX_TEXT_LENGTH)}… (${HUGE} characters)"`);
    assert.ok(longest(runs) <= unitsOf(MAX_TEXT_LENGTH), `a pattern ran on ${longest(runs)} characters`);
  });

  it('a huge actions array or batch is refused by its length before any item is looked at', () => {
    const actions = Array.from({ length: 200_000 }, () => `QUARANTINE${'x'.repeat(2)}`);
    const { result } = recordPatternRuns(() => validateDeviceEvent({ ...validEvents.compliance(), actions }));
    assert.deepEqual(result, { ok: false, errors: [{ path: 'actions', message: 'Must hold at most 5 actions' }] });
    const batch = validateBatchEvents({ events: Array.from({ length: 100_000 }, () => 'x') });
    assert.deepEqual(batch, { ok: false, errors: [{ path: 'events', message: 'Must hold at most 1000 events' }] });
  });

  it('admin bodies (settings, sync filter): 1 MiB strings are refused by enum or type checks, no pattern at all', () => {
    const big = 'x'.repeat(HUGE);
    for (const [schema, body, path] of [
      [SettingsUpdateSchema, { enabled: big }, ['enabled']],
      [SettingsUpdateSchema, { weeklyReport: { paused: big } }, ['weeklyReport', 'paused']],
      [SyncFilterSchema, { complianceStatus: big }, ['complianceStatus']],
      [SyncFilterSchema, { clientStatusCode: big }, ['clientStatusCode']],
    ] as const) {
      const { result, runs } = recordPatternRuns(() => schema.safeParse(body));
      assert.equal(result.success, false);
      assert.deepEqual(
        result.error?.issues.map((i) => i.path),
        [path],
      );
      assert.ok(longest(runs) <= unitsOf(MAX_TEXT_LENGTH), `a pattern ran on ${longest(runs)} characters`);
    }
  });
});

// ---- through the app, and through the real server ---------------------------------------------------

interface HostileRequest {
  name: string;
  method: string;
  path: string;
  key: 'mdm' | 'admin';
  body?: unknown;
  status: number;
  /** The error paths of the 400 (or of the batch item's rejection). */
  paths?: string[];
}

function hostileRequests(): HostileRequest[] {
  const out: HostileRequest[] = [];
  for (const c of EVENT_CASES) {
    const event = c.event(HUGE);
    out.push({
      name: `single ${c.field}`,
      method: 'POST',
      path: '/v1/devices/mdm-1/events',
      key: 'mdm',
      body: event,
      status: 400,
      paths: [c.path],
    });
    out.push({
      name: `batch ${c.field}`,
      method: 'POST',
      path: '/v1/events',
      key: 'mdm',
      body: { events: [{ deviceId: 'mdm-1', ...event }] },
      status: 202,
      paths: [c.path],
    });
    out.push({
      name: `single ${c.field}, over 1 MiB`,
      method: 'POST',
      path: '/v1/devices/mdm-1/events',
      key: 'mdm',
      body: c.event(MAX_BODY_BYTES + 10),
      status: 413,
    });
  }
  const big = 'x'.repeat(HUGE);
  out.push({
    name: 'batch deviceId',
    method: 'POST',
    path: '/v1/events',
    key: 'mdm',
    body: { events: [{ deviceId: big, ...validEvents.retire() }] },
    status: 202,
    paths: ['deviceId'],
  });
  out.push({
    name: 'settings enabled',
    method: 'PUT',
    path: '/v1/settings',
    key: 'admin',
    body: { enabled: big },
    status: 400,
    paths: ['enabled'],
  });
  out.push({
    name: 'settings weeklyReport.paused',
    method: 'PUT',
    path: '/v1/settings',
    key: 'admin',
    body: { weeklyReport: { paused: big } },
    status: 400,
    paths: ['weeklyReport.paused'],
  });
  out.push({
    name: 'sync filter complianceStatus',
    method: 'POST',
    path: '/v1/sync',
    key: 'admin',
    body: { complianceStatus: big },
    status: 400,
    paths: ['complianceStatus'],
  });
  out.push({
    name: 'sync filter clientStatusCode',
    method: 'POST',
    path: '/v1/sync',
    key: 'admin',
    body: { clientStatusCode: big },
    status: 400,
    paths: ['clientStatusCode'],
  });
  return out;
}

async function checkAnswer(r: HostileRequest, status: number, body: string): Promise<void> {
  assert.equal(status, r.status, `${r.name}: ${body.slice(0, 300)}`);
  if (r.status === 202) {
    const { results } = JSON.parse(body) as { results: Array<{ status: string; error: { errors: Array<{ path: string }> } }> };
    assert.equal(results.length, 1, r.name);
    assert.equal(results[0]!.status, 'rejected', r.name);
    assert.deepEqual(
      results[0]!.error.errors.map((e) => e.path),
      r.paths,
      r.name,
    );
  } else if (r.status === 400) {
    const problem = JSON.parse(body) as { errors: Array<{ path: string }> };
    assert.deepEqual(
      problem.errors.map((e) => e.path),
      r.paths,
      r.name,
    );
  }
}

describe('validation of hostile input: every route answers (app.request and the real server)', function () {
  this.timeout(120_000);
  let api: TestApi;

  before(() => {
    api = makeApi();
  });

  it('app.request: each hostile request gets its 400 naming the field, 202 with the item rejected, or 413', async () => {
    for (const r of hostileRequests()) {
      const res = await call(api.app, r.method, r.path, { key: r.key, body: r.body });
      await checkAnswer(r, res.status, await res.text());
    }
    // deviceId in the path: 1 MiB (only app.request: a real server refuses a 1 MiB URL before routing).
    const res = await call(api.app, 'POST', `/v1/devices/${'a'.repeat(MAX_BODY_BYTES)}!/events`, {
      key: 'mdm',
      body: validEvents.retire(),
    });
    assert.equal(res.status, 400);
    assert.deepEqual((await problemOf(res)).errors, [{ path: 'deviceId', message: `Must be at most ${DEVICE_ID_MAX_LENGTH} characters` }]);
    assert.equal(api.temporal.signalAttempts.length, 0, 'nothing reached Temporal');
    assert.deepEqual(api.fleetCalls, [], 'no fleet operation started');
  });

  it('real server, 4 keep-alive connections: every hostile request is answered, and /healthz sent alongside each is answered', async () => {
    const server = startApiServer(api.app, { port: 0, hostname: '127.0.0.1' });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const port = (server.address() as AddressInfo).port;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const probeAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const send = (agentToUse: http.Agent, method: string, path: string, key: string | undefined, body: string | undefined) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const headers: Record<string, string> = {};
        if (key) headers.Authorization = `Bearer ${key}`;
        if (body !== undefined)
          Object.assign(headers, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) });
        const req = http.request({ host: '127.0.0.1', port, method, path, agent: agentToUse, headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        });
        req.on('error', reject);
        req.end(body);
      });
    try {
      const requests = hostileRequests();
      const answers = await Promise.all(
        requests.map(async (r) => {
          const hostile = send(agent, r.method, r.path, r.key === 'mdm' ? MDM_KEY : ADMIN_KEY, JSON.stringify(r.body));
          // Sent while the hostile request is being received and validated.
          const health = send(probeAgent, 'GET', '/healthz', undefined, undefined);
          return { r, hostile: await hostile, health: await health };
        }),
      );
      for (const { r, hostile, health } of answers) {
        await checkAnswer(r, hostile.status, hostile.body);
        assert.deepEqual([health.status, JSON.parse(health.body)], [200, { status: 'ok' }], r.name);
      }
      assert.equal(answers.length, requests.length);
      assert.equal(api.temporal.signalAttempts.length, 0);
    } finally {
      agent.destroy();
      probeAgent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

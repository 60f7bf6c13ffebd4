/**
 * Property-based: thousands of malformed bodies, headers and device ids thrown at the event routes.
 * Whatever arrives, the API never answers 5xx, never signals Temporal (the injected client records
 * every attempt) and never writes a row.
 */
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { validateBatchEvents, validateDeviceEvent, validateDeviceId } from '../../domain/validation';
import { ADMIN_KEY, MDM_KEY, makeApi, validEvents, type TestApi } from './helpers';

const EVENT_KEYS: Record<string, string[]> = {
  registration: ['type', 'occurredAt', 'platform', 'azureDeviceId', 'clientStatusCode', 'userPrincipalName'],
  compliance: ['type', 'occurredAt', 'actions'],
  inventory: ['type', 'occurredAt', 'inventory'],
  retire: ['type', 'occurredAt'],
};

const validEvent = fc.constantFrom(...Object.values(validEvents)).map((make) => make() as Record<string, unknown>);

/** A valid event with one change that may or may not break it (the oracle decides below). */
const mutatedEvent = fc
  .tuple(
    validEvent,
    fc.oneof(
      fc.record({ kind: fc.constant('add' as const), key: fc.string({ maxLength: 12 }), value: fc.jsonValue({ maxDepth: 2 }) }),
      fc.record({ kind: fc.constant('drop' as const), index: fc.nat(5) }),
      fc.record({
        kind: fc.constant('set' as const),
        index: fc.nat(5),
        value: fc.oneof(
          fc.jsonValue({ maxDepth: 2 }),
          fc.string(),
          fc.constantFrom('iOS', 'QUARANTINE', 'Success', null, [], {}, 'registration'),
        ),
      }),
      fc.record({ kind: fc.constant('nest' as const), key: fc.string({ maxLength: 8 }), value: fc.jsonValue({ maxDepth: 1 }) }),
    ),
  )
  .map(([event, m]) => {
    const copy: Record<string, unknown> = JSON.parse(JSON.stringify(event));
    const keys = EVENT_KEYS[String(copy.type)]!;
    if (m.kind === 'add') copy[m.key] = m.value;
    else if (m.kind === 'drop') delete copy[keys[m.index % keys.length]!];
    else if (m.kind === 'set') copy[keys[m.index % keys.length]!] = m.value;
    else if (copy.inventory && typeof copy.inventory === 'object') (copy.inventory as Record<string, unknown>)[m.key] = m.value;
    else copy.actions = [m.value];
    return copy;
  });

/** Bodies as raw text: JSON of anything, event mutations, truncated JSON, non-JSON text, big bodies. */
const rawBody = fc.oneof(
  { weight: 4, arbitrary: mutatedEvent.map((e) => JSON.stringify(e)) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
  {
    weight: 1,
    arbitrary: fc.anything({ maxDepth: 3 }).map((v) => {
      try {
        return JSON.stringify(v) ?? 'undefined';
      } catch {
        return '{';
      }
    }),
  },
  {
    weight: 2,
    arbitrary: fc.tuple(validEvent, fc.nat()).map(([e, n]) => {
      const s = JSON.stringify(e);
      return s.slice(0, n % s.length);
    }),
  },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      'null',
      '[]',
      '{}',
      '"x"',
      '1e999',
      '{"__proto__":{"type":"retire"}}',
      '{"constructor":{"prototype":{}}}',
      '[[[[[[[[[[]]]]]]]]]]',
      '{"type":"retire","occurredAt":"2026-01-10T10:00:00Z","type":"wipe"}',
    ),
  },
  {
    weight: 1,
    arbitrary: fc.nat(3).map((n) => `{"type":"retire","occurredAt":"2026-01-10T10:00:00Z","pad":"${'x'.repeat(1024 * 1024 + n)}"}`),
  },
  { weight: 1, arbitrary: fc.nat(2000).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`) },
);

const printable = fc.string({ unit: 'grapheme-ascii', maxLength: 60 });

const deviceIdRaw = fc.oneof(
  fc.constantFrom('mdm-42', 'a', 'A.b_c:d-9', 'x'.repeat(128)),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 140 }),
  fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 200 }),
  fc.constantFrom('..', '.', '%', '%2F', 'a/b', 'x'.repeat(129), ' ', '\u0000', '💥', 'mdm 42'),
);

const authorization = fc.oneof(
  fc.constant({ value: `Bearer ${MDM_KEY}`, mdm: true }),
  fc.constant({ value: `Bearer ${ADMIN_KEY}`, mdm: false }),
  fc.constant({ value: undefined, mdm: false }),
  printable.map((s) => ({ value: `Bearer ${s}`, mdm: false })),
  printable.map((s) => ({ value: s, mdm: false })),
  fc.constant({ value: `bearer ${MDM_KEY} `, mdm: true }),
);

const contentType = fc.oneof(
  fc.constant({ value: 'application/json', json: true }),
  fc.constant({ value: 'application/json; charset=utf-8', json: true }),
  fc
    .constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', '*/*')
    .map((value) => ({ value, json: false })),
  printable.map((s) => ({ value: `text/${s}`, json: false })),
  fc.constant({ value: undefined, json: false }),
);

const extraHeaders = fc.dictionary(
  fc.constantFrom('x-request-id', 'content-length', 'transfer-encoding', 'accept', 'x-forwarded-for', 'content-encoding'),
  printable,
  { maxKeys: 3 },
);

function parse(raw: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(raw) };
  } catch {
    return { ok: false };
  }
}

async function send(
  api: TestApi,
  path: string,
  auth: string | undefined,
  ct: string | undefined,
  body: string,
  extra: Record<string, string>,
): Promise<Response | null> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(extra)) {
    if (k === 'content-length' || k === 'transfer-encoding' || k === 'content-encoding') continue; // set by the platform
    headers[k] = v;
  }
  if (auth !== undefined) headers.authorization = auth;
  if (ct !== undefined) headers['content-type'] = ct;
  let request: Request;
  try {
    request = new Request(`http://api.test${path}`, { method: 'POST', headers, body });
  } catch {
    return null; // not even an HTTP request (e.g. an invalid URL): nothing reaches the app
  }
  return api.app.request(request);
}

async function assertNothingHappened(api: TestApi): Promise<void> {
  assert.equal(api.temporal.signalAttempts.length, 0, `signalled: ${JSON.stringify(api.temporal.signalAttempts[0]?.options.signalArgs)}`);
  for (const table of ['devices', 'report_attempts', 'settings']) {
    const [r] = await api.db(table).where({ tenant_id: api.tenantId }).count<{ count: string }[]>({ count: '*' });
    assert.equal(Number(r?.count ?? 0), 0, `a row was written to ${table}`);
  }
}

describe('API: property-based, malformed input at the event routes', () => {
  it('POST /v1/devices/{deviceId}/events: never 5xx, never a signal, never a row, for 2,500 malformed requests', async function () {
    this.timeout(300_000);
    const api = makeApi();
    let runs = 0;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(deviceIdRaw, authorization, contentType, rawBody, extraHeaders, async (id, auth, ct, raw, extra) => {
        const parsed = parse(raw);
        const wellFormed =
          auth.mdm &&
          ct.json &&
          validateDeviceId(id).ok &&
          parsed.ok &&
          validateDeviceEvent(parsed.value).ok &&
          Buffer.byteLength(raw) <= 1024 * 1024;
        fc.pre(!wellFormed);
        const res = await send(api, `/v1/devices/${encodeURIComponent(id)}/events`, auth.value, ct.value, raw, extra);
        if (res === null) return;
        runs++;
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const text = await res.text();
        assert.ok(
          res.status >= 400 && res.status < 500,
          `status ${res.status} for ${JSON.stringify({ id, auth, ct, raw: raw.slice(0, 200) })}: ${text}`,
        );
        assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
        const p = JSON.parse(text) as { status: number; type: string; errors: unknown[] };
        assert.equal(p.status, res.status);
        assert.ok(Array.isArray(p.errors));
        assert.equal(api.temporal.signalAttempts.length, 0);
      }),
      { numRuns: 2500 },
    );
    assert.ok(runs > 2000, `only ${runs} requests reached the app`);
    // The property is not vacuous: every kind of rejection was exercised, most of them past the auth.
    for (const status of [400, 401, 403, 404, 413, 415])
      assert.ok((statuses.get(status) ?? 0) > 0, `no ${status} in ${JSON.stringify([...statuses])}`);
    assert.ok((statuses.get(400) ?? 0) > 300, `few requests reached validation: ${JSON.stringify([...statuses])}`);
    await assertNothingHappened(api);
  });

  it('POST /v1/events: never 5xx, never a signal, never a row, for 1,000 malformed batches', async function () {
    this.timeout(300_000);
    const api = makeApi();
    const item = fc.oneof(
      fc.tuple(deviceIdRaw, mutatedEvent).map(([deviceId, e]) => ({ deviceId, ...e })),
      fc.tuple(deviceIdRaw, validEvent).map(([deviceId, e]) => ({ deviceId, ...e })),
      validEvent,
      fc.jsonValue({ maxDepth: 2 }),
    );
    const batchBody = fc.oneof(
      { weight: 5, arbitrary: fc.array(item, { minLength: 1, maxLength: 20 }).map((events) => JSON.stringify({ events })) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.array(item, { maxLength: 3 }), fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }))
          .map(([events, k, v]) => JSON.stringify({ events, [k]: v })),
      },
      {
        weight: 1,
        arbitrary: fc.nat(3).map((n) => JSON.stringify({ events: Array.from({ length: 1001 + n }, () => validEvents.retire()) })),
      },
      { weight: 1, arbitrary: fc.constant(JSON.stringify({ events: [] })) },
      { weight: 2, arbitrary: rawBody },
    );
    await fc.assert(
      fc.asyncProperty(authorization, contentType, batchBody, extraHeaders, async (auth, ct, raw, extra) => {
        const parsed = parse(raw);
        let anyValidItem = false;
        if (parsed.ok) {
          const v = validateBatchEvents(parsed.value);
          anyValidItem = v.ok && v.items.some((i) => i.ok);
        }
        fc.pre(!(auth.mdm && ct.json && anyValidItem && Buffer.byteLength(raw) <= 1024 * 1024));
        const res = await send(api, '/v1/events', auth.value, ct.value, raw, extra);
        if (res === null) return;
        const text = await res.text();
        assert.ok(res.status < 500, `status ${res.status}: ${text}`);
        if (res.status === 202) {
          const { results } = JSON.parse(text) as { results: Array<{ status: string; error: { status: number } }> };
          assert.ok(results.every((r) => r.status === 'rejected' && r.error.status === 400));
        } else {
          assert.ok(res.status >= 400, String(res.status));
          assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
        }
        assert.equal(api.temporal.signalAttempts.length, 0);
      }),
      { numRuns: 1000 },
    );
    await assertNothingHappened(api);
  });
});

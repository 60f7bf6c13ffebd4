/**
 * The MDM events of docs/http-contract.md through app.request(): validation (one test per rule), the signal the API sends,
 * 409 for retired devices (from Temporal's own refusal), 413, 415, invalid JSON,
 * the batch endpoint, and "a rejected request signals nothing and writes nothing".
 */
import { strict as assert } from 'node:assert';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { MAX_BODY_BYTES } from '../../api/app';
import { DEVICE_WORKFLOW_TYPE, deviceWorkflowId } from '../../workflows/messages';
import { PROBLEM, call, deviceRowCount, makeApi, problemOf, seedDevice, validEvents, type TestApi } from './helpers';

const post = (api: TestApi, deviceId: string, body: unknown, key = 'mdm') =>
  call(api.app, 'POST', `/v1/devices/${deviceId}/events`, { key, body });

/** Posts `body` and asserts a 400 validation problem whose errors are exactly `expected`. */
async function expectInvalid(body: unknown, expected: Array<{ path: string; message?: RegExp }>, deviceId = 'mdm-42') {
  const api = makeApi();
  const rowsBefore = await deviceRowCount(api.db);
  const res = await post(api, deviceId, body);
  assert.equal(res.status, 400);
  const p = await problemOf(res);
  assert.equal(p.type, PROBLEM('validation'));
  assert.equal(p.status, 400);
  assert.deepEqual(
    p.errors.map((e) => e.path),
    expected.map((e) => e.path),
    JSON.stringify(p.errors),
  );
  expected.forEach((e, i) => {
    if (e.message) assert.match(p.errors[i]!.message, e.message);
  });
  assert.equal(api.temporal.signalAttempts.length, 0, 'a rejected event is never signalled');
  assert.equal(await deviceRowCount(api.db), rowsBefore, 'a rejected event writes nothing');
}

describe('API: POST /v1/devices/{deviceId}/events', () => {
  describe('accepts each valid event type and hands it to the device workflow', () => {
    for (const [type, make] of Object.entries(validEvents)) {
      it(`answers 202 { deviceId, accepted: true } for a ${type} event after signalWithStart resolved`, async () => {
        const api = makeApi();
        let resolved = false;
        api.temporal.onSignal = async () => {
          await new Promise((r) => setTimeout(r, 20));
          resolved = true;
        };
        const event = make();
        const res = await post(api, 'mdm-42', event);
        assert.equal(res.status, 202);
        assert.deepEqual(await res.json(), { deviceId: 'mdm-42', accepted: true });
        assert.equal(resolved, true, 'the 202 comes only after Temporal has the event');
        assert.equal(api.temporal.signals.length, 1);
        const { workflowType, options } = api.temporal.signals[0]!;
        assert.equal(workflowType, DEVICE_WORKFLOW_TYPE);
        assert.equal(options.workflowId, deviceWorkflowId(api.tenantId, 'mdm-42'));
        assert.equal(options.taskQueue, 'api-test-queue');
        assert.deepEqual(options.args, [{ tenantId: api.tenantId, deviceId: 'mdm-42' }]);
        assert.equal(options.signal.name, type);
        assert.deepEqual(options.signalArgs, [event]);
        assert.deepEqual(
          options.typedSearchAttributes.map((p) => [p.key.name, p.value]),
          [
            ['TenantId', api.tenantId],
            ['DeviceId', 'mdm-42'],
          ],
        );
        // Only Temporal knows whether the device's lifecycle is over: a completed run refuses the start.
        assert.equal(options.workflowIdReusePolicy, 'ALLOW_DUPLICATE_FAILED_ONLY');
      });
    }
  });

  it('accepts a registration without azureDeviceId GUID when the client status is not Success (azureDeviceId null)', async () => {
    const api = makeApi();
    const res = await post(api, 'mdm-42', { ...validEvents.registration(), azureDeviceId: null, clientStatusCode: 'User_Canceled' });
    assert.equal(res.status, 202);
  });

  it('accepts a deviceId of exactly 128 characters of every allowed class', async () => {
    const api = makeApi();
    const id = `Az09._:-${'x'.repeat(120)}`;
    assert.equal(id.length, 128);
    const res = await post(api, id, validEvents.compliance());
    assert.equal(res.status, 202);
  });

  it('accepts compliance with no action in force (actions: [])', async () => {
    const api = makeApi();
    const res = await post(api, 'mdm-42', { ...validEvents.compliance(), actions: [] });
    assert.equal(res.status, 202);
  });

  describe('400 naming the offending field, one rule at a time', () => {
    it('rejects an unknown type', () =>
      expectInvalid({ type: 'wipe', occurredAt: '2026-01-10T10:00:00Z' }, [
        { path: 'type', message: /registration, compliance, inventory, retire/ },
      ]));
    it('rejects a missing type', () => expectInvalid({ occurredAt: '2026-01-10T10:00:00Z' }, [{ path: 'type' }]));
    it('rejects a missing occurredAt', () => expectInvalid({ type: 'retire' }, [{ path: 'occurredAt', message: /Required/ }]));
    it('rejects an occurredAt without a zone', () =>
      expectInvalid({ type: 'retire', occurredAt: '2026-01-10T10:00:00' }, [{ path: 'occurredAt', message: /zone/ }]));
    it('rejects an occurredAt that is not a date', () =>
      expectInvalid({ type: 'retire', occurredAt: 'yesterday' }, [{ path: 'occurredAt' }]));
    it('rejects an occurredAt more than MAX_CLOCK_SKEW (default 5 minutes) ahead', () =>
      expectInvalid({ type: 'retire', occurredAt: new Date(Date.now() + 10 * 60_000).toISOString() }, [
        { path: 'occurredAt', message: /5 minutes ahead of the server's clock/ },
      ]));
    it('rejects an unknown top-level field, naming the key', () =>
      expectInvalid({ ...validEvents.retire(), reason: 'lost' }, [{ path: 'reason', message: /Unknown field "reason"/ }]));
    it('rejects a platform other than iOS or Android', () =>
      expectInvalid({ ...validEvents.registration(), platform: 'Windows' }, [{ path: 'platform', message: /iOS, Android/ }]));
    it('rejects a missing platform', () => {
      const { platform: _p, ...event } = validEvents.registration();
      return expectInvalid(event, [{ path: 'platform' }]);
    });
    it('rejects an azureDeviceId that is not a GUID', () =>
      expectInvalid({ ...validEvents.registration(), azureDeviceId: 'not-a-guid' }, [{ path: 'azureDeviceId', message: /GUID/ }]));
    it('rejects azureDeviceId null when clientStatusCode is Success', () =>
      expectInvalid({ ...validEvents.registration(), azureDeviceId: null }, [
        { path: 'azureDeviceId', message: /GUID when clientStatusCode is Success/ },
      ]));
    it('rejects an unknown clientStatusCode', () =>
      expectInvalid({ ...validEvents.registration(), clientStatusCode: 'OK' }, [
        { path: 'clientStatusCode', message: /Success, Internal_Error/ },
      ]));
    it('rejects a malformed userPrincipalName', () =>
      expectInvalid({ ...validEvents.registration(), userPrincipalName: 'alex' }, [{ path: 'userPrincipalName' }]));
    it('rejects an unknown action, naming its index', () =>
      expectInvalid({ ...validEvents.compliance(), actions: ['BLOCK_EMAIL', 'WIPE'] }, [
        { path: 'actions[1]', message: /RETIRE, QUARANTINE/ },
      ]));
    it('rejects actions that are not an array', () =>
      expectInvalid({ ...validEvents.compliance(), actions: 'QUARANTINE' }, [{ path: 'actions' }]));
    it('rejects a missing actions', () =>
      expectInvalid({ type: 'compliance', occurredAt: '2026-01-10T10:00:00Z' }, [{ path: 'actions', message: /Required/ }]));
    for (const field of ['deviceName', 'os', 'osVersion']) {
      it(`rejects an inventory without ${field} (required)`, () => {
        const event = validEvents.inventory();
        delete (event.inventory as Record<string, unknown>)[field];
        return expectInvalid(event, [{ path: `inventory.${field}`, message: /Required/ }]);
      });
    }
    it('rejects an unknown inventory key, naming it', () => {
      const event = validEvents.inventory();
      return expectInvalid({ ...event, inventory: { ...event.inventory, imeii: '1' } }, [
        { path: 'inventory.imeii', message: /Unknown field/ },
      ]);
    });
    it('rejects an ownership other than corporate or personal', () => {
      const event = validEvents.inventory();
      return expectInvalid({ ...event, inventory: { ...event.inventory, ownership: 'company' } }, [
        { path: 'inventory.ownership', message: /corporate, personal/ },
      ]);
    });
    it('rejects a body that is not an object', () => expectInvalid([validEvents.retire()], [{ path: '' }]));
    it('rejects a deviceId with a character outside A-Z a-z 0-9 . _ : -', () =>
      expectInvalid(validEvents.retire(), [{ path: 'deviceId', message: /A-Z a-z 0-9/ }], 'mdm%2042'));
    it('rejects a deviceId of 129 characters', () =>
      expectInvalid(validEvents.retire(), [{ path: 'deviceId', message: /128/ }], 'x'.repeat(129)));
    it('rejects a deviceId containing an encoded slash', () => expectInvalid(validEvents.retire(), [{ path: 'deviceId' }], 'a%2Fb'));
  });

  it('answers 400 invalid-json for a body that is not JSON', async () => {
    const api = makeApi();
    const res = await call(api.app, 'POST', '/v1/devices/mdm-42/events', { key: 'mdm', rawBody: '{"type": "retire",' });
    assert.equal(res.status, 400);
    const p = await problemOf(res);
    assert.equal(p.type, PROBLEM('invalid-json'));
    assert.equal(api.temporal.signalAttempts.length, 0);
  });

  it('answers 415 for a body that is not application/json', async () => {
    const api = makeApi();
    const res = await call(api.app, 'POST', '/v1/devices/mdm-42/events', {
      key: 'mdm',
      rawBody: JSON.stringify(validEvents.retire()),
      headers: { 'Content-Type': 'text/plain' },
    });
    assert.equal(res.status, 415);
    assert.equal((await problemOf(res)).type, PROBLEM('unsupported-media-type'));
    assert.equal(api.temporal.signalAttempts.length, 0);
  });

  it('answers 413 for a body over 1 MiB, and accepts one of exactly 1 MiB up to the validator', async () => {
    const api = makeApi();
    const big = JSON.stringify({ ...validEvents.retire(), pad: 'x'.repeat(MAX_BODY_BYTES) });
    const res = await call(api.app, 'POST', '/v1/devices/mdm-42/events', { key: 'mdm', rawBody: big });
    assert.equal(res.status, 413);
    const p = await problemOf(res);
    assert.equal(p.type, PROBLEM('payload-too-large'));
    // Same with a declared Content-Length.
    const res2 = await call(api.app, 'POST', '/v1/devices/mdm-42/events', {
      key: 'mdm',
      rawBody: big,
      headers: { 'Content-Length': String(Buffer.byteLength(big)) },
    });
    assert.equal(res2.status, 413);
    const base = JSON.stringify({ ...validEvents.retire(), pad: '' });
    const exact = JSON.stringify({ ...validEvents.retire(), pad: 'x'.repeat(MAX_BODY_BYTES - Buffer.byteLength(base)) });
    assert.equal(Buffer.byteLength(exact), MAX_BODY_BYTES);
    const res3 = await call(api.app, 'POST', '/v1/devices/mdm-42/events', { key: 'mdm', rawBody: exact });
    assert.equal(res3.status, 400, 'exactly 1 MiB passes the size limit (then fails validation for "pad")');
    assert.deepEqual(
      (await problemOf(res3)).errors.map((e) => e.path),
      ['pad'],
    );
    assert.equal(api.temporal.signalAttempts.length, 0);
  });

  describe('409 device-retired', () => {
    for (const type of ['compliance', 'inventory', 'retire'] as const) {
      it(`hands a ${type} event for a device whose row says retired to Temporal, which decides (the row lags the workflow)`, async () => {
        const api = makeApi();
        await seedDevice(api.db, api.tenantId, 'mdm-retired', { retiredAt: '2026-11-28T10:00:00.000Z' });
        const res = await post(api, 'mdm-retired', validEvents[type]());
        assert.equal(res.status, 202);
        assert.equal(api.temporal.signals.length, 1);
      });
    }

    it("starts a re-enrolment from the retired run's final state when Temporal refuses a plain start (ordering across lifecycles)", async () => {
      const api = makeApi();
      const finalState = { retiredAt: '2026-11-28T10:00:00.000Z', lastApplied: { retire: '2026-11-28T10:00:00.000Z' } };
      api.temporal.onSignal = (call) => {
        if (call.options.workflowIdReusePolicy === 'ALLOW_DUPLICATE_FAILED_ONLY') {
          throw new WorkflowExecutionAlreadyStartedError(
            'Workflow execution already started',
            call.options.workflowId,
            DEVICE_WORKFLOW_TYPE,
          );
        }
      };
      api.temporal.onResult = () => finalState;
      const res = await post(api, 'mdm-retired', validEvents.registration());
      assert.equal(res.status, 202);
      assert.deepEqual(
        api.temporal.signalAttempts.map((c) => c.options.workflowIdReusePolicy),
        ['ALLOW_DUPLICATE_FAILED_ONLY', 'ALLOW_DUPLICATE'],
      );
      assert.deepEqual(api.temporal.signals[0]!.options.args, [{ tenantId: api.tenantId, deviceId: 'mdm-retired', state: finalState }]);
    });

    it("answers 409 when Temporal refuses the start because the device's workflow completed (retired)", async () => {
      const api = makeApi();
      api.temporal.onSignal = () => {
        throw new WorkflowExecutionAlreadyStartedError('Workflow execution already started', 'wf', DEVICE_WORKFLOW_TYPE);
      };
      const res = await post(api, 'mdm-42', validEvents.compliance());
      assert.equal(res.status, 409);
      const p = await problemOf(res);
      assert.equal(p.type, PROBLEM('device-retired'));
    });
  });

  it('answers 500 problem+json when signalling fails unexpectedly, and logs it', async () => {
    const api = makeApi();
    api.temporal.onSignal = () => {
      throw new Error('boom');
    };
    const res = await post(api, 'mdm-42', validEvents.compliance());
    assert.equal(res.status, 500);
    const p = await problemOf(res);
    assert.equal(p.type, PROBLEM('internal'));
    assert.ok(api.logs.some((l) => l.includes('boom')));
  });

  it('counts events by tenant, type and result in mdm_events_total', async () => {
    const api = makeApi();
    await post(api, 'mdm-1', validEvents.compliance());
    await post(api, 'mdm-1', { ...validEvents.compliance(), actions: ['NOPE'] });
    await post(api, 'mdm-1', { type: 'nonsense' });
    const text = await (await call(api.app, 'GET', '/metrics')).text();
    const t = api.tenantId;
    assert.match(text, new RegExp(`mdm_events_total\\{tenant="${t}",type="compliance",result="accepted"\\} 1\n`));
    assert.match(text, new RegExp(`mdm_events_total\\{tenant="${t}",type="compliance",result="rejected"\\} 1\n`));
    assert.match(text, new RegExp(`mdm_events_total\\{tenant="${t}",type="unknown",result="rejected"\\} 1\n`));
    assert.match(
      text,
      new RegExp(`mdm_events_total\\{tenant="${t}",type="retire",result="accepted"\\} 0\n`),
      'every series from the start',
    );
  });
});

describe('API: POST /v1/events (batch)', () => {
  const batch = (api: TestApi, body: unknown, key = 'mdm') => call(api.app, 'POST', '/v1/events', { key, body });

  it('accepts valid items and rejects invalid ones, one result per item in order', async () => {
    const api = makeApi();
    api.temporal.onSignal = (call) => {
      if (call.options.workflowId === deviceWorkflowId(api.tenantId, 'dev-retired')) {
        throw new WorkflowExecutionAlreadyStartedError('Workflow execution already started', call.options.workflowId, DEVICE_WORKFLOW_TYPE);
      }
    };
    const res = await batch(api, {
      events: [
        { deviceId: 'dev-a', ...validEvents.registration() },
        { deviceId: 'dev-b', ...validEvents.compliance(), actions: ['BLOCK_EMAIL', 'NOPE'] },
        { deviceId: 'bad id!', ...validEvents.retire() },
        { deviceId: 'dev-retired', ...validEvents.compliance() },
        { deviceId: 'dev-a', ...validEvents.inventory() },
        'not an object',
      ],
    });
    assert.equal(res.status, 202);
    const { results } = (await res.json()) as { results: Array<Record<string, unknown>> };
    assert.equal(results.length, 6);
    assert.deepEqual(results[0], { index: 0, deviceId: 'dev-a', status: 'accepted' });
    assert.equal(results[1]!.status, 'rejected');
    assert.equal(results[1]!.deviceId, 'dev-b');
    const e1 = results[1]!.error as { type: string; errors: Array<{ path: string }> };
    assert.equal(e1.type, PROBLEM('validation'));
    assert.deepEqual(
      e1.errors.map((e) => e.path),
      ['actions[1]'],
    );
    assert.equal(results[2]!.status, 'rejected');
    assert.equal(results[2]!.deviceId, undefined);
    assert.deepEqual(
      (results[2]!.error as { errors: Array<{ path: string }> }).errors.map((e) => e.path),
      ['deviceId'],
    );
    assert.equal(results[3]!.status, 'rejected');
    assert.ok((results[3]!.error as { type: string }).type.endsWith('/device-retired'));
    assert.deepEqual(results[4], { index: 4, deviceId: 'dev-a', status: 'accepted' });
    assert.equal(results[5]!.status, 'rejected');
    assert.equal(results[5]!.index, 5);
    // Signals only for the accepted items; one device's events in their order.
    assert.deepEqual(
      api.temporal.signals.map((s) => [s.options.workflowId, s.options.signal.name]),
      [
        [deviceWorkflowId(api.tenantId, 'dev-a'), 'registration'],
        [deviceWorkflowId(api.tenantId, 'dev-a'), 'inventory'],
      ],
    );
  });

  it('accepts exactly 1,000 events', async () => {
    const api = makeApi();
    const events = Array.from({ length: 1000 }, (_, i) => ({ deviceId: `dev-${i}`, ...validEvents.compliance() }));
    const res = await batch(api, { events });
    assert.equal(res.status, 202);
    const { results } = (await res.json()) as { results: Array<{ status: string; index: number }> };
    assert.equal(results.length, 1000);
    assert.ok(results.every((r, i) => r.status === 'accepted' && r.index === i));
    assert.equal(api.temporal.signals.length, 1000);
  });

  it('signals at most 32 devices at a time', async () => {
    const api = makeApi();
    let inFlight = 0;
    let max = 0;
    api.temporal.onSignal = async () => {
      inFlight++;
      max = Math.max(max, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
    };
    const events = Array.from({ length: 200 }, (_, i) => ({ deviceId: `dev-${i}`, ...validEvents.compliance() }));
    assert.equal((await batch(api, { events })).status, 202);
    assert.equal(max, 32);
  });

  it('rejects 1,001 events as a whole (400, nothing signalled)', async () => {
    const api = makeApi();
    const events = Array.from({ length: 1001 }, (_, i) => ({ deviceId: `dev-${i}`, ...validEvents.compliance() }));
    const res = await batch(api, { events });
    assert.equal(res.status, 400);
    const p = await problemOf(res);
    assert.deepEqual(
      p.errors.map((e) => e.path),
      ['events'],
    );
    assert.match(p.errors[0]!.message, /1000/);
    assert.equal(api.temporal.signalAttempts.length, 0);
  });

  it('rejects an empty batch (0 events)', async () => {
    const api = makeApi();
    const res = await batch(api, { events: [] });
    assert.equal(res.status, 400);
    assert.deepEqual(
      (await problemOf(res)).errors.map((e) => e.path),
      ['events'],
    );
  });

  it('rejects an unknown field of the envelope, naming it', async () => {
    const api = makeApi();
    const res = await batch(api, { events: [{ deviceId: 'd', ...validEvents.retire() }], dryRun: true });
    assert.equal(res.status, 400);
    assert.deepEqual(
      (await problemOf(res)).errors.map((e) => e.path),
      ['dryRun'],
    );
    assert.equal(api.temporal.signalAttempts.length, 0);
  });

  it('rejects a body without events, and invalid JSON', async () => {
    const api = makeApi();
    const res = await batch(api, {});
    assert.equal(res.status, 400);
    assert.deepEqual(
      (await problemOf(res)).errors.map((e) => e.path),
      ['events'],
    );
    const res2 = await call(api.app, 'POST', '/v1/events', { key: 'mdm', rawBody: '[' });
    assert.equal(res2.status, 400);
    assert.equal((await problemOf(res2)).type, PROBLEM('invalid-json'));
  });

  it('answers 413 for a batch over 1 MiB', async () => {
    const api = makeApi();
    const events = Array.from({ length: 1000 }, (_, i) => ({ deviceId: `dev-${i}-${'x'.repeat(100)}`, ...validEvents.inventory() }));
    const body = JSON.stringify({ events, pad: 'x'.repeat(MAX_BODY_BYTES) });
    const res = await call(api.app, 'POST', '/v1/events', { key: 'mdm', rawBody: body });
    assert.equal(res.status, 413);
    assert.equal(api.temporal.signalAttempts.length, 0);
  });

  it('rejects a valid item with 409 when Temporal refuses it, and still accepts the others', async () => {
    const api = makeApi();
    api.temporal.onSignal = (c) => {
      if (c.options.workflowId.endsWith(':dev-done'))
        throw new WorkflowExecutionAlreadyStartedError('already', c.options.workflowId, DEVICE_WORKFLOW_TYPE);
    };
    const res = await batch(api, {
      events: [
        { deviceId: 'dev-done', ...validEvents.compliance() },
        { deviceId: 'dev-ok', ...validEvents.compliance() },
      ],
    });
    assert.equal(res.status, 202);
    const { results } = (await res.json()) as { results: Array<{ status: string; error?: { type: string } }> };
    assert.equal(results[0]!.status, 'rejected');
    assert.equal(results[0]!.error!.type, PROBLEM('device-retired'));
    assert.equal(results[1]!.status, 'accepted');
  });
});

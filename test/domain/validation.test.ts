import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CLIENT_STATUS_CODES, POLICY_ACTIONS } from '../../domain/constants';
import { batchEventsSchema, deviceEventSchema, MAX_TEXT_LENGTH } from '../../domain/event-schemas';
import {
  formatPath,
  formatZodIssues,
  validateBatchEventItem,
  validateBatchEvents,
  validateDeviceEvent,
  validateDeviceId,
  type FieldError,
} from '../../domain/validation';

const NOW = Date.parse('2026-11-28T12:00:00.000Z');
const GUID = '007c8232-9489-4074-9b35-345b16f0a72d';
const AT = '2026-11-28T10:00:00.000Z';

const registration = (over: Record<string, unknown> = {}) => ({
  type: 'registration',
  occurredAt: AT,
  platform: 'iOS',
  azureDeviceId: GUID,
  clientStatusCode: 'Success',
  userPrincipalName: 'alex@contoso.com',
  ...over,
});
const compliance = (over: Record<string, unknown> = {}) => ({
  type: 'compliance',
  occurredAt: AT,
  actions: ['BLOCK_EMAIL', 'QUARANTINE'],
  ...over,
});
const inventoryFields = (over: Record<string, unknown> = {}) => ({
  deviceName: "Alex's iPhone",
  os: 'iOS',
  osVersion: '17.4.1',
  ...over,
});
const inventory = (over: Record<string, unknown> = {}) => ({
  type: 'inventory',
  occurredAt: AT,
  inventory: inventoryFields(),
  ...over,
});
const retire = (over: Record<string, unknown> = {}) => ({ type: 'retire', occurredAt: AT, ...over });

function accept(input: unknown) {
  const result = validateDeviceEvent(input, { now: NOW });
  assert.equal(result.ok, true, `expected acceptance, got ${JSON.stringify(result)}`);
  return result;
}

/** Rejected, and the errors are exactly these paths (in any order). */
function rejectWithPaths(input: unknown, paths: string[]): FieldError[] {
  const result = validateDeviceEvent(input, { now: NOW });
  assert.equal(result.ok, false, `expected rejection of ${JSON.stringify(input)}`);
  if (result.ok) throw new Error('unreachable');
  assert.deepEqual(result.errors.map((e) => e.path).sort(), [...paths].sort(), JSON.stringify(result.errors));
  for (const e of result.errors) assert.ok(e.message.length > 0);
  return result.errors;
}

describe('domain/validation', () => {
  describe('the four events', () => {
    for (const [name, event] of [
      ['registration', registration()],
      ['compliance', compliance()],
      ['inventory', inventory()],
      ['retire', retire()],
    ] as const) {
      it(`accepts the contract's ${name} example unchanged`, () => {
        const result = accept(event);
        assert.deepEqual(result, { ok: true, event });
      });
    }

    it('rejects a missing type, naming type', () => {
      const [error] = rejectWithPaths({ occurredAt: AT }, ['type']);
      assert.equal(error!.message, 'type must be one of registration, compliance, inventory, retire');
    });

    it('rejects an unknown type, naming type', () => {
      rejectWithPaths(retire({ type: 'wipe' }), ['type']);
    });

    it('rejects a value that is not an object with the path ""', () => {
      for (const input of [null, undefined, 'retire', 42, [], [retire()], true]) {
        const [error] = rejectWithPaths(input, ['']);
        assert.equal(error!.message, 'Must be an object');
      }
    });
  });

  describe('unknown fields', () => {
    it('rejects an unknown top-level field, naming the key', () => {
      const [error] = rejectWithPaths(retire({ reason: 'lost' }), ['reason']);
      assert.equal(error!.message, 'Unknown field "reason"');
    });

    it('rejects each unknown field of every event type', () => {
      rejectWithPaths(registration({ azureDeviceID: GUID }), ['azureDeviceID']);
      rejectWithPaths(compliance({ action: 'RETIRE' }), ['action']);
      rejectWithPaths(inventory({ deviceName: 'x' }), ['deviceName']);
      rejectWithPaths(retire({ a: 1, b: 2 }), ['a', 'b']);
    });

    it('rejects an unknown inventory field, naming inventory.<key>', () => {
      const [error] = rejectWithPaths(inventory({ inventory: inventoryFields({ imeii: '123' }) }), ['inventory.imeii']);
      assert.equal(error!.message, 'Unknown field "imeii"');
    });

    it('names a key that is not an identifier in brackets', () => {
      rejectWithPaths(retire({ 'os version': 1 }), ['["os version"]']);
    });
  });

  describe('occurredAt', () => {
    it('is required', () => {
      const [error] = rejectWithPaths({ type: 'retire' }, ['occurredAt']);
      assert.equal(error!.message, 'Required');
    });

    it('accepts Z and ±hh:mm zones, with or without fractional seconds', () => {
      for (const at of ['2026-11-28T10:00:00Z', '2026-11-28T11:00:00+01:00', '2026-11-28T05:00:00.123456-05:00']) {
        accept(retire({ occurredAt: at }));
      }
    });

    it('rejects a time without a zone, a non-ISO format, an impossible date and a non-string', () => {
      for (const at of [
        '2026-11-28T10:00:00',
        '2026-11-28 10:00:00Z',
        '2026-11-28T10:00:00+0100',
        'Sat, 28 Nov 2026 10:00:00 GMT',
        '2026-02-30T10:00:00Z',
        '2026-11-28T24:00:00Z',
        '',
        1795860000000,
        null,
      ]) {
        rejectWithPaths(retire({ occurredAt: at }), ['occurredAt']);
      }
    });

    it('refuses a time more than the default 5 minutes ahead of the clock, naming occurredAt', () => {
      // NOW is 12:00:00.000Z: 12:05:00.001Z is one millisecond too far.
      const [error] = rejectWithPaths(retire({ occurredAt: '2026-11-28T12:05:00.001Z' }), ['occurredAt']);
      assert.equal(error!.message, "Must not be more than 5 minutes ahead of the server's clock (check the clock of the MDM server)");
    });

    it('accepts a time exactly 5 minutes ahead (in any offset), and any past time', () => {
      accept(retire({ occurredAt: '2026-11-28T12:05:00.000Z' }));
      accept(retire({ occurredAt: '2026-11-28T13:05:00.000+01:00' }));
      accept(retire({ occurredAt: '2001-01-01T00:00:00Z' }));
    });

    it('applies the skew it is given, at the boundary, for the single event, a batch item and every batch item', () => {
      const options = { now: NOW, maxClockSkewMs: 30_000 };
      const inside = '2026-11-28T12:00:30.000Z';
      const outside = '2026-11-28T12:00:30.001Z';
      assert.equal(validateDeviceEvent(compliance({ occurredAt: inside }), options).ok, true);
      assert.deepEqual(validateDeviceEvent(compliance({ occurredAt: outside }), options), {
        ok: false,
        errors: [
          {
            path: 'occurredAt',
            message: "Must not be more than 30 seconds ahead of the server's clock (check the clock of the MDM server)",
          },
        ],
      });
      assert.equal(validateBatchEventItem({ deviceId: 'd', ...retire({ occurredAt: inside }) }, options).ok, true);
      assert.deepEqual(
        validateBatchEventItem({ deviceId: 'd', ...retire({ occurredAt: outside }) }, { ...options, basePath: ['events', 2] }),
        {
          ok: false,
          errors: [
            {
              path: 'events[2].occurredAt',
              message: "Must not be more than 30 seconds ahead of the server's clock (check the clock of the MDM server)",
            },
          ],
        },
      );
      const batch = validateBatchEvents(
        {
          events: [
            { deviceId: 'a', ...retire({ occurredAt: inside }) },
            { deviceId: 'b', ...retire({ occurredAt: outside }) },
          ],
        },
        options,
      );
      assert.ok(batch.ok);
      assert.deepEqual(
        batch.items.map((i) => [i.index, i.ok, i.ok ? null : i.errors.map((e) => e.path)]),
        [
          [0, true, null],
          [1, false, ['occurredAt']],
        ],
      );
    });

    it('names occurredAt together with the other offending fields', () => {
      rejectWithPaths(registration({ occurredAt: '2026-11-28T13:00:00Z', platform: 'Windows' }), ['occurredAt', 'platform']);
    });

    it('the exported schemas check the shape only: the clock rule needs the clock and the skew passed in', () => {
      const farFuture = '2099-01-01T00:00:00.000Z';
      assert.equal(deviceEventSchema.safeParse(retire({ occurredAt: farFuture })).success, true);
      assert.equal(validateDeviceEvent(retire({ occurredAt: farFuture }), { now: NOW, maxClockSkewMs: 60_000 }).ok, false);
    });
  });

  describe('registration', () => {
    it('accepts every client status code', () => {
      for (const code of CLIENT_STATUS_CODES) accept(registration({ clientStatusCode: code }));
    });

    it('rejects an unknown client status code, naming clientStatusCode', () => {
      rejectWithPaths(registration({ clientStatusCode: 'User_Cancelled' }), ['clientStatusCode']);
    });

    it('accepts platform iOS and Android only', () => {
      accept(registration({ platform: 'Android' }));
      for (const platform of ['ios', 'Windows', '', undefined]) rejectWithPaths(registration({ platform }), ['platform']);
    });

    it('requires azureDeviceId to be a GUID when clientStatusCode is Success', () => {
      const [error] = rejectWithPaths(registration({ azureDeviceId: null }), ['azureDeviceId']);
      assert.equal(error!.message, 'Must be a GUID when clientStatusCode is Success');
    });

    it('allows azureDeviceId null with any other client status code', () => {
      for (const code of CLIENT_STATUS_CODES.filter((c) => c !== 'Success')) {
        accept(registration({ clientStatusCode: code, azureDeviceId: null }));
      }
    });

    it('allows a GUID with a failing client status code', () => {
      accept(registration({ clientStatusCode: 'Interaction_Required' }));
    });

    it('rejects an azureDeviceId that is not a GUID, naming azureDeviceId', () => {
      for (const id of ['007c8232', `{${GUID}}`, `${GUID}0`, '', 7]) {
        rejectWithPaths(registration({ clientStatusCode: 'Internal_Error', azureDeviceId: id }), ['azureDeviceId']);
      }
    });

    it('requires the azureDeviceId key (null, not absent, when there is no id)', () => {
      const { azureDeviceId: _omitted, ...rest } = registration({ clientStatusCode: 'User_Canceled' });
      const [error] = rejectWithPaths(rest, ['azureDeviceId']);
      assert.equal(error!.message, 'Required');
    });

    it('userPrincipalName is optional, email-like and at most 256 characters', () => {
      const { userPrincipalName: _omitted, ...rest } = registration();
      accept(rest);
      accept(registration({ userPrincipalName: 'alex_gmail.com#EXT#@contoso.onmicrosoft.com' }));
      for (const upn of ['alex', 'alex@contoso', 'a b@contoso.com', '', null, `${'a'.repeat(245)}@contoso.com`]) {
        rejectWithPaths(registration({ userPrincipalName: upn }), ['userPrincipalName']);
      }
      accept(registration({ userPrincipalName: `${'a'.repeat(244)}@contoso.com` }));
    });
  });

  describe('compliance', () => {
    it('accepts [] (no policy violated) and each of the five actions', () => {
      accept(compliance({ actions: [] }));
      for (const action of POLICY_ACTIONS) accept(compliance({ actions: [action] }));
    });

    it('accepts duplicates', () => {
      accept(compliance({ actions: ['BLOCK_EMAIL', 'BLOCK_EMAIL'] }));
    });

    it('rejects an unknown action, naming its index', () => {
      const [error] = rejectWithPaths(compliance({ actions: ['SEND_ALERT', 'WIPE', 'RETIRE', 'retire'] }), ['actions[1]', 'actions[3]']);
      assert.match(error!.message, /RETIRE, QUARANTINE, BLOCK_APPCONNECT, BLOCK_EMAIL, SEND_ALERT/);
    });

    it('rejects more than 5 actions', () => {
      rejectWithPaths(compliance({ actions: ['SEND_ALERT', 'SEND_ALERT', 'SEND_ALERT', 'SEND_ALERT', 'SEND_ALERT', 'SEND_ALERT'] }), [
        'actions',
      ]);
    });

    it('rejects actions that are missing or not an array with one error', () => {
      const { actions: _omitted, ...rest } = compliance();
      rejectWithPaths(rest, ['actions']);
      const [error] = rejectWithPaths(compliance({ actions: 'QUARANTINE' }), ['actions']);
      assert.equal(error!.message, 'Must be an array of actions');
    });
  });

  describe('inventory', () => {
    it('requires deviceName, os and osVersion', () => {
      for (const field of ['deviceName', 'os', 'osVersion']) {
        const fields: Record<string, unknown> = inventoryFields();
        delete fields[field];
        const [error] = rejectWithPaths(inventory({ inventory: fields }), [`inventory.${field}`]);
        assert.equal(error!.message, 'Required');
        rejectWithPaths(inventory({ inventory: inventoryFields({ [field]: '' }) }), [`inventory.${field}`]);
        rejectWithPaths(inventory({ inventory: inventoryFields({ [field]: 17 }) }), [`inventory.${field}`]);
      }
    });

    it('accepts every optional field', () => {
      accept(
        inventory({
          inventory: inventoryFields({
            model: 'iPhone15,2',
            manufacturer: 'Apple',
            serialNumber: 'F2LXABCDEF',
            imei: '356938035643809',
            ownership: 'corporate',
          }),
        }),
      );
      accept(inventory({ inventory: inventoryFields({ ownership: 'personal' }) }));
    });

    it('ownership is corporate or personal', () => {
      for (const ownership of ['Corporate', 'company', '', null]) {
        rejectWithPaths(inventory({ inventory: inventoryFields({ ownership }) }), ['inventory.ownership']);
      }
    });

    it('limits every text field to 256 characters', () => {
      for (const field of ['deviceName', 'os', 'osVersion', 'model', 'manufacturer', 'serialNumber', 'imei']) {
        accept(inventory({ inventory: inventoryFields({ [field]: 'x'.repeat(MAX_TEXT_LENGTH) }) }));
        rejectWithPaths(inventory({ inventory: inventoryFields({ [field]: 'x'.repeat(MAX_TEXT_LENGTH + 1) }) }), [`inventory.${field}`]);
      }
    });

    it('requires inventory to be an object', () => {
      rejectWithPaths({ type: 'inventory', occurredAt: AT }, ['inventory']);
      rejectWithPaths(inventory({ inventory: 'iPhone' }), ['inventory']);
    });

    it('reports every problem at once', () => {
      rejectWithPaths(
        { type: 'inventory', occurredAt: 'yesterday', inventory: { os: 'iOS', osVersion: '', ownership: 'x', imeii: '1' }, extra: 1 },
        ['occurredAt', 'inventory.deviceName', 'inventory.osVersion', 'inventory.ownership', 'inventory.imeii', 'extra'],
      );
    });
  });

  describe('deviceId', () => {
    it('accepts 1 and 128 characters, rejects 0 and 129', () => {
      assert.deepEqual(validateDeviceId('a'), { ok: true, deviceId: 'a' });
      assert.deepEqual(validateDeviceId('a'.repeat(128)), { ok: true, deviceId: 'a'.repeat(128) });
      assert.deepEqual(validateDeviceId(''), { ok: false, errors: [{ path: 'deviceId', message: 'Must not be empty' }] });
      assert.deepEqual(validateDeviceId('a'.repeat(129)), {
        ok: false,
        errors: [{ path: 'deviceId', message: 'Must be at most 128 characters' }],
      });
    });

    it('accepts A-Z a-z 0-9 . _ : - and nothing else', () => {
      const all = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-';
      assert.deepEqual(validateDeviceId(all), { ok: true, deviceId: all });
      for (const id of ['mdm 42', 'mdm/42', 'mdm%2F42', 'é', 'a\n', 'a+b', '../x']) {
        assert.deepEqual(validateDeviceId(id), {
          ok: false,
          errors: [{ path: 'deviceId', message: 'May contain only the characters A-Z a-z 0-9 . _ : -' }],
        });
      }
    });

    it('rejects a non-string', () => {
      for (const id of [undefined, null, 42, ['a']]) {
        const result = validateDeviceId(id);
        assert.equal(result.ok, false);
        if (!result.ok)
          assert.deepEqual(
            result.errors.map((e) => e.path),
            ['deviceId'],
          );
      }
    });
  });

  describe('batch', () => {
    const item = (i: number) => ({ deviceId: `mdm-${i}`, ...compliance() });

    it('rejects 0 events and 1001 events, accepts 1000', () => {
      for (const events of [[], Array.from({ length: 1001 }, (_, i) => item(i))]) {
        assert.equal(batchEventsSchema.safeParse({ events }).success, false);
        const result = validateBatchEvents({ events }, { now: NOW });
        assert.equal(result.ok, false);
        if (!result.ok)
          assert.deepEqual(
            result.errors.map((e) => e.path),
            ['events'],
          );
      }
      const events = Array.from({ length: 1000 }, (_, i) => item(i));
      assert.equal(batchEventsSchema.safeParse({ events }).success, true);
      const result = validateBatchEvents({ events }, { now: NOW });
      assert.equal(result.ok && result.items.length === 1000 && result.items.every((r) => r.ok), true);
    });

    it('rejects an envelope that is not { events: [...] }', () => {
      for (const [input, paths] of [
        [null, ['']],
        [{}, ['events']],
        [{ events: {} }, ['events']],
        [{ events: [item(0)], more: true }, ['more']],
      ] as const) {
        const result = validateBatchEvents(input, { now: NOW });
        assert.equal(result.ok, false);
        if (!result.ok)
          assert.deepEqual(
            result.errors.map((e) => e.path),
            paths,
          );
      }
    });

    it('validates each item on its own: valid items are kept, invalid ones carry their errors', () => {
      const result = validateBatchEvents(
        { events: [item(0), { ...compliance() }, { deviceId: 'bad id', ...retire() }, { ...item(3), actions: ['X'] }] },
        { now: NOW },
      );
      assert.deepEqual(result, {
        ok: true,
        items: [
          { index: 0, ok: true, deviceId: 'mdm-0', event: compliance() },
          { index: 1, ok: false, errors: [{ path: 'deviceId', message: 'Required' }] },
          {
            index: 2,
            ok: false,
            errors: [{ path: 'deviceId', message: 'May contain only the characters A-Z a-z 0-9 . _ : -' }],
          },
          {
            index: 3,
            ok: false,
            errors: [{ path: 'actions[0]', message: 'Must be one of RETIRE, QUARANTINE, BLOCK_APPCONNECT, BLOCK_EMAIL, SEND_ALERT' }],
          },
        ],
      });
    });

    it('applies the event rules to batch items, including GUID-with-Success', () => {
      const result = validateBatchEventItem(
        { deviceId: 'mdm-1', ...registration({ azureDeviceId: null }) },
        { now: NOW, basePath: ['events', 4] },
      );
      assert.deepEqual(result, {
        ok: false,
        errors: [{ path: 'events[4].azureDeviceId', message: 'Must be a GUID when clientStatusCode is Success' }],
      });
      assert.deepEqual(validateBatchEventItem({ deviceId: 'mdm-1', ...registration() }, { now: NOW }), {
        ok: true,
        deviceId: 'mdm-1',
        event: registration(),
      });
    });

    it('formats the full batch schema paths as events[i].field', () => {
      const parsed = batchEventsSchema.safeParse({ events: [item(0), { ...item(1), actions: ['RETIRE', 'NOPE'], x: 1 }] });
      assert.equal(parsed.success, false);
      if (!parsed.success) {
        assert.deepEqual(formatZodIssues(parsed.error.issues), [
          { path: 'events[1].actions[1]', message: 'Must be one of RETIRE, QUARANTINE, BLOCK_APPCONNECT, BLOCK_EMAIL, SEND_ALERT' },
          { path: 'events[1].x', message: 'Unknown field "x"' },
        ]);
      }
    });
  });

  describe('paths', () => {
    it('formats paths in the contract form', () => {
      assert.equal(formatPath([]), '');
      assert.equal(formatPath(['occurredAt']), 'occurredAt');
      assert.equal(formatPath(['actions', 1]), 'actions[1]');
      assert.equal(formatPath(['inventory', 'deviceName']), 'inventory.deviceName');
      assert.equal(formatPath(['events', 3, 'inventory', 'os']), 'events[3].inventory.os');
      assert.equal(formatPath(['a b']), '["a b"]');
    });
  });

  describe('any input', () => {
    const eventLike = fc.record(
      {
        type: fc.oneof(fc.constantFrom('registration', 'compliance', 'inventory', 'retire'), fc.jsonValue()),
        occurredAt: fc.oneof(
          fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
          fc.string(),
          fc.jsonValue(),
        ),
        platform: fc.oneof(fc.constantFrom('iOS', 'Android'), fc.jsonValue()),
        azureDeviceId: fc.oneof(fc.uuid(), fc.constant(null), fc.jsonValue()),
        clientStatusCode: fc.oneof(fc.constantFrom(...CLIENT_STATUS_CODES), fc.jsonValue()),
        actions: fc.oneof(fc.array(fc.constantFrom(...POLICY_ACTIONS, 'X')), fc.jsonValue()),
        inventory: fc.oneof(
          fc.record({ deviceName: fc.string(), os: fc.string(), osVersion: fc.jsonValue(), ownership: fc.string() }, { requiredKeys: [] }),
          fc.jsonValue(),
        ),
        deviceId: fc.oneof(fc.string(), fc.jsonValue()),
      },
      { requiredKeys: [] },
    );

    it('never throws, and either validates or gives at least one error with a string path', function () {
      this.timeout(60_000);
      fc.assert(
        fc.property(fc.oneof(fc.jsonValue(), eventLike), (input) => {
          for (const result of [validateDeviceEvent(input, { now: NOW }), validateBatchEventItem(input, { now: NOW })]) {
            if (!result.ok) {
              assert.ok(result.errors.length >= 1);
              for (const e of result.errors) {
                assert.equal(typeof e.path, 'string');
                assert.equal(typeof e.message, 'string');
                assert.ok(e.message.length > 0);
              }
            }
          }
          const batch = validateBatchEvents({ events: [input] }, { now: NOW });
          assert.equal(batch.ok, true);
        }),
        { numRuns: 2000 },
      );
    });

    it('accepts every well-formed event it generates', () => {
      const wellFormed = fc.oneof(
        fc.record({
          type: fc.constant('compliance'),
          occurredAt: fc
            .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date(NOW), noInvalidDate: true })
            .map((d) => d.toISOString()),
          actions: fc.array(fc.constantFrom(...POLICY_ACTIONS), { maxLength: 5 }),
        }),
        fc.record({
          type: fc.constant('registration'),
          occurredAt: fc.constant(AT),
          platform: fc.constantFrom('iOS', 'Android'),
          azureDeviceId: fc.uuid(),
          clientStatusCode: fc.constantFrom(...CLIENT_STATUS_CODES),
        }),
      );
      fc.assert(
        fc.property(wellFormed, (event) => {
          assert.deepEqual(validateDeviceEvent(event, { now: NOW }), { ok: true, event: { ...event } });
        }),
      );
    });
  });
});

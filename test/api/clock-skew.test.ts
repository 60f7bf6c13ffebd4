/**
 * MAX_CLOCK_SKEW at the API: an event whose occurredAt is more than the skew ahead of the server's
 * clock is refused with 400 naming occurredAt (single route, and per item of a batch) and never reaches
 * Temporal; one just inside is accepted. The server's clock is fixed through ApiDeps.now.
 */
import { strict as assert } from 'node:assert';
import { call, makeApi, problemOf, validEvents } from './helpers';

const NOW = Date.parse('2026-11-28T12:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

describe('API: MAX_CLOCK_SKEW', () => {
  for (const [setting, skewMs, words] of [
    [undefined, 5 * 60_000, '5 minutes'],
    ['PT90S', 90_000, '90 seconds'],
  ] as const) {
    describe(setting === undefined ? 'default (PT5M)' : `MAX_CLOCK_SKEW=${setting}`, () => {
      const makeAt = () => makeApi({ now: () => NOW, env: setting === undefined ? {} : { MAX_CLOCK_SKEW: setting } });
      const message = `Must not be more than ${words} ahead of the server's clock (check the clock of the MDM server)`;

      it('single event: exactly the skew ahead is accepted, one millisecond more is refused naming occurredAt', async () => {
        const api = makeAt();
        const inside = await call(api.app, 'POST', '/v1/devices/skew-1/events', {
          key: 'mdm',
          body: { ...validEvents.compliance(), occurredAt: iso(NOW + skewMs) },
        });
        assert.equal(inside.status, 202, await inside.text());
        assert.equal(api.temporal.signals.length, 1);

        const outside = await call(api.app, 'POST', '/v1/devices/skew-1/events', {
          key: 'mdm',
          body: { ...validEvents.compliance(), occurredAt: iso(NOW + skewMs + 1) },
        });
        assert.equal(outside.status, 400);
        const problem = await problemOf(outside);
        assert.equal(problem.type, 'https://azure-compliance-connector/problems/validation');
        assert.deepEqual(problem.errors, [{ path: 'occurredAt', message }]);
        assert.equal(api.temporal.signalAttempts.length, 1, 'the refused event never reached Temporal');
      });

      it('batch: the item just outside is rejected naming occurredAt, the one just inside accepted', async () => {
        const api = makeAt();
        const res = await call(api.app, 'POST', '/v1/events', {
          key: 'mdm',
          body: {
            events: [
              { deviceId: 'skew-a', ...validEvents.retire(), occurredAt: iso(NOW + skewMs) },
              { deviceId: 'skew-b', ...validEvents.retire(), occurredAt: iso(NOW + skewMs + 1) },
            ],
          },
        });
        assert.equal(res.status, 202);
        const { results } = (await res.json()) as {
          results: Array<{ index: number; deviceId: string; status: string; error?: { errors: unknown[] } }>;
        };
        assert.deepEqual(
          results.map((r) => [r.index, r.deviceId, r.status, r.error?.errors ?? null]),
          [
            [0, 'skew-a', 'accepted', null],
            [1, 'skew-b', 'rejected', [{ path: 'occurredAt', message }]],
          ],
        );
        assert.deepEqual(
          api.temporal.signals.map((s) => s.options.workflowId.endsWith('skew-a')),
          [true],
        );
      });
    });
  }
});

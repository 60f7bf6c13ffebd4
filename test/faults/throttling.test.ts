/**
 * A 429 storm (every Intune call answered 429 with Retry-After: 2) under load: no accepted event is
 * lost, every device ends right, and no retry came sooner than Retry-After allowed (emulator journal;
 * bench/faults/scenarios/microsoft-throttling.ts).
 */
import assert from 'node:assert/strict';
import { microsoftThrottling } from '../../bench/faults/scenarios/microsoft-throttling';
import { faultRunHooks } from './helpers';

describe('faults: Microsoft throttling', function () {
  this.timeout(300_000);
  const runFaultAndCheck = faultRunHooks('throttle');

  it('every Intune call throttled for 8 s: no accepted event lost, every device right, every Retry-After honoured', async () => {
    const r = await runFaultAndCheck(microsoftThrottling({ forMs: 8_000 }));
    assert.ok(r.microsoft.retryAfter.retried > 0, 'throttled calls were retried during the fault');
    assert.equal(
      r.microsoft.retryAfter.early,
      0,
      `retries sooner than Retry-After (shortest wait ${String(r.microsoft.retryAfter.shortestGapMs)} ms)`,
    );
  });
});

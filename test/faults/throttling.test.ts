/**
 * A 429 storm (every Intune call answered 429 with Retry-After: 2) under load: no accepted event is
 * lost, every device ends right, and no retry came sooner than Retry-After allowed (emulator journal;
 * bench/faults/scenarios/microsoft-throttling.ts).
 */
import assert from 'node:assert/strict';
import { runFault } from '../../bench/faults/scenario';
import { microsoftThrottling } from '../../bench/faults/scenarios/microsoft-throttling';
import { startFaultRun, TEST_TIMING, type FaultRun } from './helpers';

describe('faults: Microsoft throttling', function () {
  this.timeout(300_000);
  let run: FaultRun | undefined;

  before(async () => {
    run = await startFaultRun({ name: 'throttle', devices: 16, ratePerSecond: 6 });
    assert.equal(await run.warmUp(), 0, 'every device is right before the fault');
  });

  after(async () => {
    await run?.stop();
  });

  it('every Intune call throttled for 8 s: no accepted event lost, every device right, every Retry-After honoured', async () => {
    const r = await runFault(run!.ctx, microsoftThrottling({ forMs: 8_000 }), TEST_TIMING);
    const wrong = r.invariant.wrongDevices.map((w) => `${w.deviceId}: ${[...w.problems, ...w.lost].join('; ')}`);
    assert.ok(r.microsoft.retryAfter.retried > 0, 'throttled calls were retried during the fault');
    assert.deepEqual(
      { lost: r.invariant.lost, wrong: r.invariant.wrong, unresolved: r.invariant.unresolved, earlyRetries: r.microsoft.retryAfter.early, wrongDevices: wrong },
      { lost: 0, wrong: 0, unresolved: 0, earlyRetries: 0, wrongDevices: [] },
    );
  });
});

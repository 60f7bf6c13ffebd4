/**
 * A real restart of the Temporal dev server on the same data, under load: no accepted event is lost
 * and every device ends right (bench/faults/scenarios/temporal-restart.ts). Events the API refused
 * with 503 while Temporal was down were sent again until accepted.
 */
import assert from 'node:assert/strict';
import { runFault } from '../../bench/faults/scenario';
import { temporalRestart } from '../../bench/faults/scenarios/temporal-restart';
import { startFaultRun, TEST_TIMING, type FaultRun } from './helpers';

describe('faults: Temporal dev-server restart', function () {
  this.timeout(300_000);
  let run: FaultRun | undefined;

  before(async () => {
    run = await startFaultRun({ name: 'restart', devices: 16, ratePerSecond: 6 });
    assert.equal(await run.warmUp(), 0, 'every device is right before the fault');
  });

  after(async () => {
    await run?.stop();
  });

  it('a dev server stopped and started again on the same SQLite file loses no accepted event and leaves every device right', async () => {
    const r = await runFault(run!.ctx, temporalRestart({ downMs: 2_000 }), TEST_TIMING);
    const wrong = r.invariant.wrongDevices.map((w) => `${w.deviceId}: ${[...w.problems, ...w.lost].join('; ')}`);
    assert.ok(r.load.accepted > 0, 'the load ran during the fault');
    assert.deepEqual(
      { lost: r.invariant.lost, wrong: r.invariant.wrong, unresolved: r.invariant.unresolved, otherStatus: r.load.otherStatus, wrongDevices: wrong },
      { lost: 0, wrong: 0, unresolved: 0, otherStatus: {}, wrongDevices: [] },
    );
  });
});

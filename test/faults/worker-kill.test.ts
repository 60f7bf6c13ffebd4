/**
 * Worker SIGKILL mid-report and mid-sweep, under load: no accepted event is lost and every device
 * ends right at Microsoft and in `GET /v1/devices/{id}` (bench/faults/scenarios/worker-kill.ts).
 */
import assert from 'node:assert/strict';
import { runFault } from '../../bench/faults/scenario';
import { workerKill } from '../../bench/faults/scenarios/worker-kill';
import { startFaultRun, TEST_TIMING, type FaultRun } from './helpers';

describe('faults: worker SIGKILL', function () {
  this.timeout(300_000);
  let run: FaultRun | undefined;

  before(async () => {
    run = await startFaultRun({ name: 'kill', devices: 16, ratePerSecond: 6 });
    assert.equal(await run.warmUp(), 0, 'every device is right before the fault');
  });

  after(async () => {
    await run?.stop();
  });

  it('a worker killed mid-report and again mid-sweep loses no accepted event and leaves every device right', async () => {
    const r = await runFault(run!.ctx, workerKill({ sweepSignalMs: 1_000 }), TEST_TIMING);
    const wrong = r.invariant.wrongDevices.map((w) => `${w.deviceId}: ${[...w.problems, ...w.lost].join('; ')}`);
    assert.ok(r.load.accepted > 0, 'the load ran during the fault');
    assert.deepEqual(
      { lost: r.invariant.lost, wrong: r.invariant.wrong, unresolved: r.invariant.unresolved, otherStatus: r.load.otherStatus, wrongDevices: wrong },
      { lost: 0, wrong: 0, unresolved: 0, otherStatus: {}, wrongDevices: [] },
    );
  });
});

/**
 * Worker SIGKILL mid-report and mid-sweep, under load: no accepted event is lost and every device
 * ends right at Microsoft and in `GET /v1/devices/{id}` (bench/faults/scenarios/worker-kill.ts).
 */
import { workerKill } from '../../bench/faults/scenarios/worker-kill';
import { faultRunHooks } from './helpers';

describe('faults: worker SIGKILL', function () {
  this.timeout(300_000);
  const runFaultAndCheck = faultRunHooks('kill');

  it('a worker killed mid-report and again mid-sweep loses no accepted event and leaves every device right', async () => {
    await runFaultAndCheck(workerKill({ sweepSignalMs: 1_000 }));
  });
});

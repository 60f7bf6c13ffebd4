/**
 * A real restart of the Temporal dev server on the same data, under load: no accepted event is lost
 * and every device ends right (bench/faults/scenarios/temporal-restart.ts). Events the API refused
 * with 503 while Temporal was down were sent again until accepted.
 */
import { temporalRestart } from '../../bench/faults/scenarios/temporal-restart';
import { faultRunHooks } from './helpers';

describe('faults: Temporal dev-server restart', function () {
  this.timeout(300_000);
  const runFaultAndCheck = faultRunHooks('restart');

  it('a dev server stopped and started again on the same SQLite file loses no accepted event and leaves every device right', async () => {
    await runFaultAndCheck(temporalRestart({ downMs: 2_000 }));
  });
});

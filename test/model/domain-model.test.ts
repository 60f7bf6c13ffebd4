/**
 * Model-based test of the pure domain: thousands of random device lives (registrations with every
 * client status code and changing Azure device ids, policy actions, inventory, retire and
 * re-enrolment, duplicates, re-deliveries, out-of-order times, reporting off/on, syncs, Microsoft
 * faults) played through the workflow loop on the domain functions (domain-driver.ts), each judged
 * against the reference model: the API's answers, Microsoft's final state per Azure device id, the
 * LastUpdateTime of every upload and the read model. The known lives (known-lives.ts) run first.
 */
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { mixedSequenceArb } from './generators';
import { KNOWN_LIVES } from './known-lives';
import { simulate } from './domain-simulation';

const SEED = Number(process.env.MODEL_SEED ?? 20261202);
const RUNS = Number(process.env.MODEL_RUNS ?? 5000);

describe('model: the pure domain against the reference model', function () {
  this.timeout(300_000);

  for (const [name, life] of Object.entries(KNOWN_LIVES)) {
    it(name, () => {
      const run = simulate(life);
      assert.deepEqual(run.problems, [], `steps:\n${run.trace.map((line) => `  ${line}`).join('\n')}`);
    });
  }

  it(`every random device life ends as the rules say (seed ${SEED}, ${RUNS} sequences)`, () => {
    let sequences = 0;
    let events = 0;
    const result = fc.check(
      fc.property(mixedSequenceArb(1, 16), (sequence) => {
        const run = simulate(sequence);
        sequences++;
        events += run.events;
        if (run.problems.length > 0) throw new Error(run.problems.join('\n'));
      }),
      { seed: SEED, numRuns: RUNS },
    );
    console.log(`      model (pure): ${sequences} sequences, ${events} events simulated (seed ${SEED})`);
    if (result.failed) {
      const trace = simulate(result.counterexample![0]).trace;
      assert.fail(
        `seed ${SEED}, path ${result.counterexamplePath}: after ${result.numShrinks} shrinks\n` +
          `${result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance)}\nsteps:\n` +
          trace.map((line) => `  ${line}`).join('\n'),
      );
    }
  });
});

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
import { simulate, type GraceConfig } from './domain-simulation';

const SEED = Number(process.env.MODEL_SEED ?? 20261202);
const RUNS = Number(process.env.MODEL_RUNS ?? 5000);

/** Grace periods a tenant may give the non-compliance actions, in both readings (ISO 8601 for the product, ms for the model). */
const GRACE_CHOICES = [
  { iso: 'PT30M', ms: 30 * 60_000 },
  { iso: 'PT6H', ms: 6 * 3_600_000 },
  { iso: 'P1D', ms: 24 * 3_600_000 },
  { iso: 'P2D', ms: 48 * 3_600_000 },
  { iso: 'P7D', ms: 7 * 24 * 3_600_000 },
];
const graceConfigArb: fc.Arbitrary<GraceConfig> = fc
  .record(
    {
      QUARANTINE: fc.constantFrom(...GRACE_CHOICES),
      BLOCK_APPCONNECT: fc.constantFrom(...GRACE_CHOICES),
      BLOCK_EMAIL: fc.constantFrom(...GRACE_CHOICES),
    },
    { requiredKeys: [] },
  )
  .map((chosen) => ({
    periods: Object.fromEntries(Object.entries(chosen).map(([a, g]) => [a, g.iso])),
    ms: Object.fromEntries(Object.entries(chosen).map(([a, g]) => [a, g.ms])),
  }));

/** Fails with fast-check's shrunk counterexample and the steps it ran. */
function failWith<T>(result: fc.RunDetails<T>, trace: string[]): never {
  assert.fail(
    `seed ${SEED}, path ${result.counterexamplePath}: after ${result.numShrinks} shrinks\n` +
      `${result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance)}\nsteps:\n` +
      trace.map((line) => `  ${line}`).join('\n'),
  );
}

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
      failWith(result, trace);
    }
  });

  it(`with grace periods, Microsoft keeps a device compliant only inside a grace window, and every rule holds after it (seed ${SEED}, ${Math.ceil(RUNS / 5)} sequences)`, () => {
    let windows = 0;
    const result = fc.check(
      fc.property(mixedSequenceArb(1, 16), graceConfigArb, (sequence, grace) => {
        const run = simulate(sequence, grace);
        if (run.graceWindowOpen) windows++;
        if (run.problems.length > 0) throw new Error(run.problems.join('\n'));
      }),
      { seed: SEED, numRuns: Math.ceil(RUNS / 5) },
    );
    console.log(`      model (pure, grace periods): ${windows} lives ended inside an open grace window (seed ${SEED})`);
    assert.ok(windows > 0, 'some lives end inside a grace window, or this test judges nothing of it');
    if (result.failed) {
      const [sequence, grace] = result.counterexample!;
      const trace = [`grace periods ${JSON.stringify(grace.periods)}`, ...simulate(sequence, grace).trace];
      failWith(result, trace);
    }
  });
});

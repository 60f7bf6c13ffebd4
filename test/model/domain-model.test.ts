/**
 * Model-based test of the pure domain: thousands of random device lives (registrations with every
 * client status code and changing Azure device ids, policy actions, inventory, retire and
 * re-enrolment, duplicates, re-deliveries, out-of-order times, reporting off/on, syncs, Microsoft
 * faults) played through the workflow loop on the domain functions (domain-driver.ts), each judged
 * against the reference model: the API's answers, Microsoft's final state per Azure device id, the
 * LastUpdateTime of every upload and the read model. Known ways to leave Microsoft more permissive
 * than the MDM are replayed as fixed lives first.
 */
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { mixedSequenceArb, type AbstractEvent, type GlobalStep, type MixedStep } from './generators';
import { simulate } from './domain-simulation';
import type { ClientStatusCode, PolicyAction } from './reference-model';

const SEED = Number(process.env.MODEL_SEED ?? 20261202);
const RUNS = Number(process.env.MODEL_RUNS ?? 5000);

/** A device step one second after the newest, then `ticks` steps of the workflow. */
const at = (event: AbstractEvent, ticks: number): MixedStep => ({ kind: 'device', step: { kind: 'new', event, time: { kind: 'later', byMs: 1_000 }, offsetZone: false, ticks } });
const older = (event: AbstractEvent, byMs: number, ticks: number): MixedStep => ({ kind: 'device', step: { kind: 'new', event, time: { kind: 'older', byMs }, offsetZone: false, ticks } });
const global = (step: GlobalStep): MixedStep => ({ kind: 'global', step });
const registration = (id: number, code: ClientStatusCode = 'Success'): AbstractEvent => ({ type: 'registration', id, code, user: 0, platform: 'iOS' });
const compliance = (...actions: PolicyAction[]): AbstractEvent => ({ type: 'compliance', actions });
const retire: AbstractEvent = { type: 'retire' };
const SETTLED = 20;

/** Lives the rules decide one way and a careless workflow another; each must end as the model says. */
const KNOWN_LIVES: Record<string, MixedStep[]> = {
  're-enrolment: a compliance event right after the re-registration is not refused (API side)': [
    at(registration(0), SETTLED), at(retire, SETTLED), at(registration(0), 0), at(compliance('QUARANTINE'), 0),
  ],
  're-enrolment: events drained with the pending re-registration belong to the next lifecycle': [
    at(registration(0), SETTLED), at(retire, 0), at(registration(0), 0), at(compliance('QUARANTINE'), 0),
  ],
  'a registration older than the retire does not resurrect the device': [
    at(registration(0), SETTLED), at(retire, SETTLED), older(registration(1), 500, SETTLED),
  ],
  'a retire older than the re-registration does not retire the re-enrolled device': [
    at(registration(0), SETTLED), at(retire, SETTLED), at(registration(0), SETTLED), older(retire, 1_500, SETTLED),
  ],
  'a retire while reporting is off is sent when it is switched back on': [
    at(registration(0), SETTLED), global({ kind: 'reporting', enabled: false }), at(retire, SETTLED), global({ kind: 'reporting', enabled: true }),
  ],
  'a retire whose upload ends Failed is sent again until Microsoft confirms it': [
    at(registration(0), SETTLED), global({ kind: 'microsoft', fault: 'failedMessages' }), at(retire, SETTLED), global({ kind: 'microsoft', fault: null }),
  ],
  'a retire while Microsoft is down for longer than the retries is sent once it is back': [
    at(registration(0), SETTLED), global({ kind: 'microsoft', fault: 'unavailable' }), at(retire, SETTLED), global({ kind: 'microsoft', fault: null }),
  ],
  'a failing registration does not swallow RETIRE for the id reported before': [
    at(registration(0), SETTLED), at(registration(0, 'Account_logged_out'), SETTLED), at(compliance('RETIRE'), SETTLED),
  ],
  'a failing registration does not swallow QUARANTINE for the id reported before': [
    at(registration(0), SETTLED), at(registration(0, 'Account_logged_out'), SETTLED), at(compliance('QUARANTINE'), SETTLED),
  ],
  'a re-report of an unchanged state carries a newer LastUpdateTime than the report before it': [
    at(registration(0), SETTLED), global({ kind: 'sync' }),
  ],
  'no stale client-status error next to Successful after a later Success registration': [
    at(registration(0), 1), at(registration(0, 'Internal_Error'), 1), at(registration(0), SETTLED),
  ],
};

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

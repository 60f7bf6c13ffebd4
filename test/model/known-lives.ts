/**
 * Device lives the rules decide one way and a careless implementation another: each has left
 * Microsoft more permissive than the MDM (or the admin's view untrue) at some point. Both model tests
 * replay them before the random ones. Times are one second apart unless `older`; `ticks` is how far
 * the workflow gets before the next step.
 */
import type { AbstractDeviceStep, AbstractEvent, GlobalStep, MixedStep, StackRun } from './generators';
import type { ClientStatusCode, PolicyAction } from './reference-model';

const at = (event: AbstractEvent, ticks: number): MixedStep => ({
  kind: 'device',
  step: { kind: 'new', event, time: { kind: 'later', byMs: 1_000 }, offsetZone: false, ticks },
});
const older = (event: AbstractEvent, byMs: number, ticks: number): MixedStep => ({
  kind: 'device',
  step: { kind: 'new', event, time: { kind: 'older', byMs }, offsetZone: false, ticks },
});
const global = (step: GlobalStep): MixedStep => ({ kind: 'global', step });
const registration = (id: number, code: ClientStatusCode = 'Success'): AbstractEvent => ({
  type: 'registration',
  id,
  code,
  user: 0,
  platform: 'iOS',
});
const compliance = (...actions: PolicyAction[]): AbstractEvent => ({ type: 'compliance', actions });
const retire: AbstractEvent = { type: 'retire' };
/** Enough ticks (or, on the real stack, time) for the workflow to finish what it was doing. */
const SETTLED = 20;

export const KNOWN_LIVES: Record<string, MixedStep[]> = {
  're-enrolment: a compliance event right after the re-registration is not refused (API side)': [
    at(registration(0), SETTLED),
    at(retire, SETTLED),
    at(registration(0), 0),
    at(compliance('QUARANTINE'), 0),
  ],
  're-enrolment: events drained with the pending re-registration belong to the next lifecycle': [
    at(registration(0), SETTLED),
    at(retire, 0),
    at(registration(0), 0),
    at(compliance('QUARANTINE'), 0),
  ],
  'a registration older than the retire does not resurrect the device': [
    at(registration(0), SETTLED),
    at(retire, SETTLED),
    older(registration(1), 500, SETTLED),
  ],
  'a retire older than the re-registration does not retire the re-enrolled device': [
    at(registration(0), SETTLED),
    at(retire, SETTLED),
    at(registration(0), SETTLED),
    older(retire, 1_500, SETTLED),
  ],
  'a retire while reporting is off is sent when it is switched back on': [
    at(registration(0), SETTLED),
    global({ kind: 'reporting', enabled: false }),
    at(retire, SETTLED),
    global({ kind: 'reporting', enabled: true }),
  ],
  'a retire whose upload ends Failed is sent again until Microsoft confirms it': [
    at(registration(0), SETTLED),
    global({ kind: 'microsoft', fault: 'failedMessages' }),
    at(retire, SETTLED),
    global({ kind: 'microsoft', fault: null }),
  ],
  'a retire while Microsoft is down is sent once it is back': [
    at(registration(0), SETTLED),
    global({ kind: 'microsoft', fault: 'unavailable' }),
    at(retire, SETTLED),
    global({ kind: 'microsoft', fault: null }),
  ],
  'a failing registration does not swallow RETIRE for the id reported before': [
    at(registration(0), SETTLED),
    at(registration(0, 'Account_logged_out'), SETTLED),
    at(compliance('RETIRE'), SETTLED),
  ],
  'a failing registration does not swallow QUARANTINE for the id reported before': [
    at(registration(0), SETTLED),
    at(registration(0, 'Account_logged_out'), SETTLED),
    at(compliance('QUARANTINE'), SETTLED),
  ],
  'a re-report of an unchanged state carries a newer LastUpdateTime than the report before it': [
    at(registration(0), SETTLED),
    global({ kind: 'sync' }),
  ],
  'no stale client-status error next to Successful after a later Success registration': [
    at(registration(0), 1),
    at(registration(0, 'Internal_Error'), 1),
    at(registration(0), SETTLED),
  ],
};

/** A life as a real-stack run of one device: every global step starts a new round. */
export function asStackRun(life: readonly MixedStep[]): StackRun {
  const rounds: AbstractDeviceStep[][] = [[]];
  const between: GlobalStep[][] = [[]];
  for (const s of life) {
    if (s.kind === 'device') rounds[rounds.length - 1]!.push(s.step);
    else if (rounds[rounds.length - 1]!.length === 0) between[between.length - 1]!.push(s.step);
    else {
      rounds.push([]);
      between.push([s.step]);
    }
  }
  return { devices: [rounds], between };
}

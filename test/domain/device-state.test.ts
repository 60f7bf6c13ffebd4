import assert from 'node:assert/strict';
import {
  applyEvent,
  blockReport,
  desiredPayload,
  initialState,
  lookupsFor,
  nextStep,
  nextUpdateTime,
  owesMicrosoft,
  rememberLookups,
  reportFailed,
  reportSucceeded,
  requestReport,
  skipReport,
  startReport,
  type DeviceState,
} from '../../domain/device-state';
import type { DeviceEvent } from '../../domain/events';
import { projectionOf } from '../../workflows/device-views';
import { reportPriority } from '../../workflows/priorities';
import { AZ, at, comp, reg } from './device-events';

function apply(state: DeviceState, ...events: DeviceEvent[]): DeviceState {
  return events.reduce((s, e) => applyEvent(s, e).state, state);
}

/** Runs the report the state asks for to a successful end. */
function reportOk(state: DeviceState, completedAt = at()): DeviceState {
  const step = nextStep(state);
  assert.equal(step.kind, 'report');
  if (step.kind !== 'report') throw new Error('unreachable');
  return reportSucceeded(startReport(state, step.payload, at()), step.payload, completedAt);
}

describe('domain/device-state: the Azure Device Details rules of docs/product-rules.md', () => {
  const fresh = () => initialState('tenant', 'mdm-1', 1_000);

  it('reads null status and report time before anything was received', () => {
    const s = fresh();
    assert.equal(s.status, null);
    assert.equal(s.reportTime, null);
    assert.deepEqual(nextStep(s), { kind: 'idle' });
  });

  it('holds a compliance state In-progress with nothing to send until a registration arrives', () => {
    const s = apply(fresh(), comp(['QUARANTINE']));
    assert.equal(s.status, 'In-progress');
    assert.equal(s.reportTime, null);
    assert.equal(desiredPayload(s), null);
    assert.deepEqual(nextStep(s), { kind: 'idle' });
  });

  it('reports managed + notCompliant once a Success registration arrives, triggered by the registration', () => {
    const s = apply(fresh(), comp(['QUARANTINE']), reg());
    const step = nextStep(s);
    assert.equal(step.kind, 'report');
    assert.deepEqual(step.kind === 'report' && [step.trigger, step.payload.managementState, step.payload.complianceStatus], [
      'registration',
      'managed',
      'notCompliant',
    ]);
  });

  it('is Successful with the report time Microsoft confirmed, and keeps lastSuccessfulReportAt', () => {
    const completedAt = '2026-11-28T11:00:02.120Z';
    const s = reportOk(apply(fresh(), reg()), completedAt);
    assert.equal(s.status, 'Successful');
    assert.equal(s.reportTime, completedAt);
    assert.equal(s.lastSuccessfulReportAt, completedAt);
    assert.equal(s.lastError, null);
    assert.deepEqual(nextStep(s), { kind: 'idle' });
  });

  it('goes In-progress with a blank report time when a new state arrives, and back to the last outcome when it flips back', () => {
    const ok = reportOk(apply(fresh(), reg(), comp([])));
    const changed = apply(ok, comp(['BLOCK_EMAIL']));
    assert.equal(changed.status, 'In-progress');
    assert.equal(changed.reportTime, null);
    assert.equal(changed.lastSuccessfulReportAt, ok.lastSuccessfulReportAt);
    const back = apply(changed, comp(['SEND_ALERT']));
    assert.equal(back.status, 'Successful');
    assert.equal(back.reportTime, ok.reportTime);
    assert.deepEqual(nextStep(back), { kind: 'idle' });
  });

  it('does not report a change that leaves what Microsoft is told unchanged (BLOCK_EMAIL → QUARANTINE)', () => {
    const ok = reportOk(apply(fresh(), reg(), comp(['BLOCK_EMAIL'])));
    const s = apply(ok, comp(['QUARANTINE']));
    assert.equal(projectionOf(s).policyAction, 'QUARANTINE');
    assert.equal(s.status, 'Successful');
    assert.deepEqual(nextStep(s), { kind: 'idle' });
  });

  it('reports again after a report completes when a newer state arrived meanwhile', () => {
    const s0 = apply(fresh(), reg());
    const step = nextStep(s0);
    if (step.kind !== 'report') throw new Error('expected a report');
    const inFlight = startReport(s0, step.payload, at());
    const newer = apply(inFlight, comp(['QUARANTINE']));
    const done = reportSucceeded(newer, step.payload, at());
    assert.equal(done.status, 'In-progress');
    assert.equal(done.reportTime, null);
    const again = nextStep(done);
    assert.equal(again.kind === 'report' && again.payload.complianceStatus, 'notCompliant');
  });

  it('fails a device whose client status is not Success, with the client error, and reports once it is fixed', () => {
    const s = apply(fresh(), comp([]), reg({ azureDeviceId: null, clientStatusCode: 'User_Canceled' }));
    assert.equal(s.status, 'Failed');
    assert.equal(s.reportTime, null);
    assert.equal(s.lastError?.code, 'User_Canceled');
    assert.equal(s.lastError?.userCanMitigate, true);
    assert.deepEqual(nextStep(s), { kind: 'idle' }, 'nothing can be sent, and the status already says why');
    // A report asked for regardless (weekly, manual) is recorded as blocked, with the client's error.
    const weekly = nextStep(requestReport(s, 'weekly', 'op-w'));
    assert.equal(weekly.kind === 'blocked' && weekly.error?.code, 'User_Canceled');
    const blocked = blockReport(requestReport(s, 'weekly', 'op-w'));
    assert.deepEqual(nextStep(blocked), { kind: 'idle' });
    const fixed = apply(blocked, reg());
    assert.equal(fixed.status, 'In-progress');
    assert.equal(nextStep(fixed).kind, 'report');
  });

  it('is Failed with a blank report time when Microsoft rejects the report, keeping lastSuccessfulReportAt', () => {
    const ok = reportOk(apply(fresh(), reg()));
    const s1 = apply(ok, comp(['QUARANTINE']));
    const step = nextStep(s1);
    if (step.kind !== 'report') throw new Error('expected a report');
    const failed = reportFailed(startReport(s1, step.payload, at()), {
      code: 'DeviceNotFound',
      message: 'x',
      userCanMitigate: true,
      remediation: 'y',
    });
    assert.equal(failed.status, 'Failed');
    assert.equal(failed.reportTime, null);
    assert.equal(failed.lastSuccessfulReportAt, ok.lastSuccessfulReportAt);
    assert.deepEqual(nextStep(failed), { kind: 'idle' }, 'a rejected state is not resent until something changes or a report is asked for');
  });

  it('re-reports an unchanged state for the weekly report, staying Successful meanwhile, with a newer report time after', () => {
    const ok = reportOk(apply(fresh(), reg()));
    const weekly = requestReport(ok, 'weekly', 'op-1');
    const step = nextStep(weekly);
    assert.equal(step.kind === 'report' && step.trigger, 'weekly');
    if (step.kind !== 'report') throw new Error('unreachable');
    const inFlight = startReport(weekly, step.payload, at());
    assert.equal(inFlight.status, 'Successful');
    assert.equal(inFlight.reportTime, ok.reportTime);
    const later = '2026-12-05T06:00:03.000Z';
    const done = reportSucceeded(inFlight, step.payload, later);
    assert.equal(done.reportTime, later);
  });

  it('takes each fleet operation into account once, however often it is signalled', () => {
    const ok = reportOk(apply(fresh(), reg()));
    const once = requestReport(ok, 'weekly', 'op-1');
    const step = nextStep(once);
    if (step.kind !== 'report') throw new Error('expected a report');
    const done = reportSucceeded(startReport(once, step.payload, at()), step.payload, at());
    assert.deepEqual(nextStep(requestReport(done, 'weekly', 'op-1')), { kind: 'idle' });
    assert.equal(nextStep(requestReport(done, 'weekly', 'op-2')).kind, 'report');
  });

  it('sends nothing while reporting is off, and reports the current state when asked after it is on again', () => {
    const s = apply(fresh(), reg());
    const skipped = skipReport(s);
    assert.equal(skipped.status, 'In-progress');
    assert.deepEqual(nextStep(skipped), { kind: 'idle' });
    const enabled = requestReport(skipped, 'enable', 'enable-1');
    const step = nextStep(enabled);
    assert.equal(step.kind === 'report' && step.trigger, 'enable');
  });

  it('ignores an event older than the newest applied of its kind', () => {
    const s = apply(fresh(), reg(), comp(['QUARANTINE'], '2026-11-28T12:00:00.000Z'));
    const result = applyEvent(s, comp([], '2026-11-28T11:00:00.000Z'));
    assert.equal(result.outcome, 'stale');
    assert.deepEqual(result.state.actions, ['QUARANTINE']);
    assert.equal(result.state.counters.eventsStale, 1);
  });

  it('reports notManaged + notCompliant on retirement and refuses any later event', () => {
    const ok = reportOk(apply(fresh(), reg()));
    const retired = apply(ok, { type: 'retire', occurredAt: at() });
    const step = nextStep(retired);
    assert.equal(
      step.kind === 'report' && `${step.trigger} ${step.payload.managementState} ${step.payload.complianceStatus}`,
      'retire notManaged notCompliant',
    );
    const later = applyEvent(retired, comp([]));
    assert.equal(later.outcome, 'refused');
    assert.equal(projectionOf(retired).managementState, 'notManaged');
  });

  it('treats the RETIRE action as a retirement', () => {
    const s = apply(fresh(), reg(), comp(['SEND_ALERT', 'RETIRE']));
    assert.notEqual(s.retiredAt, null);
    assert.equal(projectionOf(s).policyAction, 'RETIRE');
  });

  describe('Entra lookups kept between reports', () => {
    const lookups = { userPrincipalName: 'alex@contoso.com', azureDeviceId: AZ, userId: 'a1b2c3d4-0000-4000-8000-000000000001' };
    const payloadOf = (s: DeviceState) => desiredPayload(s)!;

    it('offers the kept user id for the same user and device, whatever the UPN case', () => {
      const s = rememberLookups(apply(fresh(), reg()), lookups);
      assert.deepEqual(lookupsFor(s, payloadOf(s)), lookups);
      const shouted = apply(s, reg({ userPrincipalName: 'ALEX@contoso.com' }));
      assert.deepEqual(lookupsFor(shouted, payloadOf(shouted)), lookups);
    });

    it('does not offer them once the device registers with another user or another Azure device id', () => {
      const s = rememberLookups(apply(fresh(), reg()), lookups);
      const otherUser = apply(s, reg({ userPrincipalName: 'sam@contoso.com' }));
      assert.equal(lookupsFor(otherUser, payloadOf(otherUser)), undefined);
      const otherDevice = apply(s, reg({ azureDeviceId: '11111111-2222-4333-8444-555555555555' }));
      assert.equal(lookupsFor(otherDevice, payloadOf(otherDevice)), undefined);
    });

    it('forgets them when Microsoft says the user or the device is unknown, and keeps them on other failures', () => {
      const s = rememberLookups(apply(fresh(), reg()), lookups);
      const error = (code: string) => ({ code, message: 'x', userCanMitigate: false, remediation: 'y' });
      assert.equal(reportFailed(s, error('UserNotFound')).entra, undefined);
      assert.equal(reportFailed(s, error('DeviceNotFound')).entra, undefined);
      assert.deepEqual(reportFailed(s, error('Transient')).entra, lookups);
    });
  });

  it('gives a changed device state the first priority, an admin sync the second, fleet sweeps the last', () => {
    for (const t of ['compliance', 'inventory', 'registration', 'retire'] as const) assert.equal(reportPriority(t), 1, t);
    assert.equal(reportPriority('manual'), 2);
    for (const t of ['weekly', 'enable', 'resync'] as const) assert.equal(reportPriority(t), 4, t);
  });

  describe('never more permissive than the MDM: lifecycles, former ids, retries', () => {
    const error = (code: string) => ({ code, message: 'x', userCanMitigate: false, remediation: 'y' });
    const OTHER = '11111111-2222-4333-8444-555555555555';
    const confirmedRetire = (s: DeviceState) => reportOk(s);

    it('opens the next lifecycle with a registration at or after the retire, carrying ordering, attempts and the write version', () => {
      const retired = confirmedRetire(apply(reportOk(apply(fresh(), reg())), { type: 'retire', occurredAt: at() }));
      const r = applyEvent(retired, reg());
      assert.equal(r.outcome, 'applied');
      assert.equal(r.state.retiredAt, null);
      assert.equal(r.state.lifecycle, 2);
      assert.equal(r.state.closedAt, retired.retiredAt);
      assert.equal(r.state.attempts, retired.attempts);
      assert.deepEqual(r.state.actions, []);
      assert.equal(nextStep(r.state).kind, 'report');
    });

    it('holds a re-registration while the retire still owes Microsoft its removal', () => {
      const retiring = apply(reportOk(apply(fresh(), reg())), { type: 'retire', occurredAt: at() });
      assert.equal(applyEvent(retiring, reg()).outcome, 'held');
      assert.equal(owesMicrosoft(retiring), true);
    });

    it('treats an event older than the retire that closed the previous lifecycle as stale, and a retire older than the re-registration too', () => {
      const oldReg = reg();
      const lateRetire = at();
      const retired = confirmedRetire(apply(reportOk(apply(fresh(), oldReg)), { type: 'retire', occurredAt: at() }));
      assert.equal(applyEvent(retired, oldReg).outcome, 'stale', 'a re-delivered registration cannot resurrect the device');
      const reborn = apply(retired, reg());
      assert.equal(applyEvent(reborn, { type: 'retire', occurredAt: lateRetire }).outcome, 'stale');
      assert.equal(applyEvent(reborn, comp(['RETIRE'], lateRetire)).outcome, 'stale');
      assert.equal(
        applyEvent(reborn, comp(['QUARANTINE'], lateRetire)).outcome,
        'stale',
        'older than the retire that closed the lifecycle',
      );
    });

    it('refuses every event but a registration on a retired device', () => {
      const retired = confirmedRetire(apply(reportOk(apply(fresh(), reg())), { type: 'retire', occurredAt: at() }));
      assert.equal(applyEvent(retired, comp(['QUARANTINE'])).outcome, 'refused');
    });

    it('sends non-compliance and the removal to the Azure device id reported before, while the latest registration fails', () => {
      const reported = reportOk(apply(fresh(), reg()));
      const failing = apply(reported, reg({ clientStatusCode: 'Account_logged_out' }));
      assert.equal(failing.status, 'Failed');
      assert.equal(nextStep(failing).kind, 'blocked', 'the timeline shows why nothing is sent');
      const loggedOut = blockReport(failing);
      assert.equal(nextStep(loggedOut).kind, 'idle', 'nothing more permissive is sent');
      const quarantined = apply(loggedOut, comp(['QUARANTINE']));
      const step = nextStep(quarantined);
      assert.ok(step.kind === 'report' && step.former === true);
      assert.deepEqual(
        step.kind === 'report' && [step.payload.azureDeviceId, step.payload.managementState, step.payload.complianceStatus],
        [AZ, 'managed', 'notCompliant'],
      );
      const sent = reportSucceeded(
        startReport(quarantined, step.kind === 'report' ? step.payload : null!, at(), true),
        step.kind === 'report' ? step.payload : null!,
        at(),
        true,
      );
      assert.equal(nextStep(sent).kind, 'idle');
      assert.equal(nextStep(apply(sent, comp([]))).kind, 'idle', 'a change back to compliant is not sent to a former id');
      const retired = apply(sent, comp(['RETIRE']));
      const removal = nextStep(retired);
      assert.ok(removal.kind === 'report' && removal.former === true && removal.payload.managementState === 'notManaged');
      assert.equal(owesMicrosoft(retired), true);
    });

    it('sends non-compliance to the old Azure device id after the registration moves to a new one', () => {
      const reported = reportOk(apply(fresh(), reg()));
      const moved = reportOk(apply(reported, reg({ azureDeviceId: OTHER })));
      assert.equal(nextStep(moved).kind, 'idle');
      const blocked = apply(moved, comp(['BLOCK_EMAIL']));
      const first = nextStep(blocked);
      assert.ok(first.kind === 'report' && !first.former && first.payload.azureDeviceId === OTHER);
      const afterCurrent = reportSucceeded(startReport(blocked, first.payload, at()), first.payload, at());
      const second = nextStep(afterCurrent);
      assert.ok(
        second.kind === 'report' &&
          second.former === true &&
          second.payload.azureDeviceId === AZ &&
          second.payload.complianceStatus === 'notCompliant',
      );
    });

    it('retries a retryable failure and a failed removal, not a permanent failure of a permissive state', () => {
      const s = apply(fresh(), reg());
      const step = nextStep(s);
      assert.ok(step.kind === 'report');
      const started = startReport(s, step.payload, at());
      const transient = reportFailed(started, error('Transient'), step.payload, false, 'registration');
      assert.deepEqual(nextStep(transient), { kind: 'report', trigger: 'registration', payload: step.payload, retryOf: 1 });
      assert.deepEqual(nextStep(reportFailed(started, error('InvalidRequest'))), { kind: 'idle' });
      const retiring = apply(reportOk(s), { type: 'retire', occurredAt: at() });
      const removal = nextStep(retiring);
      assert.ok(removal.kind === 'report');
      const failed = reportFailed(startReport(retiring, removal.payload, at()), error('Forbidden'));
      assert.equal(nextStep(failed).kind, 'report', 'a removal is retried whatever the reason');
      const gone = reportFailed(startReport(retiring, removal.payload, at()), error('DeviceNotFound'));
      assert.equal(owesMicrosoft(gone), false, 'Entra not knowing the device completes the removal');
    });

    it('keeps a removal owed while reporting is off, and tries again once asked', () => {
      const retiring = apply(reportOk(apply(fresh(), reg())), { type: 'retire', occurredAt: at() });
      const skipped = skipReport(retiring);
      assert.deepEqual(nextStep(skipped), { kind: 'idle' });
      assert.equal(owesMicrosoft(skipped), true);
      assert.equal(nextStep(requestReport(skipped, 'enable', 'op-1')).kind, 'report');
    });

    it("gives every upload a LastUpdateTime after the previous one's", () => {
      const s = apply(fresh(), reg());
      const first = nextUpdateTime(s, '2020-01-01T00:00:00.000Z');
      assert.equal(first, s.lastApplied.registration);
      const second = nextUpdateTime({ ...s, lastUpdateTime: first }, '2020-01-01T00:00:00.000Z');
      assert.equal(Date.parse(second), Date.parse(first) + 1);
    });

    it('clears a client error once the device registers successfully', () => {
      const canceled = apply(fresh(), reg({ clientStatusCode: 'User_Canceled', azureDeviceId: null }));
      assert.equal(canceled.lastError?.code, 'User_Canceled');
      assert.equal(apply(canceled, reg()).lastError, null);
    });
  });
});

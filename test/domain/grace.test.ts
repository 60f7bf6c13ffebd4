import assert from 'node:assert/strict';
import {
  applyEvent,
  endGrace,
  graceChange,
  graceDue,
  initialState,
  nextStep,
  reportSucceeded,
  startReport,
  type DeviceState,
  type GraceContext,
} from '../../domain/device-state';
import type { DeviceEvent } from '../../domain/events';
import { graceMs, graceProblem, parseIsoDuration } from '../../domain/grace';
import { projectionOf } from '../../workflows/device-views';
import { at, comp, latest, reg } from './device-events';

const HOUR = 60 * 60 * 1000;

/** The workflow's context: the tenant's graces, and its clock a second after the newest event. */
const ctx = (periods: GraceContext['periods']): GraceContext => ({ periods, now: new Date(latest() + 1_000).toISOString() });

function apply(state: DeviceState, grace: GraceContext | undefined, ...events: DeviceEvent[]): DeviceState {
  return events.reduce((s, e) => applyEvent(s, e, grace).state, state);
}

/** Reports what the state asks for, to a successful end; returns the state and what was sent. */
function reportOk(state: DeviceState): { state: DeviceState; sent: string } {
  const step = nextStep(state);
  if (step.kind !== 'report') throw new Error(`expected a report, got ${step.kind}`);
  const done = reportSucceeded(startReport(state, step.payload, at()), step.payload, at());
  return { state: done, sent: `${step.payload.managementState}/${step.payload.complianceStatus}` };
}

/** A registered device whose compliant state Microsoft confirmed. */
function reported(): DeviceState {
  return reportOk(apply(initialState('tenant', 'mdm-grace', 1), undefined, reg())).state;
}

describe('domain/grace: grace periods of docs/product-rules.md', () => {
  it('reads ISO 8601 durations of days to seconds, and refuses the rest by field', () => {
    assert.equal(parseIsoDuration('PT24H'), 24 * HOUR);
    assert.equal(parseIsoDuration('P1DT30M'), 24 * HOUR + 30 * 60_000);
    assert.equal(graceProblem('BLOCK_EMAIL', 'PT24H'), null);
    assert.match(graceProblem('BLOCK_EMAIL', 'tomorrow')!, /ISO 8601/);
    assert.match(graceProblem('BLOCK_EMAIL', 'P1M')!, /ISO 8601/, 'months depend on the date');
    assert.match(graceProblem('BLOCK_EMAIL', 'PT0S')!, /longer than zero/);
    assert.match(graceProblem('BLOCK_EMAIL', 'P31D')!, /at most P30D/);
    assert.match(graceProblem('BLOCK_EMAIL', 24)!, /ISO 8601/);
    assert.match(graceProblem('SEND_ALERT', 'PT1H')!, /apply to RETIRE, QUARANTINE, BLOCK_APPCONNECT, BLOCK_EMAIL/);
    assert.equal(graceMs({ QUARANTINE: 'PT2H' }, 'QUARANTINE'), 2 * HOUR);
    assert.equal(graceMs({ QUARANTINE: 'PT2H' }, 'BLOCK_EMAIL'), null);
  });

  it('without grace periods (the default) a restrictive action is reported at once, as before', () => {
    for (const grace of [undefined, ctx({})]) {
      const s = apply(reported(), grace, comp(['BLOCK_EMAIL']));
      assert.equal(s.grace ?? null, null);
      assert.equal(reportOk(s).sent, 'managed/notCompliant');
    }
  });

  it('keeps the compliant state reported while BLOCK_EMAIL is in grace, shows graceUntil, then reports it when the grace ends', () => {
    const before = reported();
    const event = comp(['BLOCK_EMAIL']);
    const s = apply(before, ctx({ BLOCK_EMAIL: 'PT24H' }), event);
    const until = new Date(Date.parse(event.occurredAt) + 24 * HOUR).toISOString();
    assert.deepEqual(s.grace, {
      action: 'BLOCK_EMAIL',
      since: event.occurredAt,
      until,
      held: { managementState: 'managed', complianceStatus: 'compliant' },
    });
    assert.equal(nextStep(s).kind, 'idle', 'nothing to report: Microsoft keeps compliant');
    assert.equal(s.status, 'Successful', 'the compliant report still describes what Microsoft holds');
    const row = projectionOf(s);
    assert.equal(row.graceUntil, until);
    assert.equal(row.graceAction, 'BLOCK_EMAIL');
    assert.equal(row.policyAction, 'BLOCK_EMAIL');
    assert.equal(row.reportedCompliance, 'compliant');
    assert.deepEqual(graceChange(before, s), { phase: 'began', action: 'BLOCK_EMAIL', until });

    assert.equal(graceDue(s, new Date(Date.parse(until) - 1).toISOString()), false);
    assert.equal(graceDue(s, until), true);
    const ended = endGrace(s);
    assert.equal(ended.grace, null);
    assert.deepEqual(graceChange(s, ended), { phase: 'ended', action: 'BLOCK_EMAIL', until });
    assert.equal(projectionOf(ended).graceUntil, null);
    const step = nextStep(ended);
    assert.equal(step.kind === 'report' && step.trigger, 'grace');
    assert.equal(reportOk(ended).sent, 'managed/notCompliant');
  });

  it('clears the grace when the action is lifted within it: nothing is reported, ever', () => {
    const inGrace = apply(reported(), ctx({ BLOCK_EMAIL: 'PT1H' }), comp(['BLOCK_EMAIL']));
    const cleared = apply(inGrace, ctx({ BLOCK_EMAIL: 'PT1H' }), comp(['SEND_ALERT']));
    assert.equal(cleared.grace, null);
    assert.equal(graceChange(inGrace, cleared)?.phase, 'cleared');
    assert.equal(nextStep(cleared).kind, 'idle');
    assert.equal(graceDue(cleared, '2099-01-01T00:00:00.000Z'), false);
    assert.equal(endGrace(cleared), cleared);
  });

  it('counts the grace from occurredAt: an event delivered after its grace is reported at once', () => {
    const late: DeviceEvent = { type: 'compliance', occurredAt: new Date(latest() - 2 * HOUR).toISOString(), actions: ['BLOCK_EMAIL'] };
    const s = applyEvent(reported(), late, ctx({ BLOCK_EMAIL: 'PT1H' })).state;
    assert.equal(s.grace, null);
    assert.equal(reportOk(s).sent, 'managed/notCompliant');
  });

  it('never lengthens a grace: a repeated word keeps it, a stronger one with its own grace can only shorten it', () => {
    const periods = ctx({ BLOCK_EMAIL: 'PT1H', QUARANTINE: 'PT10H' });
    const first = apply(reported(), periods, comp(['BLOCK_EMAIL']));
    const again = apply(first, ctx({ BLOCK_EMAIL: 'PT1H', QUARANTINE: 'PT10H' }), comp(['BLOCK_EMAIL', 'SEND_ALERT']));
    assert.deepEqual(again.grace, first.grace);
    const stronger = apply(first, ctx({ BLOCK_EMAIL: 'PT1H', QUARANTINE: 'PT10H' }), comp(['QUARANTINE']));
    assert.equal(stronger.grace?.action, 'QUARANTINE');
    assert.equal(stronger.grace?.until, first.grace?.until);
  });

  it('reports at once when any action that raises the restriction has no grace', () => {
    const s = apply(reported(), ctx({ QUARANTINE: 'PT1H' }), comp(['QUARANTINE', 'BLOCK_EMAIL']));
    assert.equal(s.grace, null);
    assert.equal(reportOk(s).sent, 'managed/notCompliant');
    // In grace, a stronger action without a grace ends it: reported at once.
    const inGrace = apply(reported(), ctx({ BLOCK_EMAIL: 'PT1H' }), comp(['BLOCK_EMAIL']));
    const quarantined = apply(inGrace, ctx({ BLOCK_EMAIL: 'PT1H' }), comp(['QUARANTINE']));
    assert.equal(quarantined.grace, null);
    assert.equal(graceChange(inGrace, quarantined)?.phase, 'ended');
    assert.equal(reportOk(quarantined).sent, 'managed/notCompliant');
  });

  it('has no grace when Microsoft already holds the device as restrictive (nothing to hold back)', () => {
    const blocked = reportOk(apply(reported(), undefined, comp(['BLOCK_EMAIL']))).state;
    const s = apply(blocked, ctx({ QUARANTINE: 'PT1H' }), comp(['QUARANTINE']));
    assert.equal(s.grace, null);
    assert.equal(nextStep(s).kind, 'idle', 'managed + notCompliant either way');
  });

  it('keeps a RETIRE in grace managed and not retired, retires it when the grace ends, and forgets it when the action is lifted', () => {
    const periods = ctx({ RETIRE: 'PT2H' });
    const event = comp(['RETIRE']);
    const s = apply(reported(), periods, event);
    assert.equal(s.retiredAt, null);
    assert.equal(s.grace?.action, 'RETIRE');
    assert.equal(nextStep(s).kind, 'idle');
    assert.equal(projectionOf(s).managementState, 'managed');
    const ended = endGrace(s);
    assert.equal(ended.retiredAt, event.occurredAt, 'dated by the MDM event that put RETIRE in force');
    assert.deepEqual(graceChange(s, ended)?.phase, 'ended');
    assert.equal(reportOk(ended).sent, 'notManaged/notCompliant');

    const lifted = apply(s, periods, comp([]));
    assert.equal(lifted.retiredAt, null);
    assert.equal(lifted.grace, null);
    assert.equal(nextStep(lifted).kind, 'idle');
  });

  it('a retire event is never held back, even in grace', () => {
    const s = apply(reported(), ctx({ BLOCK_EMAIL: 'PT1H', RETIRE: 'PT1H' }), comp(['BLOCK_EMAIL']), { type: 'retire', occurredAt: at() });
    assert.equal(s.grace, null);
    assert.notEqual(s.retiredAt, null);
    assert.equal(reportOk(s).sent, 'notManaged/notCompliant');
  });

  it('holds a non-compliant change back from a former Azure device id too while in grace', () => {
    const inGrace = apply(reported(), ctx({ BLOCK_EMAIL: 'PT1H' }), comp(['BLOCK_EMAIL']), {
      ...(reg() as Extract<DeviceEvent, { type: 'registration' }>),
      clientStatusCode: 'User_Canceled',
      azureDeviceId: null,
    });
    assert.equal(nextStep(inGrace).kind, 'blocked', 'no former target is owed non-compliance in grace');
    const ended = endGrace(inGrace);
    const step = nextStep(ended);
    assert.equal(step.kind === 'report' && step.former, true);
    assert.equal(step.kind === 'report' && step.payload.complianceStatus, 'notCompliant');
  });
});

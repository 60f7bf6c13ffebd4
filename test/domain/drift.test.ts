import assert from 'node:assert/strict';
import {
  applyEvent,
  initialState,
  nextStep,
  reportFailed,
  reportSucceeded,
  requestReport,
  startReport,
  type DeviceState,
} from '../../domain/device-state';
import {
  compareWithEntra,
  driftResolved,
  observeEntra,
  reopenAfterDeletion,
  settledReport,
  type EntraObservation,
} from '../../domain/drift';
import { deviceErrorFor } from '../../domain/failure-reasons';
import type { DeviceEvent } from '../../domain/events';

const AZ = '007c8232-9489-4074-9b35-345b16f0a72d';
let t = Date.parse('2026-11-28T10:00:00.000Z');
const at = () => new Date((t += 1_000)).toISOString();

const registration = (): DeviceEvent => ({
  type: 'registration',
  occurredAt: at(),
  platform: 'iOS',
  azureDeviceId: AZ,
  clientStatusCode: 'Success',
  userPrincipalName: 'alex@contoso.com',
});

function reportOk(state: DeviceState): DeviceState {
  const step = nextStep(state);
  if (step.kind !== 'report') throw new Error(`expected a report, got ${step.kind}`);
  return reportSucceeded(startReport(state, step.payload, at()), step.payload, at());
}

/** A registered device whose managed + compliant report Microsoft confirmed. */
function confirmed(): DeviceState {
  return reportOk(applyEvent(initialState('tenant', 'mdm-1', 1), registration()).state);
}

const entraAsReported = { isCompliant: true, isManaged: true, complianceExpirationDateTime: '2026-12-05T10:00:00.000Z' };
let op = 0;
const seen = (entra: EntraObservation['entra'], over: Partial<EntraObservation> = {}): EntraObservation => ({
  operationId: `reconcile-${++op}`,
  azureDeviceId: AZ,
  observedAt: '2026-11-29T10:00:00.000Z',
  entra,
  ...over,
});

describe('domain/drift: comparing what Entra holds with the last confirmed report', () => {
  const managedCompliant = { managementState: 'managed', complianceStatus: 'compliant' } as const;
  const managedNotCompliant = { managementState: 'managed', complianceStatus: 'notCompliant' } as const;
  const now = '2026-11-29T10:00:00.000Z';

  it('finds nothing when Entra holds what was confirmed', () => {
    assert.deepEqual(compareWithEntra(managedCompliant, entraAsReported, now), []);
    assert.deepEqual(compareWithEntra(managedNotCompliant, { ...entraAsReported, isCompliant: false }, now), []);
  });

  it('names each property that differs, most serious first, and a deleted device alone', () => {
    assert.deepEqual(compareWithEntra(managedCompliant, { ...entraAsReported, isCompliant: false, isManaged: false }, now), [
      { kind: 'managed', property: 'isManaged', expected: true, found: false },
      { kind: 'compliance', property: 'isCompliant', expected: true, found: false },
    ]);
    assert.deepEqual(compareWithEntra(managedCompliant, null, now), [
      { kind: 'deleted', property: 'device', expected: 'present', found: null },
    ]);
  });

  it('counts a lost verdict (isCompliant null) as compliance drift', () => {
    assert.deepEqual(
      compareWithEntra(managedNotCompliant, { isCompliant: null, isManaged: true, complianceExpirationDateTime: null }, now),
      [{ kind: 'compliance', property: 'isCompliant', expected: false, found: null }],
    );
  });

  it('counts an expired verdict only for a device reported compliant', () => {
    const expired = { ...entraAsReported, complianceExpirationDateTime: '2026-11-29T09:59:59.000Z' };
    assert.deepEqual(compareWithEntra(managedCompliant, expired, now), [
      {
        kind: 'expired',
        property: 'complianceExpirationDateTime',
        expected: `later than ${now}`,
        found: expired.complianceExpirationDateTime,
      },
    ]);
    assert.deepEqual(compareWithEntra(managedNotCompliant, { ...expired, isCompliant: false }, now), []);
    assert.deepEqual(compareWithEntra(managedCompliant, { ...entraAsReported, complianceExpirationDateTime: null }, now), []);
  });
});

describe('domain/drift: what the device workflow does with a read-back', () => {
  it('re-reports the current state on drift, under trigger drift, and shows In-progress until Microsoft confirms it', () => {
    const s = confirmed();
    const { state, outcome, finding } = observeEntra(s, seen({ ...entraAsReported, isCompliant: false }));
    assert.equal(outcome, 'drift');
    assert.deepEqual(finding?.kinds, ['compliance']);
    assert.equal(state.azureDrift, 'compliance');
    assert.equal(state.status, 'In-progress');
    assert.deepEqual(state.pendingDrift, finding);
    const step = nextStep(state);
    assert.equal(step.kind, 'report');
    if (step.kind !== 'report') return;
    assert.equal(step.trigger, 'drift');
    assert.deepEqual(step.payload, s.lastAttempted);
    const after = driftResolved(reportSucceeded(startReport(state, step.payload, at()), step.payload, at()));
    assert.equal(after.status, 'Successful');
    assert.equal(after.azureDrift, 'none');
    assert.equal(after.pendingDrift, null);
    assert.equal(nextStep(after).kind, 'idle');
  });

  it('sends nothing when Entra matches, and takes one operation once', () => {
    const s = confirmed();
    const same = observeEntra(s, seen(entraAsReported));
    assert.equal(same.outcome, 'none');
    assert.equal(same.state.azureDrift, 'none');
    assert.equal(nextStep(same.state).kind, 'idle');
    const first = observeEntra(s, seen({ ...entraAsReported, isManaged: false }, { operationId: 'op-x' }));
    assert.equal(first.outcome, 'drift');
    assert.equal(observeEntra(first.state, seen({ ...entraAsReported, isManaged: false }, { operationId: 'op-x' })).outcome, 'ignored');
  });

  it('ignores a read-back of another Azure device id, of a retired device, or while a report is under way', () => {
    const s = confirmed();
    assert.equal(observeEntra(s, seen(null, { azureDeviceId: 'ffffffff-9489-4074-9b35-345b16f0a72d' })).outcome, 'ignored');
    const retired = applyEvent(s, { type: 'retire', occurredAt: at() }).state;
    assert.equal(observeEntra(retired, seen(null)).outcome, 'ignored');
    const changed = applyEvent(s, { type: 'compliance', occurredAt: at(), actions: ['QUARANTINE'] }).state;
    assert.equal(settledReport(changed), null);
    assert.equal(observeEntra(changed, seen(null)).outcome, 'unsettled');
    const failed = reportFailed(changed, deviceErrorFor('Transient', 'x'));
    assert.equal(observeEntra(failed, seen(null)).outcome, 'unsettled');
  });

  it('marks a device deleted in Entra Failed with DeletedInEntra and sends nothing until the MDM speaks again', () => {
    const s = confirmed();
    const { state, outcome } = observeEntra(s, seen(null));
    assert.equal(outcome, 'deleted');
    assert.equal(state.status, 'Failed');
    assert.equal(state.lastError?.code, 'DeletedInEntra');
    assert.equal(state.lastError?.userCanMitigate, true);
    assert.equal(state.azureDrift, 'deleted');
    assert.equal(nextStep(state).kind, 'idle');
    // Weekly reports, resyncs and the next read-back leave it alone; an admin's sync is still sent.
    assert.equal(nextStep(requestReport(state, 'weekly', 'weekly-1')).kind, 'idle');
    assert.equal(nextStep(requestReport(state, 'resync', 'resync-1')).kind, 'idle');
    assert.equal(observeEntra(state, seen(null)).outcome, 'unsettled');
    assert.equal(nextStep(requestReport(state, 'manual')).kind, 'report');
    // The MDM's next event sends the state again even when it changes nothing.
    const sameAgain = applyEvent(state, { type: 'compliance', occurredAt: at(), actions: [] });
    assert.equal(sameAgain.outcome, 'applied');
    const reopened = reopenAfterDeletion(sameAgain.state, 'compliance');
    assert.equal(reopened.deletedInEntra, null);
    assert.equal(reopened.azureDrift, 'none');
    const step = nextStep(reopened);
    assert.equal(step.kind, 'report');
    if (step.kind === 'report') assert.equal(step.trigger, 'compliance');
  });

  it('leaves states from before the reconciliation unchanged when Microsoft confirms a report', () => {
    const s = confirmed();
    assert.equal(s.azureDrift, undefined);
    assert.equal(driftResolved(s), s);
  });
});

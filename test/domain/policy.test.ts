import assert from 'node:assert/strict';
import { POLICY_ACTIONS, type PolicyAction } from '../../domain/constants';
import { mostRestrictiveAction, reportedStateFor, resolvePolicy } from '../../domain/policy';

// The policy table of docs/product-rules.md, written out independently of the code under test.
const RESTRICTIVENESS: Record<PolicyAction, number> = {
  RETIRE: 5,
  QUARANTINE: 4,
  BLOCK_APPCONNECT: 3,
  BLOCK_EMAIL: 2,
  SEND_ALERT: 1,
};
const TABLE: Record<PolicyAction | 'none', { managementState: string; complianceStatus: string }> = {
  RETIRE: { managementState: 'notManaged', complianceStatus: 'notCompliant' },
  QUARANTINE: { managementState: 'managed', complianceStatus: 'notCompliant' },
  BLOCK_APPCONNECT: { managementState: 'managed', complianceStatus: 'notCompliant' },
  BLOCK_EMAIL: { managementState: 'managed', complianceStatus: 'notCompliant' },
  SEND_ALERT: { managementState: 'managed', complianceStatus: 'compliant' },
  none: { managementState: 'managed', complianceStatus: 'compliant' },
};
const ALL: PolicyAction[] = ['SEND_ALERT', 'BLOCK_EMAIL', 'BLOCK_APPCONNECT', 'QUARANTINE', 'RETIRE'];

function subsets(): PolicyAction[][] {
  const out: PolicyAction[][] = [];
  for (let mask = 0; mask < 1 << ALL.length; mask++) out.push(ALL.filter((_, i) => (mask & (1 << i)) !== 0));
  return out;
}

function expectedAction(subset: readonly PolicyAction[]): PolicyAction | null {
  let best: PolicyAction | null = null;
  for (const a of subset) if (best === null || RESTRICTIVENESS[a] > RESTRICTIVENESS[best]) best = a;
  return best;
}

describe('domain/policy', () => {
  it('lists the five actions most restrictive first', () => {
    assert.deepEqual([...POLICY_ACTIONS], ['RETIRE', 'QUARANTINE', 'BLOCK_APPCONNECT', 'BLOCK_EMAIL', 'SEND_ALERT']);
  });

  it('generates all 32 subsets of the five actions', () => {
    assert.equal(subsets().length, 32);
    assert.equal(new Set(subsets().map((s) => s.join(','))).size, 32);
  });

  for (const subset of subsets()) {
    const action = expectedAction(subset);
    const state = TABLE[action ?? 'none'];
    const name = subset.length === 0 ? '[]' : `[${subset.join(', ')}]`;
    it(`${name} → ${action ?? 'no action'} → ${state.managementState} + ${state.complianceStatus}`, () => {
      // In every order, with and without duplicates.
      for (const input of [subset, [...subset].reverse(), [...subset, ...subset]]) {
        assert.equal(mostRestrictiveAction(input), action);
        assert.deepEqual(reportedStateFor(mostRestrictiveAction(input)), state);
        assert.deepEqual(resolvePolicy(input), { policyAction: action, ...state });
      }
    });
  }

  it('reports notManaged + notCompliant for RETIRE', () => {
    assert.deepEqual(reportedStateFor('RETIRE'), { managementState: 'notManaged', complianceStatus: 'notCompliant' });
  });

  it('reports managed + compliant when no action is in force', () => {
    assert.deepEqual(reportedStateFor(null), { managementState: 'managed', complianceStatus: 'compliant' });
    assert.equal(mostRestrictiveAction([]), null);
  });

  it('returns a fresh object on every call', () => {
    const a = reportedStateFor('QUARANTINE');
    a.complianceStatus = 'compliant';
    assert.equal(reportedStateFor('QUARANTINE').complianceStatus, 'notCompliant');
  });
});

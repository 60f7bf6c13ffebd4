import assert from 'node:assert/strict';
import { compareOccurredAt, isStale, recordApplied, type LastApplied } from '../../domain/ordering';

describe('domain/ordering', () => {
  const applied: LastApplied = { compliance: '2026-11-28T10:00:00.000Z' };

  it('an event of a kind never applied is not stale', () => {
    assert.equal(isStale({}, 'compliance', '2000-01-01T00:00:00Z'), false);
  });

  it('an older event of the same kind is stale', () => {
    assert.equal(isStale(applied, 'compliance', '2026-11-28T09:59:59.999Z'), true);
  });

  it('an event at the same instant is not stale (applied; the later arrival wins)', () => {
    assert.equal(isStale(applied, 'compliance', '2026-11-28T10:00:00.000Z'), false);
    assert.equal(isStale(applied, 'compliance', '2026-11-28T10:00:00Z'), false);
  });

  it('a newer event is not stale', () => {
    assert.equal(isStale(applied, 'compliance', '2026-11-28T10:00:00.001Z'), false);
  });

  it('compares instants, not strings, across zones', () => {
    // 11:00+01:00 is 10:00Z: equal, so not stale.
    assert.equal(isStale(applied, 'compliance', '2026-11-28T11:00:00+01:00'), false);
    // 10:30+01:00 is 09:30Z: older although its string sorts after.
    assert.equal(isStale(applied, 'compliance', '2026-11-28T10:30:00+01:00'), true);
    // 05:30-05:00 is 10:30Z: newer although its string sorts before.
    assert.equal(isStale(applied, 'compliance', '2026-11-28T05:30:00-05:00'), false);
    assert.equal(compareOccurredAt('2026-11-28T10:00:00Z', '2026-11-28T11:00:00+01:00'), 0);
    assert.equal(compareOccurredAt('2026-11-28T10:30:00+01:00', '2026-11-28T10:00:00Z'), -1);
    assert.equal(compareOccurredAt('2026-11-28T05:30:00-05:00', '2026-11-28T10:00:00Z'), 1);
  });

  it('kinds are independent of each other', () => {
    const last: LastApplied = {
      registration: '2026-11-28T12:00:00Z',
      compliance: '2026-11-28T10:00:00Z',
    };
    assert.equal(isStale(last, 'inventory', '2026-11-28T08:00:00Z'), false);
    assert.equal(isStale(last, 'compliance', '2026-11-28T11:00:00Z'), false);
    assert.equal(isStale(last, 'registration', '2026-11-28T11:00:00Z'), true);
    assert.equal(isStale(last, 'retire', '2026-11-28T08:00:00Z'), false);
  });

  it('an unparsable occurredAt is stale, an unparsable stored value never makes an event stale', () => {
    assert.equal(isStale(applied, 'compliance', 'not a date'), true);
    assert.equal(isStale({}, 'compliance', 'not a date'), true);
    assert.equal(isStale({ compliance: 'garbage' }, 'compliance', '2026-11-28T10:00:00Z'), false);
  });

  it('recordApplied keeps the newest instant per kind without mutating its input', () => {
    const start: LastApplied = { compliance: '2026-11-28T10:00:00Z' };
    const newer = recordApplied(start, 'compliance', '2026-11-28T12:00:00+01:00');
    assert.deepEqual(newer, { compliance: '2026-11-28T12:00:00+01:00' });
    assert.deepEqual(start, { compliance: '2026-11-28T10:00:00Z' });
    assert.deepEqual(recordApplied(newer, 'compliance', '2026-11-28T10:59:00Z'), newer);
    assert.deepEqual(recordApplied(newer, 'inventory', '2026-11-01T00:00:00Z'), {
      compliance: '2026-11-28T12:00:00+01:00',
      inventory: '2026-11-01T00:00:00Z',
    });
    // Same instant: the later arrival is recorded.
    assert.deepEqual(recordApplied(newer, 'compliance', '2026-11-28T11:00:00Z'), { compliance: '2026-11-28T11:00:00Z' });
  });
});

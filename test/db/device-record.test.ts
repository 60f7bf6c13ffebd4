// The device workflow's one write (db/data.ts writeDeviceRecord) against the real Postgres: the device
// row and its timeline row together, and never over a newer version.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { getDevice, listReportAttempts, writeDeviceRecord, type AttemptRecord, type DeviceProjection } from '../../db/data';
import { testEnv } from '../support/env';

function projection(deviceId: string, version: number, complianceStatus: string): DeviceProjection {
  return {
    tenantId: testEnv().tenantId,
    deviceId,
    platform: 'iOS',
    azureDeviceId: randomUUID(),
    clientStatusCode: 'Success',
    userPrincipalName: 'alex@contoso.com',
    complianceStatus,
    reportTime: null,
    policyAction: null,
    reportedCompliance: 'compliant',
    managementState: 'managed',
    inventory: null,
    lastAttemptAt: '2026-11-28T10:00:00.000Z',
    lastSuccessfulReportAt: null,
    lastError: null,
    retiredAt: null,
    version,
  };
}

function attempt(key: string, outcome: AttemptRecord['outcome']): AttemptRecord {
  return {
    attemptKey: key,
    at: '2026-11-28T10:00:00.000Z',
    trigger: 'registration',
    reported: { complianceStatus: 'compliant', managementState: 'managed' },
    outcome,
    messageId: key,
    error: null,
    completedAt: outcome === 'Successful' ? '2026-11-28T10:00:01.000Z' : null,
  };
}

describe('db: the device record write', () => {
  it('writes the device row and its timeline row in one go, and updates the row of the same attempt', async () => {
    const { db, tenantId } = testEnv();
    const deviceId = `record-${randomUUID()}`;
    const key = randomUUID();
    assert.equal(await writeDeviceRecord(db, projection(deviceId, 1, 'In-progress'), 10, attempt(key, 'In-progress')), true);
    assert.equal(await writeDeviceRecord(db, projection(deviceId, 2, 'Successful'), 12, attempt(key, 'Successful')), true);
    assert.equal((await getDevice(db, tenantId, deviceId))?.complianceStatus, 'Successful');
    const rows = await listReportAttempts(db, tenantId, deviceId, 10);
    assert.deepEqual(
      rows.map((r) => [r.attemptKey, r.outcome, r.completedAt]),
      [[key, 'Successful', '2026-11-28T10:00:01.000Z']],
    );
  });

  it('writes neither row for a version older than the one stored (a late retry)', async () => {
    const { db, tenantId } = testEnv();
    const deviceId = `record-${randomUUID()}`;
    const newer = randomUUID();
    assert.equal(await writeDeviceRecord(db, projection(deviceId, 5, 'Successful'), 30, attempt(newer, 'Successful')), true);
    assert.equal(await writeDeviceRecord(db, projection(deviceId, 4, 'Failed'), 40, attempt(randomUUID(), 'Failed')), false);
    assert.equal(await writeDeviceRecord(db, projection(deviceId, 5, 'Failed'), 30), false, 'the same write is not applied twice either');
    assert.equal((await getDevice(db, tenantId, deviceId))?.complianceStatus, 'Successful');
    assert.deepEqual(
      (await listReportAttempts(db, tenantId, deviceId, 10)).map((r) => r.attemptKey),
      [newer],
    );
  });

  it('lets the write of a workflow task retried after a timeout replace the discarded attempt of the same version, and never the reverse', async () => {
    const { db, tenantId } = testEnv();
    const deviceId = `record-${randomUUID()}`;
    // The first attempt of a workflow task wrote version 7 at history length 20, then the task timed out:
    // Temporal discarded it. The retried task, at history length 24, writes version 7 again with what it saw.
    assert.equal(await writeDeviceRecord(db, projection(deviceId, 7, 'In-progress'), 20), true);
    assert.equal(await writeDeviceRecord(db, projection(deviceId, 7, 'Successful'), 24), true);
    assert.equal((await getDevice(db, tenantId, deviceId))?.complianceStatus, 'Successful');
    // A late write of the discarded attempt (a worker that had not noticed the timeout) changes nothing.
    assert.equal(await writeDeviceRecord(db, projection(deviceId, 7, 'In-progress'), 20), false);
    assert.equal((await getDevice(db, tenantId, deviceId))?.complianceStatus, 'Successful');
  });
});

// The device GET's query is prepared once per connection (db/data.ts, getDevice). A prepared
// statement must keep working when a migration adds a column to the table it reads while the API
// runs (the worker migrates at its start); with `select *` Postgres would refuse it ("cached plan
// must not change result type") until the connection closed.
import assert from 'node:assert/strict';
import { createDb, migrateToLatest, pooledQuery, type Db } from '../../db';
import { getDevice, listDevices } from '../../db/data';
import { createScratchDatabase } from '../../db/scratch';
import { testEnv } from '../support/env';

/** `fn` on a fresh, migrated database, through a Db of one connection (so the statement it prepares is reused). */
async function onOneConnection(name: string, fn: (db: Db) => Promise<void>): Promise<void> {
  const scratch = await createScratchDatabase(testEnv().adminDatabaseUrl, name);
  const db = createDb(scratch.databaseUrl, { min: 1, max: 1 });
  try {
    await migrateToLatest(db);
    await fn(db);
  } finally {
    await db.destroy();
    await scratch.drop();
  }
}

describe('db: the prepared device read', () => {
  it('is prepared once per connection and keeps answering after a column is added to devices', async function () {
    this.timeout(60_000);
    // One connection: every call below runs on the connection that prepared the statement.
    await onOneConnection('acc_prepared', async (db) => {
      await db('devices').insert({ tenant_id: 't1', device_id: 'd1', platform: 'iOS', compliance_status: 'Successful', version: 3 });

      const before = await getDevice(db, 't1', 'd1');
      assert.equal(before?.complianceStatus, 'Successful');
      assert.equal(before?.version, 3);
      const prepared = await pooledQuery(db, 'select name, statement from pg_prepared_statements', []);
      assert.deepEqual(
        prepared.map((r) => r.name),
        ['device-by-id'],
        'the device read is a named statement of this connection',
      );

      await db.raw('alter table devices add column added_by_a_later_migration text');
      await db('devices').where({ tenant_id: 't1', device_id: 'd1' }).update({ compliance_status: 'Failed', version: 4 });
      const after = await getDevice(db, 't1', 'd1');
      assert.equal(after?.complianceStatus, 'Failed');
      assert.equal(after?.version, 4);
      assert.equal(await getDevice(db, 't1', 'unknown'), null);
      assert.equal(await getDevice(db, 't2', 'd1'), null, "another tenant's device is not found");
    });
  });

  it("serves every timestamp as toISOString would, whatever the session's time zone (Postgres formats them)", async function () {
    this.timeout(60_000);
    await onOneConnection('acc_iso', async (db) => {
      // A session time zone with a half-hour offset, and values the columns round to milliseconds.
      await db.raw("set timezone = 'America/St_Johns'");
      const at = (i: number) =>
        `2026-03-${String(1 + (i % 28)).padStart(2, '0')} ${String(i % 24).padStart(2, '0')}:59:59.${String(999_999 - i * 7_919).padStart(6, '0')}+00`;
      for (let i = 0; i < 40; i++) {
        await db('devices').insert({
          tenant_id: 't1',
          device_id: `d${i}`,
          platform: 'iOS',
          version: 1,
          report_time: at(i),
          last_attempt_at: at(i + 1),
          last_successful_report_at: i % 2 ? null : at(i + 2),
          retired_at: i % 3 ? null : at(i + 3),
          grace_until: i % 5 ? null : at(i + 4),
          created_at: at(i + 5),
          updated_at: at(i + 6),
        });
      }
      // The reference: the same rows read through knex, every timestamp a Date made by pg.
      const listed = new Map((await listDevices(db, 't1', {}, 100)).map((d) => [d.deviceId, d]));
      for (let i = 0; i < 40; i++) {
        const served = await getDevice(db, 't1', `d${i}`);
        assert.deepEqual(served, listed.get(`d${i}`), `d${i}`);
        assert.match(served!.reportTime!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      }
      await db('devices').where({ tenant_id: 't1', device_id: 'd0' }).update({ report_time: '2026-03-01 12:34:56.789+05:30' });
      assert.equal((await getDevice(db, 't1', 'd0'))!.reportTime, '2026-03-01T07:04:56.789Z');
    });
  });
});

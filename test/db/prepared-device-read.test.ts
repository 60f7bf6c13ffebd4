// The device GET's query is prepared once per connection (db/data.ts, getDevice). A prepared
// statement must keep working when a migration adds a column to the table it reads while the API
// runs (the worker migrates at its start); with `select *` Postgres would refuse it ("cached plan
// must not change result type") until the connection closed.
import assert from 'node:assert/strict';
import { createDb, migrateToLatest, pooledQuery } from '../../db';
import { getDevice } from '../../db/data';
import { createScratchDatabase } from '../../db/scratch';
import { testEnv } from '../support/env';

describe('db: the prepared device read', () => {
  it('is prepared once per connection and keeps answering after a column is added to devices', async function () {
    this.timeout(60_000);
    const scratch = await createScratchDatabase(testEnv().adminDatabaseUrl, 'acc_prepared');
    // One connection: every call below runs on the connection that prepared the statement.
    const db = createDb(scratch.databaseUrl, { min: 1, max: 1 });
    try {
      await migrateToLatest(db);
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
    } finally {
      await db.destroy();
      await scratch.drop();
    }
  });
});

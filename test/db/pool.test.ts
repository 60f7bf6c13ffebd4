// The Db's connections come from one pg pool (db/index.ts, createDb) that knex and the hottest reads
// share. A connection Postgres closes, idle or in use, must cost a query at most, never the process
// (an 'error' nobody listens to would end it); destroy must close every connection it opened.
import assert from 'node:assert/strict';
import { createDb, pooledQuery, type Db } from '../../db';
import { createScratchDatabase } from '../../db/scratch';
import { testEnv } from '../support/env';

async function backendPid(db: Db | Parameters<Parameters<Db['transaction']>[0]>[0]): Promise<number> {
  const result = (await db.raw('select pg_backend_pid() as pid')) as { rows: Array<{ pid: number }> };
  return result.rows[0]!.pid;
}

describe('db: the connection pool', () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let admin: Db;

  before(async function () {
    this.timeout(60_000);
    scratch = await createScratchDatabase(testEnv().adminDatabaseUrl, 'acc_pool');
    admin = createDb(scratch.databaseUrl, { max: 1 });
  });

  after(async () => {
    await admin?.destroy();
    await scratch?.drop();
  });

  /** Postgres closes the backend with this pid (as a restart or an administrator would). */
  async function terminate(pid: number): Promise<void> {
    const { rows } = (await admin.raw('select pg_terminate_backend(?) as done', [pid])) as { rows: Array<{ done: boolean }> };
    assert.equal(rows[0]?.done, true, `backend ${pid} was terminated`);
  }

  async function stillConnected(pids: number[]): Promise<number[]> {
    const { rows } = (await admin.raw('select pid from pg_stat_activity where pid = any(?)', [pids])) as { rows: Array<{ pid: number }> };
    return rows.map((r) => r.pid);
  }

  it('fails the query of a connection closed while in use, not the process, and serves the next query', async () => {
    const db = createDb(scratch.databaseUrl, { max: 2 });
    try {
      const trx = await db.transaction();
      await terminate(await backendPid(trx));
      // The connection's 'error' arrives now, while knex holds it: mocha fails the test if nobody hears it.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await assert.rejects(() => trx.raw('select 1'));
      await trx.rollback().catch(() => undefined);
      assert.deepEqual((await db.raw('select 41 + 1 as n')).rows, [{ n: 42 }]);
      assert.deepEqual(await pooledQuery(db, 'select $1::int as n', [7]), [{ n: 7 }]);
    } finally {
      await db.destroy();
    }
  });

  it('replaces an idle connection Postgres closed', async () => {
    const db = createDb(scratch.databaseUrl, { max: 1 });
    try {
      const pid = await backendPid(db);
      await terminate(pid);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const next = await backendPid(db);
      assert.notEqual(next, pid, 'a new connection serves the next query');
    } finally {
      await db.destroy();
    }
  });

  it('closes a connection whose direct query failed instead of reusing it', async () => {
    const db = createDb(scratch.databaseUrl, { max: 1 });
    try {
      const [{ pid }] = (await pooledQuery(db, 'select pg_backend_pid() as pid', [])) as Array<{ pid: number }>;
      await assert.rejects(() => pooledQuery(db, 'select * from no_such_table where id = $1', [1]), /no_such_table/);
      const [{ pid: after }] = (await pooledQuery(db, 'select pg_backend_pid() as pid', [])) as Array<{ pid: number }>;
      assert.notEqual(after, pid);
      for (let i = 0; i < 20 && (await stillConnected([pid])).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(await stillConnected([pid]), [], 'the failed connection was closed');
    } finally {
      await db.destroy();
    }
  });

  it('closes every connection it opened on destroy, and a second destroy is harmless', async () => {
    const db = createDb(scratch.databaseUrl, { max: 3 });
    // Three connections at once: each transaction keeps its own until all three have theirs.
    let arrived = 0;
    let allArrived!: () => void;
    const barrier = new Promise<void>((resolve) => (allArrived = resolve));
    const pids = await Promise.all(
      [1, 2, 3].map(() =>
        db.transaction(async (trx) => {
          const pid = await backendPid(trx);
          if (++arrived === 3) allArrived();
          await barrier;
          return pid;
        }),
      ),
    );
    assert.equal(new Set(pids).size, 3);
    await db.destroy();
    await db.destroy();
    for (let i = 0; i < 20 && (await stillConnected(pids)).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(await stillConnected(pids), [], 'no connection of the destroyed Db is left');
  });
});

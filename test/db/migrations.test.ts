// Every migration can be undone and redone: on a scratch database of its own, each `down` from the
// newest to the first leaves exactly the schema the migrations before it built, and going `up` again
// rebuilds the same schema, column for column and index for index.
import assert from 'node:assert/strict';
import { createDb, type Db } from '../../db';
import { migrationSource } from '../../db/migrations';
import { createScratchDatabase } from '../../db/scratch';
import { testEnv } from '../support/env';

/** The public schema without knex's own bookkeeping: tables, columns (type, nullability, default), indexes, constraints. */
async function schemaOf(db: Db): Promise<string[]> {
  const bookkeeping = ['knex_migrations', 'knex_migrations_lock'];
  const columns = await db.raw<{ rows: Array<Record<string, string | null>> }>(
    `SELECT table_name, column_name, data_type, is_nullable, column_default
       FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, column_name`,
  );
  const indexes = await db.raw<{ rows: Array<Record<string, string>> }>(
    `SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY tablename, indexname`,
  );
  const constraints = await db.raw<{ rows: Array<Record<string, string>> }>(
    `SELECT conrelid::regclass::text AS table_name, conname, pg_get_constraintdef(oid) AS def
       FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2`,
  );
  return [
    ...columns.rows
      .filter((r) => !bookkeeping.includes(r.table_name!))
      .map((r) => `column ${r.table_name}.${r.column_name} ${r.data_type} ${r.is_nullable} ${r.column_default}`),
    ...indexes.rows.filter((r) => !bookkeeping.includes(r.tablename!)).map((r) => `index ${r.indexdef}`),
    ...constraints.rows.filter((r) => !bookkeeping.includes(r.table_name!)).map((r) => `constraint ${r.table_name}.${r.conname} ${r.def}`),
  ];
}

describe('db: migrations', () => {
  it('undoes every migration in turn and redoes them to the same schema', async function () {
    this.timeout(120_000);
    const scratch = await createScratchDatabase(testEnv().adminDatabaseUrl, 'acc_migrations');
    const db = createDb(scratch.databaseUrl, { max: 2 });
    try {
      const names = await migrationSource.getMigrations([]);
      assert.ok(names.length >= 2, `migrations: ${names.join(', ')}`);

      // Up one at a time, keeping the schema after each step (index 0: the empty database).
      const after: string[][] = [await schemaOf(db)];
      assert.deepEqual(after[0], []);
      for (const name of names) {
        await db.migrate.up({ migrationSource, name });
        after.push(await schemaOf(db));
        assert.notDeepEqual(after.at(-1), after.at(-2), `${name} changed nothing`);
      }

      // Down one at a time: each step restores the schema from before that migration.
      for (let i = names.length; i > 0; i--) {
        await db.migrate.down({ migrationSource });
        assert.deepEqual(await schemaOf(db), after[i - 1], `after undoing ${names[i - 1]}`);
      }
      const [, pending] = (await db.migrate.list({ migrationSource })) as [unknown[], unknown[]];
      assert.equal(pending.length, names.length, 'every migration is pending again');

      // And up again, all of them: the same schema as the first time.
      await db.migrate.latest({ migrationSource });
      assert.deepEqual(await schemaOf(db), after.at(-1));
    } finally {
      await db.destroy();
      await scratch.drop();
    }
  });
});

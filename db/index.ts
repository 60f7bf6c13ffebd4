import knex, { type Knex } from 'knex';
import pg from 'pg';
import { migrationSource } from './migrations';

export type Db = Knex;

/**
 * One pool per process: a `pg.Pool`, which knex draws its connections from (its `connectionPool`
 * option) and the hottest reads use directly (pooledQuery). Taking and returning a connection costs
 * a device read some 13 µs less there than through knex's own pool (docs/benchmarks.md, "Read path,
 * sixth round"). `connectionTimeoutMillis` bounds both a new connection and the wait for a free one.
 */
export function createDb(databaseUrl: string, pool: { min?: number; max?: number } = {}): Db {
  const native = new pg.Pool({ connectionString: databaseUrl, min: pool.min ?? 0, max: pool.max ?? 10, connectionTimeoutMillis: 10_000 });
  // An idle connection that breaks (Postgres restarted) is dropped by the pool, which then emits
  // 'error'; unheard, that would end the process. The next checkout connects anew, and a failure
  // there reaches the caller.
  native.on('error', () => {});
  // The same for a connection in use (knex listens on the connections of its own pool, not on these):
  // its query fails with the error, and the pool closes it when it comes back.
  native.on('connect', (connection) => connection.on('error', () => {}));
  const db = knex({ client: 'pg', connectionPool: native });
  // knex leaves a pool it was given open: its client's destroy (what db.destroy() calls) closes it, once.
  const client = db.client as { destroy(callback?: unknown): Promise<void> };
  const destroyClient = client.destroy.bind(client);
  let closed: Promise<void> | undefined;
  client.destroy = (callback?: unknown) => (closed ??= destroyClient(callback).then(() => native.end()));
  return db;
}

/**
 * One parameterized statement ($1, $2…) on a connection of the Db's pool, without knex's query
 * building: for the hottest reads. Same pool, same limits, same connection errors.
 *
 * With a `name`, the statement is prepared once per connection and then only bound and executed:
 * Postgres skips parsing and planning it, which for a one-row lookup is most of the server's work
 * (docs/benchmarks.md, "Read path, fifth round"). A named statement must list its columns: a
 * migration that adds a column would otherwise change the result of `select *` under a prepared
 * statement, which Postgres refuses ("cached plan must not change result type").
 */
export async function pooledQuery(db: Db, text: string, values: unknown[], name?: string): Promise<Array<Record<string, unknown>>> {
  // The pool createDb gave knex, as knex keeps it in its config.
  const native = (db.client.config as Knex.Config).connectionPool;
  if (!(native instanceof pg.Pool)) throw new Error('pooledQuery needs a Db made by createDb');
  const connection = await native.connect();
  let failed: Error | undefined;
  try {
    return name === undefined ? (await connection.query(text, values)).rows : await runNamed(connection, name, text, values);
  } catch (err) {
    failed = err as Error;
    throw err;
  } finally {
    // A connection whose query failed is closed rather than reused: its state is unknown.
    connection.release(failed);
  }
}

export async function migrateToLatest(db: Db): Promise<void> {
  await db.migrate.latest({ migrationSource });
}

export async function pingDb(db: Db): Promise<void> {
  await db.raw('select 1');
}

/**
 * A named statement run as a pg Query built from its text: pg copies a config object property by
 * property (`Object.getOwnPropertyDescriptors`), which cost a device read 6 µs; from a string it
 * copies nothing.
 */
function runNamed(connection: pg.PoolClient, name: string, text: string, values: unknown[]): Promise<Array<Record<string, unknown>>> {
  return new Promise((resolve, reject) => {
    const query: pg.Query & { name?: string } = new pg.Query(text, values, (err, result) => (err ? reject(err) : resolve(result.rows)));
    query.name = name;
    connection.query(query);
  });
}

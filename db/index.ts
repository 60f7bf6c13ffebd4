import knex, { type Knex } from 'knex';
import { migrationSource } from './migrations';

export type Db = Knex;

/** One pool per process. `pg` returns bigint as string; versions stay well inside 2^53, so parse them. */
export function createDb(databaseUrl: string, pool: { min?: number; max?: number } = {}): Db {
  return knex({
    client: 'pg',
    connection: { connectionString: databaseUrl, connectionTimeoutMillis: 5_000 },
    pool: { min: pool.min ?? 0, max: pool.max ?? 10, acquireTimeoutMillis: 10_000 },
    acquireConnectionTimeout: 10_000,
  });
}

/** A pg connection of knex's pool, as knex hands it out. */
interface PooledClient {
  query(q: { text: string; values: unknown[]; name?: string }): Promise<{ rows: Array<Record<string, unknown>> }>;
}

/**
 * One parameterized statement ($1, $2…) on a connection of the knex pool, without knex's query
 * building: for the hottest reads. Same pool, same limits, same connection errors.
 *
 * With a `name`, the statement is prepared once per connection and then only bound and executed:
 * Postgres skips parsing and planning it, which for a one-row lookup is most of the server's work
 * (docs/benchmarks.md, "Read path, fifth round"). A named statement must list its columns: a
 * migration that adds a column would otherwise change the result of `select *` under a prepared
 * statement, which Postgres refuses ("cached plan must not change result type").
 */
export async function pooledQuery(db: Db, text: string, values: unknown[], name?: string): Promise<Array<Record<string, unknown>>> {
  const client = db.client as { acquireConnection(): Promise<PooledClient>; releaseConnection(c: PooledClient): Promise<void> };
  const connection = await client.acquireConnection();
  try {
    return (await connection.query(name === undefined ? { text, values } : { name, text, values })).rows;
  } finally {
    await client.releaseConnection(connection);
  }
}

export async function migrateToLatest(db: Db): Promise<void> {
  await db.migrate.latest({ migrationSource });
}

export async function pingDb(db: Db): Promise<void> {
  await db.raw('select 1');
}

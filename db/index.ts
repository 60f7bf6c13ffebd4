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

export async function migrateToLatest(db: Db): Promise<void> {
  await db.migrate.latest({ migrationSource });
}

export async function pingDb(db: Db): Promise<void> {
  await db.raw('select 1');
}

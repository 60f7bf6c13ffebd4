import knex from 'knex';

/**
 * A fresh, uniquely named database on a Postgres server, for one test run or one benchmark; `drop()`
 * removes it (closing any connection left open) and releases the admin connection.
 */
export async function createScratchDatabase(
  adminUrl: string,
  prefix: string,
): Promise<{ name: string; databaseUrl: string; drop(): Promise<void> }> {
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}`;
  const admin = knex({ client: 'pg', connection: adminUrl, pool: { min: 0, max: 1 } });
  try {
    await admin.raw(`CREATE DATABASE ${name}`);
  } catch (err) {
    await admin.destroy();
    throw new Error(`cannot create the database ${name} on ${adminUrl.replace(/:[^:@/]*@/, ':***@')}: ${(err as Error).message}`);
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    name,
    databaseUrl: url.toString(),
    async drop() {
      await admin.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.destroy();
    },
  };
}

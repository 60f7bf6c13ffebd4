import type { Knex } from 'knex';

/**
 * Fleet sweeps (docs/architecture.md): the resume point of a sweep, written after every batch of signals so a
 * retried sweep activity resumes exactly where the previous attempt stopped, and the count of
 * devices skipped because their workflow was not running.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('operations', (t) => {
    t.integer('devices_skipped').notNullable().defaultTo(0);
    // The last device id signalled (keyset cursor, compared by Postgres, never in JS).
    t.text('resume_after');
    t.timestamp('checkpointed_at', { useTz: true, precision: 3 });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('operations', (t) => {
    t.dropColumn('checkpointed_at');
    t.dropColumn('resume_after');
    t.dropColumn('devices_skipped');
  });
}

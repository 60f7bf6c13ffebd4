import type { Knex } from 'knex';

/**
 * The write sequence of a device row: with the version, it orders the device workflow's writes. A
 * workflow task retried after a timeout writes again with the same version; its history length (the
 * write sequence) is larger, so the write Temporal kept replaces the one it discarded.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('devices', (t) => {
    t.integer('write_seq').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('devices', (t) => {
    t.dropColumn('write_seq');
  });
}

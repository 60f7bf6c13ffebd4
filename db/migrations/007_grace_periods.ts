import type { Knex } from 'knex';

/**
 * Grace periods (docs/product-rules.md): the tenant's grace per policy action (ISO 8601 durations,
 * `{}`: none), and on each device the action waiting for its grace and when that grace ends (null
 * unless in grace). A timeline row of a grace's change carries what changed.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('settings', (t) => {
    t.jsonb('grace_periods').notNullable().defaultTo('{}');
  });
  await knex.schema.alterTable('devices', (t) => {
    t.timestamp('grace_until', { useTz: true, precision: 3 });
    t.text('grace_action');
  });
  await knex.schema.alterTable('report_attempts', (t) => {
    t.jsonb('grace');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('report_attempts', (t) => {
    t.dropColumn('grace');
  });
  await knex.schema.alterTable('devices', (t) => {
    t.dropColumn('grace_action');
    t.dropColumn('grace_until');
  });
  await knex.schema.alterTable('settings', (t) => {
    t.dropColumn('grace_periods');
  });
}

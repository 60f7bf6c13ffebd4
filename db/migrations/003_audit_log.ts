import type { Knex } from 'knex';

/**
 * The audit trail: who did what, from the console or with the admin API key (a device sync, a bulk
 * re-report, a settings change). Written by the API only; rows are never changed.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('audit_log', (t) => {
    t.bigIncrements('id').primary();
    t.text('tenant_id').notNullable();
    t.timestamp('at', { useTz: true, precision: 3 }).notNullable().defaultTo(knex.fn.now());
    t.text('actor').notNullable();
    t.text('action').notNullable();
    t.text('target');
    t.jsonb('detail');
  });
  await knex.raw('CREATE INDEX audit_log_tenant_at_idx ON audit_log (tenant_id, at DESC, id DESC)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('audit_log');
}

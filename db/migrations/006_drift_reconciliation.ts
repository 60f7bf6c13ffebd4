import type { Knex } from 'knex';

/**
 * The drift reconciliation (docs/product-rules.md, Drift): its per-tenant pause and cron in the
 * settings (a null cron is the default: daily, at a time spread from the tenant id), and what a
 * `drift` timeline row found different in Entra. The index counts a reconciliation's findings for its
 * operation (GET /v1/operations/{id}) without reading the rest of the timeline.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('settings', (t) => {
    t.boolean('reconciliation_paused').notNullable().defaultTo(false);
    t.text('reconciliation_cron');
  });
  await knex.schema.alterTable('report_attempts', (t) => {
    t.jsonb('drift');
  });
  await knex.raw(
    "create index report_attempts_drift_operation on report_attempts (tenant_id, (drift->>'operationId')) where trigger = 'drift'",
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists report_attempts_drift_operation');
  await knex.schema.alterTable('report_attempts', (t) => {
    t.dropColumn('drift');
  });
  await knex.schema.alterTable('settings', (t) => {
    t.dropColumn('reconciliation_cron');
    t.dropColumn('reconciliation_paused');
  });
}

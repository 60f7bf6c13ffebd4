import type { Knex } from 'knex';

/**
 * The drift rows of the timeline, indexed by tenant: the API's /metrics counts them at every scrape
 * (acc_drift_found_total) without reading the whole timeline. Partial, so other reports' writes do
 * not maintain it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw("CREATE INDEX report_attempts_drift_idx ON report_attempts (tenant_id) WHERE trigger = 'drift'");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS report_attempts_drift_idx');
}

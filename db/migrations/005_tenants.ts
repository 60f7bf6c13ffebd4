import type { Knex } from 'knex';

/**
 * Tenants as data: one deployment serves many customer tenants (docs/architecture.md, "Tenants").
 * - `tenants`: each customer's Entra tenant and where it stands in onboarding; its settings stay in
 *   `settings` (one row per tenant).
 * - `tenant_api_keys`: the tenant's MDM and admin keys, stored as SHA-256 digests only.
 * - `consent_requests`: the `state` each admin-consent link carried; used once.
 * - `tenant_offboardings`: what remains of an offboarded tenant (its data is removed).
 */
export const TENANT_STATES = ['pending-consent', 'consented', 'active', 'consent-revoked', 'offboarding'] as const;

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('tenants', (t) => {
    t.text('tenant_id').primary();
    t.text('display_name').notNullable();
    t.text('state').notNullable();
    // Why the tenant is in its state, in plain words (a revoked consent, a failed activation).
    t.text('state_reason');
    t.timestamp('created_at', { useTz: true, precision: 3 }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('consented_at', { useTz: true, precision: 3 });
    t.timestamp('activated_at', { useTz: true, precision: 3 });
    t.timestamp('revoked_at', { useTz: true, precision: 3 });
    // The weekly report's cron; null: spread over the week's first hours from the tenant id.
    t.text('weekly_cron');
    // Token health as the workers last saw it.
    t.boolean('token_ok');
    t.timestamp('token_checked_at', { useTz: true, precision: 3 });
    t.text('token_error');
    t.integer('consent_failures').notNullable().defaultTo(0);
    t.timestamp('last_throttled_at', { useTz: true, precision: 3 });
    t.timestamp('updated_at', { useTz: true, precision: 3 }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(
    `ALTER TABLE tenants ADD CONSTRAINT tenants_state_check CHECK (state IN (${TENANT_STATES.map((s) => `'${s}'`).join(', ')}))`,
  );

  await knex.schema.createTable('tenant_api_keys', (t) => {
    t.text('key_digest').primary();
    t.text('tenant_id').notNullable().references('tenant_id').inTable('tenants').onDelete('CASCADE');
    t.text('role').notNullable();
    t.timestamp('created_at', { useTz: true, precision: 3 }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('revoked_at', { useTz: true, precision: 3 });
  });
  await knex.raw(`ALTER TABLE tenant_api_keys ADD CONSTRAINT tenant_api_keys_role_check CHECK (role IN ('mdm', 'admin'))`);
  await knex.raw('CREATE INDEX tenant_api_keys_tenant_idx ON tenant_api_keys (tenant_id)');

  await knex.schema.createTable('consent_requests', (t) => {
    t.text('state').primary();
    t.text('tenant_id').notNullable().references('tenant_id').inTable('tenants').onDelete('CASCADE');
    t.timestamp('issued_at', { useTz: true, precision: 3 }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('used_at', { useTz: true, precision: 3 });
  });

  await knex.schema.createTable('tenant_offboardings', (t) => {
    t.bigIncrements('id').primary();
    t.text('tenant_id').notNullable();
    t.text('display_name').notNullable();
    t.text('operation_id').notNullable();
    t.boolean('report_not_managed').notNullable();
    t.timestamp('requested_at', { useTz: true, precision: 3 }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('completed_at', { useTz: true, precision: 3 });
    t.integer('devices_reported');
    t.integer('devices_removed');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('tenant_offboardings');
  await knex.schema.dropTableIfExists('consent_requests');
  await knex.schema.dropTableIfExists('tenant_api_keys');
  await knex.schema.dropTableIfExists('tenants');
}

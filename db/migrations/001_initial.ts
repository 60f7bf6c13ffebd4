import type { Knex } from 'knex';

/**
 * The read model the API serves (docs/architecture.md, The read model): one row per device, the report-attempt
 * timeline, per-tenant settings and fleet operations. Only activities of Temporal workflows write it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('devices', (t) => {
    t.text('tenant_id').notNullable();
    t.text('device_id').notNullable();
    t.text('platform');
    t.text('azure_device_id');
    t.text('client_status_code');
    t.text('user_principal_name');
    t.text('compliance_status'); // In-progress | Successful | Failed | null
    t.timestamp('report_time', { useTz: true, precision: 3 });
    t.text('policy_action');
    t.text('reported_compliance'); // compliant | notCompliant
    t.text('management_state'); // managed | notManaged
    t.jsonb('inventory');
    t.timestamp('last_attempt_at', { useTz: true, precision: 3 });
    t.timestamp('last_successful_report_at', { useTz: true, precision: 3 });
    t.jsonb('last_error');
    t.timestamp('retired_at', { useTz: true, precision: 3 });
    t.timestamp('created_at', { useTz: true, precision: 3 }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true, precision: 3 }).notNullable().defaultTo(knex.fn.now());
    // Monotonic per device, chosen by the device's workflow: a write with an older version is dropped.
    t.bigInteger('version').notNullable();
    t.primary(['tenant_id', 'device_id']);
  });
  // Admin filters (GET /v1/devices) and the weekly sweep page by (tenant, device_id) within these.
  await knex.raw('CREATE INDEX devices_tenant_status_idx ON devices (tenant_id, compliance_status, device_id)');
  await knex.raw('CREATE INDEX devices_tenant_client_status_idx ON devices (tenant_id, client_status_code, device_id)');
  await knex.raw('CREATE INDEX devices_tenant_active_idx ON devices (tenant_id, device_id) WHERE retired_at IS NULL');

  await knex.schema.createTable('report_attempts', (t) => {
    t.bigIncrements('id').primary();
    t.text('tenant_id').notNullable();
    t.text('device_id').notNullable();
    // Chosen by the workflow (the message id, or a deterministic key when nothing was sent), so a
    // retried activity updates its row instead of adding a second one.
    t.text('attempt_key').notNullable();
    t.timestamp('at', { useTz: true, precision: 3 }).notNullable();
    t.text('trigger').notNullable();
    t.jsonb('reported').notNullable();
    t.text('outcome').notNullable(); // In-progress | Successful | Failed
    t.text('message_id');
    t.jsonb('error');
    t.timestamp('completed_at', { useTz: true, precision: 3 });
    t.unique(['tenant_id', 'device_id', 'attempt_key']);
  });
  await knex.raw('CREATE INDEX report_attempts_device_at_idx ON report_attempts (tenant_id, device_id, at DESC, id DESC)');

  await knex.schema.createTable('settings', (t) => {
    t.text('tenant_id').primary();
    t.boolean('enabled').notNullable().defaultTo(true);
    t.boolean('weekly_report_paused').notNullable().defaultTo(false);
    t.timestamp('last_heartbeat_at', { useTz: true, precision: 3 });
    t.jsonb('last_heartbeat_result');
    t.text('last_resync_handled');
    t.timestamp('updated_at', { useTz: true, precision: 3 }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('operations', (t) => {
    t.text('operation_id').primary();
    t.text('tenant_id').notNullable();
    t.text('kind').notNullable(); // weekly | sync | enable | resync
    t.jsonb('filter');
    t.timestamp('started_at', { useTz: true, precision: 3 }).notNullable();
    t.timestamp('finished_at', { useTz: true, precision: 3 });
    t.integer('devices_total');
    t.integer('devices_signalled').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('operations');
  await knex.schema.dropTableIfExists('settings');
  await knex.schema.dropTableIfExists('report_attempts');
  await knex.schema.dropTableIfExists('devices');
}

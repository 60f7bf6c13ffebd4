import type { Knex } from 'knex';
import * as initial from './001_initial';
import * as fleetSweepCheckpoint from './002_fleet_sweep_checkpoint';
import * as auditLog from './003_audit_log';
import * as deviceWriteSeq from './004_device_write_seq';
import * as tenants from './005_tenants';
import * as driftReconciliation from './006_drift_reconciliation';
import * as gracePeriods from './007_grace_periods';

/**
 * Migrations are listed here rather than discovered on disk, so they load the same way under tsx,
 * from a build, and in a bundle. Append new files in order; never edit an applied one.
 */
const migrations: Record<string, { up(k: Knex): Promise<void>; down(k: Knex): Promise<void> }> = {
  '001_initial': initial,
  '002_fleet_sweep_checkpoint': fleetSweepCheckpoint,
  '003_audit_log': auditLog,
  '004_device_write_seq': deviceWriteSeq,
  '005_tenants': tenants,
  '006_drift_reconciliation': driftReconciliation,
  '007_grace_periods': gracePeriods,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};

/**
 * Queries of fleet sweeps (docs/architecture.md) beyond the operation row itself (db/data.ts): the resume point a
 * sweep writes after every batch of signals, and the devices it skipped.
 */
import type { Db } from './index';

/** Where a sweep stands: counts are cumulative over the whole operation, `after` is the keyset cursor. */
export interface SweepCheckpoint {
  /** Last device id handled (signalled or skipped), null before the first batch. */
  after: string | null;
  signalled: number;
  skipped: number;
}

/** The checkpoint recorded for an operation, or null when none was written yet. */
export async function readSweepCheckpoint(db: Db, operationId: string): Promise<SweepCheckpoint | null> {
  const r = await db('operations')
    .select('resume_after', 'devices_signalled', 'devices_skipped', 'checkpointed_at')
    .where({ operation_id: operationId })
    .first();
  if (!r || r.checkpointed_at === null) return null;
  return { after: r.resume_after, signalled: Number(r.devices_signalled), skipped: Number(r.devices_skipped) };
}

/**
 * Records progress after a batch. Only ever moves forward: a late write from an older attempt (fewer
 * devices handled) changes nothing.
 */
export async function writeSweepCheckpoint(db: Db, operationId: string, cp: SweepCheckpoint): Promise<void> {
  await db('operations')
    .where({ operation_id: operationId })
    .andWhereRaw('devices_signalled + devices_skipped <= ?', [cp.signalled + cp.skipped])
    .update({
      resume_after: cp.after,
      devices_signalled: cp.signalled,
      devices_skipped: cp.skipped,
      checkpointed_at: db.fn.now(),
    });
}

/** Devices skipped by an operation (their workflow was not running), for tests and the bench. */
export async function getDevicesSkipped(db: Db, operationId: string): Promise<number | null> {
  const r = await db('operations').select('devices_skipped').where({ operation_id: operationId }).first();
  return r ? Number(r.devices_skipped) : null;
}

/** Marks the operation finished with its final counts; a repeated call keeps the first finish time. */
export async function finishOperation(db: Db, operationId: string, counts: { signalled: number; skipped: number }): Promise<string> {
  const [r] = await db('operations')
    .where({ operation_id: operationId })
    .update({
      devices_signalled: counts.signalled,
      devices_skipped: counts.skipped,
      finished_at: db.raw('coalesce(finished_at, now())'),
    })
    .returning('finished_at');
  if (!r) throw new Error(`no operation ${operationId}`);
  return new Date(r.finished_at).toISOString();
}

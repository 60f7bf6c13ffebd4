/**
 * The drift reconciliation's page activity (docs/architecture.md, Drift reconciliation): a page of the
 * tenant's registered, non-retired devices, read back from Entra 20 to a Graph JSON batch (throttled
 * sub-requests sent again after their Retry-After), then each device workflow told what Entra holds.
 * The device workflow alone decides whether that is drift (domain/drift.ts): it knows what Microsoft
 * last confirmed, the read model does not.
 */
import { Context } from '@temporalio/activity';
import { listEntraTargetsPage } from '../db/data';
import type { EntraObservation } from '../domain/drift';
import { entraObservedSignal } from '../workflows/messages';
import { MAX_BATCH_REQUESTS, readBack } from './azure/entra-readback';
import { toTemporalFailure } from './azure/temporal-failure';
import {
  signalDevice,
  sweepDeviceFilter,
  sweepPage,
  type FleetActivityDeps,
  type SignalPageInput,
  type SignalPageResult,
} from './fleet-activities';

/** How often a page waiting out a Retry-After heartbeats (the sweep's heartbeat timeout is 30 s). */
const HEARTBEAT_EVERY_MS = 5_000;

export type ReconcilePageInput = Omit<SignalPageInput, 'trigger' | 'filter'>;

export function createReconcileActivities(deps: FleetActivityDeps) {
  const { db, temporal } = deps;
  const now = deps.now ?? (() => new Date());

  return {
    /**
     * One page of a reconciliation. Devices Entra could not be read for (still throttled, or an error
     * of their own) and devices whose workflow is not running count as skipped; the others as signalled.
     */
    async reconcilePage(input: ReconcilePageInput): Promise<SignalPageResult> {
      const ctx = Context.current();
      const client = deps.azureClientFor(input.tenantId);
      const filter = sweepDeviceFilter(null, 'drift');
      return sweepPage(
        db,
        input,
        // One Graph batch per page batch: the pacing below then counts Graph sub-requests too.
        Math.min(input.batchSize, MAX_BATCH_REQUESTS),
        (limit, after) => listEntraTargetsPage(db, input.tenantId, filter, limit, after),
        async (batch) => {
          // A whole batch refused (429, 5xx, 403…) fails the attempt; Temporal retries it from the checkpoint.
          const read = await readBack(
            batch.map((d) => d.azureDeviceId),
            (ids) =>
              client.readEntraDevicesBatch(ids).catch((err: unknown) => {
                throw toTemporalFailure(err, { operation: 'readEntraDevices' });
              }),
            // Retry-After may outlast the heartbeat timeout: keep telling Temporal the page is alive.
            async (ms) => {
              for (let left = ms; left > 0; left -= HEARTBEAT_EVERY_MS) {
                ctx.heartbeat();
                await ctx.sleep(Math.min(left, HEARTBEAT_EVERY_MS));
              }
            },
          );
          if (read.unread.length > 0)
            deps.logger?.warn({ operationId: input.operationId, unread: read.unread }, 'Entra could not be read for some devices: skipped');
          const observedAt = now().toISOString();
          return Promise.all(
            batch.map(({ deviceId, azureDeviceId }) => {
              if (!read.observed.has(azureDeviceId)) return 'skipped' as const;
              const observation: EntraObservation = {
                operationId: input.operationId,
                azureDeviceId,
                observedAt,
                entra: read.observed.get(azureDeviceId) ?? null,
              };
              return signalDevice(
                temporal,
                {
                  tenantId: input.tenantId,
                  deviceId,
                  operationId: input.operationId,
                  signalName: entraObservedSignal.name,
                  arg: observation,
                },
                deps.logger,
              );
            }),
          );
        },
        deps.logger,
      );
    },
  };
}

export type ReconcileActivities = ReturnType<typeof createReconcileActivities>;

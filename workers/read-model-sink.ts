/**
 * The read-model write a device workflow makes through a sink (workflows/device-entity.ts,
 * persistBeforeReport). The worker runs it before it completes the workflow task that made it; a
 * replayed task does not run it again. It is retried briefly; a write that still fails is logged and
 * left to the report's outcome, which the workflow writes durably right after.
 */
import type { InjectedSinks } from '@temporalio/worker';
import type { Db } from '../db';
import { writeDeviceRecord } from '../db/data';
import type { Logger } from '../lib/logger';
import type { ReadModelSinks } from '../workflows/device-entity';

const ATTEMPTS = 3;
const BACKOFF_MS = 200;

export function readModelSinks(db: Db, logger?: Logger): InjectedSinks<ReadModelSinks> {
  return {
    readModel: {
      write: {
        async fn(_info, input) {
          for (let attempt = 1; ; attempt++) {
            try {
              await writeDeviceRecord(db, input.projection, input.writeSeq ?? 0, input.attempt);
              return;
            } catch (err) {
              if (attempt >= ATTEMPTS) {
                logger?.error(
                  { err, tenantId: input.projection.tenantId, deviceId: input.projection.deviceId },
                  'read-model write failed; the report outcome rewrites it',
                );
                return;
              }
              await new Promise((r) => setTimeout(r, BACKOFF_MS * attempt));
            }
          }
        },
        callDuringReplay: false,
      },
    },
  };
}

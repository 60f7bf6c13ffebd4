/**
 * The read-model write a device workflow makes through a sink (workflows/device-entity.ts,
 * persistThroughSink). The worker runs it before it completes the workflow task that made it; a
 * replayed task does not run it again. It is retried briefly; a write that still fails is logged and
 * left to the report's outcome, which the workflow writes durably right after.
 */
import type { InjectedSinks } from '@temporalio/worker';
import type { DeviceRecordInput } from '../activities/device-activities';
import type { Db } from '../db';
import { writeDeviceRecord } from '../db/data';
import type { Logger } from '../lib/logger';
import type { ReadModelSinks } from '../workflows/device-entity';

const ATTEMPTS = 3;
const BACKOFF_MS = 200;

function sinksWriting(write: (input: DeviceRecordInput) => Promise<unknown>, logger?: Logger): InjectedSinks<ReadModelSinks> {
  return {
    readModel: {
      write: {
        async fn(_info, input) {
          for (let attempt = 1; ; attempt++) {
            try {
              await write(input);
              return;
            } catch (err) {
              if (attempt >= ATTEMPTS) {
                const { tenantId, deviceId } = input.projection;
                logger?.error({ err, tenantId, deviceId }, "read-model write failed; the report's outcome rewrites it");
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

export function readModelSinks(db: Db, logger?: Logger): InjectedSinks<ReadModelSinks> {
  return sinksWriting((input) => writeDeviceRecord(db, input.projection, input.writeSeq ?? 0, input.attempt), logger);
}

/**
 * For a replay worker (`Worker.runReplayHistories`): the sink must be declared (an undeclared one is
 * logged as an error on every call), but a replay never calls it.
 */
export const REPLAY_SINKS: InjectedSinks<ReadModelSinks> = sinksWriting(() => Promise.reject(new Error('a replay writes nothing')));

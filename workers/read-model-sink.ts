/**
 * The read-model writes a device workflow makes through a sink (workflows/device-entity.ts,
 * persistThroughSink). The worker runs them before it completes the workflow task that made them; a
 * replayed task does not run them again. A write is retried briefly; one that still fails is
 * handed back to its workflow with the `readModelRewrite` signal, which makes the run write its
 * current state again through the local activity (retried until Postgres takes it). The signal is
 * sent before the workflow task completes too, so a worker that dies meanwhile leaves the task to be
 * run again, sink write included: no write is lost without the workflow knowing.
 */
import type { Client } from '@temporalio/client';
import type { InjectedSinks } from '@temporalio/worker';
import type { WorkflowInfo } from '@temporalio/workflow';
import { recordDevice, type DeviceRecordInput } from '../activities/device-activities';
import type { Db } from '../db';
import type { Logger } from '../lib/logger';
import type { ReadModelSinks } from '../workflows/device-entity';
import { readModelRewriteSignal } from '../workflows/messages';

const ATTEMPTS = 3;
const BACKOFF_MS = 200;

type AskRewrite = (info: WorkflowInfo, input: DeviceRecordInput) => Promise<void>;

function sinksWriting(
  write: (input: DeviceRecordInput) => Promise<unknown>,
  askRewrite: AskRewrite,
  logger?: Logger,
): InjectedSinks<ReadModelSinks> {
  return {
    readModel: {
      write: {
        async fn(info, input) {
          for (let attempt = 1; ; attempt++) {
            try {
              await write(input);
              return;
            } catch (err) {
              if (attempt < ATTEMPTS) {
                await new Promise((r) => setTimeout(r, BACKOFF_MS * attempt));
                continue;
              }
              const { tenantId, deviceId } = input.projection;
              logger?.warn({ err, tenantId, deviceId }, 'read-model write failed; the workflow is asked to write again');
              try {
                await askRewrite(info, input);
              } catch (signalErr) {
                logger?.error(
                  { err: signalErr, tenantId, deviceId },
                  "read-model write failed and its rewrite could not be asked for; the device's next write heals it",
                );
              }
              return;
            }
          }
        },
        callDuringReplay: false,
      },
    },
  };
}

export function readModelSinks(db: Db, temporal: Client, logger?: Logger): InjectedSinks<ReadModelSinks> {
  return sinksWriting(
    // The same write as the local activity's, report metric included.
    (input) => recordDevice(db, input),
    // To the workflow id, not the run: a run that continued-as-new meanwhile writes its state too.
    (info, input) => temporal.workflow.getHandle(info.workflowId).signal(readModelRewriteSignal, { attempt: input.attempt ?? null }),
    logger,
  );
}

/**
 * For a replay worker (`Worker.runReplayHistories`): the sink must be declared (an undeclared one is
 * logged as an error on every call), but a replay never calls it.
 */
const refuse = () => Promise.reject(new Error('a replay writes nothing'));
export const REPLAY_SINKS: InjectedSinks<ReadModelSinks> = sinksWriting(refuse, refuse);

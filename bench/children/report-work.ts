/**
 * A report's own work without Temporal (a child process of the benchmark): for each of `count` new
 * devices, what the device workflow has its activities do for a registration, with the worker's real
 * activities (workers/worker.ts `createActivities`, the real Microsoft client against the emulator,
 * the real read-model writes): the device row after the event, the upload with its lookups and first
 * status poll, then the outcome's row with its timeline row. The state comes from the same domain
 * functions the workflow uses, so the rows and the upload are the ones a real report writes and sends.
 *
 * It answers "what does the work cost that the floor's empty activity does not do": the event path's
 * best possible ratio to its floor, with no Temporal overhead of ours at all, is the floor's CPU per
 * event over the floor's plus this (docs/benchmarks.md).
 *
 * argv: <count> <concurrency> <prefix>; env: the connector worker's. Warms up (token, onboarding, JIT,
 * pools), prints "ready", waits half a second (the parent reads the other processes' CPU), runs, prints
 * one JSON line `{ done, failed, seconds, cpuSeconds }` (its own CPU over the run only), and exits on
 * SIGTERM.
 */
import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { UploadReportResult } from '../../activities/device-activities';
import { loadProcessConfigOrExit } from '../../config';
import { createDb } from '../../db';
import {
  applyEvent,
  initialState,
  nextStep,
  reportSucceeded,
  startReport,
  uploadLeaving,
  nextUpdateTime,
  rememberLookups,
} from '../../domain/device-state';
import { createActivities } from '../../workers/worker';
import { projectionOf } from '../../workflows/device-views';
import { timelineRow } from '../../workflows/device-report';
import { registrationFor } from '../scenarios/event-path';
import { eachLimited } from '../lib/load';

async function main(): Promise<void> {
  const [countArg, concurrencyArg, prefix = 'work-'] = process.argv.slice(2);
  const count = Number(countArg);
  const concurrency = Number(concurrencyArg ?? '50');
  if (!Number.isInteger(count) || count < 1) throw new Error('usage: report-work.ts <count> <concurrency> <prefix>');
  const config = loadProcessConfigOrExit('worker');
  const db = createDb(config.databaseUrl);
  const activities = createActivities({ db, azure: config.azure });
  const tenantId = config.azure.tenantId;
  const env = new MockActivityEnvironment();

  let done = 0;
  let failed = 0;
  const reportEach = (devicePrefix: string, n: number) =>
    eachLimited(
      Array.from({ length: n }, (_, i) => i),
      concurrency,
      async (i) => {
        if (await reportOne(`${devicePrefix}${i}`, i + 1)) done++;
        else failed++;
      },
    );

  /** One registration's report, as the device workflow has its activities do it; false unless Successful. */
  async function reportOne(id: string, seed: number): Promise<boolean> {
    const { deviceId, ...event } = registrationFor(id, seed);
    let state = applyEvent(initialState(tenantId, deviceId, 0), event).state;
    // The device row after the event (the workflow's first write).
    state = { ...state, version: state.version + 1 };
    await activities.writeDeviceRecord({ projection: projectionOf(state), writeSeq: 5 });
    const step = nextStep(state);
    if (step.kind !== 'report') throw new Error(`device ${deviceId}: nothing to report (${step.kind})`);
    const startedAt = new Date().toISOString();
    const lastUpdateTime = nextUpdateTime(state, startedAt);
    state = uploadLeaving(state, step.payload, lastUpdateTime);
    const messageId = randomUUID();
    const result: UploadReportResult = await env.run(activities.uploadReport, {
      tenantId,
      deviceId,
      messageId,
      payload: step.payload,
      lastCheckInTime: startedAt,
      lastUpdateTime,
      firstPollDelayMs: 0,
    });
    if (!result.sent || result.status.status !== 'completed') return false;
    state = rememberLookups(startReport(state, step.payload, startedAt), result.lookups);
    state = reportSucceeded(state, step.payload, result.status.completedAt);
    state = { ...state, version: state.version + 1 };
    const reported = { complianceStatus: step.payload.complianceStatus, managementState: step.payload.managementState };
    const row = timelineRow(
      { key: messageId, at: startedAt, trigger: step.trigger, reported, messageId },
      'Successful',
      null,
      result.status.completedAt,
    );
    return (await activities.writeDeviceRecord({ projection: projectionOf(state), writeSeq: 15, attempt: row })).applied;
  }

  await reportEach(`${prefix}warm-`, Math.min(count, 20));
  if (failed > 0) throw new Error(`${failed} of the warm-up's reports did not end Successful`);
  done = 0;
  process.stdout.write('ready\n');
  await new Promise((resolve) => setTimeout(resolve, 500));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await reportEach(prefix, count);
  const cpu = process.cpuUsage(cpu0);
  const result = { done, failed, seconds: (performance.now() - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  // The pool stays open until the parent stops this process: it counts Postgres's CPU by its backends,
  // and a backend that exited before it looked would take its share with it.
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  await db.destroy();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`report-work failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);

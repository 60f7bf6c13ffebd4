/**
 * The report's own work without Temporal: bench/children/report-work.ts runs the worker's real
 * activities for `count` new devices (the read-model writes, the upload with its lookups and first
 * status poll) against the stack's emulator and Postgres, with nothing of Temporal. Its CPU per event,
 * with the emulator's and Postgres's, is what the event path costs beyond the floor's empty activity
 * before any overhead of ours; the floor plus this is the best the event path could do.
 */
import { WORKER_ENV, WORKER_NODE_FLAGS } from '../../workers/launch';
import { startChild } from '../lib/child';
import { cpuDelta, cpuOf, cpuSinceNow } from '../lib/proc';
import type { Stack } from '../lib/stack';

export interface ReportWorkResult {
  events: number;
  done: number;
  failed: number;
  seconds: number;
  perSecond: number;
  /** CPU seconds over the run: the process running the activities, the emulator, Postgres, and the idle rest of the stack. */
  cpuSeconds: { activities: number; emulator: number; postgres: number; temporal: number; worker: number };
}

export async function reportWork(stack: Stack, o: { count: number; concurrency: number; prefix: string }): Promise<ReportWorkResult> {
  // Started as the worker is (its heap cap and malloc arenas), so its CPU compares with the worker's.
  const child = startChild({
    name: 'report-work',
    script: 'bench/children/report-work.ts',
    nodeFlags: [...WORKER_NODE_FLAGS],
    args: [String(o.count), String(o.concurrency), o.prefix],
    env: { ...WORKER_ENV, ...stack.connectorEnv },
  });
  try {
    await child.waitForLine((l) => (l === 'ready' ? true : undefined), 120_000);
    const pids = { emulator: [stack.emulatorChild.pid], temporal: [stack.temporal.pid], worker: [stack.worker.pid] };
    const before = cpuOf(pids);
    const postgres = cpuSinceNow('postgres');
    const line = await child.waitForLine((l) => (l.startsWith('{') ? l : undefined), 600_000);
    const others = cpuDelta(before, cpuOf(pids));
    const r = JSON.parse(line) as { done: number; failed: number; seconds: number; cpuSeconds: number };
    return {
      events: o.count,
      done: r.done,
      failed: r.failed,
      seconds: r.seconds,
      perSecond: r.done / r.seconds,
      cpuSeconds: {
        activities: r.cpuSeconds,
        emulator: others.emulator ?? NaN,
        postgres: postgres(),
        temporal: others.temporal ?? NaN,
        worker: others.worker ?? NaN,
      },
    };
  } finally {
    await child.stop();
  }
}

/**
 * Context for the event path: the floor workflow on a second dev server exactly as `npm start` runs
 * it, i.e. SQLite with its default `synchronous=FULL` (an fsync per commit). On a VM disk this, not
 * the CPU, is what limits every workflow; the main scenarios run on `synchronous=OFF` instead.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startChild } from '../lib/child';
import { FLOOR_TASK_QUEUE, startTemporal } from '../lib/stack';
import { floorThroughput, type ThroughputResult } from './event-path';

export async function durableFloor(
  temporalCli: string,
  o: { count: number; concurrency: number; timeoutMs: number },
): Promise<ThroughputResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'acc-bench-durable-'));
  const temporal = await startTemporal({ binary: temporalCli, dbFilename: path.join(dir, 'temporal.db'), synchronous: 'FULL' });
  let connection: Connection | undefined;
  const worker = startChild({
    name: 'durable-floor-worker',
    script: 'bench/floor/worker.ts',
    args: [temporal.address, FLOOR_TASK_QUEUE],
    env: { ...process.env },
  });
  try {
    await worker.waitForLine((l) => (l === 'ready' ? true : undefined), 120_000);
    connection = await Connection.connect({ address: temporal.address });
    const client = new Client({ connection, namespace: 'default' });
    await floorThroughput(client, { count: 30, concurrency: o.concurrency, timeoutMs: 60_000, runId: 'warm' });
    return await floorThroughput(client, { count: o.count, concurrency: o.concurrency, timeoutMs: o.timeoutMs, runId: 'durable' });
  } finally {
    await worker.stop();
    await connection?.close();
    await temporal.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

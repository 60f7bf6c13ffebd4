/**
 * The floor worker (a child process of the benchmark): the floor workflow and its activity on their
 * own task queue, with the same worker options as the connector's main worker (workers/worker.ts).
 * argv: <temporal address> <task queue> [max cached workflows, default 2000] [--microsoft-queue]. With
 * `--microsoft-queue` it also runs the activities on `<task queue>-microsoft`, as the connector's worker
 * does (the shaped floor's `microsoftQueue`). Its connection compresses as the connector's worker's
 * does (TEMPORAL_GRPC_COMPRESSION, default none). Prints "ready" once polling; SIGTERM drains and exits.
 */
import { NativeConnection, Runtime, Worker, makeTelemetryFilterString } from '@temporalio/worker';
import { loadConfig } from '../../config';
import { microsoftTaskQueueOf } from '../../workflows/fleet-messages';
import { createFloorActivities } from './activities';

async function main(): Promise<void> {
  const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const [address, taskQueue, maxCached] = positional;
  if (!address || !taskQueue) throw new Error('usage: worker.ts <temporal address> <task queue>');
  Runtime.install({ telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} } } });
  const connection = await NativeConnection.connect({
    address,
    grpcCompression: { codec: loadConfig(process.env).temporal.grpcCompression },
  });
  const worker = await Worker.create({
    connection,
    namespace: 'default',
    taskQueue,
    workflowsPath: require.resolve('./workflows'),
    activities: createFloorActivities(),
    maxCachedWorkflows: maxCached ? Number(maxCached) : 2_000,
    maxConcurrentActivityTaskExecutions: 200,
    maxConcurrentLocalActivityExecutions: 200,
    maxConcurrentWorkflowTaskExecutions: 100,
  });
  const secondQueue = process.argv.includes('--microsoft-queue')
    ? await Worker.create({
        connection,
        namespace: 'default',
        taskQueue: microsoftTaskQueueOf(taskQueue),
        activities: createFloorActivities(),
        maxConcurrentActivityTaskExecutions: 200,
      })
    : undefined;
  process.stdout.write('ready\n');
  await Promise.all([worker.run(), secondQueue?.run()]);
  await connection.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`floor worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

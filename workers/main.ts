/**
 * The worker process: runs device workflows and their activities on the task queue (and the activities
 * that call Microsoft on the rate-limited `<taskQueue>-microsoft` queue) until SIGINT or SIGTERM,
 * creates or updates the weekly report and tenant heartbeat Schedules at start, and exposes its own
 * Prometheus metrics (the Temporal SDK's, plus the last tenant heartbeat) on WORKER_METRICS_PORT.
 */
import { Client } from '@temporalio/client';
import { NativeConnection, Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import { loadProcessConfigOrExit } from '../config';
import { createDb, migrateToLatest } from '../db';
import { getSettings } from '../db/data';
import { createLogger } from '../lib/logger';
import { ensureSchedules } from './schedules';
import { upsertReconciliationSchedule } from './reconciliation-schedule';
import { createWorker } from './worker';
import { prebuiltWorkflowBundle } from './workflow-bundle';

async function main(): Promise<void> {
  const config = loadProcessConfigOrExit('worker');
  const logger = createLogger(config.logLevel, { service: 'worker' });
  Runtime.install({
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
      metrics: { prometheus: { bindAddress: `127.0.0.1:${config.workerMetricsPort}` } },
    },
  });
  const db = createDb(config.databaseUrl);
  await migrateToLatest(db);
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const temporalClient = new Client({ connection, namespace: config.temporal.namespace });
  const bundle = await prebuiltWorkflowBundle().catch((err: unknown) => {
    logger.warn(
      { err: err instanceof Error ? err.message : String(err) },
      'no prebuilt workflow bundle: the worker bundles the workflows itself',
    );
    return undefined;
  });
  const worker = await createWorker({
    ...(bundle ? { workflowBundle: { codePath: bundle.codePath } } : {}),
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    db,
    azure: config.azure,
    logger,
    temporalClient,
    azureMaxCallsPerSecond: config.azureMaxCallsPerSecond,
    maxCachedWorkflows: config.workerMaxCachedWorkflows,
  });
  const schedules = {
    ...(await ensureSchedules(temporalClient, config, config.azure.tenantId, db)),
    reconciliation: await upsertReconciliationSchedule(
      temporalClient,
      config,
      config.azure.tenantId,
      await getSettings(db, config.azure.tenantId),
    ),
  };
  logger.info(
    {
      taskQueue: config.temporal.taskQueue,
      microsoftTaskQueue: worker.microsoftTaskQueue,
      azureMaxCallsPerSecond: config.azureMaxCallsPerSecond,
      schedules,
      weeklyReportCron: config.weeklyReportCron,
      heartbeatCron: config.heartbeatCron,
      metrics: `http://127.0.0.1:${config.workerMetricsPort}/metrics`,
      workflowBundle: bundle ? { path: bundle.codePath, built: bundle.built } : null,
    },
    'worker started',
  );
  // Worker.run() installs its own SIGINT/SIGTERM handling: both workers drain and resolve.
  await worker.run();
  await connection.close();
  await db.destroy();
  logger.info('worker stopped');
}

main().catch((err) => {
  process.stderr.write(`worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

/**
 * The worker process: runs device workflows and their activities on the task queue (and the activities
 * that call Microsoft on the rate-limited `<taskQueue>-microsoft` queue) until SIGINT or SIGTERM,
 * creates or updates the weekly report and tenant heartbeat Schedules of every active tenant at start, and exposes its own
 * Prometheus metrics (the Temporal SDK's, plus its own by tenant: activities/worker-metrics.ts) on WORKER_METRICS_PORT.
 */
import { Client } from '@temporalio/client';
import { NativeConnection, Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import { loadProcessConfigOrExit } from '../config';
import { createDb, migrateToLatest } from '../db';
import { knownTenantIds } from '../db/fleet-facts';
import { SINGLE_TENANT_DISPLAY_NAME, ensureActiveTenant } from '../db/tenants';
import { createLogger } from '../lib/logger';
import { workerMetrics } from '../activities/worker-metrics';
import { ensureSchedules, ensureSchedulesOfActiveTenants } from './schedules';
import { createWorker } from './worker';
import { prebuiltWorkflowBundle } from './workflow-bundle';

async function main(): Promise<void> {
  const config = loadProcessConfigOrExit('worker');
  const logger = createLogger(config.logLevel, { service: 'worker' });
  Runtime.install({
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
      metrics: { prometheus: { bindAddress: `${config.workerMetricsHost}:${config.workerMetricsPort}` } },
    },
  });
  const db = createDb(config.databaseUrl);
  await migrateToLatest(db);
  // Single-tenant mode: the configured tenant is in the registry, active (idempotent; the API does it too).
  await ensureActiveTenant(db, config.azure.tenantId, SINGLE_TENANT_DISPLAY_NAME);
  // Every known tenant's counters exist from the start, so rate() and the alert rules see them before the first event.
  workerMetrics().startAtZero(await knownTenantIds(db, [config.azure.tenantId]));
  const connection = await NativeConnection.connect({
    address: config.temporal.address,
    grpcCompression: { codec: config.temporal.grpcCompression },
  });
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
    workflowTaskSlots: config.workerWorkflowTaskSlots,
    config,
  });
  const schedules = await ensureSchedules(temporalClient, config, config.azure.tenantId, db);
  // Every other active tenant's Schedules too (created at activation; a start repairs what is missing).
  const tenantsWithSchedules = await ensureSchedulesOfActiveTenants(temporalClient, config, db);
  logger.info(
    {
      taskQueue: config.temporal.taskQueue,
      microsoftTaskQueue: worker.microsoftTaskQueue,
      azureMaxCallsPerSecond: config.azureMaxCallsPerSecond,
      schedules,
      tenantsWithSchedules,
      weeklyReportCron: config.weeklyReportCron,
      heartbeatCron: config.heartbeatCron,
      metrics: `http://${config.workerMetricsHost}:${config.workerMetricsPort}/metrics`,
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

/**
 * Builds the worker: the workflow bundle (or path) plus every activity, wired to its dependencies.
 * Used by the worker process (workers/main.ts), by `npm start` and by the tests.
 */
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { Db } from '../db';
import { createDeviceActivities, type DeviceActivityDeps } from '../activities/device-activities';
import { AzureComplianceClient } from '../activities/azure/client';
import type { AzureCredentials } from '../config';
import type { Logger } from '../lib/logger';

export const WORKFLOWS_PATH = require.resolve('../workflows');

export interface WorkerDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  db: Db;
  azure: AzureCredentials;
  logger?: Logger;
  /** A prebuilt bundle (tests share one); otherwise the worker bundles workflows/ itself. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Override for tests (0 forces a replay on every workflow task). */
  maxCachedWorkflows?: number;
  isReportingEnabled?: DeviceActivityDeps['isReportingEnabled'];
}

/** One Microsoft client per tenant for the worker's life, so MSAL's token cache is reused. */
export function azureClientProvider(azure: AzureCredentials, logger?: Logger): (tenantId: string) => AzureComplianceClient {
  const clients = new Map<string, AzureComplianceClient>();
  return (tenantId) => {
    let client = clients.get(tenantId);
    if (!client) {
      if (tenantId !== azure.tenantId) throw new Error(`no Azure credentials for tenant ${tenantId}`);
      client = new AzureComplianceClient(
        {
          tenantId,
          clientId: azure.clientId,
          clientSecret: azure.clientSecret,
          authorityHost: azure.authorityHost,
          graphBaseUrl: azure.graphBaseUrl,
          requestTimeoutMs: azure.requestTimeoutMs,
        },
        logger,
      );
      clients.set(tenantId, client);
    }
    return client;
  };
}

export function createActivities(deps: Pick<WorkerDeps, 'db' | 'azure' | 'logger' | 'isReportingEnabled'>) {
  const azureClientFor = azureClientProvider(deps.azure, deps.logger);
  return {
    ...createDeviceActivities({
      db: deps.db,
      azureClientFor,
      ...(deps.isReportingEnabled ? { isReportingEnabled: deps.isReportingEnabled } : {}),
    }),
  };
}

export async function createWorker(deps: WorkerDeps): Promise<Worker> {
  return Worker.create({
    connection: deps.connection,
    namespace: deps.namespace,
    taskQueue: deps.taskQueue,
    ...(deps.workflowBundle ? { workflowBundle: deps.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    activities: createActivities(deps),
    // Device workflows are long-lived and mostly idle: cap the cache so memory stays bounded; an
    // evicted workflow is replayed on its next task (design.md §5).
    maxCachedWorkflows: deps.maxCachedWorkflows ?? 2_000,
    maxConcurrentActivityTaskExecutions: 200,
    maxConcurrentLocalActivityExecutions: 200,
    maxConcurrentWorkflowTaskExecutions: 100,
  });
}

/**
 * Builds the worker: the workflow bundle (or path) plus every activity, wired to its dependencies.
 * Used by the worker process (workers/main.ts), by `npm start` and by the tests.
 *
 * One worker process runs two Temporal Workers: the main one (workflows and every activity that does
 * not call Microsoft) on the task queue, and one on `<taskQueue>-microsoft` for the activities that
 * call Microsoft, whose rate the Temporal server enforces per tenant across every worker
 * (workers/microsoft-budget.ts), so a sweep over a large fleet cannot set off a storm of 429s and one
 * tenant's load never spends another's budget.
 */
import v8 from 'node:v8';
import { Client } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { Db } from '../db';
import { reportingEnabledReader } from '../db/data';
import { createDeviceActivities, type DeviceActivityDeps } from '../activities/device-activities';
import { createFleetActivities, MICROSOFT_FLEET_ACTIVITIES } from '../activities/fleet-activities';
import { createTenantHealth } from '../activities/tenant-health';
import { createTenantLifecycleActivities, MICROSOFT_TENANT_LIFECYCLE_ACTIVITIES } from '../activities/tenant-lifecycle-activities';
import { createReconcileActivities } from '../activities/reconcile-activities';
import { AzureComplianceClient } from '../activities/azure/client';
import {
  CALLS_PER_REPORT,
  DEFAULT_AZURE_MAX_CALLS_PER_SECOND,
  DEFAULT_WORKER_MAX_CACHED_WORKFLOWS,
  DEFAULT_WORKER_WORKFLOW_TASK_SLOTS,
  loadConfig,
  type AzureCredentials,
  type Config,
} from '../config';
import type { Logger } from '../lib/logger';
import { microsoftTaskQueueOf } from '../workflows/fleet-messages';
import { applyPerTenantBudget } from './microsoft-budget';
import { WORKFLOW_BUNDLE_OPTIONS, WORKFLOWS_PATH } from './workflow-bundle';
import { readModelSinks } from './read-model-sink';

export interface WorkerDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  db: Db;
  azure: AzureCredentials;
  logger?: Logger;
  /** A prebuilt bundle (the worker process's, see workflow-bundle.ts; tests share one); otherwise the worker bundles workflows/ itself. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Override for tests (0 forces a replay on every workflow task). */
  maxCachedWorkflows?: number;
  /** Workflow tasks run at once (WORKER_WORKFLOW_TASK_SLOTS). */
  workflowTaskSlots?: number;
  isReportingEnabled?: DeviceActivityDeps['isReportingEnabled'];
  /** Client the fleet activities signal and start workflows with; default: one on `connection`. */
  temporalClient?: Client;
  /** Default `<taskQueue>-microsoft` (what the workflows assume when not told otherwise). */
  microsoftTaskQueue?: string;
  /** Calls to Microsoft per second for the tenant, across all workers (AZURE_MAX_CALLS_PER_SECOND). */
  azureMaxCallsPerSecond?: number;
  /**
   * The process's configuration, for what the tenant lifecycle creates (Schedules, sweeps); default:
   * the defaults on this task queue, with `azure` as the single tenant's credentials.
   */
  config?: Readonly<Config>;
}

/**
 * How many frames a stack trace keeps in the SDK's workflow thread (V8's default is 10). The SDK's
 * promise hook captures and source-maps a stack for every promise workflow code makes (for the
 * stack-trace query), on every activation and again on every replay, and most of those frames are
 * the SDK's own. Six keeps the four innermost frames below the hook's own two (where a run waits,
 * what threw) and cut a replay's CPU by about 5 % (docs/benchmarks.md, "A shorter stack trace in the
 * workflow thread only").
 */
export const WORKFLOW_THREAD_STACK_TRACE_LIMIT = 6;

/**
 * V8 gives a new context the flag's limit when it creates the context: set before the SDK starts its
 * workflow thread, the limit applies there and in the workflow sandbox, which the SDK freezes. The
 * worker's main thread (activities, logs, errors) keeps its own, its context being older.
 */
function limitWorkflowThreadStackTraces(): void {
  v8.setFlagsFromString(`--stack-trace-limit=${WORKFLOW_THREAD_STACK_TRACE_LIMIT}`);
}

/** Activities that call Microsoft: only the Microsoft worker runs them. */
export const MICROSOFT_ACTIVITIES = [
  'uploadReport',
  'reportDeviceState',
  'getReportStatus',
  ...MICROSOFT_FLEET_ACTIVITIES,
  ...MICROSOFT_TENANT_LIFECYCLE_ACTIVITIES,
] as const;
/**
 * Activities per second on the Microsoft task queue for a budget of calls per second. A Microsoft
 * activity makes at most CALLS_PER_REPORT calls to the Intune partner API (`uploadReport`: an upload
 * and its first status poll; the others one). The user and device lookups go to Graph's directory
 * service, whose limits are separate and far higher, once per device: the device workflow keeps them.
 */
export function microsoftActivitiesPerSecond(callsPerSecond: number): number {
  return callsPerSecond / CALLS_PER_REPORT;
}

/**
 * One Microsoft client per tenant for the worker's life, so MSAL's token cache is reused. Any
 * tenant: the partner app's credentials (AZURE_CLIENT_ID/SECRET) against that tenant's authority,
 * which works once the tenant's administrator granted the app admin consent (one MSAL application
 * per tenant authority, activities/azure/msal.ts). The partner's own tenant (AZURE_TENANT_ID) is
 * the single tenant of a single-tenant deployment.
 */
export function azureClientProvider(azure: AzureCredentials, logger?: Logger): (tenantId: string) => AzureComplianceClient {
  const clients = new Map<string, AzureComplianceClient>();
  return (tenantId) => {
    const key = tenantId.toLowerCase();
    let client = clients.get(key);
    if (!client) {
      const customerTenant = key !== azure.tenantId.toLowerCase();
      client = new AzureComplianceClient({ ...azure, tenantId }, logger, { customerTenant });
      clients.set(key, client);
    }
    return client;
  };
}

export function createActivities(
  deps: Pick<WorkerDeps, 'db' | 'azure' | 'logger' | 'isReportingEnabled'> & { temporalClient?: Client; config?: Readonly<Config> },
) {
  const azureClientFor = azureClientProvider(deps.azure, deps.logger);
  // One reader for both factories: one settings read per second, not one per upload.
  const enabled = { isReportingEnabled: deps.isReportingEnabled ?? reportingEnabledReader(deps.db) };
  // One view of each tenant's health per worker: a revoked consent is known at once by every activity.
  const tenantHealth = createTenantHealth(deps.db, deps.logger);
  const logger = deps.logger ? { logger: deps.logger } : {};
  const temporal = deps.temporalClient;
  return {
    ...createDeviceActivities({ db: deps.db, azureClientFor, tenantHealth, ...enabled }),
    ...(temporal
      ? {
          ...createFleetActivities({ db: deps.db, temporal, azureClientFor, tenantHealth, ...enabled, ...logger }),
          ...createReconcileActivities({ db: deps.db, temporal, azureClientFor, tenantHealth, ...enabled, ...logger }),
        }
      : {}),
    ...(temporal && deps.config
      ? createTenantLifecycleActivities({ db: deps.db, temporal, azureClientFor, tenantHealth, config: deps.config, ...logger })
      : {}),
  };
}

type Activities = ReturnType<typeof createActivities>;

/** Splits the activities between the main worker and the Microsoft worker. */
export function splitActivities(all: Activities): { main: Record<string, unknown>; microsoft: Record<string, unknown> } {
  const main: Record<string, unknown> = {};
  const microsoft: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(all)) {
    if ((MICROSOFT_ACTIVITIES as readonly string[]).includes(name)) microsoft[name] = fn;
    else main[name] = fn;
  }
  return { main, microsoft };
}

/** The two Workers of one worker process, run and stopped together. */
export interface ConnectorWorker {
  /** Workflows and the activities that do not call Microsoft. */
  main: Worker;
  /** The activities that call Microsoft, on the rate-limited queue. */
  microsoft: Worker;
  microsoftTaskQueue: string;
  /** Runs both until shutdown (SIGINT/SIGTERM, or `shutdown()`); if one stops, the other is stopped too. */
  run(): Promise<void>;
  /** Runs both until `fnOrPromise` settles, then shuts both down. */
  runUntil<R>(fnOrPromise: Promise<R> | (() => Promise<R>)): Promise<R>;
  shutdown(): void;
}

export async function createWorker(deps: WorkerDeps): Promise<ConnectorWorker> {
  const temporalClient = deps.temporalClient ?? new Client({ connection: deps.connection, namespace: deps.namespace });
  const config = deps.config ?? { ...loadConfig({ TEMPORAL_TASK_QUEUE: deps.taskQueue }), azure: deps.azure };
  const { main: mainActivities, microsoft: microsoftActivities } = splitActivities(createActivities({ ...deps, temporalClient, config }));
  const microsoftTaskQueue = deps.microsoftTaskQueue ?? microsoftTaskQueueOf(deps.taskQueue);
  limitWorkflowThreadStackTraces();
  const main = await Worker.create({
    connection: deps.connection,
    namespace: deps.namespace,
    taskQueue: deps.taskQueue,
    ...(deps.workflowBundle
      ? { workflowBundle: deps.workflowBundle }
      : { workflowsPath: WORKFLOWS_PATH, bundlerOptions: { preloadModules: WORKFLOW_BUNDLE_OPTIONS.preloadModules } }),
    activities: mainActivities,
    sinks: readModelSinks(deps.db, temporalClient, deps.logger),
    // Device workflows are long-lived and mostly idle: cap the cache so memory stays bounded; an
    // evicted workflow is replayed on its next task (docs/architecture.md).
    maxCachedWorkflows: deps.maxCachedWorkflows ?? DEFAULT_WORKER_MAX_CACHED_WORKFLOWS,
    maxConcurrentActivityTaskExecutions: 200,
    maxConcurrentLocalActivityExecutions: 200,
    maxConcurrentWorkflowTaskExecutions: deps.workflowTaskSlots ?? DEFAULT_WORKER_WORKFLOW_TASK_SLOTS,
  });
  const activitiesPerSecond = microsoftActivitiesPerSecond(deps.azureMaxCallsPerSecond ?? DEFAULT_AZURE_MAX_CALLS_PER_SECOND);
  const budget = await applyPerTenantBudget(temporalClient, {
    namespace: deps.namespace,
    microsoftTaskQueue,
    activitiesPerSecond,
    ...(deps.logger ? { logger: deps.logger } : {}),
  });
  const microsoft = await Worker.create({
    connection: deps.connection,
    namespace: deps.namespace,
    taskQueue: microsoftTaskQueue,
    activities: microsoftActivities,
    // The server hands out at most this many tasks per second per tenant (or, on an older server, on
    // the whole queue), across all workers.
    ...(budget === 'queue-wide' ? { maxTaskQueueActivitiesPerSecond: activitiesPerSecond } : {}),
    maxConcurrentActivityTaskExecutions: 200,
  });
  const stop = (w: Worker) => {
    if (w.getState() === 'RUNNING') w.shutdown();
  };
  return {
    main,
    microsoft,
    microsoftTaskQueue,
    async run() {
      const results = await Promise.allSettled([main.run().finally(() => stop(microsoft)), microsoft.run().finally(() => stop(main))]);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
    runUntil(fnOrPromise) {
      const promise = typeof fnOrPromise === 'function' ? fnOrPromise() : fnOrPromise;
      return main.runUntil(microsoft.runUntil(promise));
    },
    shutdown() {
      stop(main);
      stop(microsoft);
    },
  };
}

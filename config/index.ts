/**
 * The one place that reads process.env (docs/http-contract.md, Configuration). Every process parses its environment once
 * at start; a bad value stops it with one line naming the variable.
 */
import { z } from 'zod';
import { parseIsoDuration } from '../domain/grace';

/** ISO 8601 durations are read by the domain's parser (grace periods use it too). */
export { parseIsoDuration };

const optionalString = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .optional();

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

const httpsUrl = (fallback: string) =>
  z
    .string()
    .trim()
    .default(fallback)
    .refine((v) => /^https:\/\/[^/\s]+(\/.*)?$/.test(v), 'must be an https:// URL')
    .transform((v) => v.replace(/\/+$/, ''));

const booleanFlag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

// Five-field cron: minute hour day-of-month month day-of-week (Temporal schedules accept this form).
const cronField = /^(\*|\*\/\d+|\d+(-\d+)?(\/\d+)?(,\d+(-\d+)?(\/\d+)?)*|[A-Za-z]{3}(-[A-Za-z]{3})?)$/;

/** A five-field cron expression as Temporal schedules take it (also a tenant's own weekly cron). */
export function isCronExpression(v: string): boolean {
  const fields = v.trim().split(/\s+/);
  return fields.length === 5 && fields.every((f) => cronField.test(f));
}

const cronExpression = (fallback: string) =>
  z.string().trim().default(fallback).refine(isCronExpression, `must be a five-field cron expression, e.g. "${fallback}"`);

/** Longest accepted MAX_CLOCK_SKEW: a day (beyond it, one bad MDM clock would stall a device for days). */
const MAX_CLOCK_SKEW_LIMIT_MS = 24 * 60 * 60 * 1000;

const isoDuration = (fallback: string, maxMs: number, maxText: string) =>
  z
    .string()
    .trim()
    .default(fallback)
    .transform((v, ctx) => {
      const ms = parseIsoDuration(v);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `must be an ISO 8601 duration such as ${fallback}, PT30S or PT1H` });
        return z.NEVER;
      }
      if (ms > maxMs) {
        ctx.addIssue({ code: 'custom', message: `must be at most ${maxText}` });
        return z.NEVER;
      }
      return ms;
    });

export const DEFAULT_AZURE_MAX_CALLS_PER_SECOND = 80;
/**
 * Device workflows a worker keeps in memory. Enough for every report in flight at the Microsoft
 * budget (a report takes about a second) and for event bursts, within the worker's heap cap
 * (workers/launch.ts); an evicted workflow is replayed on its next task.
 */
export const DEFAULT_WORKER_MAX_CACHED_WORKFLOWS = 250;
/** Workflow tasks a worker runs at once (the Temporal SDK's maxConcurrentWorkflowTaskExecutions). */
export const DEFAULT_WORKER_WORKFLOW_TASK_SLOTS = 100;

const envSchema = z
  .object({
    API_PORT: port(8080),
    WORKER_METRICS_PORT: port(9464),
    // Where the worker's metrics listen: loopback by default; 0.0.0.0 when Prometheus scrapes from another host or container.
    WORKER_METRICS_HOST: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9.-]+$/, 'must be an IPv4 address or a host name, e.g. 0.0.0.0')
      .default('127.0.0.1'),
    MDM_API_KEY: optionalString.pipe(z.string().min(16, 'must be at least 16 characters').optional()),
    ADMIN_API_KEY: optionalString.pipe(z.string().min(16, 'must be at least 16 characters').optional()),
    // The partner's own staff: manages tenants, acts as any tenant's admin (unset: no operator role).
    OPERATOR_API_KEY: optionalString.pipe(z.string().min(16, 'must be at least 16 characters').optional()),
    // Where customers' browsers reach the API: the admin-consent redirect goes to <it>/v1/tenants/consent-callback.
    API_PUBLIC_URL: optionalString.pipe(
      z
        .string()
        .refine((v) => /^https?:\/\/[^/\s]+\/?$/.test(v), 'must be an http(s):// origin such as https://connector.example.com')
        .transform((v) => v.replace(/\/+$/, ''))
        .optional(),
    ),
    DATABASE_URL: optionalString.pipe(
      z
        .string()
        .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// connection string')
        .optional(),
    ),
    TEMPORAL_ADDRESS: optionalString.pipe(
      z
        .string()
        .regex(/^[^\s:/]+:\d+$/, 'must be host:port')
        .optional(),
    ),
    TEMPORAL_NAMESPACE: z.string().trim().min(1).default('default'),
    TEMPORAL_TASK_QUEUE: z.string().trim().min(1).default('azure-compliance'),
    // The worker's gRPC to Temporal: our messages are a few hundred bytes, and gzip (the SDK's default)
    // cost the worker and the server more CPU per event than it saved in bytes (docs/benchmarks.md).
    TEMPORAL_GRPC_COMPRESSION: z.enum(['none', 'gzip']).default('none'),
    TEMPORAL_CLI_PATH: optionalString,
    AZURE_TENANT_ID: optionalString.pipe(z.uuid('must be a GUID').optional()),
    AZURE_CLIENT_ID: optionalString.pipe(z.uuid('must be a GUID').optional()),
    AZURE_CLIENT_SECRET: optionalString,
    AZURE_AUTHORITY_HOST: httpsUrl('https://login.microsoftonline.com'),
    GRAPH_BASE_URL: httpsUrl('https://graph.microsoft.com'),
    AZURE_EMULATOR_PORT: port(9443),
    // Ports of the embedded defaults `npm start` runs when TEMPORAL_ADDRESS / DATABASE_URL are unset.
    TEMPORAL_DEV_PORT: port(7233),
    TEMPORAL_UI_PORT: port(8233),
    EMBEDDED_POSTGRES_PORT: port(5433),
    AZURE_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1000).max(300_000).default(30_000),
    WEEKLY_REPORT_CRON: cronExpression('0 6 * * 1'),
    HEARTBEAT_CRON: cronExpression('0 * * * *'),
    // Calls to the Intune partner API per second for the tenant across every worker (the Temporal
    // server enforces it on the Microsoft task queue, at half as many activities: a report activity is
    // an upload and a status poll). 80/s = 1,600 per 20 s: 80 % of the 2,000 requests per 20 s that
    // Microsoft documents per app per tenant for its Intune Graph services (the partner API publishes none).
    AZURE_MAX_CALLS_PER_SECOND: z.coerce.number().positive().max(10_000).default(DEFAULT_AZURE_MAX_CALLS_PER_SECOND),
    // Devices a fleet sweep signals per second; unset: SWEEP_SHARE_OF_MICROSOFT_BUDGET of the reports per
    // second the budget allows (event-driven reports run first anyway: they have a higher priority).
    SWEEP_DEVICES_PER_SECOND: optionalString.pipe(z.coerce.number<string | undefined>().positive().max(100_000).optional()),
    // Device workflows a worker keeps in memory (each costs roughly 0.5-1 MB); others are replayed on demand.
    WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).max(100_000).default(DEFAULT_WORKER_MAX_CACHED_WORKFLOWS),
    WORKER_WORKFLOW_TASK_SLOTS: z.coerce.number().int().min(2).max(1_000).default(DEFAULT_WORKER_WORKFLOW_TASK_SLOTS),
    // How far ahead of the API's clock an event's occurredAt may be.
    MAX_CLOCK_SKEW: isoDuration('PT5M', MAX_CLOCK_SKEW_LIMIT_MS, 'P1D (a day)'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    DATA_DIR: z.string().trim().min(1).default('.data'),
    ENABLE_ON_START: booleanFlag(true),
  })
  .superRefine((env, ctx) => {
    // The three Azure credentials come together: either all (a real tenant) or none (the emulator).
    const azure = ['AZURE_TENANT_ID', 'AZURE_CLIENT_ID', 'AZURE_CLIENT_SECRET'] as const;
    const set = azure.filter((k) => env[k] !== undefined);
    if (set.length > 0 && set.length < azure.length) {
      for (const k of azure.filter((k) => env[k] === undefined)) {
        ctx.addIssue({ code: 'custom', path: [k], message: `is required when ${set.join(', ')} is set` });
      }
    }
  });

export type Env = z.infer<typeof envSchema>;
export type EnvVariable = keyof Env;

/** Every variable this module reads. */
export const CONFIG_VARIABLES = Object.keys(envSchema.shape) as EnvVariable[];

/** Optional variables both the worker and the API read (the schedules, the Microsoft rate, startup, logging). */
const OPTIONAL_VARIABLES_OF_EVERY_PROCESS = [
  'WEEKLY_REPORT_CRON',
  'HEARTBEAT_CRON',
  'AZURE_MAX_CALLS_PER_SECOND',
  'SWEEP_DEVICES_PER_SECOND',
  'ENABLE_ON_START',
  'LOG_LEVEL',
] as const satisfies readonly EnvVariable[];

/**
 * Which variables each deployed process reads (docker-compose.yml must wire them; a test checks it).
 * `required`: the process stops at start without it (npm start computes them for its embedded
 * defaults). Every variable of CONFIG_VARIABLES is either read by a process here or listed in
 * LOCAL_ONLY_VARIABLES, so a new variable cannot be forgotten in the deployment.
 */
export const PROCESS_VARIABLES = {
  worker: {
    required: ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'AZURE_TENANT_ID', 'AZURE_CLIENT_ID', 'AZURE_CLIENT_SECRET'],
    optional: [
      'WORKER_METRICS_PORT',
      'WORKER_METRICS_HOST',
      'WORKER_MAX_CACHED_WORKFLOWS',
      'WORKER_WORKFLOW_TASK_SLOTS',
      'TEMPORAL_NAMESPACE',
      'TEMPORAL_TASK_QUEUE',
      'TEMPORAL_GRPC_COMPRESSION',
      'AZURE_AUTHORITY_HOST',
      'GRAPH_BASE_URL',
      'AZURE_REQUEST_TIMEOUT_MS',
      ...OPTIONAL_VARIABLES_OF_EVERY_PROCESS,
    ],
  },
  api: {
    required: [
      'DATABASE_URL',
      'TEMPORAL_ADDRESS',
      'MDM_API_KEY',
      'ADMIN_API_KEY',
      'AZURE_TENANT_ID',
      'AZURE_CLIENT_ID',
      'AZURE_CLIENT_SECRET',
    ],
    optional: [
      'API_PORT',
      'OPERATOR_API_KEY',
      'API_PUBLIC_URL',
      'MAX_CLOCK_SKEW',
      'TEMPORAL_NAMESPACE',
      'TEMPORAL_TASK_QUEUE',
      ...OPTIONAL_VARIABLES_OF_EVERY_PROCESS,
    ],
  },
} as const satisfies Record<string, { required: readonly EnvVariable[]; optional: readonly EnvVariable[] }>;

/** Read only by `npm start` and the local tools (the emulator, the dev server), never in a deployment. */
export const LOCAL_ONLY_VARIABLES = [
  'TEMPORAL_CLI_PATH',
  'AZURE_EMULATOR_PORT',
  'TEMPORAL_DEV_PORT',
  'TEMPORAL_UI_PORT',
  'EMBEDDED_POSTGRES_PORT',
  'DATA_DIR',
] as const satisfies readonly EnvVariable[];

/** The partner app's credentials and where Microsoft is: all the Microsoft client needs. */
export interface AzureCredentials {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** AZURE_AUTHORITY_HOST, e.g. https://login.microsoftonline.com */
  authorityHost: string;
  /** GRAPH_BASE_URL, e.g. https://graph.microsoft.com */
  graphBaseUrl: string;
  /** AZURE_REQUEST_TIMEOUT_MS: applied to every HTTP request (token, Graph, partner API); default 30000. */
  requestTimeoutMs?: number;
}

export interface Config {
  apiPort: number;
  workerMetricsPort: number;
  /** Bearer keys of the single tenant's MDM and admin, and of the operator (the partner's staff). */
  workerMetricsHost: string;
  keys: { mdm?: string; admin?: string; operator?: string };
  /** API_PUBLIC_URL: the API's origin as customers' browsers reach it; unset: the origin of the request. */
  apiPublicUrl?: string;
  databaseUrl?: string;
  temporal: { address?: string; namespace: string; taskQueue: string; cliPath?: string; grpcCompression: 'none' | 'gzip' };
  /** Undefined when no credentials are configured: `npm start` then runs the local Azure emulator. */
  azure?: AzureCredentials;
  azureEmulatorPort: number;
  /** MAX_CLOCK_SKEW: an event whose occurredAt is further than this ahead of the API's clock is refused. */
  maxClockSkewMs: number;
  /** Where `npm start` runs its embedded Temporal dev server (+ UI) and Postgres. */
  local: { temporalPort: number; temporalUiPort: number; postgresPort: number };
  weeklyReportCron: string;
  heartbeatCron: string;
  /** Calls to Microsoft per second for the tenant, across all workers (the Microsoft task queue's rate). */
  azureMaxCallsPerSecond: number;
  /** Devices a fleet sweep signals per second. */
  sweepDevicesPerSecond: number;
  /** Workflows the worker keeps cached (memory), WORKER_MAX_CACHED_WORKFLOWS. */
  workerMaxCachedWorkflows: number;
  /** Workflow tasks the worker runs at once, WORKER_WORKFLOW_TASK_SLOTS. */
  workerWorkflowTaskSlots: number;
  logLevel: Env['LOG_LEVEL'];
  dataDir: string;
}

/** Calls to Microsoft one report makes: its upload and its status poll. */
export const CALLS_PER_REPORT = 2;
/**
 * The share of the reports per second the Microsoft budget allows that a sweep uses by default: the
 * rest lets the queue drain what event-driven reports add, so the sweep's backlog stays short.
 */
export const SWEEP_SHARE_OF_MICROSOFT_BUDGET = 0.9;

export function defaultSweepDevicesPerSecond(azureMaxCallsPerSecond: number): number {
  return Math.max(1, (azureMaxCallsPerSecond / CALLS_PER_REPORT) * SWEEP_SHARE_OF_MICROSOFT_BUDGET);
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly problem: string,
  ) {
    super(`configuration error: ${variable} ${problem}`);
  }
}

/** Parses an environment (process.env by default) into a frozen config, or throws ConfigError. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0] ?? 'environment');
    const value = source[variable];
    const shown = variable.includes('KEY') || variable.includes('SECRET') || value === undefined ? '' : ` (got "${value}")`;
    throw new ConfigError(variable, `${issue.message}${shown}`);
  }
  const env = parsed.data;
  const azure: AzureCredentials | undefined =
    env.AZURE_TENANT_ID && env.AZURE_CLIENT_ID && env.AZURE_CLIENT_SECRET
      ? {
          tenantId: env.AZURE_TENANT_ID,
          clientId: env.AZURE_CLIENT_ID,
          clientSecret: env.AZURE_CLIENT_SECRET,
          authorityHost: env.AZURE_AUTHORITY_HOST,
          graphBaseUrl: env.GRAPH_BASE_URL,
          requestTimeoutMs: env.AZURE_REQUEST_TIMEOUT_MS,
        }
      : undefined;
  return Object.freeze({
    apiPort: env.API_PORT,
    workerMetricsPort: env.WORKER_METRICS_PORT,
    workerMetricsHost: env.WORKER_METRICS_HOST,
    keys: Object.freeze({ mdm: env.MDM_API_KEY, admin: env.ADMIN_API_KEY, operator: env.OPERATOR_API_KEY }),
    apiPublicUrl: env.API_PUBLIC_URL,
    databaseUrl: env.DATABASE_URL,
    temporal: Object.freeze({
      address: env.TEMPORAL_ADDRESS,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: env.TEMPORAL_TASK_QUEUE,
      cliPath: env.TEMPORAL_CLI_PATH,
      grpcCompression: env.TEMPORAL_GRPC_COMPRESSION,
    }),
    azure: azure && Object.freeze(azure),
    azureEmulatorPort: env.AZURE_EMULATOR_PORT,
    maxClockSkewMs: env.MAX_CLOCK_SKEW,
    local: Object.freeze({
      temporalPort: env.TEMPORAL_DEV_PORT,
      temporalUiPort: env.TEMPORAL_UI_PORT,
      postgresPort: env.EMBEDDED_POSTGRES_PORT,
    }),
    weeklyReportCron: env.WEEKLY_REPORT_CRON,
    heartbeatCron: env.HEARTBEAT_CRON,
    azureMaxCallsPerSecond: env.AZURE_MAX_CALLS_PER_SECOND,
    sweepDevicesPerSecond: env.SWEEP_DEVICES_PER_SECOND ?? defaultSweepDevicesPerSecond(env.AZURE_MAX_CALLS_PER_SECOND),
    workerMaxCachedWorkflows: env.WORKER_MAX_CACHED_WORKFLOWS,
    workerWorkflowTaskSlots: env.WORKER_WORKFLOW_TASK_SLOTS,
    logLevel: env.LOG_LEVEL,
    dataDir: env.DATA_DIR,
  });
}

/** For process entry files: parse or print one line naming the variable and exit. */
export function loadConfigOrExit(source: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  try {
    return loadConfig(source);
  } catch (err) {
    if (err instanceof ConfigError) exitWithConfigError(err.message);
    throw err;
  }
}

function exitWithConfigError(line: string): never {
  process.stderr.write(`${line}\n`);
  process.exit(2);
}

export type ProcessName = keyof typeof PROCESS_VARIABLES;

/** The configuration of a deployed process, whose required variables (PROCESS_VARIABLES) are all set. */
export interface ProcessConfig extends Config {
  databaseUrl: string;
  azure: AzureCredentials;
  temporal: Config['temporal'] & { address: string };
}

/**
 * For the entry file of a deployed process (worker, api): the configuration, or one line naming
 * what is wrong or which required variables are missing, and exit.
 */
export function loadProcessConfigOrExit(proc: ProcessName, source: NodeJS.ProcessEnv = process.env): Readonly<ProcessConfig> {
  const config = loadConfigOrExit(source);
  const required: readonly EnvVariable[] = PROCESS_VARIABLES[proc].required;
  const missing = required.filter((v) => !source[v]);
  if (missing.length > 0) {
    const list = missing.length === 1 ? missing[0] : `${missing.slice(0, -1).join(', ')} and ${missing.at(-1)}`;
    exitWithConfigError(
      `configuration error: ${list} ${missing.length === 1 ? 'is' : 'are'} required by the ${proc} (npm start sets ${missing.length === 1 ? 'it' : 'them'} for its embedded defaults)`,
    );
  }
  return config as Readonly<ProcessConfig>;
}

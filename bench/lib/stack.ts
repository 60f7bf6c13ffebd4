/**
 * The real stack the benchmark measures, brought up fresh and torn down after:
 * a Temporal dev server on free ports (its SQLite file in a temporary directory, so its size can be
 * measured), a fresh Postgres database, the Azure emulator (autoRegister) as a child process, and the
 * connector's own entry files as child processes — the worker (workers/main.ts) and the API
 * (api/main.ts) — configured through the environment exactly as `npm start` configures them.
 * The floors run beside them: the floor worker (bench/floor/worker.ts) on its own task queue, and the
 * bare read server (bench/floor/read-server.ts).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../../config';
import { createDb, migrateToLatest, type Db } from '../../db';
import { createScratchDatabase } from '../../db/scratch';
import { EmulatorControl } from '../../emulator/control-client';
import { devServerArgs, findTemporalCli, INSTALL_HINT, temporalServing } from '../../lib/temporal-cli';
import { freePort } from '../../lib/ports';
import { portLine, startChild, waitUntil, type Child } from './child';
import { WORKER_ENTRY, WORKER_ENV, WORKER_NODE_FLAGS } from '../../workers/launch';

export const TASK_QUEUE = 'bench-azure-compliance';
export const FLOOR_TASK_QUEUE = 'bench-floor';
/** A cron that does not fire during a run (January 1st, 03:00 UTC): no sweep or heartbeat interferes. */
const NEVER_CRON = '0 3 1 1 *';

export interface WorkerOptions {
  /** AZURE_MAX_CALLS_PER_SECOND: the Microsoft task queue's rate limit. */
  maxCallsPerSecond: number;
  /** Run the worker under `node --cpu-prof`, writing the profile into this directory on exit. */
  cpuProfDir?: string;
}

export interface Stack {
  tmpDir: string;
  temporalCli: string;
  temporal: TemporalServer;
  temporalDbFile: string;
  client: Client;
  connection: Connection;
  databaseUrl: string;
  dbName: string;
  db: Db;
  emulatorUrl: string;
  emulator: EmulatorControl;
  tenantId: string;
  keys: { mdm: string; admin: string };
  apiUrl: string;
  api: Child;
  worker: Child;
  workerOptions: WorkerOptions;
  /** The environment the connector's worker and API were started with (to start more replicas). */
  connectorEnv: NodeJS.ProcessEnv;
  floorWorker: Child;
  readFloorUrl: string;
  readFloor: Child;
  emulatorChild: Child;
  /** Process ids by component, for CPU accounting. */
  pids(): Record<string, number[]>;
  restartWorker(o: WorkerOptions): Promise<void>;
  stop(): Promise<void>;
}

export interface StackOptions {
  log: (line: string) => void;
  /** SQLite `synchronous` pragma of the dev server: 'FULL' (its default: an fsync per commit) or 'OFF'. */
  sqliteSynchronous: 'FULL' | 'OFF';
  workerOptions: WorkerOptions;
  pollsBeforeTerminal: number;
}

export interface TemporalServer {
  address: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * `temporal server start-dev` as npm start runs it (lib/temporal-cli.ts: same arguments and search
 * attributes), headless, its SQLite file at `dbFilename`, with the `synchronous` pragma given; on
 * `port` when given (a restart on the same data and address), else on a free one.
 */
export async function startTemporal(o: {
  binary: string;
  dbFilename: string;
  synchronous: 'FULL' | 'OFF';
  port?: number;
  uiPort?: number;
}): Promise<TemporalServer> {
  const port = o.port ?? (await freePort());
  const args = [
    ...devServerArgs({ binary: o.binary, port, uiPort: o.uiPort ?? (await freePort()), dbFilename: o.dbFilename }),
    '--headless',
  ];
  if (o.synchronous !== 'FULL') args.push('--sqlite-pragma', `synchronous=${o.synchronous}`);
  const child = startChild({ name: 'temporal', command: o.binary, args, env: { ...process.env } });
  await waitUntil(
    'the Temporal dev server did not serve',
    async () => {
      if (child.exited) throw new Error(`temporal server start-dev exited:\n${child.tail()}`);
      return (await temporalServing(port)) ? true : undefined;
    },
    60_000,
  );
  return { address: `127.0.0.1:${port}`, pid: child.pid, stop: () => child.stop(15_000) };
}

/**
 * The environment the connector's processes get, as `npm start` configures them: the stack's
 * Temporal, database and emulator tenant, with the schedules never firing during a measurement.
 */
export function connectorEnv(o: {
  databaseUrl: string;
  temporalAddress: string;
  taskQueue: string;
  tenant: { tenantId: string; clientId: string; clientSecret: string };
  emulatorUrl: string;
  caPemPath: string;
}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: o.databaseUrl,
    TEMPORAL_ADDRESS: o.temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    TEMPORAL_TASK_QUEUE: o.taskQueue,
    AZURE_TENANT_ID: o.tenant.tenantId,
    AZURE_CLIENT_ID: o.tenant.clientId,
    AZURE_CLIENT_SECRET: o.tenant.clientSecret,
    AZURE_AUTHORITY_HOST: o.emulatorUrl,
    GRAPH_BASE_URL: o.emulatorUrl,
    NODE_EXTRA_CA_CERTS: o.caPemPath,
    WEEKLY_REPORT_CRON: NEVER_CRON,
    HEARTBEAT_CRON: NEVER_CRON,
    LOG_LEVEL: 'info',
  };
}

/** The Azure emulator as a child process (bench/children/emulator.ts: autoRegister); resolves once it listens. */
export async function startEmulatorChild(pollsBeforeTerminal: number): Promise<{ child: Child; url: string; caPemPath: string }> {
  const child = startChild({
    name: 'azure-emulator',
    script: 'bench/children/emulator.ts',
    args: [String(pollsBeforeTerminal)],
    env: { ...process.env },
  });
  try {
    const where = await child.waitForLine((l) => {
      try {
        const v = JSON.parse(l) as { url?: string; caPemPath?: string };
        return v.url && v.caPemPath ? { url: v.url, caPemPath: v.caPemPath } : undefined;
      } catch {
        return undefined;
      }
    }, 30_000);
    return { child, ...where };
  } catch (err) {
    await child.stop();
    throw err;
  }
}

/** The connector's worker (workers/main.ts, started as everywhere else) with `env`; resolves once it polls. */
export async function startConnectorWorker(env: NodeJS.ProcessEnv, extraNodeFlags: string[] = [], name = 'worker'): Promise<Child> {
  const child = startChild({
    name,
    script: WORKER_ENTRY,
    nodeFlags: [...WORKER_NODE_FLAGS, ...extraNodeFlags],
    env: { ...WORKER_ENV, ...env, WORKER_METRICS_PORT: String(await freePort()) },
  });
  await child.waitForLine((l) => (l.includes('"worker started"') ? true : undefined), 120_000);
  return child;
}

/** The connector's API (api/main.ts) with `env` (API_PORT set), its per-request log lines into `logFile`. */
export function startConnectorApi(env: NodeJS.ProcessEnv, logFile: string): Child {
  return startChild({ name: 'api', script: 'api/main.ts', env, stdoutFile: logFile });
}

/** Resolves once the API answers /readyz with 200. */
export async function waitForApi(api: Child, apiUrl: string, timeoutMs = 60_000): Promise<void> {
  await waitUntil(
    'the API did not answer /readyz with 200',
    async () => {
      if (api.exited) throw new Error(`the API exited:\n${api.tail()}`);
      const r = await fetch(`${apiUrl}/readyz`, { signal: AbortSignal.timeout(2_000) });
      return r.status === 200 ? true : undefined;
    },
    timeoutMs,
    300,
  );
}

export async function startStack(o: StackOptions): Promise<Stack> {
  const config = loadConfig();
  const temporalCli = findTemporalCli(config.temporal.cliPath);
  if (!temporalCli) throw new Error(`cannot run the benchmark: ${INSTALL_HINT}`);
  const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'acc-bench-'));
  const cleanups: Array<() => Promise<void>> = [async () => rmSync(tmpDir, { recursive: true, force: true })];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => o.log(`cleanup: ${(err as Error).message}`));
  };

  try {
    // ---- Temporal
    const temporalDbFile = path.join(tmpDir, 'temporal.db');
    const temporal = await startTemporal({ binary: temporalCli, dbFilename: temporalDbFile, synchronous: o.sqliteSynchronous });
    cleanups.push(() => temporal.stop());
    o.log(
      `Temporal dev server at ${temporal.address} (${temporalCli}), data in ${temporalDbFile} (SQLite synchronous=${o.sqliteSynchronous})`,
    );
    const connection = await Connection.connect({ address: temporal.address });
    cleanups.push(() => connection.close());
    const client = new Client({ connection, namespace: 'default' });

    // ---- Postgres: a fresh database, dropped at the end
    const adminUrl = config.databaseUrl ?? 'postgres://postgres@127.0.0.1:5432/postgres';
    const scratch = await createScratchDatabase(adminUrl, 'acc_bench');
    cleanups.push(() => scratch.drop());
    const { databaseUrl, name: dbName } = scratch;
    const url = new URL(databaseUrl);
    const db = createDb(databaseUrl, { max: 4 });
    cleanups.push(() => db.destroy());
    await migrateToLatest(db);
    o.log(`Postgres database ${dbName} on ${url.host}`);

    // ---- Azure emulator
    const { child: emulatorChild, url: emulatorUrl, caPemPath } = await startEmulatorChild(o.pollsBeforeTerminal);
    cleanups.push(() => emulatorChild.stop());
    const emulator = new EmulatorControl(emulatorUrl);
    const tenant = { tenantId: randomUUID(), clientId: randomUUID(), clientSecret: randomBytes(24).toString('base64url') };
    await emulator.seed({
      tenants: [{ tenantId: tenant.tenantId, apps: [{ clientId: tenant.clientId, clientSecret: tenant.clientSecret }] }],
    });
    o.log(`Azure emulator at ${emulatorUrl} (autoRegister, pollsBeforeTerminal ${o.pollsBeforeTerminal})`);

    // ---- The connector: worker and API, configured as npm start configures them
    const keys = { mdm: randomBytes(32).toString('base64url'), admin: randomBytes(32).toString('base64url') };
    const apiPort = await freePort();
    const baseEnv: NodeJS.ProcessEnv = {
      ...connectorEnv({ databaseUrl, temporalAddress: temporal.address, taskQueue: TASK_QUEUE, tenant, emulatorUrl, caPemPath }),
      MDM_API_KEY: keys.mdm,
      ADMIN_API_KEY: keys.admin,
      API_PORT: String(apiPort),
      ENABLE_ON_START: 'true',
      DATA_DIR: tmpDir,
    };

    let workerOptions = o.workerOptions;
    const startWorker = (wo: WorkerOptions): Promise<Child> =>
      startConnectorWorker(
        { ...baseEnv, AZURE_MAX_CALLS_PER_SECOND: String(wo.maxCallsPerSecond) },
        wo.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${wo.cpuProfDir}`] : [],
      );
    let worker = await startWorker(workerOptions);
    cleanups.push(() => worker.stop(30_000));
    o.log(`worker started (pid ${worker.pid}, AZURE_MAX_CALLS_PER_SECOND=${workerOptions.maxCallsPerSecond})`);

    // The API logs a line per request at info (its default): into a file, as a platform would collect it.
    const api = startConnectorApi(baseEnv, path.join(tmpDir, 'api.log'));
    cleanups.push(() => api.stop());
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    await waitForApi(api, apiUrl);
    o.log(`API at ${apiUrl} (pid ${api.pid})`);

    // ---- The floors
    const floorWorker = startChild({
      name: 'floor-worker',
      script: 'bench/floor/worker.ts',
      args: [temporal.address, FLOOR_TASK_QUEUE],
      env: { ...process.env },
    });
    cleanups.push(() => floorWorker.stop());
    await floorWorker.waitForLine((l) => (l === 'ready' ? true : undefined), 120_000);
    const readFloor = startChild({
      name: 'read-floor',
      script: 'bench/floor/read-server.ts',
      args: [databaseUrl, tenant.tenantId],
      env: { ...process.env },
    });
    cleanups.push(() => readFloor.stop());
    const { port: readFloorPort } = await readFloor.waitForLine(portLine, 30_000);
    o.log(
      `floors: worker on task queue ${FLOOR_TASK_QUEUE} (pid ${floorWorker.pid}), read server on port ${readFloorPort} (pid ${readFloor.pid})`,
    );

    const stack: Stack = {
      tmpDir,
      temporalCli,
      temporal,
      temporalDbFile,
      client,
      connection,
      databaseUrl,
      dbName,
      db,
      emulatorUrl,
      emulator,
      tenantId: tenant.tenantId,
      keys,
      apiUrl,
      api,
      worker,
      workerOptions,
      connectorEnv: { ...baseEnv, AZURE_MAX_CALLS_PER_SECOND: String(workerOptions.maxCallsPerSecond) },
      floorWorker,
      readFloorUrl: `http://127.0.0.1:${readFloorPort}`,
      readFloor,
      emulatorChild,
      pids: () => ({
        temporal: [temporal.pid],
        worker: [stack.worker.pid],
        api: [api.pid],
        emulator: [emulatorChild.pid],
        floorWorker: [floorWorker.pid],
        readFloor: [readFloor.pid],
        bench: [process.pid],
      }),
      async restartWorker(wo) {
        await stack.worker.stop(30_000);
        worker = await startWorker(wo);
        workerOptions = wo;
        stack.worker = worker;
        stack.workerOptions = wo;
        o.log(
          `worker restarted (pid ${worker.pid}, AZURE_MAX_CALLS_PER_SECOND=${wo.maxCallsPerSecond}${wo.cpuProfDir ? ', --cpu-prof' : ''})`,
        );
      },
      async stop() {
        await cleanup();
      },
    };
    return stack;
  } catch (err) {
    await cleanup();
    throw err;
  }
}

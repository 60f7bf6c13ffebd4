/**
 * The stack a fault run breaks: its own Temporal dev server (an SQLite file, so it can be restarted
 * on the same data), TCP proxies in front of that server's frontend and of Postgres, and the
 * connector's worker and API as child processes that reach Temporal and Postgres only through the
 * proxies. The Azure emulator and the Postgres database are given (the suite starts its own, the
 * tests use the shared ones); the suite itself talks to them directly.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Child } from '../lib/child';
import { connectorEnv, startConnectorApi, startConnectorWorker, startTemporal, waitForApi, type TemporalServer } from '../lib/stack';
import { freePort } from '../../lib/ports';
import { startTcpProxy, type TcpProxy } from './tcp-proxy';

export interface FaultStackOptions {
  log: (line: string) => void;
  temporalCli: string;
  /** Where the dev server's SQLite file and the API's log go. */
  dir: string;
  /** The database the connector uses (reached through a proxy). */
  databaseUrl: string;
  emulator: { url: string; caPemPath: string };
  tenant: { tenantId: string; clientId: string; clientSecret: string };
  taskQueue: string;
  /** Extra environment of the worker and the API (e.g. AZURE_REQUEST_TIMEOUT_MS). */
  env?: Record<string, string>;
}

export interface FaultStack {
  apiUrl: string;
  keys: { mdm: string; admin: string };
  temporalProxy: TcpProxy;
  postgresProxy: TcpProxy;
  worker(): Child | undefined;
  /** SIGKILL, as a crash: nothing is flushed or drained. */
  killWorker(): Promise<void>;
  startWorker(): Promise<void>;
  /** Stops the dev server (SIGTERM) and starts it again on the same port and SQLite file. */
  restartTemporal(downMs: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startFaultStack(o: FaultStackOptions): Promise<FaultStack> {
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => o.log(`cleanup: ${(err as Error).message}`));
  };
  try {
    const dbFilename = path.join(o.dir, 'temporal.db');
    const temporalPort = await freePort();
    const uiPort = await freePort();
    const startServer = () => startTemporal({ binary: o.temporalCli, dbFilename, synchronous: 'OFF', port: temporalPort, uiPort });
    let temporal: TemporalServer = await startServer();
    cleanups.push(() => temporal.stop());
    const temporalProxy = await startTcpProxy({ name: 'temporal', targetPort: temporalPort });
    cleanups.push(() => temporalProxy.close());

    const db = new URL(o.databaseUrl);
    const postgresProxy = await startTcpProxy({ name: 'postgres', targetHost: db.hostname, targetPort: Number(db.port || 5432) });
    cleanups.push(() => postgresProxy.close());
    const proxiedDb = new URL(o.databaseUrl);
    proxiedDb.hostname = '127.0.0.1';
    proxiedDb.port = String(postgresProxy.port);
    o.log(
      `Temporal dev server at ${temporal.address} (data in ${dbFilename}), proxied at ${temporalProxy.address}; Postgres ${db.host} proxied at ${postgresProxy.address}`,
    );

    const keys = { mdm: randomBytes(32).toString('base64url'), admin: randomBytes(32).toString('base64url') };
    const apiPort = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...connectorEnv({
        databaseUrl: proxiedDb.toString(),
        temporalAddress: temporalProxy.address,
        taskQueue: o.taskQueue,
        tenant: o.tenant,
        emulatorUrl: o.emulator.url,
        caPemPath: o.emulator.caPemPath,
      }),
      MDM_API_KEY: keys.mdm,
      ADMIN_API_KEY: keys.admin,
      API_PORT: String(apiPort),
      ENABLE_ON_START: 'true',
      DATA_DIR: o.dir,
      ...o.env,
    };

    let worker: Child | undefined = await startConnectorWorker(env);
    cleanups.push(async () => worker?.stop(30_000));
    o.log(`worker started (pid ${worker.pid})`);
    const api = startConnectorApi(env, path.join(o.dir, 'api.log'));
    cleanups.push(() => api.stop());
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    await waitForApi(api, apiUrl);
    o.log(`API at ${apiUrl} (pid ${api.pid})`);

    return {
      apiUrl,
      keys,
      temporalProxy,
      postgresProxy,
      worker: () => worker,
      async killWorker() {
        const w = worker;
        if (!w || w.exited) return;
        const exit = new Promise<void>((resolve) => w.process.once('exit', () => resolve()));
        w.process.kill('SIGKILL');
        await exit;
        worker = undefined;
        o.log(`worker ${w.pid} killed (SIGKILL)`);
      },
      async startWorker() {
        if (worker && !worker.exited) throw new Error('a worker is already running');
        worker = await startConnectorWorker(env);
        o.log(`worker started (pid ${worker.pid})`);
      },
      async restartTemporal(downMs) {
        await temporal.stop();
        o.log('Temporal dev server stopped');
        await new Promise((r) => setTimeout(r, downMs));
        temporal = await startServer();
        o.log(`Temporal dev server started again at ${temporal.address} on the same data`);
      },
      stop: cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

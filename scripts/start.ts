/**
 * `npm start` (docs/http-contract.md): everything up on the embedded defaults (docs/architecture.md), then the URLs
 * and keys; Ctrl-C (SIGINT) or SIGTERM stops every process it started.
 *
 *   Temporal   `temporal server start-dev` on TEMPORAL_DEV_PORT (7233), UI on TEMPORAL_UI_PORT (8233),
 *              data in DATA_DIR/temporal/temporal.db — unless TEMPORAL_ADDRESS is set
 *   Postgres   embedded (embedded-postgres binaries) on EMBEDDED_POSTGRES_PORT (5433), data in
 *              DATA_DIR/postgres, database azure_compliance — unless DATABASE_URL is set
 *   Azure      the local emulator on AZURE_EMULATOR_PORT (9443) with one tenant kept in
 *              DATA_DIR/azure-emulator/tenant.json — unless AZURE_CLIENT_ID is set
 *   keys       MDM_API_KEY / ADMIN_API_KEY, else generated once into DATA_DIR/keys.json
 *   then       migrations, the worker and the API; ready when /readyz answers 200 and the worker polls.
 *
 * Each child runs in a process group of its own; stopping sends SIGTERM (Postgres: SIGINT, its fast
 * shutdown) to the group, then SIGKILL after a timeout. A worker or API that dies on its own is
 * restarted with backoff (0.5 s, 1 s, 2 s, 4 s), with a line saying so; its 5th crash within a minute,
 * or the death of Temporal, Postgres or the emulator (which the others need and whose state a restart
 * would not bring back for them), stops everything with a one-line reason.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { loadConfig, loadConfigOrExit, type Config } from '../config';
import { createDb, migrateToLatest } from '../db';
import { ensureDatabase, preparePostgres, waitForPostgres } from '../lib/embedded-postgres';
import { loadOrCreateKeys, type ApiKeys, type KeyRole } from '../lib/keys';
import { devServerArgs, findOrInstallTemporalCli, portOpen } from '../lib/temporal-cli';
import { caBundleFor, loadOrCreateTenant, seedTenant } from './lib/local-azure';
import { RESTART_WITH_BACKOFF, Supervisor, describeExit, type Supervised } from './lib/supervisor';
import { WORKER_ENTRY, WORKER_ENV, WORKER_NODE_FLAGS } from '../workers/launch';
import { PROJECT_ROOT } from '../lib/project-root';

const READY_TIMEOUT_MS = 90_000;
const TASK_QUEUE_TYPE_WORKFLOW = 1;

const config = loadConfigOrExit();
const dataDir = path.resolve(PROJECT_ROOT, config.dataDir);
const sup = new Supervisor(
  (line) => process.stdout.write(`${line}\n`),
  ['postgres', 'temporal', 'azure-emulator', 'worker', 'api', 'start'],
);
const say = (line: string): void => sup.print('start', line);

class StartError extends Error {}

/** A path as the user would type it: relative inside the working directory, absolute outside it. */
function shown(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel === '' ? '.' : rel.startsWith('..') || path.isAbsolute(rel) ? p : rel;
}

function wait(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The environment every child starts from: ours, untouched (config has already validated it). */
const baseEnv: NodeJS.ProcessEnv = { ...process.env };

function tsxChild(script: string, nodeFlags: readonly string[] = []): { command: string; args: string[]; cwd: string } {
  return { command: process.execPath, args: [...nodeFlags, '--import', 'tsx', path.join(PROJECT_ROOT, script)], cwd: PROJECT_ROOT };
}

// ---------------------------------------------------------------------------------------------
// Stopping

let shuttingDown: Promise<never> | undefined;
function shutdown(code: number, why?: string): Promise<never> {
  if (shuttingDown) return shuttingDown;
  if (why) say(why);
  shuttingDown = (async () => {
    const started = sup.list().length > 0;
    if (sup.list().some((c) => !c.exited)) say('stopping the API and the worker, then the Azure emulator, Temporal and Postgres');
    await sup.stopAll();
    if (started) say(code === 0 ? 'everything stopped' : 'everything stopped; exiting with an error');
    process.exit(code);
  })();
  return shuttingDown;
}

let firstSignalAt = 0;
function onSignal(signal: NodeJS.Signals): void {
  if (!firstSignalAt) {
    firstSignalAt = Date.now();
    void shutdown(0, `${signal}: stopping everything (press Ctrl-C again to kill at once)`);
    return;
  }
  // One Ctrl-C can arrive twice (from the terminal and relayed by npm): only a later one escalates.
  if (Date.now() - firstSignalAt < 2_000) return;
  say(`${signal} again: killing everything now`);
  sup.killAllNow();
  process.exit(130);
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
process.on('SIGHUP', onSignal);
process.on('exit', () => sup.killAllNow());
process.on('uncaughtException', (err) => void shutdown(1, `unexpected error: ${err.stack ?? err.message}`));
process.on(
  'unhandledRejection',
  (err) => void shutdown(1, `unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`),
);
sup.onUnexpectedExit((_child, reason) => void shutdown(1, `${reason}: stopping everything`));

// ---------------------------------------------------------------------------------------------
// Before anything starts: every port we are about to bind must be free.

async function checkPorts(cfg: Readonly<Config>): Promise<void> {
  const wanted: Array<{ port: number; what: string; hint: string }> = [];
  if (!cfg.temporal.address) {
    wanted.push({
      port: cfg.local.temporalPort,
      what: 'the Temporal dev server',
      hint: `another Temporal server (or npm start) is running there: stop it, or use it with TEMPORAL_ADDRESS=127.0.0.1:${cfg.local.temporalPort}, or pick another port with TEMPORAL_DEV_PORT`,
    });
    wanted.push({
      port: cfg.local.temporalUiPort,
      what: 'the Temporal Web UI',
      hint: 'stop what uses it or pick another port with TEMPORAL_UI_PORT',
    });
  }
  if (!cfg.databaseUrl) {
    wanted.push({
      port: cfg.local.postgresPort,
      what: 'the embedded Postgres',
      hint: 'stop what uses it (a Postgres left by an earlier npm start?), pick another port with EMBEDDED_POSTGRES_PORT, or use your own Postgres with DATABASE_URL',
    });
  }
  if (!cfg.azure)
    wanted.push({
      port: cfg.azureEmulatorPort,
      what: 'the Azure emulator',
      hint: 'stop what uses it or pick another port with AZURE_EMULATOR_PORT',
    });
  wanted.push({ port: cfg.apiPort, what: 'the API', hint: 'stop what uses it or pick another port with API_PORT' });
  wanted.push({
    port: cfg.workerMetricsPort,
    what: "the worker's metrics",
    hint: 'stop what uses it or pick another port with WORKER_METRICS_PORT',
  });
  const busy = (await Promise.all(wanted.map(async (w) => ((await portOpen(w.port)) ? w : undefined)))).filter((w) => w !== undefined);
  if (busy.length > 0) {
    throw new StartError(busy.map((w) => `127.0.0.1:${w.port} (${w.what}) is already in use: ${w.hint}`).join('\n'));
  }
}

// ---------------------------------------------------------------------------------------------
// The three pieces of infrastructure, started in parallel.

async function startTemporal(cfg: Readonly<Config>): Promise<{ address: string; uiUrl?: string }> {
  if (cfg.temporal.address) {
    say(`Temporal: using TEMPORAL_ADDRESS=${cfg.temporal.address}`);
    return { address: cfg.temporal.address };
  }
  let binary: string;
  try {
    binary = findOrInstallTemporalCli(cfg.temporal.cliPath, say);
  } catch (err) {
    throw new StartError(`Temporal: ${(err as Error).message}`);
  }
  const port = cfg.local.temporalPort;
  const uiPort = cfg.local.temporalUiPort;
  const dbFilename = path.join(dataDir, 'temporal', 'temporal.db');
  mkdirSync(path.dirname(dbFilename), { recursive: true });
  say(`Temporal: starting the dev server (${binary}) on 127.0.0.1:${port}, UI on ${uiPort}, data in ${shown(dbFilename)}`);
  const child = sup.start({
    name: 'temporal',
    command: binary,
    args: devServerArgs({ binary, port, uiPort, dbFilename, namespace: cfg.temporal.namespace }),
    env: baseEnv,
    cwd: PROJECT_ROOT,
    tier: 0,
    stopTimeoutMs: 15_000,
    // Its pollers complain while it shuts itself down: noise.
    onLine: () => !sup.isStopping,
  });
  const deadline = Date.now() + 60_000;
  while (!((await portOpen(port)) && (await portOpen(uiPort)))) {
    if (child.exited) throw new StartError(`Temporal: the dev server exited during start (${describeExit(child)})`);
    if (sup.isStopping) throw new StartError('stopping');
    if (Date.now() > deadline) throw new StartError('Temporal: the dev server did not open its ports within 60 s');
    await wait(200);
  }
  return { address: `127.0.0.1:${port}`, uiUrl: `http://127.0.0.1:${uiPort}` };
}

async function startPostgres(cfg: Readonly<Config>): Promise<string> {
  if (cfg.databaseUrl) {
    say('Postgres: using DATABASE_URL');
    return cfg.databaseUrl;
  }
  let prepared: ReturnType<typeof preparePostgres>;
  try {
    prepared = preparePostgres({ dataDir, port: cfg.local.postgresPort, log: (l) => say(`Postgres: ${l}`) });
  } catch (err) {
    throw new StartError((err as Error).message);
  }
  say(
    `Postgres: starting the embedded server on 127.0.0.1:${prepared.port}, data in ${shown(prepared.dataDir)}` +
      (prepared.runAs ? ` (as user "${prepared.runAs.name}": Postgres refuses to run as root)` : ''),
  );
  const child = sup.start({
    name: 'postgres',
    command: prepared.command,
    args: prepared.args,
    env: { ...baseEnv, LC_ALL: 'C', LANG: 'C' },
    cwd: prepared.dataDir,
    ...(prepared.runAs ? { uid: prepared.runAs.uid, gid: prepared.runAs.gid } : {}),
    tier: 0,
    stopSignal: 'SIGINT',
    signalLeaderOnly: true,
    stopTimeoutMs: 20_000,
    // Our own readiness probes, refused while it starts.
    onLine: (line) => !/FATAL: {2}the database system is starting up/.test(line),
  });
  try {
    await waitForPostgres(prepared.adminUrl, 60_000, () => !child.exited && !sup.isStopping);
    if (await ensureDatabase(prepared.adminUrl)) say('Postgres: created the database azure_compliance');
  } catch (err) {
    throw new StartError(`Postgres: ${(err as Error).message}`);
  }
  return prepared.databaseUrl;
}

interface AzureEnv {
  AZURE_TENANT_ID: string;
  AZURE_CLIENT_ID: string;
  AZURE_CLIENT_SECRET: string;
  AZURE_AUTHORITY_HOST: string;
  GRAPH_BASE_URL: string;
  NODE_EXTRA_CA_CERTS?: string;
}

async function startAzureEmulator(cfg: Readonly<Config>): Promise<AzureEnv | undefined> {
  if (cfg.azure) {
    say(`Azure: using AZURE_TENANT_ID=${cfg.azure.tenantId} at ${cfg.azure.authorityHost}`);
    return undefined;
  }
  say(`Azure: no AZURE_CLIENT_ID: starting the local Azure emulator on port ${cfg.azureEmulatorPort}`);
  let announce: (v: { url: string; caPemPath: string }) => void = () => {};
  const announced = new Promise<{ url: string; caPemPath: string }>((resolve) => (announce = resolve));
  const child = sup.start({
    name: 'azure-emulator',
    ...tsxChild('emulator/main.ts'),
    env: { ...baseEnv, AZURE_EMULATOR_PORT: String(cfg.azureEmulatorPort), AZURE_EMULATOR_AUTO_REGISTER: 'true' },
    tier: 0,
    onLine: (line, stream) => {
      if (stream !== 'stdout') return true;
      try {
        const v = JSON.parse(line) as { url?: unknown; caPemPath?: unknown };
        if (typeof v.url === 'string' && typeof v.caPemPath === 'string') {
          announce({ url: v.url, caPemPath: v.caPemPath });
          return false;
        }
      } catch {
        // an ordinary line
      }
      return true;
    },
  });
  const timeout = wait(30_000).then(() => 'timeout' as const);
  const died = child.exit.then(() => 'died' as const);
  const first = await Promise.race([announced, timeout, died]);
  if (first === 'timeout') throw new StartError('Azure: the emulator did not start within 30 s');
  if (first === 'died') throw new StartError(`Azure: the emulator exited during start (${describeExit(child)})`);
  const { url, caPemPath } = first;
  const tenant = loadOrCreateTenant(path.join(dataDir, 'azure-emulator'));
  try {
    await seedTenant(url, readFileSync(caPemPath, 'utf8'), tenant);
  } catch (err) {
    throw new StartError(`Azure: ${(err as Error).message}`);
  }
  say(`Azure: emulator at ${url}, tenant ${tenant.tenantId}${tenant.created ? ` (new, kept in ${shown(tenant.file)})` : ''}`);
  say(`Azure: a second tenant with the partner app's consent, to onboard with POST /v1/tenants: ${tenant.secondTenantId}`);
  return {
    AZURE_TENANT_ID: tenant.tenantId,
    AZURE_CLIENT_ID: tenant.clientId,
    AZURE_CLIENT_SECRET: tenant.clientSecret,
    AZURE_AUTHORITY_HOST: url,
    GRAPH_BASE_URL: url,
    NODE_EXTRA_CA_CERTS: caBundleFor(path.join(dataDir, 'azure-emulator'), caPemPath, baseEnv.NODE_EXTRA_CA_CERTS),
  };
}

// ---------------------------------------------------------------------------------------------
// Ready: /readyz answers 200 and a worker polls the task queue.

async function waitUntilReady(apiUrl: string, temporalAddress: string, cfg: Readonly<Config>, children: Supervised[]): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let why = 'the API has not answered yet';
  const check = (): void => {
    // A crashed worker or API is restarted (or, crashing too often, stops everything): only a child
    // without a restart policy ends the wait.
    for (const c of children)
      if (c.exited && !c.spec.restart) throw new StartError(`${c.spec.name} exited during start (${describeExit(c)})`);
    if (sup.isStopping) throw new StartError('stopping');
    if (Date.now() > deadline) throw new StartError(`not ready within ${READY_TIMEOUT_MS / 1000} s: ${why}`);
  };
  for (;;) {
    check();
    try {
      const res = await fetch(`${apiUrl}/readyz`, { signal: AbortSignal.timeout(5_000) });
      const body = await res.text();
      if (res.status === 200) break;
      why = `GET /readyz answered ${res.status} ${body}`;
    } catch (err) {
      why = `GET ${apiUrl}/readyz failed: ${(err as Error & { cause?: { code?: string } }).cause?.code ?? (err as Error).message}`;
    }
    await wait(500);
  }
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: temporalAddress, connectTimeout: '5 seconds' });
  } catch (err) {
    throw new StartError(`Temporal at ${temporalAddress} does not answer: ${(err as Error).message}`);
  }
  try {
    why = `no worker polls the task queue ${cfg.temporal.taskQueue} yet`;
    for (;;) {
      check();
      try {
        const res = await connection.workflowService.describeTaskQueue({
          namespace: cfg.temporal.namespace,
          taskQueue: { name: cfg.temporal.taskQueue },
          taskQueueType: TASK_QUEUE_TYPE_WORKFLOW,
        });
        if ((res.pollers ?? []).length > 0) return;
      } catch (err) {
        why = `describing the task queue failed: ${(err as Error).message}`;
      }
      await wait(500);
    }
  } finally {
    await connection.close();
  }
}

function banner(o: { apiUrl: string; uiUrl?: string; temporalAddress: string; keys: ApiKeys }): void {
  const show = (role: KeyRole, variable: string): string =>
    o.keys.source[role] === 'environment' ? `(from ${variable})` : `${o.keys[role]}`;
  const adminForCurl = o.keys.source.admin === 'environment' ? '$ADMIN_API_KEY' : o.keys.admin;
  const kept = Object.values(o.keys.source).some((s) => s !== 'environment') ? `   (kept in ${shown(o.keys.file)})` : '';
  const lines = [
    '',
    'Ready.',
    `  API:          ${o.apiUrl}   (docs: ${o.apiUrl}/docs)`,
    `  Temporal UI:  ${o.uiUrl ?? `(TEMPORAL_ADDRESS=${o.temporalAddress} is set: use that cluster's UI)`}`,
    `  MDM key:      ${show('mdm', 'MDM_API_KEY')}`,
    `  Admin key:    ${show('admin', 'ADMIN_API_KEY')}${kept}`,
    `  Operator key: ${show('operator', 'OPERATOR_API_KEY')}   (tenants: POST /v1/tenants)`,
    `  Try:          curl -s -H "Authorization: Bearer ${adminForCurl}" ${o.apiUrl}/v1/devices`,
    'Press Ctrl-C to stop everything.',
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(): Promise<void> {
  await checkPorts(config);

  const [temporal, databaseUrl, azureEnv] = await Promise.all([startTemporal(config), startPostgres(config), startAzureEmulator(config)]);

  say('migrations: applying');
  const db = createDb(databaseUrl, { max: 1 });
  try {
    await migrateToLatest(db);
  } catch (err) {
    throw new StartError(`migrations failed: ${(err as Error).message}`);
  } finally {
    await db.destroy();
  }

  let keys: ApiKeys;
  try {
    keys = loadOrCreateKeys(dataDir, config.keys);
  } catch (err) {
    throw new StartError(`keys: ${(err as Error).message}`);
  }
  if (Object.values(keys.source).includes('generated')) say(`keys: generated new API keys into ${shown(keys.file)} (mode 0600)`);

  const childEnv: NodeJS.ProcessEnv = {
    ...baseEnv,
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: temporal.address,
    MDM_API_KEY: keys.mdm,
    ADMIN_API_KEY: keys.admin,
    OPERATOR_API_KEY: keys.operator,
    ...(azureEnv ?? {}),
  };
  // What the worker and the API will parse: fail here, with the variable named, rather than in them.
  try {
    loadConfig(childEnv);
  } catch (err) {
    throw new StartError(`the environment computed for the worker and the API is invalid: ${(err as Error).message}`);
  }

  const apiUrl = `http://127.0.0.1:${config.apiPort}`;
  say(`starting the worker and the API (${apiUrl})`);
  const worker = sup.start({
    name: 'worker',
    ...tsxChild(WORKER_ENTRY, WORKER_NODE_FLAGS),
    env: { ...WORKER_ENV, ...childEnv },
    tier: 1,
    stopTimeoutMs: 15_000,
    restart: RESTART_WITH_BACKOFF,
  });
  const api = sup.start({
    name: 'api',
    ...tsxChild('api/main.ts'),
    env: childEnv,
    tier: 1,
    stopTimeoutMs: 15_000,
    restart: RESTART_WITH_BACKOFF,
  });

  await waitUntilReady(apiUrl, temporal.address, config, [worker, api]);
  banner({ apiUrl, uiUrl: temporal.uiUrl, temporalAddress: temporal.address, keys });
}

main().catch((err: unknown) => {
  if (sup.isStopping) return; // a signal or a dead child is already stopping everything
  const message = err instanceof StartError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  for (const line of message.split('\n')) say(line);
  void shutdown(1);
});

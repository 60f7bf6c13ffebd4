/**
 * The noisy-neighbour benchmark, not a test:
 *
 *   npx tsx bench/tenant-budget/noisy-neighbour.ts [--devices 2000] [--events 120] [--events-per-second 4] [--calls-per-second 80] [--results-dir DIR]
 *
 * Two tenants of one partner app on one connector (a worker and the API as child processes, a
 * Temporal dev server with task-queue fairness, a fresh Postgres database, the Azure emulator in this
 * process). Tenant A has `devices` devices; tenant B (the API's tenant) receives MDM events.
 *
 * 1. Seeds A's devices through their real path (registration events), reported once with the
 *    Microsoft budget lifted; then restarts the worker at the budget under test.
 * 2. B alone: `events` registrations of new devices POSTed to the API at `events-per-second`; each
 *    one's time from POST to its `Successful` report (report_attempts.completed_at).
 * 3. The same load on B while A runs a weekly sweep of all its devices.
 * 4. Intune partner API calls per tenant at the emulator over both phases: the busiest second and
 *    the busiest 20 s (Microsoft's window), against AZURE_MAX_CALLS_PER_SECOND.
 *
 * Writes bench/results/noisy-neighbour-<date>.json and prints a summary.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../../config';
import { createDb, migrateToLatest, type Db } from '../../db';
import { createScratchDatabase } from '../../db/scratch';
import { startEmulator } from '../../emulator';
import { findTemporalCli, INSTALL_HINT, startDevServer } from '../../lib/temporal-cli';
import { freePort } from '../../lib/ports';
import { startSweep } from '../../workers/fleet-client';
import { deliverEvent } from '../../workers/event-delivery';
import { PROJECT_ROOT, sleep, waitUntil, type Child } from '../lib/child';
import { connectorEnv, startConnectorApi, startConnectorWorker, waitForApi } from '../lib/stack';

const TASK_QUEUE = 'bench-noisy-neighbour';
const LIFTED_CALLS_PER_SECOND = 10_000;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
  return v;
}

const log = (line: string) => process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const round = (n: number) => Math.round(n * 10) / 10;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** The most calls in any window of `seconds` (per-second buckets). */
function busiest(perSecond: Map<number, number>, seconds: number): number {
  const keys = [...perSecond.keys()].sort((a, b) => a - b);
  let best = 0;
  for (const start of keys) {
    let sum = 0;
    for (let s = start; s < start + seconds; s++) sum += perSecond.get(s) ?? 0;
    best = Math.max(best, sum);
  }
  return best;
}

async function countWhere(db: Db, table: string, where: Record<string, unknown>): Promise<number> {
  return Number((await db(table).where(where).count({ n: '*' }))[0]!.n);
}

interface Latencies {
  events: number;
  completed: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Registrations of new devices of B, POSTed at a fixed rate; POST → Successful for each. */
async function eventLoad(o: {
  apiUrl: string;
  mdmKey: string;
  db: Db;
  tenantId: string;
  prefix: string;
  events: number;
  perSecond: number;
}): Promise<Latencies> {
  const postedAt = new Map<string, number>();
  const sends: Array<Promise<void>> = [];
  const t0 = Date.now();
  for (let i = 0; i < o.events; i++) {
    const due = t0 + (i * 1000) / o.perSecond;
    if (due > Date.now()) await sleep(due - Date.now());
    const deviceId = `${o.prefix}-${String(i).padStart(4, '0')}`;
    const body = {
      type: 'registration',
      occurredAt: new Date().toISOString(),
      platform: 'iOS',
      azureDeviceId: randomUUID(),
      clientStatusCode: 'Success',
      userPrincipalName: `${deviceId}@fabrikam.example`,
    };
    postedAt.set(deviceId, Date.now());
    sends.push(
      fetch(`${o.apiUrl}/v1/devices/${deviceId}/events`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${o.mdmKey}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      }).then(async (r) => {
        if (r.status !== 202) throw new Error(`POST ${deviceId}: ${r.status} ${await r.text()}`);
      }),
    );
  }
  await Promise.all(sends);
  const ids = [...postedAt.keys()];
  const done = async () =>
    (await o
      .db('report_attempts')
      .where({ tenant_id: o.tenantId, trigger: 'registration', outcome: 'Successful' })
      .whereIn('device_id', ids)
      .select('device_id', 'completed_at')) as Array<{ device_id: string; completed_at: Date }>;
  const rows = await waitUntil(
    `${o.events} reports of ${o.prefix}`,
    async () => {
      const r = await done();
      return r.length >= o.events ? r : undefined;
    },
    600_000,
    250,
  );
  const latencies = rows.map((r) => new Date(r.completed_at).getTime() - postedAt.get(r.device_id)!).sort((a, b) => a - b);
  return {
    events: o.events,
    completed: rows.length,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies[latencies.length - 1]!,
  };
}

async function main(): Promise<void> {
  const config = loadConfig();
  const devices = Math.floor(arg('devices', 2_000));
  const events = Math.floor(arg('events', 120));
  const eventsPerSecond = arg('events-per-second', 4);
  const callsPerSecond = arg('calls-per-second', config.azureMaxCallsPerSecond);
  const temporalCli = findTemporalCli(config.temporal.cliPath);
  if (!temporalCli) throw new Error(`cannot run the benchmark: ${INSTALL_HINT}`);
  const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'acc-noisy-'));
  const cleanups: Array<() => Promise<unknown>> = [async () => rmSync(tmpDir, { recursive: true, force: true })];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => log(`cleanup: ${(err as Error).message}`));
  };
  process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));

  try {
    const temporal = await startDevServer({ binary: temporalCli, port: await freePort(), uiPort: await freePort() });
    cleanups.push(() => temporal.stop());
    const connection = await Connection.connect({ address: temporal.address });
    cleanups.push(() => connection.close());
    const client = new Client({ connection, namespace: 'default' });
    const scratch = await createScratchDatabase(config.databaseUrl ?? 'postgres://postgres@127.0.0.1:5432/postgres', 'acc_noisy');
    cleanups.push(() => scratch.drop());
    const db = createDb(scratch.databaseUrl, { max: 4 });
    cleanups.push(() => db.destroy());
    await migrateToLatest(db);

    // One partner app, consented in both tenants; B is the connector's own (AZURE_TENANT_ID).
    const app = { clientId: randomUUID(), clientSecret: randomBytes(24).toString('base64url') };
    const neighbour = randomUUID();
    const measured = randomUUID();
    const perTenant = new Map<string, Map<number, number>>([
      [neighbour, new Map()],
      [measured, new Map()],
    ]);
    let counting = false;
    let throttled = 0;
    const emulator = await startEmulator({
      port: 0,
      autoRegister: true,
      pollsBeforeTerminal: 0,
      seed: { tenants: [neighbour, measured].map((tenantId) => ({ tenantId, apps: [app] })) },
      logger: (line) => {
        const l = line as { msg?: string; service?: string; status?: number; tenantId?: string };
        if (!counting || l.msg !== 'request' || l.service !== 'intune' || !l.tenantId) return;
        if (l.status === 429) throttled++;
        const seconds = perTenant.get(l.tenantId);
        const s = Math.floor(Date.now() / 1000);
        seconds?.set(s, (seconds.get(s) ?? 0) + 1);
      },
    });
    cleanups.push(() => emulator.close());

    const mdmKey = randomBytes(32).toString('base64url');
    const apiPort = await freePort();
    const baseEnv: NodeJS.ProcessEnv = {
      ...connectorEnv({
        databaseUrl: scratch.databaseUrl,
        temporalAddress: temporal.address,
        taskQueue: TASK_QUEUE,
        tenant: { tenantId: measured, ...app },
        emulatorUrl: emulator.url,
        caPemPath: emulator.caPemPath,
      }),
      MDM_API_KEY: mdmKey,
      ADMIN_API_KEY: randomBytes(32).toString('base64url'),
      API_PORT: String(apiPort),
      DATA_DIR: tmpDir,
    };
    let worker: Child = await startConnectorWorker({ ...baseEnv, AZURE_MAX_CALLS_PER_SECOND: String(LIFTED_CALLS_PER_SECOND) });
    cleanups.push(() => worker.stop(30_000));
    const api = startConnectorApi(baseEnv, path.join(tmpDir, 'api.log'));
    cleanups.push(() => api.stop());
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    await waitForApi(api, apiUrl);
    log(`stack up: Temporal ${temporal.address}, emulator ${emulator.url}, API ${apiUrl}`);

    // ---- 1. A's fleet, reported once with the budget lifted
    const seedStart = Date.now();
    const ids = Array.from({ length: devices }, (_, i) => `a-${String(i).padStart(5, '0')}`);
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < ids.length) {
          const deviceId = ids[next++]!;
          await deliverEvent(client, {
            tenantId: neighbour,
            deviceId,
            taskQueue: TASK_QUEUE,
            event: {
              type: 'registration',
              occurredAt: new Date(Date.now() - 60_000).toISOString(),
              platform: 'iOS',
              azureDeviceId: randomUUID(),
              clientStatusCode: 'Success',
              userPrincipalName: `${deviceId}@contoso.example`,
            },
          });
        }
      }),
    );
    await waitUntil(
      `the first reports of ${devices} devices`,
      async () =>
        (await countWhere(db, 'devices', { tenant_id: neighbour, compliance_status: 'Successful' })) >= devices ? true : undefined,
      1_800_000,
      1_000,
    );
    log(`tenant A: ${devices} devices seeded in ${round((Date.now() - seedStart) / 1000)} s`);

    await worker.stop(30_000);
    worker = await startConnectorWorker({ ...baseEnv, AZURE_MAX_CALLS_PER_SECOND: String(callsPerSecond) });
    log(`worker restarted with AZURE_MAX_CALLS_PER_SECOND=${callsPerSecond} (per tenant)`);
    counting = true;

    // ---- 2. B alone
    const alone = await eventLoad({ apiUrl, mdmKey, db, tenantId: measured, prefix: 'alone', events, perSecond: eventsPerSecond });
    log(`B alone: p50 ${alone.p50Ms} ms, p99 ${alone.p99Ms} ms`);

    // ---- 3. B while A sweeps
    const sweepStart = Date.now();
    const operationId = `weekly-${randomUUID()}`;
    await startSweep(client, db, {
      tenantId: neighbour,
      kind: 'weekly',
      filter: null,
      operationId,
      startedAt: new Date().toISOString(),
      taskQueue: TASK_QUEUE,
      options: { devicesPerSecond: loadConfig({ AZURE_MAX_CALLS_PER_SECOND: String(callsPerSecond) }).sweepDevicesPerSecond },
    });
    const weeklyDone = () => countWhere(db, 'report_attempts', { tenant_id: neighbour, trigger: 'weekly', outcome: 'Successful' });
    await waitUntil('the sweep under way', async () => ((await weeklyDone()) >= Math.min(100, devices / 10) ? true : undefined), 600_000);
    const during = await eventLoad({ apiUrl, mdmKey, db, tenantId: measured, prefix: 'during', events, perSecond: eventsPerSecond });
    const sweptWhileB = await weeklyDone();
    log(
      `B during A's sweep: p50 ${during.p50Ms} ms, p99 ${during.p99Ms} ms (A had ${sweptWhileB} weekly reports done when B's load ended)`,
    );
    await waitUntil('the sweep done', async () => ((await weeklyDone()) >= devices ? true : undefined), 3_600_000, 1_000);
    const sweepSeconds = (Date.now() - sweepStart) / 1000;
    counting = false;

    const budget = (id: string) => {
      const s = perTenant.get(id)!;
      return { busiestSecond: busiest(s, 1), busiest20Seconds: busiest(s, 20), budget20Seconds: callsPerSecond * 20 };
    };
    const results = {
      date: new Date().toISOString(),
      command: `npx tsx bench/tenant-budget/noisy-neighbour.ts ${process.argv.slice(2).join(' ')}`.trim(),
      machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? null, node: process.version },
      devices,
      events,
      eventsPerSecond,
      azureMaxCallsPerSecondPerTenant: callsPerSecond,
      bAlone: alone,
      bDuringSweep: during,
      p99Ratio: round((during.p99Ms / alone.p99Ms) * 100) / 100,
      sweep: { seconds: round(sweepSeconds), weeklyReportsWhenBsLoadEnded: sweptWhileB },
      intuneCallsAtEmulator: { tenantA: budget(neighbour), tenantB: budget(measured), throttled },
    };
    const dirArg = process.argv.indexOf('--results-dir');
    const dir = dirArg >= 0 ? path.resolve(process.argv[dirArg + 1]!) : path.join(PROJECT_ROOT, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `noisy-neighbour-${results.date.slice(0, 19).replace(/:/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    log(JSON.stringify(results));
    log(`written to ${path.relative(PROJECT_ROOT, file)}`);
  } finally {
    await cleanup();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);

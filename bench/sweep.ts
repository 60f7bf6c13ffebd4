/**
 * Benchmark of the weekly sweep, not a test:
 *
 *   npx tsx bench/sweep.ts --devices 10000 [--calls-per-second 80] [--concurrency 64] [--polls-before-terminal 0] [--unthrottled]
 *
 * Brings up its own stack: a Temporal dev server (in memory), a fresh Postgres database, the Azure
 * emulator in this process (autoRegister; it counts every request it answers), and the connector's
 * worker (workers/main.ts) as a child process configured through the environment as `npm start` does.
 *
 * 1. Seeds N devices through their real path: a registration and an inventory event per device
 *    (signalWithStart, bounded concurrency), reported once by a worker whose Microsoft rate limit is
 *    lifted (seeding is not what is measured).
 * 2. Restarts the worker at the rate limit under test (AZURE_MAX_CALLS_PER_SECOND, default: the
 *    shipped default), turns on the emulator's throttling at the limit Microsoft documents for its
 *    Intune Graph services (2,000 requests per 20 s per app and tenant, Graph and the partner API
 *    each), and triggers the `weekly-azure-compliance-report` Schedule (overlap SKIP).
 * 3. Times until every device has a Successful `weekly` report, and records the calls made to
 *    Microsoft (by service), 429s received, the worker's peak RSS (VmHWM) and the longest history.
 * 4. The floor for the same work (skipped with --no-floor): N bare workflows (bench/floor/workflows.ts),
 *    started and left waiting, on a floor worker with the same workflow cache as ours (so nearly all
 *    are evicted, as the devices are), each then sent one signal (64 in flight, no pacing) and
 *    running one activity; timed until N completed. The sweep's rate ÷ this rate is its ratio.
 *
 * Re-executes itself with NODE_EXTRA_CA_CERTS set to the emulator's CA (the bench calls the emulator).
 * Writes bench/results/sweep-<date>.json and prints a summary.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, ScheduleOverlapPolicy } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { loadConfig } from '../config';
import { createDb, migrateToLatest } from '../db';
import { createScratchDatabase } from '../db/scratch';
import { startEmulator } from '../emulator';
import { findTemporalCli, INSTALL_HINT, startDevServer } from '../lib/temporal-cli';
import { freePort } from '../lib/ports';
import { WEEKLY_REPORT_SCHEDULE_ID } from '../workers/schedules';
import { DEVICE_WORKFLOW_TYPE, DEVICE_WORKFLOW_TYPES, deviceWorkflowId, inventorySignal, registrationSignal } from '../workflows/messages';
import { DeviceIdKey, TenantIdKey } from '../workflows/search-attributes';
import { FLOOR_WORKFLOW_TYPE, floorEventSignal } from './floor/workflows';
import { reexecWithCa } from './lib/ca';
import { PROJECT_ROOT, sleep, startChild, type Child } from './lib/child';
import { loadAverage } from './lib/machine';
import { cpuDelta, cpuOf, pidsNamed, procSample } from './lib/proc';
import { connectorEnv } from './lib/stack';
import { WORKER_ENTRY, WORKER_ENV, WORKER_NODE_FLAGS } from '../workers/launch';

const TASK_QUEUE = 'bench-sweep';
/** The Microsoft budget while the fleet is seeded (seeding is not what is measured). */
const LIFTED_CALLS_PER_SECOND = 10_000;
/** Microsoft's documented limit for its Intune Graph services: 2,000 requests per 20 s per app and tenant. */
const MICROSOFT_DOCUMENTED_LIMITS = { graph: { limit: 2_000, windowSeconds: 20 }, intune: { limit: 2_000, windowSeconds: 20 } };

function arg(name: string, fallback: number, least: 'positive' | 'zero' = 'positive'): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v < 0 || (least === 'positive' && v === 0))
    throw new Error(`--${name} needs a ${least === 'positive' ? 'positive' : 'non-negative'} number`);
  return v;
}

const log = (line: string) => process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);

async function main(): Promise<void> {
  if (process.argv.includes('--help')) {
    process.stdout.write(
      'usage: npx tsx bench/sweep.ts [--devices 10000] [--calls-per-second 80] [--concurrency 64] [--polls-before-terminal 0] [--unthrottled] [--no-floor] [--worker-env K=V] [--cpu-prof DIR] [--results-dir DIR]\n',
    );
    return;
  }
  if (reexecWithCa()) return;
  const config = loadConfig();
  const loadAtStart = loadAverage();
  const devices = Math.floor(arg('devices', 10_000));
  const callsPerSecond = arg('calls-per-second', config.azureMaxCallsPerSecond);
  const concurrency = Math.floor(arg('concurrency', 64));
  // Status polls that answer Processing before the outcome (0: the first poll, 1 s after the upload, has it).
  const pollsBeforeTerminal = Math.floor(arg('polls-before-terminal', 0, 'zero'));
  // --unthrottled: the emulator answers every call (with --calls-per-second 10000, the sweep is then
  // unpaced, which is how its machinery is compared with the floor's unpaced rate).
  const emulatorThrottle = process.argv.includes('--unthrottled') ? null : MICROSOFT_DOCUMENTED_LIMITS;
  // Experiments: extra environment of the worker under test, e.g. --worker-env WORKER_MAX_CACHED_WORKFLOWS=250.
  const workerExtraEnv: Record<string, string> = {};
  process.argv.forEach((a, i) => {
    if (a !== '--worker-env') return;
    const [k, ...v] = (process.argv[i + 1] ?? '').split('=');
    if (!k || v.length === 0) throw new Error('--worker-env needs KEY=VALUE');
    workerExtraEnv[k] = v.join('=');
  });
  // Experiments: `--cpu-prof <dir>` runs the worker under test with node --cpu-prof (written when it exits).
  const cpuProfDir = process.argv.includes('--cpu-prof')
    ? path.resolve(process.argv[process.argv.indexOf('--cpu-prof') + 1] ?? 'cpu-prof')
    : undefined;
  const maxCached = loadConfig({ ...process.env, ...workerExtraEnv }).workerMaxCachedWorkflows;
  const temporalCli = findTemporalCli(config.temporal.cliPath);
  if (!temporalCli) throw new Error(`cannot run the benchmark: ${INSTALL_HINT}`);
  const cleanups: Array<() => Promise<unknown>> = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => log(`cleanup: ${(err as Error).message}`));
  };
  process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));

  try {
    // ---- Temporal, Postgres, emulator
    const temporal = await startDevServer({ binary: temporalCli, port: await freePort(), uiPort: await freePort() });
    cleanups.push(() => temporal.stop());
    const connection = await Connection.connect({ address: temporal.address });
    cleanups.push(() => connection.close());
    const client = new Client({ connection, namespace: 'default' });
    log(`Temporal dev server at ${temporal.address}`);

    const adminUrl = config.databaseUrl ?? 'postgres://postgres@127.0.0.1:5432/postgres';
    const scratch = await createScratchDatabase(adminUrl, 'acc_sweep');
    cleanups.push(() => scratch.drop());
    const { databaseUrl, name: dbName } = scratch;
    const db = createDb(databaseUrl, { max: 4 });
    cleanups.push(() => db.destroy());
    await migrateToLatest(db);

    const tenant = { tenantId: randomUUID(), clientId: randomUUID(), clientSecret: randomBytes(24).toString('base64url') };
    const calls = { total: 0, byService: {} as Record<string, number>, byStatus: {} as Record<string, number>, throttled: 0 };
    /** Calls to Microsoft (Graph and the partner API) per second of the sweep, to find the busiest 20 s. */
    const perSecond = new Map<number, number>();
    let counting = false;
    const emulator = await startEmulator({
      port: 0,
      autoRegister: true,
      pollsBeforeTerminal,
      seed: { tenants: [{ tenantId: tenant.tenantId, apps: [{ clientId: tenant.clientId, clientSecret: tenant.clientSecret }] }] },
      logger: (line) => {
        const l = line as { msg?: string; service?: string; status?: number };
        if (!counting || l.msg !== 'request' || l.service === 'control') return;
        calls.total++;
        if (l.service === 'graph' || l.service === 'intune') {
          const second = Math.floor(Date.now() / 1000);
          perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
        }
        calls.byService[l.service ?? '?'] = (calls.byService[l.service ?? '?'] ?? 0) + 1;
        calls.byStatus[String(l.status)] = (calls.byStatus[String(l.status)] ?? 0) + 1;
        if (l.status === 429) calls.throttled++;
      },
    });
    cleanups.push(() => emulator.close());
    log(`Azure emulator at ${emulator.url} (autoRegister), Postgres database ${dbName}`);

    const workerEnv = (rate: number): NodeJS.ProcessEnv => ({
      ...connectorEnv({
        databaseUrl,
        temporalAddress: temporal.address,
        taskQueue: TASK_QUEUE,
        tenant,
        emulatorUrl: emulator.url,
        caPemPath: emulator.caPemPath,
      }),
      AZURE_MAX_CALLS_PER_SECOND: String(rate),
      DATA_DIR: path.join(os.tmpdir(), `acc-sweep-${process.pid}`),
    });
    let worker: Child | undefined;
    let workerMetricsPort = 0;
    const startWorker = async (rate: number, extra: Record<string, string> = {}, nodeFlags: string[] = []): Promise<Child> => {
      workerMetricsPort = await freePort();
      const env = { ...WORKER_ENV, ...workerEnv(rate), WORKER_METRICS_PORT: String(workerMetricsPort), ...extra };
      const child = startChild({ name: 'worker', script: WORKER_ENTRY, env, nodeFlags: [...WORKER_NODE_FLAGS, ...nodeFlags] });
      await child.waitForLine((l) => (l.includes('"worker started"') ? true : undefined), 120_000);
      return child;
    };
    worker = await startWorker(LIFTED_CALLS_PER_SECOND);
    cleanups.push(() => worker?.stop(30_000) ?? Promise.resolve());

    // ---- 1. Seed through the real event path, with the Microsoft rate limit lifted
    log(`seeding ${devices} devices (registration + inventory each, ${concurrency} in flight)`);
    const seedStart = Date.now();
    const ids = Array.from({ length: devices }, (_, i) => `dev-${String(i).padStart(6, '0')}`);
    let next = 0;
    const occurredAt = new Date(Date.now() - 60_000).toISOString();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < ids.length) {
          const deviceId = ids[next++]!;
          const workflowId = deviceWorkflowId(tenant.tenantId, deviceId);
          await client.workflow.signalWithStart(DEVICE_WORKFLOW_TYPE, {
            workflowId,
            taskQueue: TASK_QUEUE,
            args: [{ tenantId: tenant.tenantId, deviceId }],
            signal: registrationSignal,
            signalArgs: [
              {
                type: 'registration',
                occurredAt,
                platform: 'iOS',
                azureDeviceId: randomUUID(),
                clientStatusCode: 'Success',
                userPrincipalName: `${deviceId}@contoso.com`,
              },
            ],
            typedSearchAttributes: [
              { key: TenantIdKey, value: tenant.tenantId },
              { key: DeviceIdKey, value: deviceId },
            ],
            workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
          });
          await client.workflow.getHandle(workflowId).signal(inventorySignal, {
            type: 'inventory',
            occurredAt,
            inventory: { deviceName: deviceId, os: 'iOS', osVersion: '17.5', model: 'iPhone15,2', ownership: 'corporate' },
          });
        }
      }),
    );
    const signalledAt = Date.now();
    log(`events sent in ${((signalledAt - seedStart) / 1000).toFixed(1)} s; waiting for the first reports`);
    await waitForCount(
      'first reports',
      devices,
      async () =>
        Number((await db('devices').where({ tenant_id: tenant.tenantId, compliance_status: 'Successful' }).count({ n: '*' }))[0]!.n),
      1_800_000,
    );
    log(`seeded in ${((Date.now() - seedStart) / 1000).toFixed(1)} s`);

    // ---- 2. The worker under test, at the rate limit under test
    await worker.stop(30_000);
    worker = await startWorker(callsPerSecond, workerExtraEnv, cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : []);
    log(
      `worker restarted (pid ${worker.pid}) with AZURE_MAX_CALLS_PER_SECOND=${callsPerSecond}, sweep pacing ${loadConfig({ AZURE_MAX_CALLS_PER_SECOND: String(callsPerSecond) }).sweepDevicesPerSecond} devices/s`,
    );
    let peakRss = 0;
    let maxSampledRss = 0;
    const rssAtStart = procSample(worker.pid)?.rss ?? 0;
    const rssTimeline: Array<[number, number]> = [];
    const rssTimer = setInterval(() => {
      const s = worker && procSample(worker.pid);
      if (s) {
        peakRss = Math.max(peakRss, s.peakRss);
        maxSampledRss = Math.max(maxSampledRss, s.rss);
        const t = Math.round((Date.now() - sweepStartedAt) / 1000);
        if (rssTimeline.length === 0 || t - rssTimeline[rssTimeline.length - 1]![0] >= 15)
          rssTimeline.push([t, Math.round(s.rss / 1024 / 1024)]);
      }
    }, 1_000);
    const sweepStartedAt = Date.now();
    cleanups.push(async () => clearInterval(rssTimer));

    if (emulatorThrottle) await emulator.control.setOptions({ throttle: emulatorThrottle });
    counting = true;
    const processes = (): Record<string, number[]> => ({
      temporal: [temporal.process.pid!],
      worker: [worker!.pid],
      benchAndEmulator: [process.pid],
      postgres: pidsNamed('postgres'),
    });
    const cpuBefore = cpuOf(processes());
    const tasksBefore = await deviceWorkflowTaskCounters(workerMetricsPort);
    const sweepStart = Date.now();
    await client.schedule.getHandle(WEEKLY_REPORT_SCHEDULE_ID).trigger(ScheduleOverlapPolicy.SKIP);
    const weeklyDone = async () =>
      Number(
        (
          await db('report_attempts')
            .where({ tenant_id: tenant.tenantId, trigger: 'weekly', outcome: 'Successful' })
            .countDistinct({ n: 'device_id' })
        )[0]!.n,
      );
    await waitForCount('weekly reports', devices, weeklyDone, 3 * 3_600_000);
    const sweepMs = Date.now() - sweepStart;
    counting = false;
    const cpu = cpuDelta(cpuBefore, cpuOf(processes()));
    const tasksAfter = await deviceWorkflowTaskCounters(workerMetricsPort);
    const s = procSample(worker.pid);
    if (s) peakRss = Math.max(peakRss, s.peakRss);
    clearInterval(rssTimer);

    const op = await db('operations').where({ tenant_id: tenant.tenantId, kind: 'weekly' }).first();
    const weeklyRows = Number(
      (await db('report_attempts').where({ tenant_id: tenant.tenantId, trigger: 'weekly' }).count({ n: '*' }))[0]!.n,
    );
    // Visibility's historyLength is only current for closed runs: describe every device workflow.
    let longest = { workflowId: '', historyLength: 0 };
    const deviceHistory: number[] = [];
    let nextId = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (nextId < ids.length) {
          const workflowId = deviceWorkflowId(tenant.tenantId, ids[nextId++]!);
          const d = await client.workflow.getHandle(workflowId).describe();
          deviceHistory.push(d.historyLength);
          if (d.historyLength > longest.historyLength) longest = { workflowId, historyLength: d.historyLength };
        }
      }),
    );
    const sweepRuns: number[] = [];
    for await (const wf of client.workflow.list({ query: `WorkflowId = 'fleet:${tenant.tenantId}:${op.operation_id}'` })) {
      sweepRuns.push(wf.historyLength);
    }
    const longestSweepRun = Math.max(0, ...sweepRuns);
    if (longestSweepRun > longest.historyLength)
      longest = { workflowId: `fleet:${tenant.tenantId}:${op.operation_id}`, historyLength: longestSweepRun };
    deviceHistory.sort((a, b) => a - b);

    // ---- 4. The floor for the same work: a signal to a workflow most likely not in the cache, one activity.
    const floor = process.argv.includes('--no-floor')
      ? null
      : await sweepFloor({
          client,
          address: temporal.address,
          devices,
          maxCached,
          concurrency: 64,
          cpuPids: () => ({ temporal: [temporal.process.pid!] }),
        });
    const sweepPerSecond = devices / (sweepMs / 1000);
    if (floor)
      log(
        `floor: ${floor.perSecond.toFixed(1)} workflows/s; the sweep's ${sweepPerSecond.toFixed(1)} devices/s is ${Math.round((sweepPerSecond / floor.perSecond) * 100)} % of it`,
      );

    const results = {
      date: new Date().toISOString(),
      loadAverageAtStart: loadAtStart,
      loadAverageAtEnd: loadAverage(),
      command: `npx tsx bench/sweep.ts ${process.argv.slice(2).join(' ')}`.trim(),
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? null,
        memoryMb: Math.round(os.totalmem() / 1024 / 1024),
        node: process.version,
      },
      devices,
      azureMaxCallsPerSecond: callsPerSecond,
      workerMaxCachedWorkflows: maxCached,
      sweepDevicesPerSecond: loadConfig({ AZURE_MAX_CALLS_PER_SECOND: String(callsPerSecond) }).sweepDevicesPerSecond,
      emulatorPollsBeforeTerminal: pollsBeforeTerminal,
      emulatorThrottle,
      seedingSeconds: round((signalledAt - seedStart) / 1000),
      sweep: {
        wallSeconds: round(sweepMs / 1000),
        operationId: op.operation_id,
        signallingSeconds: op.finished_at ? round((new Date(op.finished_at).getTime() - new Date(op.started_at).getTime()) / 1000) : null,
        devicesTotal: op.devices_total,
        devicesSignalled: op.devices_signalled,
        devicesSkipped: op.devices_skipped,
        weeklyTimelineRows: weeklyRows,
        runs: sweepRuns.length,
        longestSweepRunHistory: longestSweepRun,
      },
      microsoftCalls: {
        ...calls,
        perDevice: round(calls.total / devices),
        perSecond: round(calls.total / (sweepMs / 1000)),
        busiest20Seconds: busiestWindow(perSecond, 20),
      },
      // VmHWM: the process's peak since it started, including bundling the workflows at start.
      workerPeakRssMb: round(peakRss / 1024 / 1024),
      workerRssAtSweepStartMb: round(rssAtStart / 1024 / 1024),
      workerMaxRssDuringSweepMb: round(maxSampledRss / 1024 / 1024),
      longestHistory: longest,
      // CPU seconds over the sweep; Postgres is every backend of the server (the bench's own polling included).
      cpuSeconds: cpu,
      cpuMsPerDevice: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, round((v * 1000) / devices)])),
      deviceHistory: {
        median: deviceHistory[Math.floor(deviceHistory.length / 2)] ?? 0,
        max: deviceHistory[deviceHistory.length - 1] ?? 0,
      },
      // A task that misses the worker's cache replays the device's whole history first.
      deviceWorkflowTasks: {
        perDevice: round((tasksAfter.workflowTasks - tasksBefore.workflowTasks) / devices),
        replayedPerDevice: round(
          (tasksAfter.workflowTasks - tasksAfter.cacheHits - (tasksBefore.workflowTasks - tasksBefore.cacheHits)) / devices,
        ),
      },
      workerExtraEnv,
      workerRssTimelineMb: rssTimeline,
      // The sweep's bound under the budget: every device paced at SWEEP_DEVICES_PER_SECOND.
      budgetBoundSeconds: round(devices / loadConfig({ AZURE_MAX_CALLS_PER_SECOND: String(callsPerSecond) }).sweepDevicesPerSecond),
      sweepDevicesPerSecondMeasured: round(sweepPerSecond),
      floor,
      sweepOverFloor: floor ? round(sweepPerSecond / floor.perSecond) : null,
    };
    const resultsDirArg = process.argv.indexOf('--results-dir');
    const dir = resultsDirArg > 0 ? path.resolve(process.argv[resultsDirArg + 1] ?? '.') : path.join(PROJECT_ROOT, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `sweep-${results.date.slice(0, 19).replace(/:/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    log(`results in ${path.relative(process.cwd(), file)}`);
    process.stdout.write(
      [
        '',
        `weekly sweep of ${devices} devices at AZURE_MAX_CALLS_PER_SECOND=${callsPerSecond} (sweep pacing ${results.sweepDevicesPerSecond}/s), WORKER_MAX_CACHED_WORKFLOWS=${maxCached}${Object.keys(workerExtraEnv).length ? ` ${JSON.stringify(workerExtraEnv)}` : ''}`,
        `  worker RSS over the sweep (s, MB): ${rssTimeline.map(([t, mb]) => `${t}:${mb}`).join(' ')}`,
        `  wall time until every device reported: ${results.sweep.wallSeconds} s (signalling finished after ${results.sweep.signallingSeconds} s, ${results.sweep.runs} runs)`,
        `  calls to Microsoft: ${calls.total} (${results.microsoftCalls.perDevice}/device, ${results.microsoftCalls.perSecond}/s, busiest 20 s: ${results.microsoftCalls.busiest20Seconds}${emulatorThrottle ? ` of the ${emulatorThrottle.intune.limit} allowed` : ', the emulator unthrottled'}) ${JSON.stringify(calls.byService)}; 429s: ${calls.throttled}`,
        `  worker RSS: peak ${results.workerPeakRssMb} MB (VmHWM, includes bundling the workflows at start); ${results.workerRssAtSweepStartMb} MB at sweep start, max ${results.workerMaxRssDuringSweepMb} MB sampled during the sweep`,
        `  CPU ms per device: ${Object.entries(results.cpuMsPerDevice)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')} (2 cores = ${round((2 * sweepMs) / devices)} ms of CPU per device available)`,
        `  longest history: ${longest.historyLength} events (${longest.workflowId}); device workflows: median ${results.deviceHistory.median}, max ${results.deviceHistory.max}; longest sweep run: ${results.sweep.longestSweepRunHistory} events`,
        `  device workflow tasks: ${results.deviceWorkflowTasks.perDevice} per device, ${results.deviceWorkflowTasks.replayedPerDevice} of them replaying the history (not in the worker's cache)`,
        `  weekly rows: ${weeklyRows} for ${devices} devices; signalled ${op.devices_signalled}, skipped ${op.devices_skipped}`,
        `  the budget's bound: ${results.budgetBoundSeconds} s (devices ÷ SWEEP_DEVICES_PER_SECOND); measured ${results.sweep.wallSeconds} s${
          callsPerSecond < LIFTED_CALLS_PER_SECOND
            ? ` = ${round(results.sweep.wallSeconds / results.budgetBoundSeconds)} × the bound`
            : ' (the budget lifted: no bound to compare with)'
        }`,
        floor
          ? `  floor (signal to an evicted workflow + one activity, cache ${maxCached}): ${round(floor.perSecond)}/s; sweep ${results.sweepDevicesPerSecondMeasured}/s = ${results.sweepOverFloor} of it`
          : '  floor: skipped (--no-floor)',
        `  load average at start ${loadAtStart.join(' / ')}, at end ${results.loadAverageAtEnd.join(' / ')}`,
        '',
      ].join('\n'),
    );
  } finally {
    await cleanup();
  }
}

/**
 * The worker's Temporal core counters for the device workflows (summed over their other labels):
 * how many workflow tasks ran, and how many of them found the run in the worker's cache.
 */
async function deviceWorkflowTaskCounters(port: number): Promise<{ workflowTasks: number; cacheHits: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const sum = (name: string) =>
    text
      .split('\n')
      .filter((l) => l.startsWith(`${name}{`) && DEVICE_WORKFLOW_TYPES.some((t) => l.includes(`workflow_type="${t}"`)))
      .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  return { workflowTasks: sum('temporal_workflow_task_execution_latency_count'), cacheHits: sum('temporal_sticky_cache_hit') };
}

/**
 * The sweep's floor: `devices` bare workflows started and left waiting on a floor worker whose
 * workflow cache is `maxCached`, then one signal each (`concurrency` in flight), each running one
 * activity and completing; the rate is devices ÷ (first signal → last completion, counted by visibility).
 */
async function sweepFloor(o: {
  client: Client;
  address: string;
  devices: number;
  maxCached: number;
  concurrency: number;
  cpuPids: () => Record<string, number[]>;
}): Promise<{ perSecond: number; seconds: number; workerCpuMsPerWorkflow: number; temporalCpuMsPerWorkflow: number }> {
  const taskQueue = 'bench-sweep-floor';
  const worker = startChild({
    name: 'floor-worker',
    script: 'bench/floor/worker.ts',
    args: [o.address, taskQueue, String(o.maxCached)],
    env: { ...process.env },
  });
  try {
    await worker.waitForLine((l) => (l === 'ready' ? true : undefined), 120_000);
    const run = randomUUID().slice(0, 8);
    const ids = Array.from({ length: o.devices }, (_, i) => `sweep-floor-${run}-${i}`);
    let next = 0;
    const lanes = (fn: (id: string) => Promise<unknown>) =>
      Promise.all(
        Array.from({ length: o.concurrency }, async () => {
          while (next < ids.length) await fn(ids[next++]!);
        }),
      );
    log(`floor: starting ${o.devices} waiting workflows (worker cache ${o.maxCached})`);
    await lanes((workflowId) => o.client.workflow.start(FLOOR_WORKFLOW_TYPE, { workflowId, taskQueue, args: [] }));
    // Let the start tasks run and the cache evict, as the devices' workflows are idle before a sweep.
    await sleep(5_000);
    const completed = async () =>
      (
        await o.client.workflow.count(
          `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Completed' AND WorkflowId STARTS_WITH 'sweep-floor-${run}'`,
        )
      ).count;
    const cpu0 = cpuOf({ ...o.cpuPids(), worker: [worker.pid] });
    const t0 = Date.now();
    next = 0;
    await lanes((workflowId) =>
      o.client.workflow.getHandle(workflowId).signal(floorEventSignal, { deviceId: workflowId, occurredAt: new Date().toISOString() }),
    );
    await waitForCount('floor completions', o.devices, completed, 1_800_000, 200);
    const seconds = (Date.now() - t0) / 1000;
    const cpu = cpuDelta(cpu0, cpuOf({ ...o.cpuPids(), worker: [worker.pid] }));
    return {
      perSecond: o.devices / seconds,
      seconds: round(seconds),
      workerCpuMsPerWorkflow: round(((cpu.worker ?? NaN) * 1000) / o.devices),
      temporalCpuMsPerWorkflow: round(((cpu.temporal ?? NaN) * 1000) / o.devices),
    };
  } finally {
    await worker.stop(30_000);
  }
}

async function waitForCount(
  what: string,
  target: number,
  count: () => Promise<number>,
  timeoutMs: number,
  intervalMs = 1_000,
): Promise<void> {
  const start = Date.now();
  let last = -1;
  let lastLog = 0;
  for (;;) {
    const n = await count();
    if (n >= target) return;
    if (Date.now() - lastLog > 15_000 || (n !== last && Date.now() - lastLog > 5_000)) {
      log(`${what}: ${n}/${target} after ${Math.round((Date.now() - start) / 1000)} s`);
      lastLog = Date.now();
    }
    last = n;
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: only ${n}/${target} after ${timeoutMs / 1000} s`);
    await sleep(intervalMs);
  }
}

/** The most calls in any `seconds` consecutive seconds. */
function busiestWindow(perSecond: Map<number, number>, seconds: number): number {
  let best = 0;
  for (const start of perSecond.keys()) {
    let n = 0;
    for (let s = start; s < start + seconds; s++) n += perSecond.get(s) ?? 0;
    best = Math.max(best, n);
  }
  return best;
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);

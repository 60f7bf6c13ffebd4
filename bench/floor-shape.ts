/**
 * What the device workflow's shape costs on Temporal alone, not a test:
 *
 *   npx tsx bench/floor-shape.ts [--events 1500] [--rounds 3] [--variants a,b] [--results-dir DIR]
 *   npx tsx bench/floor-shape.ts --sweep [--events 3000] [--rounds 3] [--results-dir DIR]
 *
 * The event path's floor (bench/floor/workflows.ts: signalWithStart, one activity, completion) beside
 * the same floor in the device workflow's shape, every step empty (`shapedFloorWorkflow`: two patch
 * markers, two local activities, two search-attribute upserts around the one activity; the shape of
 * runs before the `read-model-sink` patch, whose first write is now a sink call, so "without its
 * local activities" bounds what writing through the sink can give), and the
 * shape without its upserts, without its local activities, and continuing as new after its report
 * (the new run records its markers and upserts in its first task); the sweep has that last variant too.
 * `current device shape` is the device workflow as it now runs: started with its search attributes and
 * the tenant as fairness key, no marker, no local activity, the activity on the Microsoft queue under a
 * per-tenant rate limit, one upsert with the outcome. `--variants` runs some of them (and the floor).
 *
 * With `--sweep`, the weekly sweep's floor (a signal to a workflow the worker no longer holds, one
 * activity, completion) beside the same in the device's shape (`shapedSweepFloorWorkflow`: a device
 * that has made its first report, then the weekly report: a replay of that history, the upload and
 * the outcome's write), on a worker with the connector's workflow cache, so nearly every workflow is
 * replayed, as the devices are in a sweep.
 *
 * Every run has a dev server (a temporary SQLite file, `synchronous=OFF` as `npm run bench` runs it)
 * and a floor worker of its own. Each round runs every variant once, in a rotated order; the ratio to
 * the floor is taken within a round.
 *
 * What it answers: how close to the floor any device workflow can come that writes its read model
 * through local activities and keeps the operators' search attributes, before it does any work
 * (docs/benchmarks.md, "The device workflow's shape on Temporal alone").
 * Writes bench/results/floor-shape-<date>.json (floor-shape-sweep-… with --sweep) and prints a summary.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../config';
import { findTemporalCli, INSTALL_HINT } from '../lib/temporal-cli';
import { UsageError, numberArg, parseArgs, stringArg } from '../scripts/simulator/args';
import { PROJECT_ROOT, sleep, startChild, waitUntil } from './lib/child';
import { eachLimited } from './lib/load';
import { loadAverage, machineInfo } from './lib/machine';
import { procSample, workerThreadsSinceNow, type WorkerThreadRole } from './lib/proc';
import { FLOOR_TASK_QUEUE, startTemporal } from './lib/stack';
import {
  FLOOR_WORKFLOW_TYPE,
  SHAPED_FLOOR_WORKFLOW_TYPE,
  SHAPED_SWEEP_FLOOR_WORKFLOW_TYPE,
  floorEventSignal,
  floorSweepSignal,
  FLOOR_TENANT,
  type FloorShape,
} from './floor/workflows';
import { applyPerTenantBudget } from '../workers/microsoft-budget';
import { microsoftTaskQueueOf } from '../workflows/fleet-messages';
import { floorThroughput } from './scenarios/event-path';

const CONCURRENCY = 64;
const log = (line: string) => process.stdout.write(`[floor-shape ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

interface Variant {
  name: string;
  workflowType: string;
  shape?: FloorShape;
  /** Started as the API starts a device's run (search attributes and fairness key). */
  startAsDevice?: boolean;
}

const SWEEP_VARIANTS: Variant[] = [
  { name: 'floor', workflowType: FLOOR_WORKFLOW_TYPE },
  { name: 'device shape', workflowType: SHAPED_SWEEP_FLOOR_WORKFLOW_TYPE },
  { name: 'shape, continued as new after its report', workflowType: SHAPED_SWEEP_FLOOR_WORKFLOW_TYPE, shape: { continueAsNew: true } },
];

const EVENT_VARIANTS: Variant[] = [
  { name: 'floor', workflowType: FLOOR_WORKFLOW_TYPE },
  { name: 'device shape', workflowType: SHAPED_FLOOR_WORKFLOW_TYPE, shape: {} },
  { name: 'shape without upserts', workflowType: SHAPED_FLOOR_WORKFLOW_TYPE, shape: { searchAttributes: false } },
  { name: 'shape without local activities', workflowType: SHAPED_FLOOR_WORKFLOW_TYPE, shape: { localActivities: false } },
  { name: 'shape, continued as new after its report', workflowType: SHAPED_FLOOR_WORKFLOW_TYPE, shape: { continueAsNew: true } },
  /**
   * The device workflow's shape since 2026-12-05: started with its search attributes and the tenant as
   * fairness key, no patch marker, no local activity (its read-model writes go through the sink, which
   * Temporal never sees), the activity on the Microsoft queue under a per-tenant rate limit, one upsert
   * with the outcome.
   */
  {
    name: 'current device shape',
    workflowType: SHAPED_FLOOR_WORKFLOW_TYPE,
    shape: { patchMarkers: false, localActivities: false, outcomeUpsertOnly: true, microsoftQueue: true },
    startAsDevice: true,
  },
];

/** Variants by name, for `--variants a,b`: the floor always runs. */
function chosen(all: Variant[], names: string | undefined): Variant[] {
  if (names === undefined) return all;
  const wanted = new Set(names.split(',').map((n) => n.trim()));
  const unknown = [...wanted].filter((n) => !all.some((v) => v.name === n));
  if (unknown.length > 0) throw new UsageError(`unknown variant(s): ${unknown.join(', ')}; known: ${all.map((v) => v.name).join(', ')}`);
  return all.filter((v) => v.name === 'floor' || wanted.has(v.name));
}

/** The Microsoft queue's per-tenant budget, lifted as `npm run bench` lifts it (AZURE_MAX_CALLS_PER_SECOND=10000, 2 calls a report). */
const LIFTED_ACTIVITIES_PER_SECOND = 5_000;

interface Run {
  round: number;
  variant: string;
  perSecond: number;
  /** The 10–90 % rate (the event path's; the sweep counts from the first signal to the last completion). */
  steadyPerSecond: number | null;
  /** History events of one workflow after its run (the sweep's: before the sweep, what a replay goes through). */
  historyEvents: number;
  cpuMsPerEvent: { temporal: number; worker: number } & Record<WorkerThreadRole, number>;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const round1 = (x: number) => Math.round(x * 10) / 10;

/** The dev server and floor worker of one run, and what the run spends on them. */
interface RunStack {
  client: Client;
  taskQueue: string;
  /** Starts counting CPU; the returned function gives ms per item since, by process and thread. */
  cpuMeter(): (items: number) => Run['cpuMsPerEvent'];
}

/**
 * One run on a dev server and floor worker of its own (a server holding earlier runs' workflows
 * spends more per workflow, which would favour whichever variant runs first).
 */
async function onFreshServer(
  temporalCli: string,
  maxCached: number | undefined,
  v: Variant,
  run: (stack: RunStack) => Promise<Run>,
): Promise<Run> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'acc-floor-shape-'));
  const temporal = await startTemporal({ binary: temporalCli, dbFilename: path.join(dir, 'temporal.db'), synchronous: 'OFF' });
  const microsoftQueue = v.shape?.microsoftQueue === true;
  const worker = startChild({
    name: 'floor-worker',
    script: 'bench/floor/worker.ts',
    args: [
      temporal.address,
      FLOOR_TASK_QUEUE,
      ...(maxCached !== undefined ? [String(maxCached)] : []),
      ...(microsoftQueue ? ['--microsoft-queue'] : []),
    ],
    env: { ...process.env },
  });
  let connection: Connection | undefined;
  try {
    await worker.waitForLine((l) => (l === 'ready' ? true : undefined), 120_000);
    connection = await Connection.connect({ address: temporal.address });
    const client = new Client({ connection, namespace: 'default' });
    // As the connector's worker does at its start (workers/microsoft-budget.ts).
    if (microsoftQueue) {
      await applyPerTenantBudget(client, {
        namespace: 'default',
        microsoftTaskQueue: microsoftTaskQueueOf(FLOOR_TASK_QUEUE),
        activitiesPerSecond: LIFTED_ACTIVITIES_PER_SECOND,
      });
    }
    const cpuMeter = () => {
      const temporalCpu0 = procSample(temporal.pid)?.cpuSeconds ?? 0;
      const threads = workerThreadsSinceNow(worker.pid);
      return (items: number) => {
        const byThread = threads();
        const perItem = (s: number) => round1((s * 1000) / items);
        return {
          temporal: perItem((procSample(temporal.pid)?.cpuSeconds ?? 0) - temporalCpu0),
          worker: perItem(Object.values(byThread).reduce((a, b) => a + b, 0)),
          main: perItem(byThread.main),
          workflowThread: perItem(byThread.workflowThread),
          v8Helpers: perItem(byThread.v8Helpers),
          sdkCore: perItem(byThread.sdkCore),
        };
      };
    };
    return await run({ client, taskQueue: FLOOR_TASK_QUEUE, cpuMeter });
  } finally {
    await worker.stop();
    await connection?.close();
    await temporal.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The event path's variant: `events` new workflows, each signalled as it starts. */
function eventRun(v: Variant, events: number, round: number) {
  return async ({ client, cpuMeter }: RunStack): Promise<Run> => {
    const args = v.shape ? [v.shape] : [];
    const startAsDevice = v.startAsDevice ? { startAsDevice: { tenantId: FLOOR_TENANT } } : {};
    // Warm-up (not measured): JIT, the worker's pollers, the server's caches.
    await floorThroughput(client, {
      count: 50,
      concurrency: CONCURRENCY,
      timeoutMs: 60_000,
      runId: 'warm',
      workflowType: v.workflowType,
      args,
      ...startAsDevice,
    });
    const cpu = cpuMeter();
    const runId = `r${round}`;
    const result = await floorThroughput(client, {
      count: events,
      concurrency: CONCURRENCY,
      timeoutMs: Math.max(300_000, events * 500),
      runId,
      workflowType: v.workflowType,
      args,
      ...startAsDevice,
    });
    const cpuMsPerEvent = cpu(events);
    if (result.timedOut || result.completed < events) throw new Error(`${v.name}: ${result.completed} of ${events} completed in time`);
    const described = await client.workflow.getHandle(`floor-${runId}-0`).describe();
    return {
      round,
      variant: v.name,
      perSecond: round1(result.perSecond),
      steadyPerSecond: round1(result.steadyPerSecond),
      historyEvents: described.historyLength,
      cpuMsPerEvent,
    };
  };
}

/**
 * The sweep's variant: `devices` workflows made ready as a sweep finds them (the floor's started and
 * waiting; the shaped ones after their first report), left until the worker's cache has let most of
 * them go, then signalled once each; timed from the first signal to the last completion.
 */
function sweepRun(v: Variant, devices: number, round: number) {
  return async ({ client, taskQueue, cpuMeter }: RunStack): Promise<Run> => {
    const ids = Array.from({ length: devices }, (_, i) => `sweep-r${round}-${i}`);
    const event = (workflowId: string) => ({ deviceId: workflowId, occurredAt: new Date().toISOString() });
    const count = async (query: string) => (await client.workflow.count(`WorkflowType = '${v.workflowType}' AND ${query}`)).count;
    const shaped = v.workflowType === SHAPED_SWEEP_FLOOR_WORKFLOW_TYPE;
    if (shaped) {
      await eachLimited(ids, CONCURRENCY, async (workflowId) => {
        await client.workflow.signalWithStart(v.workflowType, {
          workflowId,
          taskQueue,
          args: v.shape ? [v.shape] : [],
          signal: floorEventSignal,
          signalArgs: [event(workflowId)],
        });
      });
      await waitUntil(
        'the shaped workflows did not finish their first report',
        async () => ((await count(`ExecutionStatus = 'Running' AND AzureComplianceStatus = 'Successful'`)) >= devices ? true : undefined),
        Math.max(600_000, devices * 500),
        500,
      );
    } else {
      await eachLimited(ids, CONCURRENCY, async (workflowId) => {
        await client.workflow.start(v.workflowType, { workflowId, taskQueue, args: [] });
      });
    }
    // Let the last tasks run and the cache evict, as a fleet is idle before its sweep.
    await sleep(5_000);
    const historyEvents = (await client.workflow.getHandle(ids[0]!).describe()).historyLength;
    const cpu = cpuMeter();
    const t0 = performance.now();
    await eachLimited(ids, CONCURRENCY, async (workflowId) => {
      const handle = client.workflow.getHandle(workflowId);
      await (shaped ? handle.signal(floorSweepSignal) : handle.signal(floorEventSignal, event(workflowId)));
    });
    await waitUntil(
      'the sweep did not complete',
      async () => ((await count(`ExecutionStatus = 'Completed'`)) >= devices ? true : undefined),
      Math.max(600_000, devices * 500),
      200,
    );
    const seconds = (performance.now() - t0) / 1000;
    return {
      round,
      variant: v.name,
      perSecond: round1(devices / seconds),
      steadyPerSecond: null,
      historyEvents,
      cpuMsPerEvent: cpu(devices),
    };
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), ['events', 'rounds', 'results-dir', 'variants'], ['sweep', 'help']);
  if (args.help) {
    process.stdout.write(
      'usage: npx tsx bench/floor-shape.ts [--sweep] [--events 1500; 3000 with --sweep] [--rounds 3] [--variants "device shape,current device shape"] [--results-dir DIR]\n',
    );
    return;
  }
  const sweep = args.sweep === true;
  const variants = chosen(sweep ? SWEEP_VARIANTS : EVENT_VARIANTS, stringArg(args, 'variants'));
  const events = numberArg(args, 'events', sweep ? 3_000 : 1_500, { min: 1, max: 100_000, integer: true });
  const rounds = numberArg(args, 'rounds', 3, { min: 1, max: 20, integer: true });
  const config = loadConfig(process.env);
  const temporalCli = findTemporalCli(config.temporal.cliPath);
  if (!temporalCli) throw new Error(`cannot run the benchmark: ${INSTALL_HINT}`);
  const loadAtStart = loadAverage();
  const runs: Run[] = [];
  // The sweep's worker holds as many workflows as the connector's (WORKER_MAX_CACHED_WORKFLOWS).
  const maxCached = sweep ? config.workerMaxCachedWorkflows : undefined;
  log(
    `${sweep ? `the sweep: ${events} devices, worker cache ${maxCached}` : `the event path: ${events} events`} per run, ${rounds} rounds of ${variants.length} variants, each run on a fresh dev server and worker`,
  );
  for (let r = 0; r < rounds; r++) {
    // A rotated order, so no variant always runs first (the machine's speed drifts).
    for (const v of variants.map((_, i) => variants[(i + r) % variants.length]!)) {
      const run = await onFreshServer(temporalCli, maxCached, v, (sweep ? sweepRun : eventRun)(v, events, r + 1));
      runs.push(run);
      log(
        `round ${run.round} ${v.name}: ${run.perSecond}/s${run.steadyPerSecond !== null ? ` (10–90 %: ${run.steadyPerSecond}/s)` : ''}, ${run.historyEvents} history events${sweep ? ' before the sweep' : ''}; CPU ms per event: Temporal ${run.cpuMsPerEvent.temporal}, worker ${run.cpuMsPerEvent.worker}`,
      );
    }
  }

  const floorOf = (round: number) => runs.find((x) => x.round === round && x.variant === 'floor')!;
  const summary = variants.map((v) => {
    const mine = runs.filter((x) => x.variant === v.name);
    return {
      variant: v.name,
      historyEvents: mine[0]!.historyEvents,
      perSecond: round1(median(mine.map((x) => x.perSecond))),
      ratioToFloor: Math.round(median(mine.map((x) => x.perSecond / floorOf(x.round).perSecond)) * 100) / 100,
      temporalMsPerEvent: round1(median(mine.map((x) => x.cpuMsPerEvent.temporal))),
      workerMsPerEvent: round1(median(mine.map((x) => x.cpuMsPerEvent.worker))),
      workerRatioToFloor: Math.round(median(mine.map((x) => x.cpuMsPerEvent.worker / floorOf(x.round).cpuMsPerEvent.worker)) * 100) / 100,
      workflowThreadMsPerEvent: round1(median(mine.map((x) => x.cpuMsPerEvent.workflowThread))),
    };
  });
  const results = {
    command: `npx tsx bench/floor-shape.ts ${process.argv.slice(2).join(' ')}`.trim(),
    date: new Date().toISOString(),
    machine: machineInfo(),
    loadAverageAtStart: loadAtStart,
    loadAverageAtEnd: loadAverage(),
    mode: sweep ? 'sweep' : 'event path',
    events,
    workerMaxCachedWorkflows: maxCached ?? null,
    rounds,
    concurrency: CONCURRENCY,
    summary,
    runs,
  };
  const outDir =
    typeof args['results-dir'] === 'string' ? path.resolve(stringArg(args, 'results-dir')!) : path.join(PROJECT_ROOT, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `floor-shape-${sweep ? 'sweep-' : ''}${results.date.slice(0, 19).replace(/:/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(
    [
      '',
      `The device workflow's shape on Temporal alone, ${sweep ? `the sweep (${events} devices a run, worker cache ${maxCached})` : `the event path (${events} events a run)`}, median of ${rounds} rounds; ${results.machine.cpuModel}:`,
      ...summary.map(
        (s) =>
          `  ${s.variant}: ${s.perSecond}/s, ${Math.round(s.ratioToFloor * 100)} % of the floor; ${s.historyEvents} history events; CPU ms per event: Temporal ${s.temporalMsPerEvent}, worker ${s.workerMsPerEvent} (${s.workerRatioToFloor}x the floor's; workflow thread ${s.workflowThreadMsPerEvent})`,
      ),
      `  load average at start ${loadAtStart.join(' / ')}, at end ${results.loadAverageAtEnd.join(' / ')}`,
      `  results: ${path.relative(process.cwd(), file)}`,
      '',
    ].join('\n'),
  );
}

main().catch((err: unknown) => {
  if (err instanceof UsageError) {
    process.stderr.write(`floor-shape: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`floor-shape failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

/**
 * `npm run bench`: brings up its own real stack (Temporal dev server, a fresh Postgres
 * database, the Azure emulator, the connector's worker and API as child processes, and the floors),
 * runs each scenario beside its floor, writes bench/results/<date>.json and the table of
 * docs/benchmarks.md, and tears everything down.
 *
 *   npm run bench                 # the full run (about 14 minutes on 2 cores), ends with a CPU profile
 *   npm run bench -- --quick      # smaller counts (about 5 minutes); does not rewrite the docs
 *   npm run bench -- --quick --profile    # the quick run plus the worker's CPU profile
 *   npm run bench -- --quick --profile-dir DIR    # the same, keeping the raw .cpuprofile files in DIR
 *   npm run bench -- --quick --temporal-profile DIR    # also where the Temporal server's CPU goes (perf, kept in DIR)
 *   npm run bench -- --tiny       # every scenario at a few events (a smoke run; the commands' test runs it)
 *
 * Every loop is bounded by a count and a time limit. The process re-executes itself once with
 * NODE_EXTRA_CA_CERTS pointing at the emulator's CA (the bench itself talks to the emulator).
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_AZURE_MAX_CALLS_PER_SECOND } from '../config';
import { reexecWithCa } from './lib/ca';
import { deviceWorkflowId } from '../workflows/messages';
import { UsageError, parseArgs } from '../scripts/simulator/args';
import { PROJECT_ROOT, sleep } from './lib/child';
import { machineInfo, versions } from './lib/machine';
import { cpuDelta, cpuOf, cpuSinceNow, machineCpu, procSample, sqliteSize, workerThreadsSinceNow } from './lib/proc';
import { historyProfile, journalProfile, pgDelta, pgSnapshot, summarizeCpuProfile } from './lib/profile';
import { loadGoSymbols, perfAvailable, recordPerf, summarizeGoProfile } from './lib/go-profile';
import { renderMarkdown, writeDocs, type BenchResults, type Measured } from './lib/report';
import { startStack, type Stack } from './lib/stack';
import { eventLatency, eventThroughput, floorThroughput, type ThroughputResult } from './scenarios/event-path';
import { durableFloor } from './scenarios/durable-floor';
import { idleCost } from './scenarios/idle';
import { readPath } from './scenarios/read-path';
import { reportWork } from './scenarios/report-work';

/** AZURE_MAX_CALLS_PER_SECOND for the runs that measure the machinery rather than Microsoft's budget. */
const LIFTED_CALLS_PER_SECOND = 10_000;
/** As shipped (config/index.ts default). */
const SHIPPED_CALLS_PER_SECOND = DEFAULT_AZURE_MAX_CALLS_PER_SECOND;

const FULL = {
  /**
   * Not measured: enough events for V8 to have compiled the hot paths of the worker, the API and the
   * emulator (after 40 it still compiled some 200 functions in the next 10 s of load, and ours spent
   * about 1 ms of its worker's CPU per event more), so both sides are measured at their steady state.
   */
  warmup: 1_000,
  floorCount: 1_500,
  throughputCount: 1_200,
  latencySeconds: 30,
  readSeconds: 8,
  readRounds: 3,
  idleTarget: 10_000,
  idleTimeBoxSeconds: 420,
  shippedCount: 400,
  durableFloorCount: 200,
  profileCount: 500,
  historySample: 25,
};
const QUICK: typeof FULL = {
  warmup: 1_000,
  floorCount: 600,
  throughputCount: 500,
  latencySeconds: 12,
  readSeconds: 6,
  readRounds: 1,
  idleTarget: 2_000,
  idleTimeBoxSeconds: 150,
  shippedCount: 200,
  durableFloorCount: 120,
  profileCount: 300,
  historySample: 10,
};
/** A smoke run of every scenario (seconds, not minutes): the documented commands' test runs it. */
const TINY: typeof FULL = {
  warmup: 4,
  floorCount: 20,
  throughputCount: 20,
  latencySeconds: 2,
  readSeconds: 1,
  readRounds: 1,
  idleTarget: 60,
  idleTimeBoxSeconds: 60,
  shippedCount: 10,
  durableFloorCount: 10,
  profileCount: 20,
  historySample: 3,
};
const BATCH_SIZE = 50;
const BATCHES_IN_FLIGHT = 2; // × the API's 32 concurrent signalWithStart per batch = 64 in flight
const FLOOR_CONCURRENCY = 64;

function log(line: string): void {
  process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

/** CPU seconds by process, as the log shows them. */
function cpuText(cpuSeconds: Record<string, number>): string {
  return Object.entries(cpuSeconds)
    .map(([k, v]) => `${k} ${v.toFixed(1)}`)
    .join(', ');
}

async function measured<T>(stack: Stack, name: string, fn: () => Promise<T>): Promise<Measured<T>> {
  log(`${name}: starting`);
  const pids = stack.pids();
  const cpu0 = cpuOf(pids);
  // Postgres's backends come and go with the pools, so they are counted by name, not by pid.
  const postgresCpu = cpuSinceNow('postgres');
  const threads = Object.fromEntries(
    (['worker', 'floorWorker'] as const).flatMap((k) => (pids[k]?.[0] ? [[k, workerThreadsSinceNow(pids[k][0])] as const] : [])),
  );
  const m0 = machineCpu();
  const t0 = performance.now();
  const result = await fn();
  const wallSeconds = (performance.now() - t0) / 1000;
  const m1 = machineCpu();
  const cpuSeconds = { ...cpuDelta(cpu0, cpuOf(stack.pids())), postgres: Math.round(postgresCpu() * 1000) / 1000 };
  const workerThreads = Object.fromEntries(Object.entries(threads).map(([k, since]) => [k, since()]));
  // Machine CPU ticks are in USER_HZ (100/s): busy cores = busy ticks / 100 / wall seconds.
  const machineBusyCores = Math.round(((m1.total - m0.total - (m1.idle - m0.idle)) / 100 / wallSeconds) * 100) / 100;
  log(`${name}: done in ${wallSeconds.toFixed(1)} s (machine busy ${machineBusyCores} cores; CPU s: ${cpuText(cpuSeconds)})`);
  return { result, wallSeconds, cpuSeconds, workerThreads, machineBusyCores };
}

async function main(): Promise<void> {
  const args = parseArgs(
    process.argv.slice(2),
    ['results-dir', 'profile-dir', 'temporal-profile'],
    ['quick', 'tiny', 'profile', 'no-profile', 'docs', 'no-docs', 'help'],
  );
  if (args.help) {
    process.stdout.write(
      'usage: npm run bench -- [--quick | --tiny] [--profile | --no-profile | --profile-dir DIR] [--temporal-profile DIR] [--docs | --no-docs] [--results-dir DIR]\n',
    );
    return;
  }
  if (reexecWithCa()) return;
  const tiny = args.tiny === true;
  const quick = args.quick === true || tiny;
  const P = tiny ? TINY : quick ? QUICK : FULL;
  const writeDocsToo = args['no-docs'] ? false : args.docs ? true : !quick;
  // The full run profiles the worker at its end (after every measurement); the quick one only when asked.
  const keptProfileDir = typeof args['profile-dir'] === 'string' ? path.resolve(args['profile-dir']) : undefined;
  const temporalProfileDir = typeof args['temporal-profile'] === 'string' ? path.resolve(args['temporal-profile']) : undefined;
  if (temporalProfileDir && !perfAvailable())
    throw new UsageError('--temporal-profile needs `perf` (Debian: apt-get install -y linux-perf)');
  const profile = args['no-profile'] ? false : args.profile || keptProfileDir ? true : !quick;
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const startedAt = new Date();
  log(`${command}: ${tiny ? 'tiny' : quick ? 'quick' : 'full'} run; load average ${machineInfo().loadAverageAtStart.join(' / ')}`);

  const stack = await startStack({
    log,
    workerOptions: { maxCallsPerSecond: LIFTED_CALLS_PER_SECOND },
    pollsBeforeTerminal: 0,
    sqliteSynchronous: 'OFF',
  });
  let stopping = false;
  const onSignal = () => {
    if (stopping) process.exit(130);
    stopping = true;
    log('interrupted: stopping the stack');
    void stack.stop().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    const machine = machineInfo();
    const vers = await versions(stack.temporalCli, stack.db);
    const workerAtStart = procSample(stack.worker.pid);

    // Warm-up (not measured): JIT, the worker's token and tenant onboarding, connection pools.
    log(`warm-up: ${P.warmup} events each way`);
    await eventThroughput(stack, {
      count: P.warmup,
      batchSize: BATCH_SIZE,
      batches: BATCHES_IN_FLIGHT,
      timeoutMs: 300_000,
      prefix: 'warm-',
    });
    await floorThroughput(stack.client, { count: P.warmup, concurrency: FLOOR_CONCURRENCY, timeoutMs: 300_000, runId: 'warm' });

    /** The Temporal server under perf during `fn`, when asked (--temporal-profile): the data file's path. */
    const temporalPerf = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
      if (!temporalProfileDir) return fn();
      mkdirSync(temporalProfileDir, { recursive: true });
      const perf = recordPerf(stack.pids().temporal![0]!, path.join(temporalProfileDir, `${name}.perf.data`));
      try {
        return await fn();
      } finally {
        await perf.stop();
      }
    };
    // The floor runs before ours and again after it, and ours is compared with both runs together: the
    // host's speed drifts within minutes, and a floor on each side of ours cancels a steady drift.
    const floorRun = (runId: string, when: string) =>
      measured(stack, `event path floor (${when} ours)`, () =>
        floorThroughput(stack.client, { count: P.floorCount, concurrency: FLOOR_CONCURRENCY, timeoutMs: 300_000, runId }),
      );
    const floorBefore = await temporalPerf('floor', () => floorRun('a', 'before'));
    log(`  floor: ${floorBefore.result.perSecond.toFixed(1)} workflows/s (steady ${floorBefore.result.steadyPerSecond.toFixed(1)}/s)`);

    await stack.emulator.clearRequests();
    const sizeBeforeThroughput = sqliteSize(stack.temporalDbFile).total;
    const throughput = await measured(stack, 'event path throughput', () =>
      temporalPerf('ours', () =>
        eventThroughput(stack, {
          count: P.throughputCount,
          batchSize: BATCH_SIZE,
          batches: BATCHES_IN_FLIGHT,
          timeoutMs: 400_000,
          prefix: 'tp-',
        }),
      ),
    );
    const journalAtFullSpeed = await journalProfile(stack, throughput.result.completed);
    const temporalBytesPerReportedDevice =
      (sqliteSize(stack.temporalDbFile).total - sizeBeforeThroughput) / Math.max(1, throughput.result.completed);
    log(
      `  ours: ${throughput.result.perSecond.toFixed(1)} events/s to Successful (steady ${throughput.result.steadyPerSecond.toFixed(1)}/s), ${throughput.result.failed} failed`,
    );
    const floorAfter = await floorRun('b', 'after');
    log(`  floor: ${floorAfter.result.perSecond.toFixed(1)} workflows/s (steady ${floorAfter.result.steadyPerSecond.toFixed(1)}/s)`);
    const floor = pooledRuns(floorBefore, floorAfter);

    // The same number of reports' work with nothing of Temporal: what ours must spend beyond the floor.
    log(`the report's own work without Temporal: ${P.throughputCount} events`);
    const work = await reportWork(stack, { count: P.throughputCount, concurrency: FLOOR_CONCURRENCY, prefix: 'work-' });
    log(`  ${work.done} reports in ${work.seconds.toFixed(1)} s (${work.failed} not Successful); CPU s: ${cpuText(work.cpuSeconds)}`);
    if (work.done !== work.events) throw new Error(`the report's own work: ${work.done} of ${work.events} reports ended Successful`);

    const halfRate = Math.max(1, Math.round((throughput.result.perSecond / 2) * 10) / 10);
    await stack.emulator.clearRequests();
    const pgBefore = await pgSnapshot(stack);
    const latency = await measured(stack, `event path latency at ${halfRate}/s`, () =>
      eventLatency(stack, { rate: halfRate, durationMs: P.latencySeconds * 1000, prefix: 'lat-', settleTimeoutMs: 90_000 }),
    );
    log(
      `  POST→202 p50 ${latency.result.acceptedMs.p50.toFixed(0)} ms p99 ${latency.result.acceptedMs.p99.toFixed(0)} ms; POST→Successful p50 ${latency.result.successfulMs.p50.toFixed(0)} ms p95 ${latency.result.successfulMs.p95.toFixed(0)} ms p99 ${latency.result.successfulMs.p99.toFixed(0)} ms`,
    );
    const journal = await journalProfile(stack, latency.result.events);
    // Postgres flushes a backend's statistics at most every second, and an idle backend's within 10 s.
    await sleep(11_000);
    const pg = pgDelta(pgBefore, await pgSnapshot(stack), latency.result.events);
    const sampleIds = Array.from({ length: Math.min(P.historySample, latency.result.events) }, (_, i) =>
      deviceWorkflowId(stack.tenantId, `lat-${Math.floor((i * latency.result.events) / Math.min(P.historySample, latency.result.events))}`),
    );
    const history = await historyProfile(stack, sampleIds);

    const read = await measured(stack, 'read path', () =>
      readPath(stack, { concurrency: 32, durationMs: P.readSeconds * 1000, rounds: P.readRounds, log }),
    );
    log(
      `  GET /v1/devices/{id}: ours ${read.result.ours.perSecond.toFixed(0)}/s p99 ${read.result.ours.latencyMs.p99.toFixed(1)} ms; floor ${read.result.floor.perSecond.toFixed(0)}/s p99 ${read.result.floor.latencyMs.p99.toFixed(1)} ms`,
    );

    const idle = await measured(stack, `idle cost with ${P.idleTarget} open device workflows`, () =>
      idleCost(stack, {
        target: P.idleTarget,
        round: 1_000,
        batchSize: BATCH_SIZE,
        batches: BATCHES_IN_FLIGHT,
        timeBoxMs: P.idleTimeBoxSeconds * 1000,
        settleMs: tiny ? 2_000 : 20_000,
        prefix: 'idle-',
      }),
    );
    log(
      `  ${idle.result.openDeviceWorkflows} open: worker RSS ${(idle.result.workerRssBytes / 2 ** 20).toFixed(0)} MiB (peak ${(idle.result.workerPeakRssBytes / 2 ** 20).toFixed(0)} MiB), Temporal DB ${(idle.result.temporalDbBytes.total / 2 ** 20).toFixed(0)} MiB`,
    );

    await stack.restartWorker({ maxCallsPerSecond: SHIPPED_CALLS_PER_SECOND });
    const shipped = await measured(stack, `event path as shipped (AZURE_MAX_CALLS_PER_SECOND=${SHIPPED_CALLS_PER_SECOND})`, () =>
      eventThroughput(stack, {
        count: P.shippedCount,
        batchSize: BATCH_SIZE,
        batches: BATCHES_IN_FLIGHT,
        timeoutMs: 300_000,
        prefix: 'ship-',
      }),
    );
    log(`  as shipped: ${shipped.result.perSecond.toFixed(1)} events/s (steady ${shipped.result.steadyPerSecond.toFixed(1)}/s)`);

    const durable = await measured(stack, "event path floor on npm start's durable dev server (SQLite synchronous=FULL)", () =>
      durableFloor(stack.temporalCli, { count: P.durableFloorCount, concurrency: FLOOR_CONCURRENCY, timeoutMs: 240_000 }),
    );
    log(`  durable floor: ${durable.result.perSecond.toFixed(1)} workflows/s (steady ${durable.result.steadyPerSecond.toFixed(1)}/s)`);

    let cpuProfile: BenchResults['cpuProfile'] = null;
    if (profile) {
      const dir = keptProfileDir ?? path.join(stack.tmpDir, 'cpu-prof');
      mkdirSync(dir, { recursive: true });
      await stack.restartWorker({ maxCallsPerSecond: LIFTED_CALLS_PER_SECOND, cpuProfDir: dir });
      const profiled = await measured(stack, 'event path under the CPU profiler', () =>
        eventThroughput(stack, {
          count: P.profileCount,
          batchSize: BATCH_SIZE,
          batches: BATCHES_IN_FLIGHT,
          timeoutMs: 300_000,
          prefix: 'prof-',
        }),
      );
      await stack.worker.stop(60_000);
      // One profile per thread: the main thread (activities, the SDK's bridge) and the workflow thread(s).
      const threads = readdirSync(dir)
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => ({
          thread: f.endsWith('.0.001.cpuprofile') ? 'main thread' : 'worker thread',
          ...summarizeCpuProfile(path.join(dir, f)),
        }))
        .filter((t) => t.busyMs > 1_000)
        .sort((a, b) => b.busyMs - a.busyMs);
      if (threads.length > 0) {
        cpuProfile = {
          events: P.profileCount,
          perSecondUnderProfiler: profiled.result.perSecond,
          workerCpuSeconds: profiled.cpuSeconds.worker ?? NaN,
          threads,
        };
      } else log('the profiled worker wrote no .cpuprofile (it did not exit cleanly)');
    }

    let temporalProfile: BenchResults['temporalProfile'] = null;
    if (temporalProfileDir) {
      const symbols = loadGoSymbols(stack.temporalCli);
      const of = (name: string, events: number) =>
        summarizeGoProfile(path.join(temporalProfileDir, `${name}.perf.data`), stack.temporalCli, events, symbols);
      temporalProfile = { floor: of('floor', floorBefore.result.completed), ours: of('ours', throughput.result.completed) };
      log(
        `the Temporal server under perf: floor ${temporalProfile.floor.msPerEvent} ms per event, ours ${temporalProfile.ours.msPerEvent}`,
      );
    }

    const finishedAt = new Date();
    const results: BenchResults = {
      command,
      quick,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      machine,
      versions: vers,
      settings: {
        batchSize: BATCH_SIZE,
        batchesInFlight: BATCHES_IN_FLIGHT,
        floorConcurrency: FLOOR_CONCURRENCY,
        liftedCallsPerSecond: LIFTED_CALLS_PER_SECOND,
        shippedCallsPerSecond: SHIPPED_CALLS_PER_SECOND,
        emulatorPollsBeforeTerminal: 0,
        temporalSqliteSynchronous: 'OFF',
        counts: P,
      },
      workerRssAtStartBytes: workerAtStart?.rss ?? NaN,
      temporalBytesPerReportedDevice,
      eventPath: { floor, floorRuns: [floorBefore, floorAfter], throughput, latency, shipped, durableFloor: durable },
      reportWork: work,
      readPath: read,
      idle,
      profile: {
        history,
        microsoftCallsPerEvent: journal,
        microsoftCallsPerEventAtFullSpeed: journalAtFullSpeed,
        postgresPerEvent: pg,
        cpuSecondsPerEvent: perEvent(latency.cpuSeconds, latency.result.events),
      },
      cpuProfile,
      temporalProfile,
    };
    const day = startedAt.toISOString().slice(0, 10);
    const resultsDir =
      typeof args['results-dir'] === 'string' ? path.resolve(args['results-dir']) : path.join(PROJECT_ROOT, 'bench', 'results');
    mkdirSync(resultsDir, { recursive: true });
    const resultsFile = path.join(resultsDir, `${day}${tiny ? '-tiny' : quick ? '-quick' : ''}.json`);
    writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
    log(`results: ${path.relative(process.cwd(), resultsFile)}`);
    const markdown = renderMarkdown(results, path.relative(PROJECT_ROOT, resultsFile));
    if (writeDocsToo) {
      writeDocs(path.join(PROJECT_ROOT, 'docs', 'benchmarks.md'), markdown);
      log('table written into docs/benchmarks.md');
    }
    process.stdout.write(`\n${markdown}\n`);
  } finally {
    log('stopping the stack');
    await stack.stop();
  }
}

/**
 * Two runs of the same scenario as one: counts, seconds and CPU added up, so the rates are the runs'
 * events over their seconds together (the steady rate likewise over the runs' 10–90 % spans).
 */
function pooledRuns(a: Measured<ThroughputResult>, b: Measured<ThroughputResult>): Measured<ThroughputResult> {
  const steadySeconds = (m: Measured<ThroughputResult>) => (0.8 * m.result.completed) / m.result.steadyPerSecond;
  const seconds = a.result.seconds + b.result.seconds;
  const completed = a.result.completed + b.result.completed;
  const sum = (x: Record<string, number>, y: Record<string, number>) =>
    Object.fromEntries([...new Set([...Object.keys(x), ...Object.keys(y)])].map((k) => [k, (x[k] ?? 0) + (y[k] ?? 0)]));
  const wallSeconds = a.wallSeconds + b.wallSeconds;
  return {
    result: {
      ...a.result, // acceptMs stays the first run's: percentiles do not add up
      events: a.result.events + b.result.events,
      completed,
      failed: a.result.failed + b.result.failed,
      seconds,
      perSecond: completed / seconds,
      steadyPerSecond: (0.8 * completed) / (steadySeconds(a) + steadySeconds(b)),
      submitSeconds: a.result.submitSeconds + b.result.submitSeconds,
      timedOut: a.result.timedOut || b.result.timedOut,
    },
    wallSeconds,
    cpuSeconds: sum(a.cpuSeconds, b.cpuSeconds),
    workerThreads: Object.fromEntries(
      Object.keys(a.workerThreads).map((k) => [k, sum(a.workerThreads[k]!, b.workerThreads[k] ?? {}) as (typeof a.workerThreads)[string]]),
    ),
    machineBusyCores: Math.round(((a.machineBusyCores * a.wallSeconds + b.machineBusyCores * b.wallSeconds) / wallSeconds) * 100) / 100,
  };
}

function perEvent(cpu: Record<string, number>, events: number): Record<string, number> {
  return Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, Math.round((v / Math.max(1, events)) * 1e6) / 1e3]));
}

main().catch((err: unknown) => {
  if (err instanceof UsageError) {
    process.stderr.write(`bench: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

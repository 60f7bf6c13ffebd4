/**
 * The worker's memory as the fleet grows: the stack of `npm run bench` (bench/lib/stack.ts), the
 * fleet topped up with registrations in steps of `--step` open device workflows up to `--devices`, and
 * at each step the worker's resident memory after `--settle-seconds` idle, with its peak, and the
 * Temporal dev server's database size.
 *
 * The top-up is registrations that cannot be reported (no Azure device id: one workflow task each,
 * cheap enough to reach 50,000 on 2 cores); each step then registers `--reported` devices that are
 * reported to the emulator, so the workflow cache (250 by default) ends each step full of reported
 * devices' workflows, as in production. The worker holds the cache, not the fleet: the claim under
 * test is that its memory stays flat as the fleet grows.
 *
 *   npx tsx bench/idle-fleet.ts --devices 50000 --step 10000    # ~40 min on 2 cores
 *   npx tsx bench/idle-fleet.ts --devices 60 --step 30 --reported 5 --settle-seconds 1   # smoke
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UsageError, numberArg, parseArgs, stringArg } from '../scripts/simulator/args';
import { reexecWithCa } from './lib/ca';
import { PROJECT_ROOT, sleep } from './lib/child';
import { loadAverage, machineInfo } from './lib/machine';
import { procSample, sqliteSize } from './lib/proc';
import { startStack } from './lib/stack';
import { eventThroughput } from './scenarios/event-path';
import { countOpenDeviceWorkflows } from './scenarios/idle';

const log = (line: string) => process.stdout.write(`[idle-fleet ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const MiB = (bytes: number) => Math.round(bytes / 2 ** 20);

interface Step {
  target: number;
  openDeviceWorkflows: number;
  workerRssMiB: number;
  workerPeakRssMiB: number;
  /** Of the RSS: anonymous memory (V8 heaps, native caches) and mapped files (binary, addons). */
  workerRssAnonMiB: number;
  workerRssFileMiB: number;
  temporalDbMiB: number;
  topUpSeconds: number;
  loadAverage: number[];
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), ['devices', 'step', 'reported', 'settle-seconds', 'results-dir'], ['help']);
  if (args.help) {
    process.stdout.write(
      'usage: npx tsx bench/idle-fleet.ts [--devices 50000] [--step 10000] [--reported 300] [--settle-seconds 20] [--results-dir DIR]\n',
    );
    return;
  }
  if (reexecWithCa()) return;
  const devices = numberArg(args, 'devices', 50_000, { min: 2, max: 1_000_000, integer: true });
  const stepSize = numberArg(args, 'step', 10_000, { min: 1, max: devices, integer: true });
  const reported = numberArg(args, 'reported', 300, { min: 0, max: stepSize, integer: true });
  const settleMs = numberArg(args, 'settle-seconds', 20, { min: 0, max: 600 }) * 1000;
  const loadAtStart = loadAverage();
  const stack = await startStack({ log, workerOptions: { maxCallsPerSecond: 10_000 }, pollsBeforeTerminal: 0, sqliteSynchronous: 'OFF' });
  const steps: Step[] = [];
  const startRss = procSample(stack.worker.pid);
  const results = {
    command: `npx tsx bench/idle-fleet.ts ${process.argv.slice(2).join(' ')}`.trim(),
    date: new Date().toISOString(),
    machine: machineInfo(),
    loadAverageAtStart: loadAtStart,
    workerRssAtStartMiB: MiB(startRss?.rss ?? NaN),
    reportedPerStep: reported,
    settleSeconds: settleMs / 1000,
    steps,
  };
  const dir =
    typeof args['results-dir'] === 'string' ? path.resolve(stringArg(args, 'results-dir')!) : path.join(PROJECT_ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `idle-fleet-${results.date.slice(0, 19).replace(/:/g, '-')}.json`);
  try {
    for (let target = stepSize, round = 0; target <= devices; target += stepSize, round++) {
      const t0 = performance.now();
      const open = await countOpenDeviceWorkflows(stack);
      const blocked = Math.max(0, target - reported - open);
      const common = { batchSize: 50, batches: 2, timeoutMs: Math.max(600_000, stepSize * 200) };
      if (blocked > 0) await eventThroughput(stack, { ...common, count: blocked, prefix: `blocked-${round}-`, blocked: true });
      if (reported > 0) await eventThroughput(stack, { ...common, count: reported, prefix: `reported-${round}-` });
      const topUpSeconds = (performance.now() - t0) / 1000;
      await sleep(settleMs);
      const w = procSample(stack.worker.pid);
      const step: Step = {
        target,
        openDeviceWorkflows: await countOpenDeviceWorkflows(stack),
        workerRssMiB: MiB(w?.rss ?? NaN),
        workerPeakRssMiB: MiB(w?.peakRss ?? NaN),
        workerRssAnonMiB: MiB(w?.rssAnon ?? NaN),
        workerRssFileMiB: MiB(w?.rssFile ?? NaN),
        temporalDbMiB: MiB(sqliteSize(stack.temporalDbFile).total),
        topUpSeconds: Math.round(topUpSeconds),
        loadAverage: loadAverage(),
      };
      steps.push(step);
      // Written after every step: a long run stopped early keeps what it measured.
      writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
      log(
        `${step.openDeviceWorkflows} open: worker RSS ${step.workerRssMiB} MiB (anon ${step.workerRssAnonMiB}, files ${step.workerRssFileMiB}; peak ${step.workerPeakRssMiB}), Temporal DB ${step.temporalDbMiB} MiB, top-up ${step.topUpSeconds} s, load ${step.loadAverage.join(' / ')}`,
      );
    }
  } finally {
    await stack.stop();
  }
  log(`results: ${path.relative(process.cwd(), file)}`);
  // A step that did not reach its size measured a smaller fleet than it claims.
  if (steps.length === 0 || steps.some((s) => s.openDeviceWorkflows < s.target)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  if (err instanceof UsageError) {
    process.stderr.write(`idle-fleet: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`idle-fleet failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

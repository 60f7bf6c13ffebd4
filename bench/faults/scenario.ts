/**
 * How one fault is run and measured: the load runs, the fault is injected and lifted, the load stops
 * (its events in flight sent until accepted), then every device is checked until all are right or
 * 2 minutes after the fault ended; the emulator's journal of the whole fault is analysed.
 */
import type { EmulatorControl } from '../../emulator/control-client';
import type { JournalEntry } from '../../emulator/types';
import { sleep } from '../lib/child';
import type { ConvergenceResult, InvariantChecker } from './invariant';
import type { LoadStats, MdmLoad } from './load';
import { analyseCalls, type MicrosoftCalls } from './microsoft-calls';
import type { FaultStack } from './stack';

export interface FaultContext {
  stack: FaultStack;
  load: MdmLoad;
  checker: InvariantChecker;
  control: EmulatorControl;
  tenantId: string;
  log: (line: string) => void;
  /** AZURE_REQUEST_TIMEOUT_MS of the connector under test. */
  azureRequestTimeoutMs: number;
}

export interface FaultScenario {
  name: string;
  /** How the fault is made, in a few words for the report. */
  how: string;
  /**
   * Injects the fault, waits its length under load, lifts it. Returns the Retry-After (ms) of the
   * 429s it caused, when it knows them.
   */
  run(ctx: FaultContext): Promise<{ retryAfterMs?: (e: JournalEntry) => number | undefined } | void>;
}

export interface FaultResult {
  name: string;
  how: string;
  startedAt: string;
  faultSeconds: number;
  load: LoadStats;
  invariant: ConvergenceResult;
  microsoft: MicrosoftCalls;
  /** Devices wrong at the deadline, sent fresh events afterwards: those right again, and those left out of later faults. */
  restated: { devices: number; rightAgain: number; leftOut: string[] };
}

export interface Timing {
  /** Load before the fault. */
  beforeMs: number;
  /** Load after the fault is lifted, before the load stops and devices are checked. */
  afterMs: number;
  /** Time every device has to be right after the fault ends. */
  convergeMs: number;
}

export const DEFAULT_TIMING: Timing = { beforeMs: 4_000, afterMs: 3_000, convergeMs: 120_000 };

export async function runFault(ctx: FaultContext, scenario: FaultScenario, timing: Timing = DEFAULT_TIMING): Promise<FaultResult> {
  ctx.log(`fault "${scenario.name}": ${scenario.how}`);
  await ctx.control.clearRequests();
  ctx.load.takeStats();
  const startedAt = new Date();
  ctx.load.start();
  await sleep(timing.beforeMs);
  const faultStart = Date.now();
  let known: Awaited<ReturnType<FaultScenario['run']>>;
  try {
    known = await scenario.run(ctx);
  } finally {
    await ctx.control.clearFaults().catch(() => undefined);
  }
  const faultEndedAt = Date.now();
  await sleep(timing.afterMs);
  await ctx.load.stop();
  const load = ctx.load.takeStats();
  const checked = ctx.load.devices.filter((d) => !d.excluded);
  const invariant = await ctx.checker.converge(checked, faultEndedAt, timing.convergeMs);
  const journal = await ctx.control.requests();
  const microsoft = analyseCalls(journal, known?.retryAfterMs ?? (() => undefined));
  ctx.log(
    `fault "${scenario.name}": ${load.accepted} events accepted, ${load.refused503} refused with 503, ${load.noAnswer} unanswered and sent again; ` +
      `${invariant.wrong} devices wrong, ${invariant.lost} events lost; ` +
      `${invariant.convergedAfterMs === null ? 'did not converge' : `converged ${(invariant.convergedAfterMs / 1000).toFixed(1)} s after the fault`}; ` +
      `${microsoft.requests} calls to Microsoft (peak ${microsoft.peakPerSecond}/s), ${microsoft.duplicateUploads} duplicate uploads`,
  );
  for (const w of invariant.wrongDevices) ctx.log(`  ${w.deviceId}: ${[...w.problems, ...w.lost.map((k) => `lost ${k}`)].join('; ')}`);
  const restated = await restateWrong(ctx, invariant, timing);
  return {
    name: scenario.name,
    how: scenario.how,
    startedAt: startedAt.toISOString(),
    faultSeconds: Math.round((faultEndedAt - faultStart) / 100) / 10,
    load,
    invariant,
    microsoft,
    restated,
  };
}

/**
 * Devices still wrong at the deadline get fresh events (the fault's figures are already taken), so
 * the next fault starts from devices that are right; those still wrong after that are left out of
 * the later faults (and named in the result).
 */
async function restateWrong(ctx: FaultContext, invariant: ConvergenceResult, timing: Timing): Promise<FaultResult['restated']> {
  const wrongIds = new Set(invariant.wrongDevices.map((w) => w.deviceId));
  if (wrongIds.size === 0) return { devices: 0, rightAgain: 0, leftOut: [] };
  const wrong = ctx.load.devices.filter((d) => wrongIds.has(d.deviceId));
  const sentAt = Date.now();
  await ctx.load.restate(wrong);
  ctx.load.takeStats();
  const again = await ctx.checker.converge(wrong, sentAt, Math.min(60_000, timing.convergeMs));
  const leftOut = again.wrongDevices.map((w) => w.deviceId);
  for (const d of wrong) if (leftOut.includes(d.deviceId)) d.excluded = true;
  ctx.log(
    `restated ${wrong.length} wrong devices: ${wrong.length - leftOut.length} right again${leftOut.length ? `, left out of later faults: ${leftOut.join(', ')}` : ''}`,
  );
  return { devices: wrong.length, rightAgain: wrong.length - leftOut.length, leftOut };
}

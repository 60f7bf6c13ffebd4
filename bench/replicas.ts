/**
 * Several workers and API replicas on one Temporal: the stack of `npm run bench` (bench/lib/stack.ts)
 * plus a second worker and a second API process, at the shipped Microsoft budget
 * (AZURE_MAX_CALLS_PER_SECOND, 80 calls/s per tenant), with the emulator throttling like Microsoft
 * documents (2,000 requests per 20 s per app and tenant). `--events` registrations of new devices go
 * through POST /v1/events, batches alternating between the two APIs; measured:
 *  - every event ends `Successful` (none lost), events/s, and CPU per event by process;
 *  - calls to the partner API per second at the emulator (the budget counts those) — never above the
 *    budget in any second — and 429s (0).
 *
 *   npx tsx bench/replicas.ts --events 1200      # ~3 min on 2 cores
 *   npx tsx bench/replicas.ts --events 30        # smoke
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_AZURE_MAX_CALLS_PER_SECOND } from '../config';
import { freePort } from '../lib/ports';
import { UsageError, numberArg, parseArgs, stringArg } from '../scripts/simulator/args';
import { reexecWithCa } from './lib/ca';
import { PROJECT_ROOT } from './lib/child';
import { loadAverage, machineInfo } from './lib/machine';
import { cpuDelta, cpuOf } from './lib/proc';
import { startConnectorApi, startConnectorWorker, startStack, waitForApi } from './lib/stack';
import { eventThroughput } from './scenarios/event-path';

const MICROSOFT_DOCUMENTED_LIMITS = { graph: { limit: 2_000, windowSeconds: 20 }, intune: { limit: 2_000, windowSeconds: 20 } };
const log = (line: string) => process.stdout.write(`[replicas ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), ['events', 'calls-per-second', 'results-dir'], ['help']);
  if (args.help) {
    process.stdout.write('usage: npx tsx bench/replicas.ts [--events 1200] [--calls-per-second 80] [--results-dir DIR]\n');
    return;
  }
  if (reexecWithCa()) return;
  const events = numberArg(args, 'events', 1_200, { min: 1, max: 100_000, integer: true });
  const budget = numberArg(args, 'calls-per-second', DEFAULT_AZURE_MAX_CALLS_PER_SECOND, { min: 1, max: 10_000 });
  const loadAtStart = loadAverage();
  const stack = await startStack({ log, workerOptions: { maxCallsPerSecond: budget }, pollsBeforeTerminal: 0, sqliteSynchronous: 'OFF' });
  try {
    const worker2 = await startConnectorWorker(stack.connectorEnv, [], 'worker-2');
    const api2Port = await freePort();
    const api2 = startConnectorApi({ ...stack.connectorEnv, API_PORT: String(api2Port) }, path.join(stack.tmpDir, 'api-2.log'));
    const api2Url = `http://127.0.0.1:${api2Port}`;
    await waitForApi(api2, api2Url);
    log(
      `2 workers (pids ${stack.worker.pid}, ${worker2.pid}) and 2 APIs (${stack.apiUrl}, ${api2Url}), AZURE_MAX_CALLS_PER_SECOND=${budget}`,
    );
    try {
      // Warm-up (not measured): tokens, pools, JIT, in both replicas.
      await eventThroughput(stack, {
        count: 20,
        batchSize: 10,
        batches: 2,
        timeoutMs: 120_000,
        prefix: 'warm-',
        apiUrls: [stack.apiUrl, api2Url],
      });
      await stack.emulator.setOptions({ throttle: MICROSOFT_DOCUMENTED_LIMITS });
      await stack.emulator.clearRequests();
      const pids = () => ({
        temporal: [stack.temporal.pid],
        workers: [stack.worker.pid, worker2.pid],
        apis: [stack.api.pid, api2.pid],
        emulator: [stack.emulatorChild.pid],
      });
      const cpu0 = cpuOf(pids());
      const r = await eventThroughput(stack, {
        count: events,
        batchSize: 50,
        batches: 2,
        // Generous: on a busy machine the rate is far below the budget's; an event still open at the end is counted as not done.
        timeoutMs: Math.max(900_000, events * 1_000),
        prefix: 'rep-',
        apiUrls: [stack.apiUrl, api2Url],
      });
      const cpu = cpuDelta(cpu0, cpuOf(pids()));
      const journal = await stack.emulator.requests();
      const perSecond = new Map<number, number>();
      for (const e of journal) {
        if (e.service !== 'intune') continue;
        const s = Math.floor(Date.parse(e.at) / 1000);
        perSecond.set(s, (perSecond.get(s) ?? 0) + 1);
      }
      const seconds = [...perSecond.keys()];
      const busiest20 = Math.max(
        0,
        ...seconds.map((s) => Array.from({ length: 20 }, (_, i) => perSecond.get(s + i) ?? 0).reduce((a, b) => a + b, 0)),
      );
      const results = {
        command: `npx tsx bench/replicas.ts ${process.argv.slice(2).join(' ')}`.trim(),
        date: new Date().toISOString(),
        machine: machineInfo(),
        loadAverageAtStart: loadAtStart,
        loadAverageAtEnd: loadAverage(),
        workers: 2,
        apis: 2,
        azureMaxCallsPerSecond: budget,
        events,
        successful: r.completed,
        notSuccessfulAtTheEnd: events - r.completed,
        timedOut: r.timedOut,
        failed: r.failed,
        perSecond: Math.round(r.perSecond * 10) / 10,
        steadyPerSecond: Math.round(r.steadyPerSecond * 10) / 10,
        retriedAfter503: r.retried ?? 0,
        partnerApiCalls: journal.filter((e) => e.service === 'intune').length,
        partnerApiCallsMostInOneSecond: Math.max(0, ...perSecond.values()),
        partnerApiCallsBusiest20Seconds: busiest20,
        throttled429: journal.filter((e) => e.status === 429).length,
        cpuMsPerEvent: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, Math.round((v * 1e6) / events) / 1e3])),
      };
      const dir =
        typeof args['results-dir'] === 'string'
          ? path.resolve(stringArg(args, 'results-dir')!)
          : path.join(PROJECT_ROOT, 'bench', 'results');
      mkdirSync(dir, { recursive: true });
      const file = path.join(dir, `replicas-${results.date.slice(0, 19).replace(/:/g, '-')}.json`);
      writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
      log(`results: ${path.relative(process.cwd(), file)}`);
      process.stdout.write(
        [
          '',
          `2 workers + 2 APIs, AZURE_MAX_CALLS_PER_SECOND=${budget}: ${results.successful} of ${events} events Successful (${results.notSuccessfulAtTheEnd} not Successful when the bench stopped waiting${r.timedOut ? ', time box expired' : ''}), ${results.perSecond}/s (10–90 %: ${results.steadyPerSecond}/s)`,
          `  partner API calls: ${results.partnerApiCalls}, most in one second ${results.partnerApiCallsMostInOneSecond} (budget ${budget}), busiest 20 s ${busiest20} (Microsoft's limit 2,000); 429s: ${results.throttled429}`,
          `  CPU ms per event: ${Object.entries(results.cpuMsPerEvent)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}`,
          `  load average at start ${loadAtStart.join(' / ')}, at end ${results.loadAverageAtEnd.join(' / ')}`,
          '',
        ].join('\n'),
      );
      if (results.notSuccessfulAtTheEnd > 0 || results.partnerApiCallsMostInOneSecond > budget || results.throttled429 > 0)
        process.exitCode = 1;
    } finally {
      await api2.stop();
      await worker2.stop(30_000);
    }
  } finally {
    await stack.stop();
  }
}

main().catch((err: unknown) => {
  if (err instanceof UsageError) {
    process.stderr.write(`replicas: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`replicas failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

/**
 * `npm run faults`: the fault-injection suite (docs/reliability.md).
 *
 *   npm run faults [-- --devices 48 --rate 12 --seed 7 --only <name part>]
 *
 * Brings up the stack (bench/faults/stack.ts) on a fresh Postgres database and the Azure emulator,
 * registers the fleet, then runs each fault under load and checks every device after it, and
 * finally sends the hostile input. Writes bench/results/faults-<date>.json and docs/reliability.md
 * (unless --only narrows the run); exits 1 when an invariant broke. Bounded: each fault has 2 minutes
 * to converge, and faults past the time budget (--max-minutes, default 12) are not started.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../config';
import { createDb, migrateToLatest } from '../../db';
import { createScratchDatabase } from '../../db/scratch';
import { EmulatorControl } from '../../emulator/control-client';
import { findTemporalCli, INSTALL_HINT } from '../../lib/temporal-cli';
import { numberArg, parseArgs, stringArg, UsageError } from '../../scripts/simulator/args';
import { PROJECT_ROOT, sleep } from '../lib/child';
import { startEmulatorChild } from '../lib/stack';
import { machineInfo } from '../lib/machine';
import { InvariantChecker } from './invariant';
import { createDevices, MdmLoad, seedFor } from './load';
import { passed, writeReport, type FaultsReport } from './report';
import { runFault, DEFAULT_TIMING, type FaultContext, type FaultResult, type FaultScenario } from './scenario';
import { duplicateDelivery } from './scenarios/duplicate-delivery';
import { combineHostile, generateHostileRequests, sendHostile, type HostileResult } from './scenarios/hostile-input';
import { microsoft503, microsoftResets, microsoftSlow } from './scenarios/microsoft-errors';
import { microsoftThrottling } from './scenarios/microsoft-throttling';
import { postgresOutage } from './scenarios/postgres-outage';
import { temporalOutage } from './scenarios/temporal-outage';
import { temporalRestart } from './scenarios/temporal-restart';
import { tokensRevoked } from './scenarios/tokens-revoked';
import { workerKill } from './scenarios/worker-kill';
import { startFaultStack } from './stack';

const AZURE_REQUEST_TIMEOUT_MS = 3_000;
const SWEEP_DEVICES_PER_SECOND = 10;
const HOSTILE_REQUESTS = 10_000;

const log = (line: string) => process.stdout.write(`[faults ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

const ALL_FAULTS: FaultScenario[] = [
  workerKill(),
  temporalOutage(),
  temporalRestart(),
  postgresOutage(),
  microsoftThrottling(),
  microsoft503(),
  microsoftResets(),
  microsoftSlow(),
  tokensRevoked(),
  duplicateDelivery(),
];

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), ['devices', 'rate', 'seed', 'only', 'max-minutes', 'hold-seconds'], ['skip-hostile']);
  const devicesCount = numberArg(args, 'devices', 48, { min: 40, integer: true });
  const rate = numberArg(args, 'rate', 12, { min: 1, max: 200 });
  const seed = numberArg(args, 'seed', 7, { integer: true });
  const maxMinutes = numberArg(args, 'max-minutes', 12, { min: 1 });
  const only = stringArg(args, 'only');
  const skipHostile = args['skip-hostile'] === true;
  const startedAt = new Date();
  const budgetEnds = Date.now() + maxMinutes * 60_000;

  const config = loadConfig();
  const temporalCli = findTemporalCli(config.temporal.cliPath);
  if (!temporalCli) throw new Error(`cannot run the fault suite: ${INSTALL_HINT}`);
  const machine = machineInfo();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'acc-faults-'));
  const cleanups: Array<() => Promise<unknown>> = [async () => rmSync(dir, { recursive: true, force: true })];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => log(`cleanup: ${(err as Error).message}`));
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  // A throw in a callback must not leave the stack's processes and database behind.
  const crash = (err: unknown) => {
    process.stderr.write(`faults crashed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    void cleanup().finally(() => process.exit(1));
  };
  process.once('uncaughtException', crash);
  process.once('unhandledRejection', crash);

  try {
    const scratch = await createScratchDatabase(config.databaseUrl ?? 'postgres://postgres@127.0.0.1:5432/postgres', 'acc_faults');
    cleanups.push(() => scratch.drop());
    // The suite reads the read model directly (devices created by hostile input), not through the API under test.
    const readModel = createDb(scratch.databaseUrl, { max: 1 });
    cleanups.push(() => readModel.destroy());
    await migrateToLatest(readModel);

    const emulator = await startEmulatorChild(0);
    cleanups.push(() => emulator.child.stop());
    const control = new EmulatorControl(emulator.url);
    const tenant = { tenantId: randomUUID(), clientId: randomUUID(), clientSecret: randomBytes(24).toString('base64url') };
    const devices = createDevices({ count: devicesCount, prefix: 'flt', seed, domain: 'contoso.example' });
    await control.seed({
      tenants: [{ ...seedFor(tenant.tenantId, devices), apps: [{ clientId: tenant.clientId, clientSecret: tenant.clientSecret }] }],
    });
    log(`Azure emulator at ${emulator.url}; Postgres database ${scratch.name}; ${devicesCount} devices and their users seeded`);

    const stack = await startFaultStack({
      log,
      temporalCli,
      dir,
      databaseUrl: scratch.databaseUrl,
      emulator: { url: emulator.url, caPemPath: emulator.caPemPath },
      tenant,
      taskQueue: 'faults-azure-compliance',
      env: { AZURE_REQUEST_TIMEOUT_MS: String(AZURE_REQUEST_TIMEOUT_MS), SWEEP_DEVICES_PER_SECOND: String(SWEEP_DEVICES_PER_SECOND) },
    });
    cleanups.push(() => stack.stop());
    const load = new MdmLoad({ apiUrl: stack.apiUrl, mdmKey: stack.keys.mdm, devices, seed, mode: { ratePerSecond: rate }, log });
    cleanups.push(async () => load.close());
    const checker = new InvariantChecker({ apiUrl: stack.apiUrl, adminKey: stack.keys.admin, control, tenantId: tenant.tenantId });
    cleanups.push(async () => checker.close());
    const ctx: FaultContext = {
      stack,
      load,
      checker,
      control,
      tenantId: tenant.tenantId,
      log,
      azureRequestTimeoutMs: AZURE_REQUEST_TIMEOUT_MS,
    };

    log(`registering ${devicesCount} devices`);
    const warmStart = Date.now();
    await load.registerAll();
    const warmAccepted = load.takeStats().accepted;
    const warm = await checker.converge(devices, warmStart, DEFAULT_TIMING.convergeMs);
    log(
      `warm-up: ${warmAccepted} registrations accepted, ${warm.convergedAfterMs === null ? `${warm.wrong} devices wrong` : `all right after ${(warm.convergedAfterMs / 1000).toFixed(1)} s`}`,
    );

    const faults: FaultResult[] = [];
    const notRun: string[] = [];
    for (const scenario of ALL_FAULTS) {
      if (only && !scenario.name.toLowerCase().includes(only.toLowerCase())) continue;
      if (Date.now() > budgetEnds) {
        notRun.push(scenario.name);
        continue;
      }
      faults.push(await runFault(ctx, scenario));
    }
    if (notRun.length) log(`not run (past the ${maxMinutes}-minute budget): ${notRun.join(', ')}`);

    let hostile: HostileResult | null = null;
    if (!skipHostile && (!only || 'hostile input'.includes(only.toLowerCase()))) {
      const openapi = (await (await fetch(`${stack.apiUrl}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
      const paths = Object.entries(openapi.paths).flatMap(([p, ops]) =>
        Object.keys(ops)
          .filter((m) => /^(get|post|put|delete|patch)$/.test(m))
          .map((m) => ({ method: m.toUpperCase(), path: p })),
      );
      const countDevices = async () => Number((await readModel('devices').where({ tenant_id: tenant.tenantId }).count({ n: '*' }))[0]!.n);
      const before = await countDevices();
      const { spread, worstCases } = generateHostileRequests({
        count: HOSTILE_REQUESTS,
        seed,
        keys: stack.keys,
        paths,
        knownDeviceId: devices[0]!.deviceId,
      });
      log(
        `hostile input: ${spread.length} requests on ${paths.length} documented routes and others, then ${worstCases.length} regex worst cases one at a time`,
      );
      const first = await sendHostile({ apiUrl: stack.apiUrl, requests: spread, connections: 8, timeoutMs: 15_000, maxMs: 180_000 });
      const worst = await sendHostile({
        apiUrl: stack.apiUrl,
        requests: worstCases,
        connections: 1,
        timeoutMs: 15_000,
        maxMs: 120_000,
        stopAtFirstUnanswered: true,
      });
      await sleep(3_000);
      hostile = { ...combineHostile(first, worst), devicesCreated: (await countDevices()) - before };
      log(
        `hostile input: ${hostile.requests} requests in ${hostile.seconds} s; ${hostile.serverErrors} 5xx, ${hostile.unanswered} unanswered, longest ${hostile.longestMs} ms (${hostile.longestRequest}), ` +
          `${hostile.devicesCreated} devices created${hostile.blockedBy ? `; the API was blocked by ${hostile.blockedBy} (${hostile.notSent} not sent after it)` : ''}`,
      );
    }

    const report: FaultsReport = {
      command: `npm run faults${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      machine,
      settings: {
        devices: devicesCount,
        eventsPerSecond: rate,
        azureRequestTimeoutMs: AZURE_REQUEST_TIMEOUT_MS,
        sweepDevicesPerSecond: SWEEP_DEVICES_PER_SECOND,
        convergeWithinSeconds: DEFAULT_TIMING.convergeMs / 1000,
      },
      warmUp: { accepted: warmAccepted, convergedAfterMs: warm.convergedAfterMs, wrong: warm.wrong },
      faults,
      hostile,
      passed: passed(faults, hostile) && warm.wrong === 0 && notRun.length === 0,
    };
    if (only) {
      const file = path.join(os.tmpdir(), `faults-only-${Date.now()}.json`);
      writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
      log(`--only given: results in ${file} only`);
    } else {
      const { resultsFile, docsFile } = writeReport(PROJECT_ROOT, report);
      log(`results: ${path.relative(process.cwd(), resultsFile)}; ${path.relative(process.cwd(), docsFile)} written`);
    }
    log(report.passed ? 'every invariant held' : 'SOME INVARIANTS BROKE (see above)');
    process.exitCode = report.passed ? 0 : 1;
    const hold = numberArg(args, 'hold-seconds', 0, { min: 0, max: 3_600 });
    if (!report.passed && hold > 0) {
      log(`holding the stack ${hold} s for a look (Temporal at ${stack.temporalProxy.address}, task queue faults-azure-compliance)`);
      await sleep(hold * 1000);
    }
  } finally {
    log('stopping the stack');
    await cleanup();
  }
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`faults: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`faults failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);

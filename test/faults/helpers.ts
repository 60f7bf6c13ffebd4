/**
 * A fault run inside the test suite: its own Temporal dev server (own SQLite file, free ports), TCP
 * proxies, worker and API processes (bench/faults/stack.ts), on the shared scratch Postgres database
 * and the shared emulator of the root hook, under a tenant of its own. Nothing of the shared test
 * server is touched.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { InvariantChecker } from '../../bench/faults/invariant';
import { createDevices, MdmLoad, seedFor } from '../../bench/faults/load';
import { runFault, type FaultContext, type FaultResult, type FaultScenario, type Timing } from '../../bench/faults/scenario';
import { startFaultStack } from '../../bench/faults/stack';
import { testEnv, uniqueName } from '../support/env';

/** Shorter than the suite's, with the same 2 minutes to converge (the invariant). */
export const TEST_TIMING: Timing = { beforeMs: 2_000, afterMs: 2_000, convergeMs: 120_000 };
export const AZURE_REQUEST_TIMEOUT_MS = 3_000;

export interface FaultRun {
  ctx: FaultContext;
  /** Registers every device and waits until each is right; returns the devices still wrong (none expected). */
  warmUp(): Promise<number>;
  stop(): Promise<void>;
}

export async function startFaultRun(o: { name: string; devices: number; ratePerSecond: number }): Promise<FaultRun> {
  const env = testEnv();
  const dir = mkdtempSync(path.join(os.tmpdir(), `acc-${o.name}-`));
  const tenant = { tenantId: randomUUID(), clientId: randomUUID(), clientSecret: randomBytes(24).toString('base64url') };
  const prefix = uniqueName(o.name).replace(/[^A-Za-z0-9-]/g, '');
  const devices = createDevices({ count: o.devices, prefix, seed: 11, domain: 'contoso.example' });
  await env.emulator.control.seed({
    tenants: [{ ...seedFor(tenant.tenantId, devices), apps: [{ clientId: tenant.clientId, clientSecret: tenant.clientSecret }] }],
  });
  const log = (line: string) => {
    if (process.env.FAULTS_TEST_LOG) process.stdout.write(`      [${o.name}] ${line}\n`);
  };
  const stack = await startFaultStack({
    log,
    temporalCli: env.temporalCli,
    dir,
    databaseUrl: env.databaseUrl,
    emulator: { url: env.emulator.url, caPemPath: env.emulator.caPemPath },
    tenant,
    taskQueue: uniqueName('faults'),
    env: { AZURE_REQUEST_TIMEOUT_MS: String(AZURE_REQUEST_TIMEOUT_MS), SWEEP_DEVICES_PER_SECOND: '4' },
  }).catch((err: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  // One lifecycle per device here: re-enrolment is the fault suite's and the device workflow tests' concern.
  const load = new MdmLoad({
    apiUrl: stack.apiUrl,
    mdmKey: stack.keys.mdm,
    devices,
    seed: 5,
    mode: { ratePerSecond: o.ratePerSecond, lifecycles: false },
    log,
  });
  const checker = new InvariantChecker({
    apiUrl: stack.apiUrl,
    adminKey: stack.keys.admin,
    control: env.emulator.control,
    tenantId: tenant.tenantId,
  });
  const ctx: FaultContext = {
    stack,
    load,
    checker,
    control: env.emulator.control,
    tenantId: tenant.tenantId,
    log,
    azureRequestTimeoutMs: AZURE_REQUEST_TIMEOUT_MS,
  };
  return {
    ctx,
    async warmUp() {
      const started = Date.now();
      await load.registerAll();
      return (await checker.converge(devices, started, TEST_TIMING.convergeMs)).wrong;
    },
    async stop() {
      load.close();
      checker.close();
      await env.emulator.control.clearFaults();
      await stack.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Mocha hooks for one fault test: a run of its own before (every device registered and right), torn
 * down after. Returns the function that runs the fault and asserts the invariant on its result.
 */
export function faultRunHooks(name: string): (scenario: FaultScenario) => Promise<FaultResult> {
  let run: FaultRun | undefined;
  before(async function () {
    this.timeout(240_000);
    run = await startFaultRun({ name, devices: 16, ratePerSecond: 6 });
    assert.equal(await run.warmUp(), 0, 'every device is right before the fault');
  });
  after(async function () {
    this.timeout(60_000);
    await run?.stop();
  });
  return async (scenario) => {
    const r = await runFault(run!.ctx, scenario, TEST_TIMING);
    assert.ok(r.load.accepted > 0, 'the load ran during the fault');
    const wrongDevices = r.invariant.wrongDevices.map(
      (w) => `${w.deviceId}: ${[...w.problems, ...w.lost.map((k) => `lost ${k}`)].join('; ')}`,
    );
    // Every valid event was accepted (after 503s, sent again) and every device ended right.
    assert.deepEqual(
      {
        lost: r.invariant.lost,
        wrong: r.invariant.wrong,
        unresolved: r.invariant.unresolved,
        otherStatus: r.load.otherStatus,
        wrongDevices,
      },
      { lost: 0, wrong: 0, unresolved: 0, otherStatus: {}, wrongDevices: [] },
    );
    return r;
  };
}

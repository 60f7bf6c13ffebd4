/**
 * Model-based test on the real stack: the Hono API (real Temporal client, real Postgres), a real
 * worker, the emulator over HTTPS. Each run sends random lives of many devices at once (each device's
 * events one after the other over HTTP, all devices in parallel), with global steps between rounds
 * (reporting off/on, a bulk sync, Microsoft failing or throttling or ending uploads Failed); then heals
 * Microsoft, switches reporting on, waits until every device is settled and checks every device against
 * the reference model: the API's answers, Microsoft's final state of every Azure device id it named,
 * the LastUpdateTime of every upload, and `GET /v1/devices/{id}` against the model and against the
 * workflow's `state` query. The known lives (known-lives.ts) run first, one device each.
 */
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { createApp } from '../../api/app';
import type { App } from '../../api/context';
import { loadConfig } from '../../config';
import type { EntraDeviceView, FaultSpec } from '../../emulator/types';
import { createFleetClient } from '../../workers/fleet-client';
import { deviceWorkflowId, type DeviceWorkflowOptions } from '../../workflows/messages';
import { call, makeApi } from '../api/helpers';
import { newTenant, type FleetTenant } from '../fleet/helpers';
import { waitFor, withWorker } from '../support/device-harness';
import { testEnv, uniqueName } from '../support/env';
import { answerProblems, detailProblems, disagreements, microsoftProblems, uploadTimeProblems, type Answer } from './checks';
import { detailsOfWorkflowState, workflowStateIdle } from './domain-driver';
import {
  IDS_PER_DEVICE,
  Materializer,
  USERS_PER_DEVICE,
  stackRunArb,
  type DevicePools,
  type GlobalStep,
  type StackRun,
} from './generators';
import { KNOWN_LIVES, asStackRun } from './known-lives';
import { runModel, type MicrosoftFault, type ObservedDetails, type Step } from './reference-model';

const SEED = Number(process.env.MODEL_SEED ?? 20261202);
const RUNS = Number(process.env.MODEL_STACK_RUNS ?? 4);
const DEVICES = 24;
const ROUNDS = 3;
/** Real time a generated workflow "tick" stands for between two events of a device. */
const TICK_MS = 100;
const SETTLE_TIMEOUT_MS = 120_000;

const WORKFLOW_OPTIONS: DeviceWorkflowOptions = {
  statusPollIntervalsMs: [150, 300],
  microsoftRetry: { initialIntervalMs: 200, maximumIntervalMs: 1000 },
};

const FAULTS: Record<MicrosoftFault, FaultSpec> = {
  unavailable: { match: { service: 'intune' }, response: { status: 503, headers: { 'Retry-After': '0' } } },
  throttled: { match: { service: 'intune' }, response: { status: 429, headers: { 'Retry-After': '1' } } },
  failedMessages: {
    match: { service: 'intune', method: 'GET', pathRegex: 'DataUploadMessages' },
    response: { status: 200, body: { Status: 'Failed', ErrorDetail: 'The message could not be processed (simulated).' } },
  },
};

interface Stack {
  app: App;
  tenant: FleetTenant;
}

interface DeviceRun {
  deviceId: string;
  pools: DevicePools;
  materializer: Materializer;
  steps: Step[];
  answers: Answer[];
  trace: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function expectStatus(res: Response, status: number, what: string): Promise<void> {
  if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status}: ${await res.text()}`);
}

class Microsoft {
  private faultIds: string[] = [];
  async set(fault: MicrosoftFault | null): Promise<void> {
    const control = testEnv().emulator.control;
    for (const id of this.faultIds) await control.removeFault(id).catch(() => undefined);
    this.faultIds = [];
    if (fault !== null) this.faultIds.push((await control.addFault(FAULTS[fault])).id);
  }
}

async function applyGlobal(stack: Stack, microsoft: Microsoft, step: GlobalStep): Promise<void> {
  if (step.kind === 'reporting') {
    await expectStatus(
      await call(stack.app, 'PUT', '/v1/settings', { key: 'admin', body: { enabled: step.enabled } }),
      200,
      'PUT /v1/settings',
    );
  } else if (step.kind === 'sync') {
    await expectStatus(await call(stack.app, 'POST', '/v1/sync', { key: 'admin', body: {} }), 202, 'POST /v1/sync');
  } else {
    await microsoft.set(step.fault);
  }
}

async function sendEvents(stack: Stack, device: DeviceRun, round: StackRun['devices'][number][number]): Promise<void> {
  for (const abstract of round) {
    const event = device.materializer.event(abstract);
    if (event === null) continue;
    const res = await call(stack.app, 'POST', `/v1/devices/${device.deviceId}/events`, { key: 'mdm', body: event });
    if (res.status !== 202 && res.status !== 409) throw new Error(`POST event of ${device.deviceId}: ${res.status} ${await res.text()}`);
    const answer: Answer = res.status === 202 ? 'accepted' : 'rejected';
    device.steps.push({ kind: 'event', event });
    device.answers.push(answer);
    device.trace.push(`${JSON.stringify(event)} -> ${res.status}, then ${abstract.ticks * TICK_MS} ms`);
    if (abstract.ticks > 0) await sleep(abstract.ticks * TICK_MS);
  }
}

/** Every fleet operation of the tenant finished, every device's workflow idle, the read model unchanged over a pause. */
async function settle(stack: Stack, devices: readonly DeviceRun[]): Promise<void> {
  const env = testEnv();
  let previous = '';
  let busy: string[] = [];
  await waitFor(
    'every device to settle',
    async () => {
      const open = await env
        .db('operations')
        .where({ tenant_id: stack.tenant.tenantId })
        .whereNull('finished_at')
        .count<{ count: string }[]>({ count: '*' });
      if (Number(open[0]?.count ?? 0) > 0) return false;
      busy = [];
      for (const d of devices) {
        const handle = env.temporalClient.workflow.getHandle(deviceWorkflowId(stack.tenant.tenantId, d.deviceId));
        const described = await handle.describe();
        if (described.status.name === 'RUNNING' && !workflowStateIdle(await handle.query('state'))) busy.push(d.deviceId);
      }
      if (busy.length > 0) return false;
      const rows = await env.db('devices').where({ tenant_id: stack.tenant.tenantId }).orderBy('device_id').select('device_id', 'version');
      const snapshot = JSON.stringify(rows);
      const stable = snapshot === previous;
      previous = snapshot;
      if (!stable) await sleep(1_500);
      return stable;
    },
    SETTLE_TIMEOUT_MS,
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}; devices still busy: ${busy.join(', ') || 'none (a fleet operation or the read model kept changing)'}`);
  });
}

function detailsOf(body: Record<string, unknown>): ObservedDetails {
  return {
    retiredAt: body.retiredAt as string | null,
    platform: body.platform as string | null,
    azureDeviceIdentifier: body.azureDeviceIdentifier as string | null,
    azureClientStatusCode: body.azureClientStatusCode as string | null,
    policyAction: body.policyAction as string | null,
    reportedCompliance: body.reportedCompliance as string | null,
    managementState: body.managementState as string | null,
    azureDeviceComplianceStatus: body.azureDeviceComplianceStatus as string | null,
    lastError: body.lastError as { code: string } | null,
    inventory: body.inventory as Record<string, unknown> | null,
  };
}

/** Every problem of one device, judged against the reference model. */
async function judge(stack: Stack, device: DeviceRun): Promise<string[]> {
  const env = testEnv();
  const model = runModel(device.steps);
  const views = new Map<string, EntraDeviceView | null>();
  for (const id of device.pools.azureDeviceIds)
    views.set(id.toLowerCase(), await env.emulator.control.entraDevice(stack.tenant.tenantId, id));
  const messages = new Map<string, { receivedAt: string; lastUpdateTime: string | null }>();
  for (const view of views.values()) for (const m of view?.messages ?? []) messages.set(m.messageId, m);
  const uploads = [...messages.values()].sort((a, b) => Date.parse(a.receivedAt) - Date.parse(b.receivedAt));

  const res = await call(stack.app, 'GET', `/v1/devices/${device.deviceId}`, { key: 'admin' });
  const seen = res.status === 200 ? detailsOf((await res.json()) as Record<string, unknown>) : null;
  const state = await env.temporalClient.workflow.getHandle(deviceWorkflowId(stack.tenant.tenantId, device.deviceId)).query('state');
  const fromWorkflow = detailsOfWorkflowState(state);

  return [
    ...answerProblems(model, device.answers),
    ...microsoftProblems(model, (id) => views.get(id.toLowerCase()) ?? null),
    ...uploadTimeProblems(uploads),
    ...detailProblems(model, seen, 'GET /v1/devices/{id}'),
    ...(seen === null ? [] : disagreements(seen, fromWorkflow, 'GET', "the workflow's state")),
  ];
}

/** Runs one generated run (its devices in parallel) to the end and judges every device; failures as readable blocks. */
async function runOnStack(
  stack: Stack,
  microsoft: Microsoft,
  run: StackRun,
): Promise<{ failed: string[]; devices: number; events: number }> {
  const env = testEnv();
  const now = Date.now();
  const devices: DeviceRun[] = run.devices.map(() => {
    const deviceId = uniqueName('model');
    const pools = {
      azureDeviceIds: Array.from({ length: IDS_PER_DEVICE }, () => randomUUID()),
      userPrincipalNames: Array.from({ length: USERS_PER_DEVICE }, (_, i) => `${deviceId}-${i}@contoso.com`),
    };
    return { deviceId, pools, materializer: new Materializer(pools, now - 2 * 60 * 60 * 1000, now), steps: [], answers: [], trace: [] };
  });
  await env.emulator.control.seed({
    tenants: [
      {
        tenantId: stack.tenant.tenantId,
        users: devices.flatMap((d) => d.pools.userPrincipalNames.map((userPrincipalName) => ({ userPrincipalName }))),
        devices: devices.flatMap((d) =>
          d.pools.azureDeviceIds.map((id) => ({ deviceId: id, operatingSystem: 'iOS', displayName: d.deviceId })),
        ),
      },
    ],
  });
  let enabled = true;
  try {
    for (let r = 0; r < run.between.length; r++) {
      for (const g of run.between[r]!) {
        await applyGlobal(stack, microsoft, g);
        if (g.kind === 'reporting') enabled = g.enabled;
        for (const d of devices) {
          d.steps.push(g);
          d.trace.push(JSON.stringify(g));
        }
      }
      await Promise.all(devices.map((d, i) => sendEvents(stack, d, run.devices[i]![r] ?? [])));
    }
  } finally {
    await microsoft.set(null);
  }
  // The end: Microsoft healthy, reporting on, everything settled; uploads that ended Failed are not
  // retried by rule, so after them an admin's bulk sync re-sends every device's state.
  if (!enabled) await applyGlobal(stack, microsoft, { kind: 'reporting', enabled: true });
  await settle(stack, devices);
  if (devices.some((d) => runModel(d.steps).sawFailedMessages)) {
    await applyGlobal(stack, microsoft, { kind: 'sync' });
    await settle(stack, devices);
  }
  const failed: string[] = [];
  for (const d of devices) {
    const problems = await judge(stack, d);
    if (problems.length > 0)
      failed.push(
        `device ${d.deviceId}:\n${problems.map((p) => `    ${p}`).join('\n')}\n  steps:\n${d.trace.map((l) => `    ${l}`).join('\n')}`,
      );
  }
  return { failed, devices: devices.length, events: devices.reduce((n, d) => n + d.answers.length, 0) };
}

describe('model: device lives on the real stack (API, Temporal, Postgres, emulator)', function () {
  this.timeout(600_000);
  let stack: Stack;
  let taskQueue: string;
  const microsoft = new Microsoft();

  before(async () => {
    const env = testEnv();
    const tenant = await newTenant();
    taskQueue = uniqueName('tq-model');
    const api = makeApi({
      temporalClient: env.temporalClient,
      taskQueue,
      tenantId: tenant.tenantId,
      fleet: createFleetClient(env.temporalClient, loadConfig({ TEMPORAL_TASK_QUEUE: taskQueue }), tenant.tenantId, { db: env.db }),
    });
    stack = { app: createApp({ ...api.deps, metrics: new Registry(), deviceWorkflowOptions: WORKFLOW_OPTIONS }), tenant };
  });

  const onStack = <T>(fn: () => Promise<T>) => withWorker(fn, { taskQueue, azure: stack.tenant.azure });

  for (const [name, life] of Object.entries(KNOWN_LIVES)) {
    it(name, async () => {
      const result = await onStack(() => runOnStack(stack, microsoft, asStackRun(life)));
      assert.deepEqual(result.failed, []);
    });
  }

  it(`${DEVICES} devices per run in parallel end as the reference model says (seed ${SEED}, ${RUNS} runs)`, async () => {
    const counts = { runs: 0, devices: 0, events: 0 };
    let failure = '';
    const property = fc.asyncProperty(stackRunArb(DEVICES, ROUNDS, 4, 12), async (run) => {
      counts.runs++;
      const result = await runOnStack(stack, microsoft, run);
      counts.devices += result.devices;
      counts.events += result.events;
      if (result.failed.length === 0) return true;
      failure = `${result.failed.length} of ${result.devices} devices disagree with the model:\n${result.failed.join('\n')}`;
      return false;
    });
    // Shrinking would replay whole runs on the real stack: the first failing run is reported as it is.
    const result = await onStack(() => fc.check(property, { seed: SEED, numRuns: RUNS, endOnFailure: true }));
    console.log(
      `      model (real stack): ${counts.runs} runs, ${counts.devices} sequences (one per device), ${counts.events} events (seed ${SEED})`,
    );
    if (result.failed)
      assert.fail(
        `seed ${SEED}, run ${counts.runs} (path ${result.counterexamplePath}), not shrunk: ${failure || String(result.errorInstance)}`,
      );
  });
});

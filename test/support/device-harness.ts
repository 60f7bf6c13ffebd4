/**
 * Helpers for tests that drive device workflows end to end: a worker on its own task queue, events
 * sent the way the API sends them, Entra devices seeded in the emulator, and waits on the read model.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { deliverEvent } from '../../workers/event-delivery';
import type { Worker, WorkerOptions } from '@temporalio/worker';
import type { AzureCredentials } from '../../config';
import { getDevice, listReportAttempts, type DeviceRow } from '../../db/data';
import type { DeviceEvent } from '../../domain/events';
import { createWorker, type ConnectorWorker } from '../../workers/worker';
import { DEVICE_WORKFLOW_TYPE, deviceWorkflowId, type DeviceWorkflowOptions } from '../../workflows/messages';
import { testEnv, uniqueName } from './env';

/** Fast status polling for tests: the emulator completes a message on its second poll. */
export const FAST_POLLS: DeviceWorkflowOptions = { statusPollIntervalsMs: [150, 300] };

export interface Harness {
  taskQueue: string;
  /** The main worker (workflows and non-Microsoft activities). */
  worker: Worker;
  /** Both workers: the main one and the one on `<taskQueue>-microsoft`. */
  workers: ConnectorWorker;
}

export async function withWorker<T>(
  fn: (h: Harness) => Promise<T>,
  opts: {
    maxCachedWorkflows?: number;
    isReportingEnabled?: (tenantId: string) => Promise<boolean>;
    taskQueue?: string;
    /** Another tenant's credentials (fleet tests use tenants of their own). */
    azure?: AzureCredentials;
    azureMaxCallsPerSecond?: number;
    /** Where the Microsoft worker polls (default `<taskQueue>-microsoft`, where the workflows send). */
    microsoftTaskQueue?: string;
    /** Another workflow bundle (a fixture's) instead of the connector's. */
    workflowBundle?: NonNullable<WorkerOptions['workflowBundle']>;
  } = {},
): Promise<T> {
  const env = testEnv();
  const taskQueue = opts.taskQueue ?? uniqueName('tq');
  const workers = await createWorker({
    connection: env.nativeConnection,
    namespace: env.namespace,
    taskQueue,
    db: env.db,
    azure: opts.azure ?? env.azure,
    temporalClient: env.temporalClient,
    workflowBundle: opts.workflowBundle ?? (await env.workflowBundle()),
    ...(opts.isReportingEnabled ? { isReportingEnabled: opts.isReportingEnabled } : {}),
    ...(opts.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: opts.maxCachedWorkflows } : {}),
    ...(opts.azureMaxCallsPerSecond !== undefined ? { azureMaxCallsPerSecond: opts.azureMaxCallsPerSecond } : {}),
    ...(opts.microsoftTaskQueue !== undefined ? { microsoftTaskQueue: opts.microsoftTaskQueue } : {}),
  });
  return workers.runUntil(() => fn({ taskQueue, worker: workers.main, workers }));
}

/** Workflow ids the current test touched, so their histories can be recorded for the replay guard. */
export const touchedWorkflowIds = new Set<string>();

/**
 * Sends one event exactly as the API does (workers/event-delivery.ts), to the test tenant's device
 * unless another tenant is named; a retired device rejects non-registrations.
 */
export async function sendEvent(
  taskQueue: string,
  deviceId: string,
  event: DeviceEvent,
  options: DeviceWorkflowOptions = FAST_POLLS,
  tenantId: string = testEnv().tenantId,
): Promise<void> {
  const env = testEnv();
  const workflowId = deviceWorkflowId(tenantId, deviceId);
  touchedWorkflowIds.add(workflowId);
  const outcome = await deliverEvent(env.temporalClient, { tenantId, deviceId, taskQueue, event, options });
  if (outcome === 'retired') throw new WorkflowExecutionAlreadyStartedError('the device is retired', workflowId, DEVICE_WORKFLOW_TYPE);
}

export interface SeededDevice {
  deviceId: string;
  azureDeviceId: string;
  userPrincipalName: string;
}

/** An MDM device whose Entra device and user exist in the emulator. */
export async function seedDevice(operatingSystem: 'iOS' | 'Android' = 'iOS'): Promise<SeededDevice> {
  const env = testEnv();
  const device = {
    deviceId: uniqueName('mdm'),
    azureDeviceId: randomUUID(),
    userPrincipalName: `${uniqueName('user')}@contoso.com`,
  };
  await env.emulator.control.seed({
    tenants: [
      {
        tenantId: env.tenantId,
        users: [{ userPrincipalName: device.userPrincipalName }],
        devices: [{ deviceId: device.azureDeviceId, operatingSystem, displayName: device.deviceId }],
      },
    ],
  });
  return device;
}

let clock = Date.parse('2026-11-28T09:00:00.000Z');
/** Strictly increasing event times, so ordering is explicit in every test. */
export function nextOccurredAt(): string {
  clock += 1_000;
  return new Date(clock).toISOString();
}

export function registration(d: SeededDevice, overrides: Partial<Extract<DeviceEvent, { type: 'registration' }>> = {}): DeviceEvent {
  return {
    type: 'registration',
    occurredAt: nextOccurredAt(),
    platform: 'iOS',
    azureDeviceId: d.azureDeviceId,
    clientStatusCode: 'Success',
    userPrincipalName: d.userPrincipalName,
    ...overrides,
  };
}

export function compliance(actions: Extract<DeviceEvent, { type: 'compliance' }>['actions'], occurredAt = nextOccurredAt()): DeviceEvent {
  return { type: 'compliance', occurredAt, actions };
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function waitForDevice(
  deviceId: string,
  predicate: (d: DeviceRow) => boolean,
  what = 'the device row',
  timeoutMs?: number,
): Promise<DeviceRow> {
  const env = testEnv();
  return waitFor(
    `${what} of ${deviceId}`,
    async () => {
      const row = await getDevice(env.db, env.tenantId, deviceId);
      return row && predicate(row) ? row : null;
    },
    timeoutMs,
  );
}

export async function timeline(deviceId: string) {
  const env = testEnv();
  return listReportAttempts(env.db, env.tenantId, deviceId, 100);
}

export async function entra(azureDeviceId: string) {
  const env = testEnv();
  return env.emulator.control.entraDevice(env.tenantId, azureDeviceId);
}

export async function uploadsFor(azureDeviceId: string): Promise<number> {
  const view = await entra(azureDeviceId);
  return view?.messages.length ?? 0;
}

/** The device's workflow: its latest run, or the run `runId`. */
export function workflowHandle(deviceId: string, runId?: string) {
  const env = testEnv();
  return env.temporalClient.workflow.getHandle(deviceWorkflowId(env.tenantId, deviceId), runId);
}

/** Starts a worker in a child process on the task queue; resolves once it polls. */
export async function spawnWorkerProcess(taskQueue: string): Promise<ChildProcess> {
  const env = testEnv();
  const args = JSON.stringify({
    address: env.temporalAddress,
    namespace: env.namespace,
    taskQueue,
    databaseUrl: env.databaseUrl,
    azure: env.azure,
  });
  const child = spawn(process.execPath, ['--import', 'tsx', require.resolve('./worker-process.ts'), args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: process.env,
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => c.toString().includes('worker-ready') && resolve());
    child.once('exit', (code) => reject(new Error(`worker process exited with ${code}: ${stderr}`)));
  });
  return child;
}

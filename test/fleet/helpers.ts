/**
 * Fleet tests run each in a tenant of their own (seeded in the emulator with its own app), so a sweep
 * visits exactly the devices the test registered, whatever else the suite left in the database.
 */
import { randomUUID } from 'node:crypto';
import { loadConfig, type AzureCredentials, type Config } from '../../config';
import { getDevice, getOperation, listReportAttempts, type DeviceRow, type Operation } from '../../db/data';
import type { DeviceEvent } from '../../domain/events';
import { startSweep } from '../../workers/fleet-client';
import { TENANT_HEARTBEAT_SCHEDULE_ID, WEEKLY_REPORT_SCHEDULE_ID } from '../../workers/schedules';
import { deviceWorkflowId } from '../../workflows/messages';
import { FAST_POLLS, nextOccurredAt, sendEvent, waitFor } from '../support/device-harness';
import { testEnv } from '../support/env';

export interface FleetTenant {
  tenantId: string;
  azure: AzureCredentials;
}

export interface FleetDevice {
  deviceId: string;
  azureDeviceId: string;
  userPrincipalName: string;
}

export async function newTenant(): Promise<FleetTenant> {
  const env = testEnv();
  const tenantId = randomUUID();
  const azure: AzureCredentials = { ...env.azure, tenantId, clientId: randomUUID(), clientSecret: `secret-${randomUUID()}` };
  await env.emulator.control.seed({ tenants: [{ tenantId, apps: [{ clientId: azure.clientId, clientSecret: azure.clientSecret }] }] });
  return { tenantId, azure };
}

/** The configuration a worker or the API of this test would load (explicit, not from process.env). */
export function testConfig(taskQueue: string, env: Record<string, string> = {}): Readonly<Config> {
  return loadConfig({ TEMPORAL_TASK_QUEUE: taskQueue, ...env });
}

/** Devices `<prefix>-00`, `<prefix>-01`, …, known to Entra (unless `inEntra` is false). */
export async function seedDevices(t: FleetTenant, prefix: string, count: number, inEntra = true): Promise<FleetDevice[]> {
  const devices = Array.from({ length: count }, (_, i) => ({
    deviceId: `${prefix}-${String(i).padStart(2, '0')}`,
    azureDeviceId: randomUUID(),
    userPrincipalName: `${prefix}-${i}@contoso.com`,
  }));
  await testEnv().emulator.control.seed({
    tenants: [
      {
        tenantId: t.tenantId,
        users: devices.map((d) => ({ userPrincipalName: d.userPrincipalName })),
        devices: inEntra ? devices.map((d) => ({ deviceId: d.azureDeviceId, operatingSystem: 'iOS', displayName: d.deviceId })) : [],
      },
    ],
  });
  return devices;
}

/** Sends one event as the API does, to the tenant's device workflow. */
/** Sends one event to a device of the fleet tenant, as the API does. */
export function send(t: FleetTenant, taskQueue: string, deviceId: string, event: DeviceEvent): Promise<void> {
  return sendEvent(taskQueue, deviceId, event, FAST_POLLS, t.tenantId);
}

export function registrationOf(d: FleetDevice, clientStatusCode: 'Success' | 'User_Canceled' = 'Success'): DeviceEvent {
  return {
    type: 'registration',
    occurredAt: nextOccurredAt(),
    platform: 'iOS',
    azureDeviceId: d.azureDeviceId,
    clientStatusCode,
    userPrincipalName: d.userPrincipalName,
  };
}

export function deviceRow(t: FleetTenant, deviceId: string): Promise<DeviceRow | null> {
  return getDevice(testEnv().db, t.tenantId, deviceId);
}

export function waitForRow(
  t: FleetTenant,
  deviceId: string,
  predicate: (r: DeviceRow) => boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<DeviceRow> {
  return waitFor(
    `${what} of ${deviceId}`,
    async () => {
      const r = await deviceRow(t, deviceId);
      return r && predicate(r) ? r : null;
    },
    timeoutMs,
  );
}

/** Registers every device and waits until each one's first report settled as expected. */
export async function register(
  t: FleetTenant,
  taskQueue: string,
  devices: FleetDevice[],
  status: 'Successful' | 'Failed' = 'Successful',
  clientStatusCode: 'Success' | 'User_Canceled' = 'Success',
): Promise<void> {
  await Promise.all(devices.map((d) => send(t, taskQueue, d.deviceId, registrationOf(d, clientStatusCode))));
  await Promise.all(devices.map((d) => waitForRow(t, d.deviceId, (r) => r.complianceStatus === status, `status ${status}`)));
}

/** Timeline rows of one trigger for a device. */
export async function rowsOf(t: FleetTenant, deviceId: string, trigger: string) {
  return (await listReportAttempts(testEnv().db, t.tenantId, deviceId, 500)).filter((a) => a.trigger === trigger);
}

/** Waits until every device has a settled (Successful or Failed) timeline row of the trigger. */
export async function waitForTrigger(t: FleetTenant, devices: FleetDevice[], trigger: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    `a settled ${trigger} row for each of ${devices.length} devices`,
    async () => {
      for (const d of devices) {
        const rows = await rowsOf(t, d.deviceId, trigger);
        if (!rows.some((r) => r.outcome !== 'In-progress')) return false;
      }
      return true;
    },
    timeoutMs,
  );
}

export async function operationsOf(t: FleetTenant, kind: string): Promise<Operation[]> {
  const env = testEnv();
  const ids = await env.db('operations').select('operation_id').where({ tenant_id: t.tenantId, kind }).orderBy('started_at');
  const ops = await Promise.all(ids.map((r: { operation_id: string }) => getOperation(env.db, t.tenantId, r.operation_id)));
  return ops.filter((o): o is Operation => o !== null);
}

export function waitForFinished(t: FleetTenant, operationId: string, timeoutMs = 60_000): Promise<Operation> {
  return waitFor(
    `operation ${operationId} to finish`,
    async () => {
      const op = await getOperation(testEnv().db, t.tenantId, operationId);
      return op && op.finishedAt !== null ? op : null;
    },
    timeoutMs,
  );
}

/** Both Schedules are namespace-wide: each test leaves none behind. */
export async function deleteSchedules(): Promise<void> {
  const client = testEnv().temporalClient;
  for (const id of [WEEKLY_REPORT_SCHEDULE_ID, TENANT_HEARTBEAT_SCHEDULE_ID]) {
    await client.schedule
      .getHandle(id)
      .delete()
      .catch(() => undefined);
  }
}

/** A weekly sweep of every device of the tenant; its operation id. */
export async function weeklySweep(t: FleetTenant, taskQueue: string, devicesPerSecond = 0): Promise<string> {
  const operationId = `weekly-${randomUUID()}`;
  await startSweep(testEnv().temporalClient, testEnv().db, {
    tenantId: t.tenantId,
    kind: 'weekly',
    filter: null,
    operationId,
    startedAt: new Date().toISOString(),
    taskQueue,
    options: { pageSize: 1_000, batchSize: 50, devicesPerSecond, heartbeatTimeoutMs: 30_000 },
  });
  return operationId;
}

/** Devices whose workflow has scheduled a Microsoft activity that no worker has started yet. */
export async function queuedReports(t: FleetTenant, devices: FleetDevice[]): Promise<number> {
  const client = testEnv().temporalClient;
  const described = await Promise.all(devices.map((d) => client.workflow.getHandle(deviceWorkflowId(t.tenantId, d.deviceId)).describe()));
  const SCHEDULED = 1; // PENDING_ACTIVITY_STATE_SCHEDULED
  return described.filter((w) => (w.raw.pendingActivities ?? []).some((a) => a.state === SCHEDULED)).length;
}

import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import pino from 'pino';
import { createApp } from '../../api/app';
import { loadConfig } from '../../config';
import { createFleetClient, createScheduleControl } from '../../workers/fleet-client';
import { testEnv, uniqueName } from '../support/env';
import { entra, seedDevice, waitFor, withWorker } from '../support/device-harness';
import { DEVICE_DETAILS_CONTRACT_FIELDS } from '../api/helpers';

const MDM_KEY = 'mdm-e2e-key-0123456789abcdefghij';
const ADMIN_KEY = 'admin-e2e-key-0123456789abcdefghij';

/** The API on a real socket, configured like the process entry, on the test's task queue. */
async function startApi(taskQueue: string): Promise<{ url: string; server: ServerType }> {
  const env = testEnv();
  const config = loadConfig({
    TEMPORAL_TASK_QUEUE: taskQueue,
    MDM_API_KEY: MDM_KEY,
    ADMIN_API_KEY: ADMIN_KEY,
    DATABASE_URL: env.databaseUrl,
    AZURE_TENANT_ID: env.azure.tenantId,
    AZURE_CLIENT_ID: env.azure.clientId,
    AZURE_CLIENT_SECRET: env.azure.clientSecret,
    AZURE_AUTHORITY_HOST: env.azure.authorityHost,
    GRAPH_BASE_URL: env.azure.graphBaseUrl,
    LOG_LEVEL: 'silent',
  });
  const app = createApp({
    config,
    tenantId: env.tenantId,
    db: env.db,
    temporal: env.temporalClient,
    logger: pino({ level: 'silent' }),
    fleet: createFleetClient(env.temporalClient, config, env.tenantId, { db: env.db }),
    schedules: createScheduleControl(env.temporalClient, config, env.tenantId),
  });
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function call(url: string, key: string, method: string, body?: unknown) {
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON bodies are checked field by field below
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

describe('end to end over HTTP: MDM events in, Azure Device Details out (real Temporal, Postgres, emulator)', function () {
  this.timeout(120_000);

  it('shows a QUARANTINE device as Successful with exactly the fields of the contract example', async () => {
    const d = await seedDevice();
    const taskQueue = uniqueName('tq-e2e');
    const { url, server } = await startApi(taskQueue);
    try {
      await withWorker(
        async () => {
          const registration = {
            type: 'registration',
            occurredAt: '2026-11-28T10:00:00.000Z',
            platform: 'iOS',
            azureDeviceId: d.azureDeviceId,
            clientStatusCode: 'Success',
            userPrincipalName: d.userPrincipalName,
          };
          const accepted = await call(`${url}/v1/devices/${d.deviceId}/events`, MDM_KEY, 'POST', registration);
          assert.equal(accepted.status, 202);
          assert.deepEqual(accepted.body, { deviceId: d.deviceId, accepted: true });
          const batch = await call(`${url}/v1/events`, MDM_KEY, 'POST', {
            events: [
              { deviceId: d.deviceId, type: 'compliance', occurredAt: '2026-11-28T10:00:01.000Z', actions: ['BLOCK_EMAIL', 'QUARANTINE'] },
            ],
          });
          assert.equal(batch.status, 202);
          assert.deepEqual(batch.body, { results: [{ index: 0, deviceId: d.deviceId, status: 'accepted' }] });

          const details = await waitFor('the device to be Successful over HTTP', async () => {
            const r = await call(`${url}/v1/devices/${d.deviceId}`, ADMIN_KEY, 'GET');
            return r.status === 200 && r.body.azureDeviceComplianceStatus === 'Successful' && r.body.policyAction === 'QUARANTINE'
              ? r.body
              : null;
          });
          const view = await entra(d.azureDeviceId);
          const completed = view!.messages.filter((m) => m.status === 'Completed').at(-1)!;
          assert.equal(view!.isManaged, true);
          assert.equal(view!.isCompliant, false);

          const contractFields: readonly string[] = DEVICE_DETAILS_CONTRACT_FIELDS;
          for (const field of contractFields) assert.ok(field in details, `missing ${field}`);
          assert.deepEqual(
            Object.fromEntries(contractFields.filter((f) => !['lastAttemptAt', 'updatedAt'].includes(f)).map((f) => [f, details[f]])),
            {
              deviceId: d.deviceId,
              platform: 'iOS',
              azureDeviceIdentifier: d.azureDeviceId,
              azureDeviceComplianceStatus: 'Successful',
              azureClientStatusCode: 'Success',
              azureDeviceComplianceReportTime: completed.completedAt,
              policyAction: 'QUARANTINE',
              reportedCompliance: 'notCompliant',
              managementState: 'managed',
              lastSuccessfulReportAt: completed.completedAt,
              lastError: null,
              retiredAt: null,
            },
          );
          assert.match(details.lastAttemptAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
          assert.match(details.updatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
          assert.ok(Date.parse(details.lastAttemptAt) <= Date.parse(details.azureDeviceComplianceReportTime));

          const reports = await call(`${url}/v1/devices/${d.deviceId}/reports?limit=50`, ADMIN_KEY, 'GET');
          assert.equal(reports.status, 200);
          const newest = reports.body.items[0];
          assert.equal(newest.outcome, 'Successful');
          assert.equal(newest.messageId, completed.messageId);
          assert.deepEqual(newest.reported, { complianceStatus: 'notCompliant', managementState: 'managed' });
          assert.ok(['registration', 'compliance'].includes(newest.trigger));

          // An admin's sync re-reports the same state: a manual row and a newer report time.
          const sync = await call(`${url}/v1/devices/${d.deviceId}/sync`, ADMIN_KEY, 'POST');
          assert.equal(sync.status, 202);
          const synced = await waitFor('the manual report', async () => {
            const r = await call(`${url}/v1/devices/${d.deviceId}/reports`, ADMIN_KEY, 'GET');
            const manual = r.body.items.find(
              (i: { trigger: string; outcome: string }) => i.trigger === 'manual' && i.outcome === 'Successful',
            );
            return manual ?? null;
          });
          assert.equal(synced.reported.complianceStatus, 'notCompliant');
          const after = await call(`${url}/v1/devices/${d.deviceId}`, ADMIN_KEY, 'GET');
          assert.ok(Date.parse(after.body.azureDeviceComplianceReportTime) > Date.parse(details.azureDeviceComplianceReportTime));
        },
        { taskQueue },
      );
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

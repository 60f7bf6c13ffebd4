/**
 * Shared pieces of the API tests: the app over the real test database (a tenant of its own per test),
 * a recording stand-in for the Temporal client (the HTTP layer as a pure unit), device rows seeded the
 * way the workflow projects them, and request shorthands.
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import type { Client } from '@temporalio/client';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createApp, type ApiDeps } from '../../api/app';
import type { App } from '../../api/context';
import { loadConfig } from '../../config';
import { upsertDeviceProjection, type DeviceProjection } from '../../db/data';
import type { Db } from '../../db';
import { testEnv } from '../support/env';

export const MDM_KEY = 'mdm-key-for-tests-0123456789abcdef';
export const ADMIN_KEY = 'admin-key-for-tests-0123456789abcdef';

/** The fields of a device's details the HTTP contract fixes, in the order it gives them. */
export const DEVICE_DETAILS_CONTRACT_FIELDS = [
  'deviceId',
  'platform',
  'azureDeviceIdentifier',
  'azureDeviceComplianceStatus',
  'azureClientStatusCode',
  'azureDeviceComplianceReportTime',
  'policyAction',
  'reportedCompliance',
  'managementState',
  'lastAttemptAt',
  'lastSuccessfulReportAt',
  'lastError',
  'retiredAt',
  'updatedAt',
] as const;

export interface SignalCall {
  workflowType: string;
  options: Record<string, unknown> & {
    workflowId: string;
    signal: { name: string };
    signalArgs: unknown[];
    args: unknown[];
    taskQueue: string;
    workflowIdReusePolicy: string;
    typedSearchAttributes: Array<{ key: { name: string }; value: unknown }>;
  };
}

/**
 * Records what the API asks of Temporal. `onSignal` / `onUpdate` / `onSystemInfo` may throw (or hang)
 * to play Temporal's answers.
 */
export class FakeTemporal {
  readonly signalAttempts: SignalCall[] = [];
  readonly signals: SignalCall[] = [];
  readonly updates: Array<{ workflowId: string; update: string }> = [];
  onSignal: (call: SignalCall) => Promise<void> | void = () => undefined;
  onUpdate: (workflowId: string) => Promise<void> | void = () => undefined;
  onSystemInfo: () => Promise<void> | void = () => undefined;
  /** The result of a (completed) device workflow run, as `handle.result()` gives it. */
  onResult: (workflowId: string) => unknown = () => {
    throw new Error('no completed run in this fake');
  };

  client(): Client {
    const client = {
      withDeadline: <R>(_deadline: number | Date, fn: () => Promise<R>) => fn(),
      workflow: {
        signalWithStart: async (workflowType: string, options: SignalCall['options']) => {
          const call = { workflowType, options };
          this.signalAttempts.push(call);
          await this.onSignal(call);
          this.signals.push(call);
          return { workflowId: options.workflowId, signaledRunId: 'run' };
        },
        getHandle: (workflowId: string) => ({
          workflowId,
          result: async () => this.onResult(workflowId),
          executeUpdate: async (def: { name: string }) => {
            this.updates.push({ workflowId, update: def.name });
            await this.onUpdate(workflowId);
            return { accepted: true };
          },
        }),
      },
      workflowService: {
        getSystemInfo: async () => {
          await this.onSystemInfo();
          return {};
        },
      },
    };
    return client as unknown as Client;
  }
}

export interface FleetCall {
  kind: 'sync' | 'enable';
  filter: { complianceStatus?: string; clientStatusCode?: string } | null;
}

export interface TestApi {
  app: App;
  tenantId: string;
  db: Db;
  temporal: FakeTemporal;
  fleetCalls: FleetCall[];
  scheduleCalls: boolean[];
  /** The settings each reconciliation Schedule update was asked with. */
  reconciliationCalls: Array<{ reconciliationPaused: boolean; reconciliationCron: string | null }>;
  deps: ApiDeps;
  /** Every JSON log line the app wrote. */
  logs: string[];
  metrics: Registry;
}

export interface TestApiOptions {
  db?: Db;
  temporalClient?: Client;
  taskQueue?: string;
  tenantId?: string;
  timeouts?: ApiDeps['timeouts'];
  fleet?: ApiDeps['fleet'];
  schedules?: ApiDeps['schedules'];
  /** More configuration (e.g. MAX_CLOCK_SKEW). */
  env?: Record<string, string>;
  /** The server's clock. */
  now?: ApiDeps['now'];
}

export function logCapture(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(
        ...chunk
          .toString('utf8')
          .split('\n')
          .filter((l) => l !== ''),
      );
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

/** The app on the shared test database, under a tenant of its own. */
export function makeApi(options: TestApiOptions = {}): TestApi {
  const temporal = new FakeTemporal();
  const fleetCalls: FleetCall[] = [];
  const scheduleCalls: boolean[] = [];
  const reconciliationCalls: TestApi['reconciliationCalls'] = [];
  const tenantId = options.tenantId ?? `tenant-${randomUUID()}`;
  const db = options.db ?? testEnv().db;
  const { logger, lines } = logCapture();
  const metrics = new Registry();
  const config = loadConfig({
    MDM_API_KEY: MDM_KEY,
    ADMIN_API_KEY: ADMIN_KEY,
    TEMPORAL_TASK_QUEUE: options.taskQueue ?? 'api-test-queue',
    ...options.env,
  });
  const deps: ApiDeps = {
    config,
    tenantId,
    db,
    temporal: options.temporalClient ?? temporal.client(),
    logger,
    metrics,
    timeouts: options.timeouts,
    ...(options.now ? { now: options.now } : {}),
    fleet: options.fleet ?? {
      start: async (kind, filter) => {
        fleetCalls.push({ kind, filter });
        return { operationId: `op-${fleetCalls.length}` };
      },
    },
    schedules: options.schedules ?? {
      setWeeklyReportPaused: async (paused) => {
        scheduleCalls.push(paused);
      },
      setReconciliation: async (settings) => {
        reconciliationCalls.push(settings);
      },
    },
  };
  return { app: createApp(deps), tenantId, db, temporal, fleetCalls, scheduleCalls, reconciliationCalls, deps, logs: lines, metrics };
}

type Key = 'mdm' | 'admin' | 'none' | string;

function authHeader(key: Key): Record<string, string> {
  if (key === 'none') return {};
  if (key === 'mdm') return { Authorization: `Bearer ${MDM_KEY}` };
  if (key === 'admin') return { Authorization: `Bearer ${ADMIN_KEY}` };
  return { Authorization: key };
}

export async function call(
  app: App,
  method: string,
  path: string,
  opts: { key?: Key; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...authHeader(opts.key ?? 'none') };
  let body: string | undefined;
  if (opts.rawBody !== undefined) body = opts.rawBody;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  Object.assign(headers, opts.headers ?? {});
  return app.request(path, { method, headers, ...(body !== undefined ? { body } : {}) });
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors: Array<{ path: string; message: string }>;
}

export async function problemOf(res: Response): Promise<ProblemBody> {
  if (!res.headers.get('content-type')?.startsWith('application/problem+json')) {
    throw new Error(`expected application/problem+json, got ${res.headers.get('content-type')} (${res.status}): ${await res.text()}`);
  }
  return (await res.json()) as ProblemBody;
}

export const PROBLEM = (slug: string) => `https://azure-compliance-connector/problems/${slug}`;

let deviceVersion = 1;
/** A device row as the workflow projects it; every field can be overridden. */
export async function seedDevice(
  db: Db,
  tenantId: string,
  deviceId: string,
  overrides: Partial<DeviceProjection> = {},
): Promise<DeviceProjection> {
  const row: DeviceProjection = {
    tenantId,
    deviceId,
    platform: 'iOS',
    azureDeviceId: '007c8232-9489-4074-9b35-345b16f0a72d',
    clientStatusCode: 'Success',
    userPrincipalName: 'alex@contoso.com',
    complianceStatus: 'Successful',
    reportTime: '2026-11-28T10:00:02.120Z',
    policyAction: 'QUARANTINE',
    reportedCompliance: 'notCompliant',
    managementState: 'managed',
    inventory: { deviceName: "Alex's iPhone", os: 'iOS', osVersion: '17.4.1' },
    lastAttemptAt: '2026-11-28T10:00:01.900Z',
    lastSuccessfulReportAt: '2026-11-28T10:00:02.120Z',
    lastError: null,
    retiredAt: null,
    version: deviceVersion++,
    ...overrides,
  };
  await upsertDeviceProjection(db, row);
  return row;
}

export async function deviceRowCount(db: Db): Promise<number> {
  const [r] = await db('devices').count<{ count: string }[]>({ count: '*' });
  return Number(r?.count ?? 0);
}

/** Valid events of every type, with fresh times. */
export const validEvents = {
  registration: () => ({
    type: 'registration',
    occurredAt: '2026-01-10T10:00:00.000Z',
    platform: 'iOS',
    azureDeviceId: '007c8232-9489-4074-9b35-345b16f0a72d',
    clientStatusCode: 'Success',
    userPrincipalName: 'alex@contoso.com',
  }),
  compliance: () => ({ type: 'compliance', occurredAt: '2026-01-10T10:00:00.000Z', actions: ['BLOCK_EMAIL', 'QUARANTINE'] }),
  inventory: () => ({
    type: 'inventory',
    occurredAt: '2026-01-10T10:00:00.000Z',
    inventory: {
      deviceName: "Alex's iPhone",
      os: 'iOS',
      osVersion: '17.4.1',
      model: 'iPhone15,2',
      manufacturer: 'Apple',
      serialNumber: 'F2LX1234',
      imei: '356938035643809',
      ownership: 'corporate',
    },
  }),
  retire: () => ({ type: 'retire', occurredAt: '2026-01-10T10:00:00.000Z' }),
};

/** Signs in to the console through its form as a browser would, with `key` (default: the admin key); returns the session cookie. */
export async function consoleSession(api: TestApi, key: string = ADMIN_KEY): Promise<string> {
  const form = await call(api.app, 'GET', '/console/sign-in');
  const token = /acc_sign_in_csrf=([^;]+)/.exec(form.headers.get('set-cookie') ?? '')![1]!;
  const res = await api.app.request('/console/sign-in', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: `acc_sign_in_csrf=${token}` },
    body: new URLSearchParams({ key, _csrf: token }).toString(),
  });
  if (res.status !== 303) throw new Error(`sign-in answered ${res.status}: ${await res.text()}`);
  return `acc_session=${/acc_session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')![1]!}`;
}

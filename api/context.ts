/**
 * What every route module of the API gets: its dependencies, guards, auth middleware and the helpers
 * that document responses in the OpenAPI document.
 */
import type { FleetFilter } from '../workflows/fleet-messages';
import type { DeviceWorkflowOptions } from '../workflows/messages';
import type { MiddlewareHandler } from 'hono';
import type { Hook, OpenAPIHono } from '@hono/zod-openapi';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { LevelLogger } from '../lib/logger';
import type { Registry } from 'prom-client';
import type { Config } from '../config';
import type { Db } from '../db';
import type { ValidationOptions } from '../domain/validation';
import type { KeyResolver, Principal } from './auth';
import type { Guards, Timeouts } from './dependencies';
import type { ApiMetrics } from './metrics';
import { ProblemSchema } from './schemas';

/** Fleet operations (bulk sync, enable): one workflow that signals every matching device of the tenant. */
export interface FleetControl {
  start(kind: 'sync' | 'enable', filter: FleetFilter | null, tenantId: string): Promise<{ operationId: string }>;
}

/** The tenant's Temporal Schedules the settings steer: the weekly report, the drift reconciliation. */
export interface ScheduleControl {
  setWeeklyReportPaused(paused: boolean, tenantId: string): Promise<void>;
  /** The tenant's own weekly cron (null: the default spread); without it, the worker applies it at its next start. */
  setWeeklyReportCron?(cron: string | null, tenantId: string): Promise<void>;
  /** Creates or updates the tenant's reconciliation Schedule from its settings (pause, cron; null cron: the default). */
  setReconciliation(settings: { reconciliationPaused: boolean; reconciliationCron: string | null }, tenantId: string): Promise<void>;
}

export interface ApiDeps {
  config: Readonly<Config>;
  /**
   * The single tenant (config.azure.tenantId): the tenant of MDM_API_KEY / ADMIN_API_KEY, and the one
   * an operator request acts for when it names none. Every route acts for its request's tenant (`c.get('tenantId')`).
   */
  tenantId: string;
  db: Db;
  temporal: Client;
  logger: Logger;
  fleet: FleetControl;
  schedules: ScheduleControl;
  /** Where the API's metrics are registered; a new Registry by default. */
  metrics?: Registry;
  /** Bounds on dependency calls (defaults: Temporal 5 s, Postgres 3 s, readiness checks 2 s). */
  timeouts?: Partial<Timeouts>;
  /** Options a device workflow started by an event runs with (tests shorten its waits); none by default. */
  deviceWorkflowOptions?: DeviceWorkflowOptions;
  /** The server's clock (milliseconds since the epoch); Date.now by default. */
  now?: () => number;
}

export interface AppEnv {
  Variables: {
    requestId: string;
    /** The request's logger (every line carries its request id). */
    log: LevelLogger;
    /** The `type` label of the MDM event being handled (metrics). */
    eventType: string | undefined;
    /** Who is calling (set by the role middleware). */
    principal: Principal;
    /** The tenant the request acts for (set by the role middleware): every query and workflow id carries it. */
    tenantId: string;
  };
}

export type App = OpenAPIHono<AppEnv>;

export interface RouteContext {
  deps: ApiDeps;
  guard: Guards;
  timeouts: Timeouts;
  metrics: ApiMetrics;
  mdmOnly: MiddlewareHandler<AppEnv>;
  /** The tenant's admin key, or the operator's acting for a tenant. */
  adminOnly: MiddlewareHandler<AppEnv>;
  operatorOnly: MiddlewareHandler<AppEnv>;
  /** Key → role and tenant; routes that rotate keys or offboard a tenant make it forget them. */
  keys: KeyResolver;
  limitBody: MiddlewareHandler<AppEnv>;
  /** The clock rule of `occurredAt` for this request: the server's clock and MAX_CLOCK_SKEW. */
  eventClock: () => Required<ValidationOptions>;
  /** Turns a failed zod validation into a 400 problem naming every offending field. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  validationHook: Hook<any, AppEnv, any, any>;
}

export const MDM_SECURITY = [{ mdmKey: [] as string[] }];
/** The operator's key is taken too (acting for the tenant X-Tenant-Id names): see the adminKey scheme. */
export const ADMIN_SECURITY = [{ adminKey: [] as string[] }];
export const OPERATOR_SECURITY = [{ operatorKey: [] as string[] }];

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request: `errors` names every offending field',
  401: 'Missing or unknown API key',
  403: 'A valid API key of another role',
  404: 'Not found',
  409: 'Conflict (see `type`)',
  413: 'Request body over 1 MiB',
  415: 'Request body is not application/json',
  500: 'Unexpected error (logged with the request id)',
  503: 'Postgres or Temporal did not answer in time; retry after `Retry-After` seconds. Nothing was changed.',
};

/** Problem responses of a route, documented with the Problem schema. */
export function problemResponses<const C extends readonly number[]>(codes: C, overrides: Partial<Record<C[number], string>> = {}) {
  const out: Record<number, { description: string; content: { 'application/problem+json': { schema: typeof ProblemSchema } } }> = {};
  for (const code of codes) {
    out[code] = {
      description: (overrides as Record<number, string | undefined>)[code] ?? ERROR_DESCRIPTIONS[code] ?? 'Error',
      content: { 'application/problem+json': { schema: ProblemSchema } },
    };
  }
  return out as { [K in C[number]]: { description: string; content: { 'application/problem+json': { schema: typeof ProblemSchema } } } };
}

export function jsonResponse<S>(schema: S, description: string) {
  return { description, content: { 'application/json': { schema } } };
}

/**
 * The HTTP API (docs/http-contract.md) as a Hono app. `createApp(deps)` returns it; api/main.ts only
 * loads the configuration and serves it, and tests call `app.request(...)`.
 *
 * Request pipeline: request id + log + metrics → route: role (401/403) → body limit (413) → zod
 * validation (415/400) → handler. Every error becomes problem+json in the one `onError`.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { matchedRoutes } from 'hono/route';
import { formatZodIssues } from '../domain/validation';
import { lazyChild, writePlainLine } from '../lib/logger';
import { findTenantKey, getTenant } from '../db/tenants';
import { createKeyResolver, requireRole } from './auth';
import { DEFAULT_TIMEOUTS, DependencyUnavailable, createGuards, type Timeouts } from './dependencies';
import { createApiMetrics, type ApiMetrics } from './metrics';
import { ProblemError, problem, problemResponse, type Problem } from './problems';
import { registerDeviceRoutes } from './routes/devices';
import { registerDocsRoutes } from './routes/docs';
import { registerEventRoutes } from './routes/events';
import { registerFleetOperationRoutes } from './routes/fleet-operations';
import { registerHealthRoutes } from './routes/health';
import { registerSettingsRoutes } from './routes/settings';
import { registerTenantRoutes } from './routes/tenants';
import { registerConsole } from './console';
import type { ApiDeps, App, AppEnv, RouteContext } from './context';

export type { ApiDeps, FleetControl, ScheduleControl } from './context';
export type { FleetFilter } from '../workflows/fleet-messages';

/** Request bodies over 1 MiB are refused with 413 (docs/http-contract.md). */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * gRPC channel options of the API's Temporal connection: after an outage, reconnect within seconds
 * (grpc-js would otherwise back off up to two minutes between attempts).
 */
export const TEMPORAL_CHANNEL_ARGS = {
  'grpc.initial_reconnect_backoff_ms': 500,
  'grpc.max_reconnect_backoff_ms': 3_000,
} as const;

/** A client's X-Request-Id is kept when it looks like an id; otherwise a new one is made. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Probes and scrapes: logged at debug so they do not drown the request log. */
const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

const TARGETS: Record<string, string> = {
  json: 'request body',
  param: 'path parameter',
  query: 'query parameter',
  header: 'header',
  cookie: 'cookie',
  form: 'form',
};

function routeLabel(c: Parameters<MiddlewareHandler>[0]): string {
  const handlers = matchedRoutes(c).filter((r) => r.method !== 'ALL');
  return handlers.length > 0 ? handlers[handlers.length - 1]!.path : 'unmatched';
}

/** The headers every response carries, set on it in one place once the handler has answered. */
function setContextHeaders(c: Parameters<MiddlewareHandler<AppEnv>>[0], requestId: string): void {
  const headers = [
    ['X-Request-Id', requestId],
    ['X-Content-Type-Options', 'nosniff'],
  ] as const;
  // Served by api/server.ts: straight onto node's response, merged when it writes the head, so the
  // handler's response keeps the adapter's fast path (no Headers object built for it).
  const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
  if (outgoing !== undefined && typeof outgoing.setHeader === 'function' && !outgoing.headersSent) {
    for (const [name, value] of headers) outgoing.setHeader(name, value);
    return;
  }
  try {
    for (const [name, value] of headers) c.res.headers.set(name, value);
  } catch {
    // An immutable response (one fetched from elsewhere): a copy of it.
    c.res = new Response(c.res.body, c.res);
    for (const [name, value] of headers) c.res.headers.set(name, value);
  }
}

function requestContext(deps: ApiDeps, metrics: ApiMetrics): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = process.hrtime.bigint();
    const given = c.req.header('x-request-id');
    const requestId = given !== undefined && SANE_REQUEST_ID.test(given) ? given : randomUUID();
    c.set('requestId', requestId);
    c.set('log', lazyChild(deps.logger, { reqId: requestId }));
    c.set('eventType', undefined);
    await next();
    setContextHeaders(c, requestId);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const status = c.res.status;
    const labels = {
      route: routeLabel(c),
      method: KNOWN_METHODS.has(c.req.method) ? c.req.method : 'OTHER',
      status: String(status),
    };
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, seconds);
    // Never the headers (the Authorization header carries a key) nor the query: nothing here can
    // hold a credential, so the line skips the logger's redaction pass.
    const level = status >= 500 ? 'error' : QUIET_ROUTES.has(labels.route) ? 'debug' : 'info';
    writePlainLine(
      deps.logger,
      level,
      { reqId: requestId, method: c.req.method, path: c.req.path, route: labels.route, status, durationMs: Math.round(seconds * 1e4) / 10 },
      'request',
    );
  };
}

export function createApp(deps: ApiDeps): App {
  const timeouts: Timeouts = { ...DEFAULT_TIMEOUTS, ...deps.timeouts };
  const guard = createGuards(deps.temporal, timeouts);
  const keys = createKeyResolver({
    keys: deps.config.keys,
    envTenantId: deps.tenantId,
    findKey: (digestHex) => guard.db(() => findTenantKey(deps.db, digestHex)),
    findTenant: async (tenantId) => (await guard.db(() => getTenant(deps.db, tenantId)))?.state ?? null,
  });
  const metrics = createApiMetrics(deps.metrics, {
    db: deps.db,
    temporal: deps.temporal,
    configuredTenants: [deps.tenantId],
    temporalQueue: deps.config.temporal,
    timeoutMs: timeouts.readinessMs,
    onError: (what, err) =>
      deps.logger.warn({ metric: what, err: err instanceof Error ? err.message : String(err) }, 'metrics: a fact was not read'),
  });

  const validationHook: RouteContext['validationHook'] = (result) => {
    if (result.success) return;
    const where = TARGETS[result.target] ?? result.target;
    throw new ProblemError(problem('validation', `Invalid ${where}`, formatZodIssues(result.error.issues)));
  };

  const app: App = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  const ctx: RouteContext = {
    deps,
    guard,
    timeouts,
    metrics,
    keys,
    mdmOnly: requireRole(keys, 'mdm'),
    adminOnly: requireRole(keys, 'admin'),
    operatorOnly: requireRole(keys, 'operator'),
    limitBody: bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new ProblemError(problem('payload-too-large', `Request bodies are limited to ${MAX_BODY_BYTES} bytes (1 MiB)`));
      },
    }),
    validationHook,
    eventClock: () => ({ now: (deps.now ?? Date.now)(), maxClockSkewMs: deps.config.maxClockSkewMs }),
  };

  app.use('*', requestContext(deps, metrics));

  app.onError((err, c) => {
    const log = c.get('log') ?? deps.logger;
    if (err instanceof ProblemError) return problemResponse(c, err.problem, err.headers);
    if (err instanceof DependencyUnavailable) {
      log.warn({ dependency: err.dependency, reason: err.reason }, 'dependency unavailable');
      const p = err.toProblemError();
      return problemResponse(c, p.problem, p.headers);
    }
    if (err instanceof HTTPException) {
      let p: Problem;
      if (err.status === 400) {
        p = /json/i.test(err.message)
          ? problem('invalid-json', 'The request body is not valid JSON', [{ path: '', message: 'Malformed JSON' }])
          : problem('validation', err.message || 'Bad request');
      } else if (err.status === 413) p = problem('payload-too-large', `Request bodies are limited to ${MAX_BODY_BYTES} bytes (1 MiB)`);
      else if (err.status === 415) p = problem('unsupported-media-type', 'Send the body as application/json');
      else if (err.status === 401) p = problem('unauthorized', err.message);
      else if (err.status === 403) p = problem('forbidden', err.message);
      else if (err.status === 404) p = problem('not-found', err.message);
      else {
        log.error({ err }, 'unexpected HTTP exception');
        p = { ...problem('internal', err.message || 'Error'), status: err.status };
      }
      return problemResponse(c, p);
    }
    log.error({ err }, 'unhandled error');
    return problemResponse(c, problem('internal', `Unexpected error; it was logged with request id ${c.get('requestId') ?? 'unknown'}`));
  });

  app.notFound((c) => problemResponse(c, problem('not-found', `No route ${c.req.method} ${c.req.path}`)));

  app.openAPIRegistry.registerComponent('securitySchemes', 'mdmKey', {
    type: 'http',
    scheme: 'bearer',
    description: "A tenant's MDM key (MDM_API_KEY for the configured tenant, else the one POST /v1/tenants answered): may only send events",
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'adminKey', {
    type: 'http',
    scheme: 'bearer',
    description:
      "A tenant's admin key (ADMIN_API_KEY for the configured tenant, else the one POST /v1/tenants answered): every admin route, " +
      "for its own tenant only (another tenant's data answers 404). The operator key is taken too, acting for the tenant " +
      'the X-Tenant-Id header names (default: the configured tenant); an unknown tenant answers 404.',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'operatorKey', {
    type: 'http',
    scheme: 'bearer',
    description: "The operator key (OPERATOR_API_KEY): the partner's staff; manages tenants and acts as any tenant's admin",
  });

  let document: object | undefined;
  const openApiDocument = (): object =>
    (document ??= app.getOpenAPI31Document({
      openapi: '3.1.0',
      info: {
        title: 'Azure compliance connector',
        version: '1.0.0',
        description:
          'Reports MDM devices\u2019 compliance and inventory to Microsoft Intune as a compliance partner. ' +
          'Errors are application/problem+json (RFC 9457). Each response carries X-Request-Id.',
      },
      tags: [
        { name: 'MDM events', description: 'Role mdm' },
        { name: 'Admin', description: 'Role admin (or operator, for the tenant X-Tenant-Id names)' },
        { name: 'Tenants', description: 'Role operator; the consent callback takes no key' },
        { name: 'Operations', description: 'No authentication' },
      ],
    }));

  registerEventRoutes(app, ctx);
  registerDeviceRoutes(app, ctx);
  registerFleetOperationRoutes(app, ctx);
  registerSettingsRoutes(app, ctx);
  registerTenantRoutes(app, ctx);
  registerHealthRoutes(app, ctx);
  registerDocsRoutes(app, openApiDocument);
  registerConsole(app, ctx);
  return app;
}

/**
 * What operators probe, without auth (docs/http-contract.md): /healthz (the process is up), /readyz
 * (Postgres and Temporal answer within the readiness timeout) and /metrics (Prometheus).
 */
import { createRoute, z } from '@hono/zod-openapi';
import { checkDependencies } from '../dependencies';
import { jsonResponse, type App, type RouteContext } from '../context';
import { HealthSchema, ReadinessSchema } from '../schemas';

const tags = ['Operations'];

export function registerHealthRoutes(app: App, ctx: RouteContext): void {
  const { deps, timeouts, metrics } = ctx;

  app.openapi(
    createRoute({
      method: 'get',
      path: '/healthz',
      tags,
      summary: 'The process is up',
      responses: { 200: jsonResponse(HealthSchema, 'Up') },
    }),
    (c) => c.json({ status: 'ok' as const }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/readyz',
      tags,
      summary: 'Postgres and Temporal answer',
      description: `Each dependency is checked with a ${timeouts.readinessMs} ms timeout; 503 names the one that failed.`,
      responses: {
        200: jsonResponse(ReadinessSchema, 'Ready'),
        503: jsonResponse(ReadinessSchema, 'At least one dependency failed its check'),
      },
    }),
    async (c) => {
      const { postgres, temporal } = await checkDependencies(deps, timeouts.readinessMs, (dependency, err) =>
        c.get('log').warn({ dependency, err: err instanceof Error ? err.message : String(err) }, 'readiness check failed'),
      );
      const ready = postgres === 'ok' && temporal === 'ok';
      const body = { status: ready ? ('ready' as const) : ('unavailable' as const), checks: { postgres, temporal } };
      return ready ? c.json(body, 200) : c.json(body, 503);
    },
  );

  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/metrics',
    tags,
    summary: 'Prometheus metrics',
    description:
      'http_requests_total{route,method,status}, http_request_duration_seconds{route,method,status}, ' +
      'mdm_events_total{tenant,type,result}, the default Node.js process metrics, and tenant facts read from Postgres at ' +
      'scrape time (acc_tenant_*, acc_oldest_in_progress_report_timestamp_seconds, acc_drift_found_total, acc_dependency_up) and the Microsoft queue backlog age from Temporal.',
    responses: { 200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: z.string() } } } },
  });
  app.get('/metrics', async (c) => {
    metrics.beginScrape();
    const text = await metrics.registry.metrics();
    return c.body(text, 200, { 'Content-Type': metrics.registry.contentType });
  });
}

/**
 * What operators probe, without auth (docs/http-contract.md): /healthz (the process is up), /readyz
 * (Postgres and Temporal answer within the readiness timeout) and /metrics (Prometheus).
 */
import { createRoute, z } from '@hono/zod-openapi';
import { pingDb } from '../../db';
import { withTimeout } from '../dependencies';
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
      const check = async (name: string, fn: () => Promise<unknown>): Promise<'ok' | 'failed'> => {
        try {
          await withTimeout(fn(), timeouts.readinessMs);
          return 'ok';
        } catch (err) {
          c.get('log').warn({ dependency: name, err: err instanceof Error ? err.message : String(err) }, 'readiness check failed');
          return 'failed';
        }
      };
      const [postgres, temporal] = await Promise.all([
        check('postgres', () => pingDb(deps.db)),
        check('temporal', () =>
          deps.temporal.withDeadline(Date.now() + timeouts.readinessMs, () => deps.temporal.workflowService.getSystemInfo({})),
        ),
      ]);
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
      'mdm_events_total{type,result}, mdm_events_by_tenant_total{tenant,result} and the default Node.js process metrics.',
    responses: { 200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: z.string() } } } },
  });
  app.get('/metrics', async (c) => {
    const text = await metrics.registry.metrics();
    return c.body(text, 200, { 'Content-Type': metrics.registry.contentType });
  });
}
